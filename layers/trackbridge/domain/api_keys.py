"""Tenant API keys: ``tb_<key_id>_<secret>``, shown once, stored only as ``sha256(secret)``.

The secret is 256 random bits, so a plain (fast) sha256 is enough: there is nothing to brute-force that a
slow password hash would protect. Hashes are compared with ``hmac.compare_digest`` so the comparison time
says nothing about how much of a guess was right. ``key_id`` is public (it names the key in logs, audit
entries and the authorizer's ``principalId``); it is lowercase base32, so the ``_`` separators are safe.

Scopes are ``area:read`` / ``area:write`` names, ``admin`` (the tenant's key management: list and revoke its
keys) and ``*`` (everything, ``admin`` included). A revoked key keeps its record, with ``revoked_at``, so the
listing and the audit log can still name it; its secret's hash is gone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.ids import random_token
from trackbridge.domain.times import UtcDatetime

TOKEN_PREFIX: Final = "tb"  # noqa: S105 - the visible prefix of every key, not a secret
ALL_SCOPES: Final = "*"
ADMIN_SCOPE: Final = "admin"
_KEY_ID_RE = re.compile(r"[a-z2-7]{20}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{43}")
SCOPE_PATTERN: Final = r"^(\*|admin|[a-z][a-z_]{0,31}:(read|write))$"


class ApiKey(BaseModel):
    """What is known about a key besides its secret (safe to log and return)."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant: str
    scopes: tuple[str, ...] = (ALL_SCOPES,)
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None

    def allows(self, scope: str) -> bool:
        return allows(self.scopes, scope)


class StoredApiKey(ApiKey):
    """The authorizer's lookup record: the key plus the hash of its secret."""

    secret_hash: str = Field(repr=False, pattern=r"^[0-9a-f]{64}$")

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))


class ApiKeyView(BaseModel):
    """A key as ``GET /v1/keys`` and ``trackbridge keys list`` show it: never its secret or the hash."""

    id: str = Field(description="the <key_id> of tb_<key_id>_<secret>")
    tenant: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = Field(
        default=None, description="the last accepted use, recorded at most once every few minutes"
    )
    scopes: list[str]
    revoked_at: UtcDatetime | None = None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.key_id,
            tenant=key.tenant,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            scopes=list(key.scopes),
            revoked_at=key.revoked_at,
        )


class IssuedKey(BaseModel):
    """A freshly generated key: ``token`` is the only copy of the secret and is shown once."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    token: str = Field(repr=False)
    secret_hash: str = Field(repr=False)


def allows(scopes: tuple[str, ...] | list[str], scope: str) -> bool:
    return ALL_SCOPES in scopes or scope in scopes


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def generate_key() -> IssuedKey:
    key_id = random_token()
    secret = secrets.token_urlsafe(32)  # 43 characters of base64url
    return IssuedKey(
        key_id=key_id, token=f"{TOKEN_PREFIX}_{key_id}_{secret}", secret_hash=hash_secret(secret)
    )


def is_key_id(value: str) -> bool:
    return bool(_KEY_ID_RE.fullmatch(value))


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` from ``tb_<key_id>_<secret>``, or None when the token is not of that form."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not _KEY_ID_RE.fullmatch(key_id) or not _SECRET_RE.fullmatch(secret):
        return None
    return key_id, secret


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive, RFC 7235)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


__all__ = [
    "ADMIN_SCOPE",
    "ALL_SCOPES",
    "SCOPE_PATTERN",
    "TOKEN_PREFIX",
    "ApiKey",
    "ApiKeyView",
    "IssuedKey",
    "StoredApiKey",
    "allows",
    "bearer_token",
    "generate_key",
    "hash_secret",
    "is_key_id",
    "parse_token",
]
