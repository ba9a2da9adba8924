"""Identifiers: tenant ids, generated ids, issue refs and external ids.

Every identifier here ends up inside a DynamoDB key (``T#{tenant}#CONN#{id}``), so none may contain ``#``:
a crafted id could otherwise address a key it does not own. Generated ids are a short type prefix plus 20
characters of lowercase base32 (100 random bits), URL-safe and self-describing (``conn_...``, ``op_...``).
Ids taken from a URL are checked with :func:`is_id` first, so a malformed id is a plain 404, never a query.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Final

from trackbridge.domain.errors import ValidationFailed

TENANT_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
_TENANT_RE = re.compile(TENANT_PATTERN)
_RANDOM_LEN: Final = 20
_RANDOM_RE = r"[a-z2-7]{20}"
# Native ids of the trackers: GitHub issue numbers, GitLab iids, Jira issue ids (all numeric today); letters,
# dashes and dots are allowed for trackers to come. Never '#', '/', ':' or whitespace.
_NATIVE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class IdPrefix:
    """Type prefixes of generated ids."""

    CONNECTION: Final = "conn"
    OPERATION: Final = "op"
    LINK: Final = "link"
    EVENT: Final = "evt"
    AUDIT: Final = "aud"


def is_tenant(value: object) -> bool:
    return isinstance(value, str) and _TENANT_RE.fullmatch(value) is not None


def require_tenant(value: str) -> str:
    if not is_tenant(value):
        raise ValidationFailed(
            "invalid tenant id",
            details={
                "tenant": "lowercase letters, digits and dashes, 1-63 characters, not starting with a dash"
            },
        )
    return value


def random_token(length: int = _RANDOM_LEN) -> str:
    """Lowercase base32 (a-z, 2-7): no '#', '_' or '/', safe in keys, URLs and API-key tokens."""
    raw = base64.b32encode(secrets.token_bytes((length * 5 + 7) // 8)).decode("ascii")
    return raw[:length].lower()


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_token()}"


def is_id(prefix: str, value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(f"{re.escape(prefix)}_{_RANDOM_RE}", value) is not None


def is_native_id(value: object) -> bool:
    return isinstance(value, str) and _NATIVE_ID_RE.fullmatch(value) is not None


def issue_ref(connection_id: str, native_id: str | int) -> str:
    """``{connection_id}.{native_id}``: how links and ``GET /v1/issues/{ref}`` name an issue."""
    native = str(native_id)
    if not is_id(IdPrefix.CONNECTION, connection_id) or not is_native_id(native):
        raise ValueError(f"cannot build an issue ref from {connection_id!r} and {native!r}")
    return f"{connection_id}.{native}"


def parse_issue_ref(ref: str) -> tuple[str, str] | None:
    """``(connection_id, native_id)``, or None when ``ref`` is not a well-formed issue ref."""
    connection_id, dot, native = ref.partition(".")
    if not dot or not is_id(IdPrefix.CONNECTION, connection_id) or not is_native_id(native):
        return None
    return connection_id, native


def is_issue_ref(value: object) -> bool:
    return isinstance(value, str) and parse_issue_ref(value) is not None


def external_id(provider: str, locator: str, issue_id: str | int) -> str:
    """``{provider}:{base_url_or_repo_url}:{issue_id}``: globally unique, stable across connections."""
    return f"{provider}:{locator}:{issue_id}"


__all__ = [
    "TENANT_PATTERN",
    "IdPrefix",
    "external_id",
    "is_id",
    "is_issue_ref",
    "is_native_id",
    "is_tenant",
    "issue_ref",
    "new_id",
    "parse_issue_ref",
    "random_token",
    "require_tenant",
]
