"""Credentials -> ``httpx.Auth`` objects that cannot leak what they carry.

Credentials live in Secrets Manager and reach an adapter only as an auth object (DESIGN section 10,
"Secrets"): the adapter and its logs never see the token itself. Each object keeps its secret in a pydantic
``SecretStr`` (its ``repr``/``str`` print asterisks) and has a ``repr`` of its own that names only the
scheme, so a stray ``logger.info(adapter.__dict__)`` or a traceback's locals show nothing usable.

Each provider declares an :class:`AuthScheme` (``TrackerAdapter.auth_scheme``) saying which credential
keys it needs; ``trackbridge.providers.registry.auth_from_credentials(provider, credentials)`` picks it.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from trackbridge.domain.errors import ValidationFailed


class _SecretAuth(httpx.Auth):
    """Sets one header from a secret; subclasses say which header and how the value is built."""

    header: str = "Authorization"

    def __init__(self, value: str) -> None:
        self._value = SecretStr(value)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.header] = self._value.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(header={self.header!r}, value=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would write the secret to a cache, a queue or a disk: refuse it outright.
        raise TypeError(f"{type(self).__name__} holds a secret and cannot be serialized")


class BearerTokenAuth(_SecretAuth):
    """``Authorization: Bearer <token>`` (GitHub tokens, OAuth access tokens)."""

    def __init__(self, token: str) -> None:
        super().__init__(f"Bearer {token}")


class HeaderTokenAuth(_SecretAuth):
    """The token alone in a named header (GitLab ``PRIVATE-TOKEN``)."""

    def __init__(self, token: str, *, header: str) -> None:
        super().__init__(token)
        self.header = header


class BasicCredentialsAuth(_SecretAuth):
    """``Authorization: Basic base64(user:secret)`` (Jira Cloud API tokens: email + API token)."""

    def __init__(self, username: str, secret: str) -> None:
        raw = f"{username}:{secret}".encode()
        super().__init__("Basic " + base64.b64encode(raw).decode("ascii"))


def _require(credentials: Mapping[str, Any], keys: tuple[str, ...], provider: str) -> list[str]:
    if not isinstance(credentials, Mapping):
        raise ValidationFailed(
            f"credentials for {provider} must be an object with keys: {', '.join(keys)}",
            details={"required": list(keys)},
        )
    missing = [k for k in keys if not isinstance(credentials.get(k), str) or not credentials[k].strip()]
    if missing:
        # Name the keys, never echo the values: a mistyped token is still a token.
        raise ValidationFailed(
            f"credentials for {provider} need non-empty string keys: {', '.join(keys)}",
            details={"missing": missing, "required": list(keys)},
        )
    return [credentials[k].strip() for k in keys]


@dataclass(frozen=True, slots=True)
class BearerScheme:
    keys: tuple[str, ...] = ("token",)

    def build(self, credentials: Mapping[str, Any], *, provider: str) -> httpx.Auth:
        (token,) = _require(credentials, self.keys, provider)
        return BearerTokenAuth(token)


@dataclass(frozen=True, slots=True)
class HeaderTokenScheme:
    header: str
    keys: tuple[str, ...] = ("token",)

    def build(self, credentials: Mapping[str, Any], *, provider: str) -> httpx.Auth:
        (token,) = _require(credentials, self.keys, provider)
        return HeaderTokenAuth(token, header=self.header)


@dataclass(frozen=True, slots=True)
class BasicScheme:
    keys: tuple[str, ...] = ("email", "api_token")

    def build(self, credentials: Mapping[str, Any], *, provider: str) -> httpx.Auth:
        username, secret = _require(credentials, self.keys, provider)
        return BasicCredentialsAuth(username, secret)


class AuthScheme(Protocol):
    """Builds an auth object from a credentials dict; ``keys`` lists what it needs (shown to API clients)."""

    @property
    def keys(self) -> tuple[str, ...]: ...

    def build(self, credentials: Mapping[str, Any], *, provider: str) -> httpx.Auth: ...


__all__ = [
    "AuthScheme",
    "BasicCredentialsAuth",
    "BasicScheme",
    "BearerScheme",
    "BearerTokenAuth",
    "HeaderTokenAuth",
    "HeaderTokenScheme",
]
