"""Who is calling: the tenant and key the authorizer put into ``requestContext.authorizer``.

API Gateway passes the authorizer's ``context`` map through as strings, so scopes arrive comma-joined. The
embedded stack's local gateway fills the same fields. A tenant route reached without them is a 401: the
authorizer did not run, and nothing here trusts a header instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Request

from trackbridge.domain.api_keys import allows
from trackbridge.domain.audit import Actor
from trackbridge.domain.errors import Forbidden, Unauthorized
from trackbridge.domain.ids import is_tenant


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    key_id: str
    scopes: tuple[str, ...]
    request_id: str | None = None

    def require(self, scope: str) -> None:
        if not allows(self.scopes, scope):
            raise Forbidden(f"this API key lacks the {scope!r} scope", details={"required_scope": scope})

    @property
    def actor(self) -> Actor:
        return Actor(id=self.key_id, request_id=self.request_id)


def _scopes(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return tuple(s.strip() for s in raw.split(",") if s.strip())
    if isinstance(raw, (list, tuple)):
        return tuple(str(s) for s in raw)
    return ()


def principal_from_event(event: Mapping[str, Any]) -> Principal | None:
    """The principal of a raw REST proxy event, or None when the authorizer left no valid tenant."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    if not isinstance(authorizer, Mapping):
        return None
    tenant = authorizer.get("tenant")
    if not is_tenant(tenant):
        return None
    key_id = authorizer.get("key_id") or authorizer.get("principalId") or ""
    return Principal(
        tenant=str(tenant),
        key_id=str(key_id),
        scopes=_scopes(authorizer.get("scopes")),
        request_id=context.get("requestId"),
    )


def require_principal(request: Request) -> Principal:
    """Powertools dependency: the caller, or 401."""
    principal = principal_from_event(request.resolved_event.raw_event)
    if principal is None:
        raise Unauthorized("missing or invalid API key")
    return principal


__all__ = ["Principal", "principal_from_event", "require_principal"]
