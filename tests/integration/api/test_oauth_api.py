"""Jira OAuth 2.0 (3LO) end to end on the embedded stack, against the Jira sandbox's authorization server.

``LocalStack`` runs what ``trackbridge local up`` runs (here with the Jira sandbox only), so this also
proves the wiring: the state key provisioned on moto, the sandbox's app registered at start, the callback
public on the local gateway. The browser's part is played by an httpx client that reads ``Location``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.definition import oauth_state_key_secret_name
from infra.local.stack import DEMO_TENANT, LocalStack
from infra.local.trackers import SandboxCluster, start_sandboxes
from infra.local.trackers.jira import JiraSandbox
from tests.unit.api.support import captured_logs
from trackbridge.providers import oauth_jira
from trackbridge.runtime.oauth_tokens import SecretsManagerTokenStore

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("oauth-stack")]

STAGE = "oauthapi"


def _jira_only(seed: str) -> SandboxCluster:
    return start_sandboxes(providers=["jira"], seed=seed, issues=12, comments_per_issue=1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = LocalStack(
        port=0,
        state_dir=tmp_path_factory.mktemp("state"),
        stage=STAGE,
        start_sandboxes=_jira_only,
        seeders=(),
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def jira(stack: LocalStack) -> JiraSandbox:
    assert isinstance(stack.sandboxes, SandboxCluster)
    sandbox = stack.sandboxes["jira"]
    assert isinstance(sandbox, JiraSandbox)
    return sandbox


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[httpx.Client]:
    """No API key, no automatic redirects: the user's browser, step by step."""
    with httpx.Client(timeout=30, trust_env=False, follow_redirects=False) as client:
        yield client


def create_jira(api: httpx.Client, jira: JiraSandbox, name: str = "jira-oauth") -> dict[str, Any]:
    body = {
        "name": name,
        "provider": "jira",
        "base_url": jira.url,
        "scope": {"project": "ACME"},
        "credentials": {"auth": "oauth"},
    }
    created = api.post("/connections", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def consent(api: httpx.Client, browser: httpx.Client, connection_id: str) -> str:
    """Start, then let the sandbox consent: the callback URL the browser would open next."""
    started = api.post("/oauth/jira/start", json={"connection_id": connection_id})
    assert started.status_code == 200, started.text
    redirect = browser.get(started.json()["authorization_url"])
    assert redirect.status_code == 302, redirect.text
    return str(redirect.headers["Location"])


def token_store(stack: LocalStack, connection_id: str) -> SecretsManagerTokenStore:
    assert stack.resources is not None
    name = f"trackbridge/{STAGE}/{DEMO_TENANT}/connections/{connection_id}/oauth"
    return SecretsManagerTokenStore(stack.resources.client("secretsmanager"), name)


def wait_for(api: httpx.Client, op_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        op: dict[str, Any] = api.get(f"/sync-operations/{op_id}").json()
        if op["status"] in ("Completed", "Failed", "Cancelled"):
            return op
        time.sleep(0.1)
    raise AssertionError(f"operation {op_id} did not end in {timeout_s} s")


def sync(api: httpx.Client, connection_id: str, mode: str) -> dict[str, Any]:
    started = api.post(f"/connections/{connection_id}/syncs", json={"mode": mode})
    assert started.status_code == 202, started.text
    return wait_for(api, started.json()["id"])


def secrets_of(tokens: oauth_jira.TokenSet | None) -> set[str]:
    if tokens is None:
        return set()
    values = {tokens.access_token.get_secret_value()}
    if tokens.refresh_token is not None:
        values.add(tokens.refresh_token.get_secret_value())
    return values


def test_connect_sync_refresh_and_revoke(
    stack: LocalStack, jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    seen: set[str] = set()
    answers: list[str] = []
    with captured_logs() as logs:
        connection = create_jira(api, jira)
        cid = connection["id"]
        assert (connection["auth"], connection["has_credentials"]) == ("oauth", False)

        started = api.post("/oauth/jira/start", json={"connection_id": cid})
        url = started.json()["authorization_url"]
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(f"{jira.oauth_url}/authorize?")
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"{stack.api_url}/oauth/jira/callback"]
        assert "offline_access" in query["scope"][0].split()
        assert datetime.fromisoformat(started.json()["state_expires_at"]) > datetime.now(UTC)

        redirect = browser.get(url)
        callback = browser.get(redirect.headers["Location"])  # public: no API key
        answers.append(callback.text)
        assert callback.status_code == 200, callback.text
        assert callback.headers["Cache-Control"] == "no-store"
        connected = callback.json()["connection"]
        assert connected["has_credentials"] is True
        assert connected["auth"] == "oauth"
        assert connected["base_url"] == jira.gateway_url
        assert connected["site_url"] == jira.url
        assert api.get(f"/connections/{cid}").json()["has_credentials"] is True

        store = token_store(stack, cid)
        first = store.load()
        assert first is not None
        assert first.cloud_id == jira.state.cloud_id
        seen |= secrets_of(first)

        # The sync talks to the sandbox's gateway with the bearer token (the site itself refuses bearers).
        op = sync(api, cid, "full")
        assert op["status"] == "Completed", op
        assert op["results"]["created"] > 0
        issues = api.get("/issues", params={"connection": cid}).json()["items"]
        assert issues
        assert all(issue["url"].startswith(f"{jira.url}/browse/") for issue in issues)

        # Expire the token: on the sandbox's clock, and in the store (as an hour later would).
        jira.clock.freeze()
        jira.clock.advance(3601)
        assert store.compare_and_swap(first, replace(first, expires_at=datetime.now(UTC) - timedelta(1)))
        expired = store.load()
        assert expired is not None

        op = sync(api, cid, "incremental")
        assert op["status"] == "Completed", op
        rotated = store.load()
        assert rotated is not None
        assert rotated.refresh_token is not None
        seen |= secrets_of(rotated)
        assert rotated.version == expired.version + 1
        assert secrets_of(rotated).isdisjoint(secrets_of(first))
        assert rotated.expires_at > datetime.now(UTC) + timedelta(minutes=30)
        # Rotation: the old refresh token is dead at the authorization server, the stored one is live.
        assert first.refresh_token is not None
        assert first.refresh_token.get_secret_value() not in jira.state.oauth.refresh
        assert rotated.refresh_token.get_secret_value() in jira.state.oauth.refresh

        revoked = api.post("/oauth/jira/revoke", json={"connection_id": cid})
        answers.append(revoked.text)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["forgot_tokens"] is True
        assert revoked.json()["revoked_at_provider"] is False  # Atlassian has no revocation endpoint
        assert "Connected apps" in revoked.json()["guidance"]
        assert revoked.json()["connection"]["has_credentials"] is False
        assert store.load() is None

        failed = sync(api, cid, "incremental")
        assert failed["status"] == "Failed"
        assert "AUTH_INVALID" in str(failed["results"]["errors"])

        actions = [entry["action"] for entry in api.get("/audit").json()["items"] if entry["target"] == cid]
        assert "connection.oauth_connected" in actions
        assert "connection.oauth_revoked" in actions

    assert "oauth.jira.connected" in logs.text  # the capture saw our lines
    for value in seen | {jira.client_secret}:
        assert value not in logs.text
        assert all(value not in answer for answer in answers)


def test_a_replayed_callback_is_refused(jira: JiraSandbox, api: httpx.Client, browser: httpx.Client) -> None:
    cid = create_jira(api, jira, "jira-replay")["id"]
    location = consent(api, browser, cid)

    first = browser.get(location)
    again = browser.get(location)

    assert first.status_code == 200, first.text
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "OAUTH_CODE_INVALID"


def test_forged_tampered_and_expired_states_are_refused(
    stack: LocalStack, jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    cid = create_jira(api, jira, "jira-states")["id"]
    callback = f"{stack.api_url}/oauth/jira/callback"
    location = consent(api, browser, cid)
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    payload, mac = params["state"].split(".")
    tampered = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    assert stack.resources is not None
    key = stack.resources.client("secretsmanager").get_secret_value(
        SecretId=oauth_state_key_secret_name(STAGE)
    )["SecretString"]
    stale = oauth_jira.sign_state(
        oauth_jira.AuthorizationState(DEMO_TENANT, cid, "n0nce", datetime.now(UTC) - timedelta(seconds=1)),
        key.encode(),
    )

    forged = browser.get(callback, params={"code": params["code"], "state": "eyJ0IjoiZGVtbyJ9.AAAA"})
    modified = browser.get(callback, params={"code": params["code"], "state": tampered})
    expired = browser.get(callback, params={"code": params["code"], "state": stale})

    assert [forged.status_code, modified.status_code, expired.status_code] == [400, 400, 400]
    assert forged.json()["error"]["code"] == "OAUTH_STATE_INVALID"
    assert modified.json()["error"]["code"] == "OAUTH_STATE_INVALID"
    assert expired.json()["error"]["code"] == "OAUTH_STATE_EXPIRED"
    assert api.get(f"/connections/{cid}").json()["has_credentials"] is False


def test_access_denied_and_missing_parameters_are_400(stack: LocalStack, browser: httpx.Client) -> None:
    callback = f"{stack.api_url}/oauth/jira/callback"

    denied = browser.get(
        callback,
        params={"error": "access_denied", "error_description": "User did not authorize", "state": "x.y"},
    )
    missing = browser.get(callback)
    no_code = browser.get(callback, params={"state": "x.y"})

    assert denied.status_code == 400
    assert denied.json()["error"]["code"] == "OAUTH_DENIED"
    assert "access_denied" in denied.json()["error"]["message"]
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "OAUTH_CALLBACK_INCOMPLETE"
    assert missing.json()["error"]["details"] == {"missing": ["code", "state"]}
    assert no_code.status_code == 400
    assert no_code.json()["error"]["details"] == {"missing": ["code"]}


def test_start_needs_a_key_an_existing_connection_and_jira(stack: LocalStack, api: httpx.Client) -> None:
    github = api.post(
        "/connections",
        json={
            "name": "gh",
            "provider": "github",
            "base_url": "http://127.0.0.1:9",
            "scope": {"repo": "acme/widgets"},
            "credentials": {"token": "fake-token-for-oauth-test"},
        },
    )
    assert github.status_code == 201, github.text

    unknown = api.post("/oauth/jira/start", json={"connection_id": "conn_abcdefghijklmnopqrst"})
    not_jira = api.post("/oauth/jira/start", json={"connection_id": github.json()["id"]})
    anonymous = httpx.post(
        f"{stack.api_url}/oauth/jira/start", json={"connection_id": github.json()["id"]}, trust_env=False
    )
    oauth_github = api.post(
        "/connections",
        json={
            "name": "gh-oauth",
            "provider": "github",
            "base_url": "http://127.0.0.1:9",
            "scope": {"repo": "acme/widgets"},
            "credentials": {"auth": "oauth"},
        },
    )

    assert unknown.status_code == 404
    assert not_jira.status_code == 422
    assert not_jira.json()["error"]["code"] == "OAUTH_UNSUPPORTED_PROVIDER"
    assert anonymous.status_code == 401
    assert oauth_github.status_code == 422
    revoke_unknown = api.post("/oauth/jira/revoke", json={"connection_id": "conn_abcdefghijklmnopqrst"})
    assert revoke_unknown.status_code == 404


def test_api_token_connections_are_unchanged(jira: JiraSandbox, api: httpx.Client) -> None:
    body = {
        "name": "jira-basic",
        "provider": "jira",
        "base_url": jira.url,
        "scope": {"project": "ACME"},
        "credentials": {"email": jira.email, "api_token": jira.token},
    }
    created = api.post("/connections", json=body)

    assert created.status_code == 201, created.text
    assert (created.json()["auth"], created.json()["has_credentials"]) == ("token", True)
    assert created.json()["site_url"] is None
