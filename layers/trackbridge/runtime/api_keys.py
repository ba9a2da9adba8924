"""Issuing, checking, listing and revoking tenant API keys (DESIGN section 10, "API keys").

``issue_api_key`` is what ``trackbridge keys create`` and the embedded stack call;
``ApiKeyService.authenticate`` is what the authorizer calls. A failed check raises ``Unauthorized`` with a
reason for the log, and the reason never includes the token. ``list`` and ``revoke`` serve ``GET /v1/keys``,
``DELETE /v1/keys/{id}`` and ``trackbridge keys list|revoke``: a tenant sees and revokes only its own keys.

A revoked key's lookup item is gone, so the authorizer refuses it at its next call; API Gateway may still
answer from a decision it cached before the revocation, for at most the authorizer cache TTL
(``AUTHORIZER_CACHE_TTL_S`` in ``infra/definition.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from trackbridge.domain.api_keys import (
    ALL_SCOPES,
    SCOPE_PATTERN,
    ApiKey,
    ApiKeyView,
    StoredApiKey,
    generate_key,
    is_key_id,
    parse_token,
)
from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.domain.errors import DependencyFailure, NotFound, Unauthorized, ValidationFailed
from trackbridge.domain.ids import is_tenant, require_tenant
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.times import to_iso, utcnow
from trackbridge.runtime.observability import logger
from trackbridge.storage.api_keys import ApiKeyRepository
from trackbridge.storage.audit import AuditRepository

CLI_ACTOR = Actor(id="cli")
CREATE_ACTION = "api_key.create"
REVOKE_ACTION = "api_key.revoke"


class ApiKeyService:
    def __init__(
        self, keys: ApiKeyRepository, audit: AuditRepository, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.keys = keys
        self.audit = audit
        self.clock = clock

    def issue(self, tenant: str, scopes: tuple[str, ...] = (ALL_SCOPES,), *, actor: Actor = CLI_ACTOR) -> str:
        """Create a key and return its token: the only time the secret exists outside the caller's hands."""
        require_tenant(tenant)
        bad = [s for s in scopes if not re.fullmatch(SCOPE_PATTERN, s)]
        if not scopes or bad:
            raise ValidationFailed(
                "invalid scopes", details={"scopes": "'*' or names like connections:read, connections:write"}
            )
        now = self.clock()
        issued = generate_key()
        stored = StoredApiKey(
            key_id=issued.key_id,
            tenant=tenant,
            scopes=tuple(dict.fromkeys(scopes)),
            created_at=now,
            secret_hash=issued.secret_hash,
        )
        entry = new_entry(
            action=CREATE_ACTION,
            target=issued.key_id,
            actor=actor,
            at=now,
            changes={"scopes": FieldChange(old=None, new=list(stored.scopes))},
        )
        self.keys.create(stored, also=(self.audit.put_op(tenant, entry),))
        logger.info("api_keys.created", extra={"tenant": tenant, "key_id": issued.key_id})
        return issued.token

    def authenticate(self, token: str | None) -> ApiKey:
        """The key a bearer token stands for; Unauthorized for anything else (malformed, unknown, wrong)."""
        parsed = parse_token(token) if token else None
        if parsed is None:
            raise Unauthorized("malformed API key", details={"reason": "malformed"})
        key_id, secret = parsed
        stored = self.keys.lookup(key_id)
        if stored is None:
            raise Unauthorized("unknown API key", details={"reason": "unknown", "key_id": key_id})
        if not stored.matches(secret) or not is_tenant(stored.tenant):
            raise Unauthorized("wrong API key secret", details={"reason": "mismatch", "key_id": key_id})
        now = self.clock()
        if self.keys.due(stored.last_used_at, now):
            try:
                self.keys.touch(key_id, now)
            except DependencyFailure:
                # Bookkeeping only: a throttled last_used write must not lock a valid key out.
                logger.warning("api_keys.touch_failed", extra={"key_id": key_id})
        return ApiKey(**stored.model_dump(exclude={"secret_hash"}))

    def list(
        self, tenant: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[ApiKeyView]:
        """The tenant's keys, revoked ones included (with ``revoked_at``), in key id order."""
        page = self.keys.list(tenant, limit=limit, cursor=cursor)
        return Page[ApiKeyView](items=[ApiKeyView.of(k) for k in page.items], next_cursor=page.next_cursor)

    def revoke(self, tenant: str, key_id: str, actor: Actor = CLI_ACTOR) -> bool:
        """Revoke one of the tenant's keys (the caller's own included), audited in the same transaction.

        Idempotent: revoking a revoked key changes nothing, writes no second audit entry and returns False.
        NotFound for a key the tenant does not have, whether it is unknown or another tenant's.
        """
        if not is_key_id(key_id):
            raise NotFound(f"no API key {key_id!r}", details={"key_id": key_id})
        now = self.clock()
        entry = new_entry(
            action=REVOKE_ACTION,
            target=key_id,
            actor=actor,
            at=now,
            changes={"revoked_at": FieldChange(old=None, new=to_iso(now))},
        )
        revoked = self.keys.revoke(tenant, key_id, at=now, also=(self.audit.put_op(tenant, entry),))
        logger.info("api_keys.revoked", extra={"tenant": tenant, "key_id": key_id, "changed": revoked})
        return revoked


def issue_api_key(
    tenant: str, scopes: tuple[str, ...] = (ALL_SCOPES,), *, service: ApiKeyService | None = None
) -> str:
    """Issue a key for ``tenant`` and return the token (print it once).

    ``service`` is the composition root's (``container.api_key_service()``) when the caller has one; without
    it, one is built over the configured table, so this module never imports the composition root that
    builds its service.
    """
    return (service or _configured_service()).issue(tenant, scopes)


def _configured_service() -> ApiKeyService:
    from trackbridge.runtime import aws
    from trackbridge.runtime.settings import get_settings
    from trackbridge.storage.table import Table

    table = Table(aws.client("dynamodb"), get_settings().table_name)
    return ApiKeyService(ApiKeyRepository(table), AuditRepository(table))


__all__ = ["CLI_ACTOR", "CREATE_ACTION", "REVOKE_ACTION", "ApiKeyService", "issue_api_key"]
