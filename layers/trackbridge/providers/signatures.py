"""Webhook authenticity schemes: pure functions of (raw body bytes, headers, secrets) -> bool.

Each adapter declares the schemes its tracker uses (``TrackerAdapter.signature_schemes``); the webhook
Lambda verifies a delivery with :func:`verify_any` before it parses a single byte of the body. Verification
is always over the raw bytes (re-serialized JSON would not match) and always constant-time
(``hmac.compare_digest``). ``secrets`` is a list so a secret can be rotated: deliveries signed with the old
or the new secret both pass while the tracker is being updated. No secret, no pass: an empty list refuses.

A delivery is judged by the strongest scheme it carries: when one that signs the body is present (GitLab's
``webhook-signature`` beside its ``X-Gitlab-Token``), it alone decides, so a body changed in transit is
refused even though the plain token, which covers no byte of the body, would still match.

Schemes (shared/research/tracker-apis.md, section 8.4):

- :class:`HubSignature`: ``sha256=hex(HMAC-SHA256(secret, body))``. GitHub sends it as
  ``X-Hub-Signature-256``; Jira admin webhooks use the same value under ``X-Hub-Signature``.
- :class:`PlainToken`: the secret itself in a header (GitLab ``X-Gitlab-Token``); no HMAC exists.
- :class:`StandardWebhooks`: ``webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>`` with a
  freshness window (GitLab's signing token, www.standardwebhooks.com).
- :class:`UrlUserinfoSecret`: the secret as the hook URL's userinfo password, arriving as
  ``Authorization: Basic`` (Redmine's webhook plugin, which signs nothing).
- :class:`LinearSignature`: ``Linear-Signature: <hex HMAC-SHA256(secret, body)>`` and the body's
  ``webhookTimestamp`` within 60 s (Linear).
- :class:`AppJwt`: ``Authorization: JWT <HS256 token>`` signed with an OAuth app's client secret (Jira's
  REST-registered webhooks of OAuth 2.0 apps). It authenticates the sender, not the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _usable(secrets: Sequence[str]) -> list[str]:
    return [s for s in secrets if isinstance(s, str) and s]


class SignatureScheme(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def header(self) -> str: ...

    @property
    def signs_body(self) -> bool:
        """Whether a valid value proves the body unchanged (an HMAC over it), not only the sender."""
        ...

    def verify(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> bool: ...

    def sign(
        self, body: bytes, secret: str, *, now: float | None = None, msg_id: str = ""
    ) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class HubSignature:
    """``<header>: sha256=<hex HMAC-SHA256(secret, raw body)>``."""

    header: str = "X-Hub-Signature-256"
    name: str = "hub-signature-sha256"
    signs_body: bool = True

    @staticmethod
    def digest(body: bytes, secret: str) -> str:
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    def verify(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> bool:
        provided = _lower(headers).get(self.header.lower(), "").strip()
        if not provided.startswith("sha256="):
            return False
        try:
            provided_bytes = provided.encode("ascii")
        except UnicodeEncodeError:
            return False
        matched = False
        for secret in _usable(secrets):
            # Evaluate every secret (no early return) so timing does not reveal which one matched.
            matched |= hmac.compare_digest(self.digest(body, secret).encode("ascii"), provided_bytes)
        return matched

    def sign(self, body: bytes, secret: str, *, now: float | None = None, msg_id: str = "") -> dict[str, str]:
        return {self.header: self.digest(body, secret)}


@dataclass(frozen=True, slots=True)
class PlainToken:
    """The shared secret itself, compared in constant time (GitLab ``X-Gitlab-Token``)."""

    header: str = "X-Gitlab-Token"
    name: str = "plain-token"
    signs_body: bool = False

    def verify(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> bool:
        provided = _lower(headers).get(self.header.lower())
        if not provided:
            return False
        provided_bytes = provided.encode()
        matched = False
        for secret in _usable(secrets):
            matched |= hmac.compare_digest(secret.encode(), provided_bytes)
        return matched

    def sign(self, body: bytes, secret: str, *, now: float | None = None, msg_id: str = "") -> dict[str, str]:
        return {self.header: secret}


@dataclass(frozen=True, slots=True)
class StandardWebhooks:
    """``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<b64>[ v1,<b64>...]``.

    The signed content is ``{id}.{timestamp}.{body}``; the key is the base64 part of a ``whsec_`` secret
    (a secret without the prefix is used as raw UTF-8 bytes). Deliveries older or newer than
    ``tolerance_s`` are refused, which bounds replays.
    """

    header: str = "webhook-signature"
    id_header: str = "webhook-id"
    timestamp_header: str = "webhook-timestamp"
    tolerance_s: int = 300
    name: str = "standard-webhooks"
    signs_body: bool = True

    @staticmethod
    def _key(secret: str) -> bytes | None:
        if secret.startswith("whsec_"):
            try:
                return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except (binascii.Error, ValueError):
                return None
        return secret.encode()

    @classmethod
    def signature(cls, body: bytes, secret: str, msg_id: str, timestamp: str) -> str | None:
        key = cls._key(secret)
        if key is None:
            return None
        signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
        return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")

    def verify(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> bool:
        h = _lower(headers)
        msg_id = h.get(self.id_header.lower(), "")
        timestamp = h.get(self.timestamp_header.lower(), "")
        provided = h.get(self.header.lower(), "")
        if not (msg_id and timestamp.isdigit() and provided):
            return False
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > self.tolerance_s:
            return False
        candidates = [
            part.split(",", 1)[1].encode()
            for part in provided.split()
            if part.startswith("v1,") and "," in part
        ]
        matched = False
        for secret in _usable(secrets):
            expected = self.signature(body, secret, msg_id, timestamp)
            if expected is None:
                continue
            for candidate in candidates:
                matched |= hmac.compare_digest(expected.encode(), candidate)
        return matched

    def sign(self, body: bytes, secret: str, *, now: float | None = None, msg_id: str = "") -> dict[str, str]:
        timestamp = str(int(time.time() if now is None else now))
        value = self.signature(body, secret, msg_id, timestamp)
        if value is None:
            raise ValueError("a whsec_ secret must be base64 after its prefix")
        return {self.id_header: msg_id, self.timestamp_header: timestamp, self.header: f"v1,{value}"}


def _b64url(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class AppJwt:
    """``Authorization: JWT <token>`` (or ``Bearer``): an HS256 JSON Web Token signed with the app's client
    secret, with ``exp`` in the future (``leeway_s`` for clock skew) and Atlassian's context ``qsh``.

    Only ``HS256`` is accepted (never ``none`` or another algorithm the token names); the signature is
    compared in constant time against every secret given. The token covers no byte of the body: it proves
    the sender (Jira, for this app), as TLS protects the body in transit.
    """

    header: str = "Authorization"
    name: str = "app-jwt-hs256"
    signs_body: bool = False
    leeway_s: int = 30
    qsh: str = "context-qsh"

    def claims(
        self, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> dict[str, object] | None:
        """The token's claims when it is valid for one of ``secrets``, else None."""
        value = _lower(headers).get(self.header.lower(), "").strip()
        scheme, _, token = value.partition(" ")
        if scheme.lower() not in ("jwt", "bearer") or token.count(".") != 2:
            return None
        encoded_header, encoded_claims, encoded_signature = token.strip().split(".")
        header, claims, signature = (
            _b64url(encoded_header),
            _b64url(encoded_claims),
            _b64url(encoded_signature),
        )
        if header is None or claims is None or signature is None:
            return None
        try:
            declared, content = json.loads(header), json.loads(claims)
        except ValueError:
            return None
        if not isinstance(declared, dict) or declared.get("alg") != "HS256" or not isinstance(content, dict):
            return None
        signed = f"{encoded_header}.{encoded_claims}".encode("ascii", "replace")
        matched = False
        for secret in _usable(secrets):
            expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
            matched |= hmac.compare_digest(expected, signature)
        expires = content.get("exp")
        moment = time.time() if now is None else now
        if not matched or not isinstance(expires, (int, float)) or expires + self.leeway_s < moment:
            return None
        if "qsh" in content and content["qsh"] != self.qsh:
            return None
        return content

    def verify(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> bool:
        return self.claims(headers, secrets, now=now) is not None

    def sign(self, body: bytes, secret: str, *, now: float | None = None, msg_id: str = "") -> dict[str, str]:
        moment = int(time.time() if now is None else now)

        def part(data: dict[str, object]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

        claims: dict[str, object] = {"iat": moment, "exp": moment + 180, "qsh": self.qsh}
        unsigned = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
        signature = hmac.new(secret.encode(), unsigned.encode("ascii"), hashlib.sha256).digest()
        return {
            self.header: f"JWT {unsigned}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode('ascii')}"
        }


@dataclass(frozen=True, slots=True)
class UrlUserinfoSecret:
    """The secret as the password of the hook URL's userinfo (``https://hook:<secret>@host/...``), which
    HTTP clients send as ``Authorization: Basic base64(user:secret)``. For trackers whose hooks sign nothing
    (Redmine's webhook plugin): like :class:`PlainToken`, it proves the sender, never the body. The user
    name is ignored; the password is compared in constant time against every secret."""

    header: str = "Authorization"
    name: str = "url-userinfo-secret"
    signs_body: bool = False

    @staticmethod
    def password(value: str | None) -> bytes | None:
        scheme, _, encoded = (value or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        _user, colon, secret = decoded.partition(b":")
        return secret if colon else None

    def verify(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> bool:
        provided = self.password(_lower(headers).get(self.header.lower()))
        if not provided:
            return False
        matched = False
        for secret in _usable(secrets):
            matched |= hmac.compare_digest(secret.encode(), provided)
        return matched

    def sign(self, body: bytes, secret: str, *, now: float | None = None, msg_id: str = "") -> dict[str, str]:
        token = base64.b64encode(f"hook:{secret}".encode()).decode("ascii")
        return {self.header: f"Basic {token}"}


@dataclass(frozen=True, slots=True)
class LinearSignature:
    """``Linear-Signature: <hex HMAC-SHA256(secret, raw body)>`` (no ``sha256=`` prefix), fresh: the body's
    ``webhookTimestamp`` (epoch ms; else the ``Linear-Timestamp`` header) within ``tolerance_s`` of now.

    As Linear's SDK verifies (``LinearWebhooks.verify``, linear.app/docs/api/sdk-webhooks): the signature
    first, in constant time over the raw bytes, then the timestamp (60 s), which bounds replays.
    """

    header: str = "Linear-Signature"
    timestamp_header: str = "Linear-Timestamp"
    timestamp_field: str = "webhookTimestamp"
    tolerance_s: int = 60
    name: str = "linear-signature"
    signs_body: bool = True

    @staticmethod
    def digest(body: bytes, secret: str) -> str:
        return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    def _sent_at_ms(self, body: bytes, headers: dict[str, str]) -> float | None:
        try:
            value = json.loads(body).get(self.timestamp_field)
        except (ValueError, UnicodeDecodeError, AttributeError):
            value = None
        if isinstance(value, bool) or not isinstance(value, int | float):
            text = headers.get(self.timestamp_header.lower(), "")
            value = int(text) if text.isdigit() else None
        return float(value) if value is not None else None

    def verify(
        self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], *, now: float | None = None
    ) -> bool:
        h = _lower(headers)
        provided = h.get(self.header.lower(), "").strip().lower()
        try:
            provided_bytes = provided.encode("ascii")
        except UnicodeEncodeError:
            return False
        matched = False
        for secret in _usable(secrets):
            matched |= hmac.compare_digest(self.digest(body, secret).encode("ascii"), provided_bytes)
        if not matched or not provided:
            return False
        sent_ms = self._sent_at_ms(body, h)
        current = time.time() if now is None else now
        return sent_ms is not None and abs(current - sent_ms / 1000) <= self.tolerance_s

    def sign(self, body: bytes, secret: str, *, now: float | None = None, msg_id: str = "") -> dict[str, str]:
        """The header for ``body``, which must already carry its ``webhookTimestamp``."""
        return {self.header: self.digest(body, secret)}


def verify_any(
    schemes: Sequence[SignatureScheme],
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    now: float | None = None,
) -> bool:
    """True when the delivery's strongest scheme accepts it (GitLab may send either scheme, or both).

    Among the schemes whose header the delivery carries, those that sign the body decide when there are
    any; a plain token decides only a delivery that carries no signature.
    """
    present = {str(k).lower() for k in headers}
    carried = [s for s in schemes if s.header.lower() in present]
    judges = [s for s in carried if s.signs_body] or carried
    return any(s.verify(body, headers, secrets, now=now) for s in judges)


__all__ = [
    "AppJwt",
    "HubSignature",
    "LinearSignature",
    "PlainToken",
    "SignatureScheme",
    "StandardWebhooks",
    "UrlUserinfoSecret",
    "verify_any",
]
