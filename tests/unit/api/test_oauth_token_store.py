"""The OAuth token store's compare-and-swap on Secrets Manager (the session's moto server), raced by threads.

The property that matters: with rotating refresh tokens, whatever two concurrent refreshers do, the
refresh token left in the store is one the authorization server still accepts. moto runs as a server
(``moto_endpoint``), not ``mock_aws``: leaving ``mock_aws`` resets moto's process-global state, which would
wipe the resources other tests of the same worker use.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from pydantic import SecretStr

from tests.unit.api.support import captured_logs
from trackbridge.providers import oauth_jira
from trackbridge.runtime.oauth_tokens import SecretsManagerTokenStore

pytestmark = pytest.mark.integration

NOW = datetime(2025, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def client(moto_endpoint: str) -> Any:
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def name() -> str:
    return f"trackbridge/unit/t-{uuid.uuid4().hex[:10]}/connections/conn_abcdefghijklmnopqrst/oauth"


def tokens(
    tag: str, *, version: int = 1, expires_at: datetime = NOW + timedelta(hours=1)
) -> oauth_jira.TokenSet:
    return oauth_jira.TokenSet(
        access_token=SecretStr(f"access-{tag}"),
        refresh_token=SecretStr(f"refresh-{tag}"),
        expires_at=expires_at,
        cloud_id="cloud-1",
        site_url="https://acme.atlassian.net",
        version=version,
    )


def test_first_store_then_swap_then_a_stale_swap_loses(client: Any, name: str) -> None:
    store = SecretsManagerTokenStore(client, name)
    assert store.load() is None

    assert store.compare_and_swap(None, tokens("a")) is True
    first = store.load()
    assert first is not None
    assert first.version == 1
    assert store.compare_and_swap(None, tokens("b")) is False  # something is stored now

    assert store.compare_and_swap(first, tokens("c", version=2)) is True
    assert store.compare_and_swap(first, tokens("d", version=2)) is False  # first was already replaced

    stored = store.load()
    assert stored is not None
    assert (stored.version, stored.access_token.get_secret_value()) == (2, "access-c")
    assert stored.cloud_id == "cloud-1"


def test_a_repeated_identical_write_is_recognised_as_ours(client: Any, name: str) -> None:
    store = SecretsManagerTokenStore(client, name)
    store.compare_and_swap(None, tokens("a"))
    first = store.load()
    assert first is not None

    assert store.compare_and_swap(first, tokens("b")) is True
    # A retry of the same request (say, after a timeout whose answer was lost) is idempotent.
    assert store.compare_and_swap(first, tokens("b")) is True
    assert store.compare_and_swap(first, tokens("other")) is False


def test_forget_leaves_a_tombstone_and_a_new_authorization_continues_the_chain(
    client: Any, name: str
) -> None:
    store = SecretsManagerTokenStore(client, name)
    store.compare_and_swap(None, tokens("a"))
    live = store.load()
    assert live is not None

    assert store.forget(live) is True
    assert store.load() is None
    assert store.state().version == 2
    assert store.forget(live) is True  # the same tombstone again: an idempotent retry, nothing changes
    assert store.state().version == 2

    assert store.compare_and_swap(None, tokens("again")) is True
    renewed = store.load()
    assert renewed is not None
    assert renewed.version == 3
    raw = client.get_secret_value(SecretId=name)["SecretString"]
    assert json.loads(raw)["access_token"] == "access-again"


def test_two_threads_racing_each_round_exactly_one_wins(client: Any, name: str) -> None:
    store = SecretsManagerTokenStore(client, name)
    store.compare_and_swap(None, tokens("seed"))
    rounds = 15
    for round_no in range(rounds):
        current = store.load()
        assert current is not None
        barrier = threading.Barrier(2)
        results: dict[str, bool] = {}

        def race(
            tag: str, current: oauth_jira.TokenSet, barrier: threading.Barrier, results: dict[str, bool]
        ) -> None:
            barrier.wait(timeout=120)
            results[tag] = store.compare_and_swap(current, tokens(tag, version=current.version + 1))

        threads = [
            threading.Thread(target=race, args=(f"r{round_no}-{side}", current, barrier, results))
            for side in "xy"
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a racing thread did not finish"

        winners = [tag for tag, won in results.items() if won]
        assert len(winners) == 1, results
        stored = store.load()
        assert stored is not None
        assert stored.version == current.version + 1
        assert stored.access_token.get_secret_value() == f"access-{winners[0]}"
    final = store.load()
    assert final is not None
    assert final.version == rounds + 1


class RotatingAuthServer:
    """A token endpoint with Atlassian's rotation: each refresh token works once, then answers 403."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.valid: set[str] = set()
        self.issued: list[str] = []

    def issue(self) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(16)
        access = secrets.token_urlsafe(16)
        self.valid.add(refresh)
        self.issued.extend([refresh, access])
        return {"access_token": access, "refresh_token": refresh, "expires_in": 3600, "scope": "x"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self.lock:
            if body.get("refresh_token") not in self.valid:
                return httpx.Response(403, json={"error": "invalid_grant"})
            self.valid.discard(body["refresh_token"])
            return httpx.Response(200, json=self.issue())


def test_concurrent_refreshes_never_lose_the_newest_refresh_token(client: Any, name: str) -> None:
    server = RotatingAuthServer()
    app = oauth_jira.OAuthApp(
        client_id="client-1",
        client_secret=SecretStr("client-secret-value-1234"),
        redirect_uri="http://127.0.0.1:9/v1/oauth/jira/callback",
        endpoints=oauth_jira.OAuthEndpoints.under("http://127.0.0.1:9"),
    )
    store = SecretsManagerTokenStore(client, name)
    first = server.issue()
    store.compare_and_swap(
        None,
        oauth_jira.TokenSet(
            access_token=SecretStr(first["access_token"]),
            refresh_token=SecretStr(first["refresh_token"]),
            expires_at=NOW,  # expired: every caller must refresh
        ),
    )
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def refresher() -> None:
        with httpx.Client(transport=httpx.MockTransport(server)) as http:
            barrier.wait(timeout=120)
            try:
                oauth_jira.fresh_tokens(
                    app, http, store, now=lambda: NOW, sleep=lambda _s: None, settle_wait_s=0
                )
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

    with captured_logs() as logs:
        threads = [threading.Thread(target=refresher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a refresher thread did not finish"

    stored = store.load()
    assert stored is not None
    assert stored.refresh_token is not None
    # Whichever thread lost, the stored refresh token is the live one: the connection keeps working.
    assert stored.refresh_token.get_secret_value() in server.valid
    assert stored.version == 2
    assert len(errors) <= 1  # a loser whose refresh was refused before the winner stored may report it
    assert "oauth.tokens.stored" in logs.text  # the capture works: our lines are in it
    assert all(value not in logs.text for value in server.issued)
    assert "client-secret-value-1234" not in logs.text
