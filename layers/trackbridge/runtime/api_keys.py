"""Issuing and checking tenant API keys (DESIGN section 10, "API keys").

``issue_api_key`` is what ``trackbridge keys create`` and the embedded stack call;
``ApiKeyService.authenticate`` is what the authorizer calls. A failed check raises ``Unauthorized`` with a
reason for the log, and the reason never includes the token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from trackbridge.domain.api_keys import (
    ALL_SCOPES,
    SCOPE_PATTERN,
    ApiKey,
    StoredApiKey,
    generate_key,
    parse_token,
)
from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.domain.errors import DependencyFailure, Unauthorized, ValidationFailed
from trackbridge.domain.ids import is_tenant, require_tenant
from trackbridge.domain.times import utcnow
from trackbridge.runtime import container
from trackbridge.runtime.observability import logger
from trackbridge.storage.api_keys import ApiKeyRepository
from trackbridge.storage.audit import AuditRepository

CLI_ACTOR = Actor(id="cli")


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
            action="api_key.create",
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
        try:
            self.keys.touch(key_id, self.clock())
        except DependencyFailure:
            # Bookkeeping only: a throttled last_used write must not lock a valid key out.
            logger.warning("api_keys.touch_failed", extra={"key_id": key_id})
        return ApiKey(**stored.model_dump(exclude={"secret_hash"}))


def issue_api_key(tenant: str, scopes: tuple[str, ...] = (ALL_SCOPES,)) -> str:
    """Issue a key for ``tenant`` against the configured table and return the token (print it once)."""
    return container.api_key_service().issue(tenant, scopes)


__all__ = ["CLI_ACTOR", "ApiKeyService", "issue_api_key"]
