"""Pagination cursors leave the API sealed (AES-256-GCM, bound to tenant and listing) and come back opened.

A client can read nothing in a cursor (the DynamoDB key included) and can neither forge, edit nor reuse one
elsewhere: each of these is a 400 ``INVALID_CURSOR`` before storage is asked anything.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, rest_event
from trackbridge.domain.errors import DependencyFailure, InvalidInput
from trackbridge.domain.pagination import Page
from trackbridge.runtime import aws, container
from trackbridge.runtime.api import cursors
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api.cursors import CursorSealer, DeploymentSecret, cursor_sealer
from trackbridge.runtime.settings import get_settings
from trackbridge.storage.cursors import encode_cursor

SECRET = b"s" * 48
# What storage hands out: the table key the page ended at, readable by anyone who decodes it.
PLAIN = encode_cursor({"PK": "T#acme", "SK": "CONN#conn_abcdefghijklmnopqrst"})


def sealer(secret: bytes = SECRET) -> CursorSealer:
    return CursorSealer(lambda: secret)


def _decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


# ---- the sealer -------------------------------------------------------------------------------------------


def test_a_sealed_cursor_opens_to_the_plain_one_and_shows_nothing_of_it() -> None:
    token = sealer().seal(PLAIN, tenant="acme", path="/v1/connections")

    assert sealer().open(token, tenant="acme", path="/v1/connections") == PLAIN
    assert PLAIN not in token
    raw = _decoded(token)
    assert b"T#acme" not in raw
    assert b"CONN#" not in raw
    assert _decoded(PLAIN) not in raw
    # A fresh nonce per seal: two pages never share a token
    assert token != sealer().seal(PLAIN, tenant="acme", path="/v1/connections")


@pytest.mark.parametrize(
    ("tenant", "path", "secret"),
    [
        ("globex", "/v1/connections", SECRET),  # another tenant's
        ("acme", "/v1/keys", SECRET),  # another listing's
        ("acme", "/v1/connections", b"t" * 48),  # sealed under a key since replaced
    ],
)
def test_a_cursor_opens_only_for_its_tenant_listing_and_key(tenant: str, path: str, secret: bytes) -> None:
    token = sealer().seal(PLAIN, tenant="acme", path="/v1/connections")
    with pytest.raises(InvalidInput) as refused:
        sealer(secret).open(token, tenant=tenant, path=path)
    assert refused.value.code == "INVALID_CURSOR"
    assert refused.value.status == 400


def test_every_edited_byte_is_refused() -> None:
    token = sealer().seal(PLAIN, tenant="acme", path="/v1/connections")
    raw = bytearray(_decoded(token))
    for index in range(len(raw)):
        edited = bytearray(raw)
        edited[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(edited)).decode().rstrip("=")
        with pytest.raises(InvalidInput):
            sealer().open(forged, tenant="acme", path="/v1/connections")


@pytest.mark.parametrize("token", ["", "AAAA", "not base64!", PLAIN, "A" * 400, "0" * 64])
def test_what_the_api_did_not_seal_is_refused(token: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        sealer().open(token, tenant="acme", path="/v1/connections")
    assert refused.value.code == "INVALID_CURSOR"


def test_the_key_is_derived_not_the_secret_itself() -> None:
    key = cursors.derive_key(SECRET)
    assert len(key) == 32
    assert key not in SECRET
    assert key != cursors.derive_key(b"t" * 48)


# ---- the key from Secrets Manager -------------------------------------------------------------------------


class FakeSecretsManager:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.reads += 1
        if SecretId not in self.values:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "x"}}, "GetSecretValue"
            )
        return {"SecretString": self.values[SecretId]}


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSecretsManager]:
    fake = FakeSecretsManager({"trackbridge/dev/_app/oauth-state-key": "k" * 64, "short": "k" * 8})
    monkeypatch.setenv("TB_OAUTH_STATE_KEY_SECRET", "trackbridge/dev/_app/oauth-state-key")
    monkeypatch.setenv("TB_SECRETS_TTL_S", "300")
    monkeypatch.setattr(aws, "client", lambda service: fake)
    get_settings.cache_clear()
    yield fake
    get_settings.cache_clear()


def test_the_secret_is_read_once_per_ttl(secrets_manager: FakeSecretsManager) -> None:
    now = [1000.0]
    secret = DeploymentSecret(clock=lambda: now[0])

    assert secret() == b"k" * 64
    assert secret() == b"k" * 64
    assert secrets_manager.reads == 1
    now[0] += 301
    secret()
    assert secrets_manager.reads == 2


@pytest.mark.parametrize("name", ["missing", "short", ""])
def test_an_unreadable_secret_is_a_503_not_a_plain_cursor(
    secrets_manager: FakeSecretsManager, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("TB_OAUTH_STATE_KEY_SECRET", name)
    get_settings.cache_clear()
    with pytest.raises(DependencyFailure) as failed:
        CursorSealer(DeploymentSecret()).seal(PLAIN, tenant="acme", path="/v1/connections")
    assert failed.value.code == "CURSOR_KEY_UNAVAILABLE"


# ---- through the API --------------------------------------------------------------------------------------


class Listing:
    """A connection service whose listing has a next page; it records the cursor it is given."""

    def __init__(self) -> None:
        self.cursors: list[str | None] = []

    def list(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Any]:
        self.cursors.append(cursor)
        return Page[Any](items=[], next_cursor=PLAIN)


@pytest.fixture
def listing() -> Iterator[Listing]:
    service = Listing()
    app.dependency_overrides[container.connection_service] = lambda: service
    app.dependency_overrides[cursor_sealer] = sealer
    yield service
    app.dependency_overrides.clear()


def _list(
    shared_dir: Path, *, cursor: str | None = None, tenant: str = "acme", path: str = "/v1/connections"
) -> Any:
    query = {"cursor": cursor} if cursor is not None else None
    return handler(rest_event(shared_dir, "GET", path, query=query, tenant=tenant), FakeLambdaContext())


def test_next_cursor_leaves_sealed_and_comes_back_opened(shared_dir: Path, listing: Listing) -> None:
    # Given: a first page
    first = _list(shared_dir)
    assert first["statusCode"] == 200
    token = body_of(first)["next_cursor"]

    # Then: the client sees no table key...
    assert token != PLAIN
    assert "acme" not in token
    assert b"T#acme" not in _decoded(token)
    # ...and storage gets its own cursor back with the next page
    second = _list(shared_dir, cursor=token)
    assert second["statusCode"] == 200, body_of(second)
    assert listing.cursors == [None, PLAIN]


@pytest.mark.parametrize("case", ["edited", "other tenant", "storage's own", "other listing"])
def test_a_cursor_the_api_did_not_give_this_listing_is_a_400(
    shared_dir: Path, listing: Listing, case: str
) -> None:
    token = body_of(_list(shared_dir))["next_cursor"]
    calls_before = len(listing.cursors)
    edited = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    answer = {
        "edited": lambda: _list(shared_dir, cursor=edited),
        "other tenant": lambda: _list(shared_dir, cursor=token, tenant="globex"),
        "storage's own": lambda: _list(shared_dir, cursor=PLAIN),
        "other listing": lambda: _list(shared_dir, cursor=token, path="/v1/keys"),
    }[case]()
    assert answer["statusCode"] == 400, body_of(answer)
    assert body_of(answer)["error"]["code"] == "INVALID_CURSOR"
    assert len(listing.cursors) == calls_before  # storage was not asked


def test_a_cursor_over_the_documented_length_is_a_422(shared_dir: Path, listing: Listing) -> None:
    answer = _list(shared_dir, cursor="A" * 5000)
    assert answer["statusCode"] == 422, body_of(answer)
    assert body_of(answer)["error"]["details"]["errors"][0]["path"] == "query.cursor"
