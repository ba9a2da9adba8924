"""Pagination cursors as clients see them: encrypted and authenticated, bound to the tenant and the listing.

Storage hands out a plain cursor (the base64url of the DynamoDB key a page ended at, ``storage/cursors.py``),
which internal callers keep using as it is: a sync sweep stores its cursor in its checkpoint, and that must
outlive a change of this key. Before a page leaves the API, ``app`` seals its ``next_cursor``; a ``cursor``
a client sends back is opened before the route sees it (and storage still checks what it opens to).

A sealed cursor is ``base64url(version || nonce || AES-256-GCM(plain cursor))`` with the tenant and the
request path as associated data: a client can read nothing in it (the table key included), cannot forge or
edit one, and cannot use another tenant's or another listing's (a cursor of one connection's sync logs
does not page another's). Any of these, and a cursor sealed under a key since replaced, is a 400
``INVALID_CURSOR``: start the listing again.

The key is derived (HKDF-SHA256, its own ``info``) from the deployment's OAuth state key, a generated secret
in Secrets Manager that never leaves AWS (``TB_OAUTH_STATE_KEY_SECRET``; CDK and ``local up`` create it): one
secret to provision and protect, two independent keys. It is read lazily, on the first cursor, and re-read
every ``TB_SECRETS_TTL_S`` seconds so a replaced secret takes effect without a deploy.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from trackbridge.domain.errors import DependencyFailure
from trackbridge.domain.pagination import invalid_cursor
from trackbridge.runtime import aws
from trackbridge.runtime.settings import get_settings

_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_INFO = b"trackbridge/api-cursor/v1"
MIN_SECRET_BYTES = 32


def derive_key(secret: bytes) -> bytes:
    """The 256-bit cursor key of a deployment secret (HKDF-SHA256, no salt: the secret is random)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


def _associated_data(tenant: str, path: str) -> bytes:
    return b"%s%s\x00%s" % (_VERSION, tenant.encode("utf-8"), path.encode("utf-8"))


class CursorSealer:
    """Seals and opens cursors with the key ``secret()`` returns (read on each use; it caches)."""

    def __init__(self, secret: Callable[[], bytes], *, nonce: Callable[[int], bytes] = os.urandom) -> None:
        self._secret = secret
        self._nonce = nonce
        self._cipher: tuple[bytes, AESGCM] | None = None

    def _aead(self) -> AESGCM:
        secret = self._secret()
        cached = self._cipher
        if cached is None or cached[0] != secret:
            cached = (secret, AESGCM(derive_key(secret)))
            self._cipher = cached
        return cached[1]

    def seal(self, cursor: str, *, tenant: str, path: str) -> str:
        nonce = self._nonce(_NONCE_BYTES)
        sealed = self._aead().encrypt(nonce, cursor.encode("utf-8"), _associated_data(tenant, path))
        return base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode("ascii").rstrip("=")

    def open(self, token: str, *, tenant: str, path: str) -> str:
        """The plain cursor ``token`` seals for this tenant and path, else 400 ``INVALID_CURSOR``."""
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise invalid_cursor() from None
        if len(raw) < 1 + _NONCE_BYTES + _TAG_BYTES + 1 or raw[:1] != _VERSION:
            raise invalid_cursor()
        nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        try:
            plain = self._aead().decrypt(nonce, sealed, _associated_data(tenant, path))
            return plain.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise invalid_cursor() from None


class DeploymentSecret:
    """The OAuth state key secret's bytes, from Secrets Manager, cached for ``TB_SECRETS_TTL_S`` seconds.

    Settings and the client are looked up on each refresh, so a process that switches environments (the
    embedded stack, tests) reads the current deployment's secret.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[str, bytes, float] | None = None

    def __call__(self) -> bytes:
        settings = get_settings()
        name = settings.oauth_state_key_secret
        if not name:
            raise _unavailable("TB_OAUTH_STATE_KEY_SECRET is not set")
        with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == name and self._clock() < cached[2]:
                return cached[1]
            value = self._read(name)
            self._cached = (name, value, self._clock() + settings.secrets_ttl_s)
            return value

    @staticmethod
    def _read(name: str) -> bytes:
        try:
            answer: dict[str, Any] = aws.client("secretsmanager").get_secret_value(SecretId=name)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable("Secrets Manager could not read the cursor key") from exc
        value = answer.get("SecretString")
        secret = value.encode("utf-8") if isinstance(value, str) else bytes(answer.get("SecretBinary") or b"")
        if len(secret) < MIN_SECRET_BYTES:
            raise _unavailable(f"the cursor key's secret is shorter than {MIN_SECRET_BYTES} bytes")
        return secret


def _unavailable(reason: str) -> DependencyFailure:
    return DependencyFailure(
        f"listings are unavailable: {reason}",
        code="CURSOR_KEY_UNAVAILABLE",
        guidance="Retry; if it persists, the deployment's OAuth state key secret is missing or unreadable.",
    )


@lru_cache(maxsize=1)
def cursor_sealer() -> CursorSealer:
    """The process's sealer (tests replace it through ``app.dependency_overrides``, like any dependency)."""
    return CursorSealer(DeploymentSecret())


__all__ = ["MIN_SECRET_BYTES", "CursorSealer", "DeploymentSecret", "cursor_sealer", "derive_key"]
