"""Per-tenant request rate limits: a counter per tenant and minute in DynamoDB, shared by every API instance.

API Gateway's stage throttling protects the deployment as a whole; it cannot tell tenants apart, and an
in-memory bucket in one Lambda instance limits nothing when twenty instances serve the same tenant. So the
API function counts each authenticated request with one conditional ``UpdateItem``
(``ADD n :1`` if ``n < :limit``) on ``T#{tenant}#RATE`` / ``W#{minute}``: atomic across instances, one write
per request and no read. Over the limit, the write's condition fails and the request is answered 429 with
``Retry-After`` (the seconds to the next minute) before anything else runs.

The limit itself comes with the caller: the authorizer reads it (:meth:`RateLimiter.limit_of`) and passes
it in its context (``rate_limit``), and API Gateway caches that decision for a minute, so the limit costs one
read per key and minute, not one per request. The counting cannot move into the authorizer for the same
reason: a cached decision does not run it.

This is a fixed window: a tenant can send up to twice its limit across a minute boundary. A token bucket
or GCRA would smooth that, but needs a read-modify-write (two round trips, or a second write when the
first condition fails); the stage throttle bounds the burst anyway.

A tenant's limit is its ``T#{tenant}`` / ``RATELIMIT`` item (``trackbridge keys rate-limit``), else
``TB_TENANT_REQUESTS_PER_MINUTE``; ``0`` means unlimited (and costs no write). The authorizer's instances
cache limits for :data:`CONFIG_TTL_S`, so with API Gateway's cache a change applies within two minutes.

When DynamoDB fails, the request is let through (and logged): a counter outage must not take the API down
with it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final

from pydantic import BaseModel, Field

from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.domain.errors import DependencyFailure, RateLimited
from trackbridge.domain.ids import require_tenant
from trackbridge.domain.times import utcnow
from trackbridge.runtime.observability import logger
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE, tenant_pk
from trackbridge.storage.table import ConditionFailed, Table

WINDOW_S: Final = 60
CONFIG_TTL_S: Final = 60.0
RATE_LIMIT_SK: Final = "RATELIMIT"
UPDATE_ACTION: Final = "rate_limit.update"


class TenantRateLimit(BaseModel):
    tenant: str
    requests_per_minute: int = Field(ge=0, description="0: unlimited")
    default: bool = Field(description="true when no limit of its own is set for the tenant")


def _window_key(tenant: str, window: int) -> tuple[str, str]:
    return f"{tenant_pk(tenant)}#RATE", f"W#{window}"


class RateLimiter:
    def __init__(
        self,
        table: Table,
        *,
        default_per_minute: int,
        audit: AuditRepository | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.default_per_minute = default_per_minute
        self.audit = audit
        self.clock = clock
        self._limits: dict[str, tuple[float, TenantRateLimit]] = {}

    def limit_of(self, tenant: str) -> TenantRateLimit:
        """The tenant's limit, cached for :data:`CONFIG_TTL_S`."""
        now = self.clock()
        cached = self._limits.get(tenant)
        if cached is not None and now - cached[0] < CONFIG_TTL_S:
            return cached[1]
        item = self.table.get(tenant_pk(tenant), RATE_LIMIT_SK, consistent=False)  # a few ms, once a minute
        limit = (
            TenantRateLimit(tenant=tenant, requests_per_minute=int(item["per_minute"]), default=False)
            if item is not None
            else TenantRateLimit(tenant=tenant, requests_per_minute=self.default_per_minute, default=True)
        )
        self._limits[tenant] = (now, limit)
        return limit

    def set_limit(self, tenant: str, per_minute: int | None, *, actor: Actor) -> TenantRateLimit:
        """Give the tenant a limit of its own (``None``: back to the default), audited."""
        require_tenant(tenant)
        if per_minute is not None and per_minute < 0:
            raise ValueError("a limit is 0 (unlimited) or more requests per minute")
        old = self.limit_of(tenant)
        entry = new_entry(
            action=UPDATE_ACTION,
            target=tenant,
            actor=actor,
            at=utcnow(),
            changes={"requests_per_minute": FieldChange(old=old.requests_per_minute, new=per_minute)},
        )
        also = (self.audit.put_op(tenant, entry),) if self.audit is not None else ()
        if per_minute is None:
            self.table.write(self.table.delete_op(tenant_pk(tenant), RATE_LIMIT_SK), *also)
        else:
            item = {PK: tenant_pk(tenant), SK: RATE_LIMIT_SK, "per_minute": per_minute}
            self.table.write(self.table.put_op(item), *also)
        self._limits.pop(tenant, None)
        return self.limit_of(tenant)

    def check(self, tenant: str, limit: int) -> None:
        """Count one request of ``tenant``; RateLimited (429, ``Retry-After``) past ``limit`` this minute."""
        if limit <= 0:
            return
        now = self.clock()
        window = int(now // WINDOW_S)
        pk, sk = _window_key(tenant, window)
        try:
            self.table.update(
                pk,
                sk,
                update="ADD #n :one SET #ttl = :ttl",
                condition="attribute_not_exists(#n) OR #n < :limit",
                names={"#n": "n", "#ttl": TTL_ATTRIBUTE},
                values={":one": 1, ":limit": limit, ":ttl": (window + 2) * WINDOW_S},
            )
        except ConditionFailed:
            retry_after = max(1, math.ceil((window + 1) * WINDOW_S - now))
            raise RateLimited(
                f"this tenant may make {limit} requests a minute",
                details={"requests_per_minute": limit},
                retry_after_s=retry_after,
            ) from None
        except DependencyFailure:
            logger.warning("rate_limits.unavailable", extra={"tenant": tenant})


__all__ = ["CONFIG_TTL_S", "UPDATE_ACTION", "WINDOW_S", "RateLimiter", "TenantRateLimit"]
