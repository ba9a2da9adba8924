"""Jira OAuth 2.0 (3LO) end to end on the embedded stack, against the Jira sandbox's authorization server.

``LocalStack`` runs what ``trackbridge local up`` runs (here with the Jira sandbox only), so this also
proves the wiring: the state key provisioned on moto, the sandbox's app registered at start, the callback
public on the local gateway, the nonce cookie through the gateway both ways. The browser's part is played
by an httpx client that reads ``Location`` and sends the nonce back as a browser would (its ``Cookie``
header: httpx, like ``http.cookiejar``, never sends a ``Secure`` cookie over plain http, which browsers do
for loopback).

Whether a code was exchanged is read from the sandbox's authorization server: an exchanged code leaves its
book of codes (single use, even when the exchange fails), so a code still there was never presented.
"""

from __future__ import annotations

import re
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
from trackbridge.domain.errors import InvalidInput
from trackbridge.providers import oauth_jira
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key
from trackbridge.runtime.jira_oauth import JiraOAuthService
from trackbridge.runtime.oauth_tokens import SecretsManagerTokenStore
from trackbridge.storage.keys import TTL_ATTRIBUTE
from trackbridge.storage.oauth_states import oauth_state_sk, oauth_states_pk
from trackbridge.storage.table import Table, deserialize

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("oauth-stack")]

STAGE = "oauthapi"
NONCE_HEADER = "X-Trackbridge-OAuth-Nonce"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CONNECTION_FIELDS = {"connection", "id", "base_url", "site_url", "has_credentials", "auth", "credentials"}


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


def start(api: httpx.Client, connection_id: str) -> dict[str, Any]:
    started = api.post("/oauth/jira/start", json={"connection_id": connection_id})
    assert started.status_code == 200, started.text
    return dict(started.json())


def authorize(browser: httpx.Client, authorization_url: str) -> str:
    """The sandbox consents: the callback URL (with a fresh code) the browser would open next."""
    redirect = browser.get(authorization_url)
    assert redirect.status_code == 302, redirect.text
    return str(redirect.headers["Location"])


def consent(api: httpx.Client, browser: httpx.Client, connection_id: str) -> tuple[str, str]:
    """Start, then consent: the callback URL and the nonce the starter must present there."""
    started = start(api, connection_id)
    return authorize(browser, started["authorization_url"]), str(started["nonce"])


def cookie(nonce: str) -> dict[str, str]:
    """What a browser sends back to the callback after start's Set-Cookie."""
    return {"Cookie": f"tb_oauth_nonce={nonce}"}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def unexchanged(jira: JiraSandbox, location: str) -> bool:
    """True when the callback's code never reached the token endpoint (see the module docstring)."""
    return query_of(location)["code"] in jira.state.oauth.codes


def connection_of(api: httpx.Client, connection_id: str) -> dict[str, Any]:
    return dict(api.get(f"/connections/{connection_id}").json())


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
        answers.append(started.text)
        url = started.json()["authorization_url"]
        set_cookie = started.headers.get_list("set-cookie")
        assert len(set_cookie) == 1
        nonce_cookie = set_cookie[0].split(";", 1)[0]
        assert nonce_cookie == f"tb_oauth_nonce={started.json()['nonce']}"
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(f"{jira.oauth_url}/authorize?")
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"{stack.api_url}/oauth/jira/callback"]
        assert "offline_access" in query["scope"][0].split()
        assert datetime.fromisoformat(started.json()["state_expires_at"]) > datetime.now(UTC)

        redirect = browser.get(url)
        # public: no API key; the nonce comes back in the cookie the start's answer set
        callback = browser.get(redirect.headers["Location"], headers={"Cookie": nonce_cookie})
        answers.append(callback.text)
        assert callback.status_code == 200, callback.text
        assert callback.headers["Cache-Control"] == "no-store"
        assert callback.json() == {
            "status": "connected",
            "message": "Jira is connected to trackbridge; you can close this window.",
        }
        connected = connection_of(api, cid)
        assert connected["has_credentials"] is True
        assert connected["auth"] == "oauth"
        assert connected["base_url"] == jira.gateway_url
        assert connected["site_url"] == jira.url

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


def test_start_sets_the_nonce_cookie_for_the_callback_path_only(api: httpx.Client, jira: JiraSandbox) -> None:
    cid = create_jira(api, jira, "jira-cookie")["id"]

    started = api.post("/oauth/jira/start", json={"connection_id": cid})

    assert started.status_code == 200, started.text
    nonce = started.json()["nonce"]
    assert len(nonce) >= 43
    assert nonce not in started.json()["authorization_url"]
    (set_cookie,) = started.headers.get_list("set-cookie")  # through the local gateway, as on AWS
    name_value, *attributes = (part.strip() for part in set_cookie.split(";"))
    assert name_value == f"tb_oauth_nonce={nonce}"
    assert sorted(attributes) == sorted(
        ["Path=/v1/oauth/jira", "Max-Age=600", "HttpOnly", "Secure", "SameSite=Lax"]
    )


def test_a_replayed_callback_is_refused(jira: JiraSandbox, api: httpx.Client, browser: httpx.Client) -> None:
    cid = create_jira(api, jira, "jira-replay")["id"]
    location, nonce = consent(api, browser, cid)

    first = browser.get(location, headers=cookie(nonce))
    again = browser.get(location, headers=cookie(nonce))

    assert first.status_code == 200, first.text
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "OAUTH_STATE_USED"


def test_a_state_replayed_with_a_new_code_is_refused_before_any_exchange(
    stack: LocalStack, jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    # Whoever sees the authorization URL can consent again and get a second code under the same state:
    # with the state single-use, that code never reaches the token endpoint.
    cid = create_jira(api, jira, "jira-new-code")["id"]
    started = start(api, cid)
    first_location = authorize(browser, started["authorization_url"])
    first = browser.get(first_location, headers=cookie(started["nonce"]))
    assert first.status_code == 200, first.text
    store = token_store(stack, cid)
    stored = store.load()
    assert stored is not None
    audit_before = api.get("/audit").json()["items"]

    second_location = authorize(browser, started["authorization_url"])
    assert query_of(second_location)["state"] == query_of(first_location)["state"]
    assert query_of(second_location)["code"] != query_of(first_location)["code"]
    replay = browser.get(second_location, headers=cookie(started["nonce"]))

    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "OAUTH_STATE_USED"
    assert unexchanged(jira, second_location)
    after = store.load()
    assert after is not None
    assert (after.version, secrets_of(after)) == (stored.version, secrets_of(stored))
    assert api.get("/audit").json()["items"] == audit_before


def test_a_callback_without_the_nonce_is_refused_and_the_state_stays_usable(
    jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    cid = create_jira(api, jira, "jira-no-nonce")["id"]
    location, nonce = consent(api, browser, cid)

    missing = browser.get(location)
    empty = browser.get(location, headers={NONCE_HEADER: ""})

    assert [missing.status_code, empty.status_code] == [400, 400]
    assert missing.json()["error"]["code"] == "OAUTH_NONCE_MISSING"
    assert empty.json()["error"]["code"] == "OAUTH_NONCE_MISSING"
    assert "tb_oauth_nonce" in missing.json()["error"]["message"]
    assert unexchanged(jira, location)
    assert connection_of(api, cid)["has_credentials"] is False
    # Nothing was consumed: the one who started can still finish.
    assert browser.get(location, headers={NONCE_HEADER: nonce}).status_code == 200


def test_a_wrong_nonce_is_refused_and_does_not_burn_the_state(
    jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    cid = create_jira(api, jira, "jira-wrong-nonce")["id"]
    location, nonce = consent(api, browser, cid)
    _, other_flows_nonce = consent(api, browser, create_jira(api, jira, "jira-other-flow")["id"])

    wrong = [
        browser.get(location, headers=cookie(other_flows_nonce)),
        browser.get(location, headers={NONCE_HEADER: nonce[:-2] + ("AA" if nonce[-2:] != "AA" else "BB")}),
        browser.get(
            location, headers={NONCE_HEADER: oauth_jira.session_nonce_hash(nonce)}
        ),  # the stored digest
    ]

    assert [r.status_code for r in wrong] == [400, 400, 400]
    assert {r.json()["error"]["code"] for r in wrong} == {"OAUTH_NONCE_MISMATCH"}
    assert unexchanged(jira, location)
    assert connection_of(api, cid)["has_credentials"] is False
    assert browser.get(location, headers=cookie(nonce)).status_code == 200


def test_the_callback_answers_a_page_or_json_never_the_connection(
    jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    as_json = create_jira(api, jira, "jira-answer-json")["id"]
    as_page = create_jira(api, jira, "jira-answer-page")["id"]
    json_location, json_nonce = consent(api, browser, as_json)
    page_location, page_nonce = consent(api, browser, as_page)

    answered = browser.get(json_location, headers={NONCE_HEADER: json_nonce, "Accept": "application/json"})
    page = browser.get(page_location, headers={**cookie(page_nonce), "Accept": BROWSER_ACCEPT})

    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("application/json")
    assert set(answered.json()) == {"status", "message"}
    assert answered.json()["status"] == "connected"
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "Jira is connected" in page.text
    assert "<script" not in page.text.lower()
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    for answer in (answered, page):
        assert as_json not in answer.text
        assert as_page not in answer.text
        assert not CONNECTION_FIELDS & set(re.findall(r'"(\w+)"\s*:', answer.text))
        assert jira.gateway_url not in answer.text
        # the spent nonce cookie is dropped
        (dropped,) = answer.headers.get_list("set-cookie")
        assert dropped.startswith("tb_oauth_nonce=;")
        assert "Max-Age=0" in dropped
    assert connection_of(api, as_json)["has_credentials"] is True
    assert connection_of(api, as_page)["has_credentials"] is True


def test_a_refused_callback_page_is_escaped(stack: LocalStack, browser: httpx.Client) -> None:
    callback = f"{stack.api_url}/oauth/jira/callback"

    page = browser.get(
        callback,
        params={"error": "<script>alert(1)</script>", "error_description": "<img src=x onerror=alert(2)>"},
        headers={"Accept": BROWSER_ACCEPT},
    )

    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text.lower()
    assert "<img" not in page.text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "OAUTH_DENIED" in page.text


def test_an_issued_state_expires_with_its_record(
    stack: LocalStack, jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    cid = create_jira(api, jira, "jira-expiry")["id"]
    base = container.jira_oauth_service()
    t0 = datetime.now(UTC).replace(microsecond=0)

    def at(moment: datetime) -> JiraOAuthService:
        return JiraOAuthService(
            config=base.config,
            connections=base.connections,
            audit=base.audit,
            states=base.states,
            secrets=base.secrets,
            store_for=base.store_for,
            http=base.http,
            clock=lambda: moment,
        )

    redirect_uri = f"{stack.api_url}/oauth/jira/callback"
    started = at(t0).start(DEMO_TENANT, cid, redirect_uri=redirect_uri)
    location = authorize(browser, started.url)
    with pytest.raises(InvalidInput) as caught:
        at(started.expires_at + timedelta(seconds=1)).complete(
            query_of(location),
            session_nonce=started.session_nonce,
            redirect_uri=redirect_uri,
            request_id=None,
        )

    assert caught.value.status == 400
    assert caught.value.code == "OAUTH_STATE_EXPIRED"
    assert unexchanged(jira, location)
    assert connection_of(api, cid)["has_credentials"] is False
    # The record lives exactly as long as the state: DynamoDB's TTL removes it then.
    assert stack.resources is not None
    item = stack.resources.client("dynamodb").get_item(
        TableName=stack.resources.table_name,
        Key=Table.key(oauth_states_pk(DEMO_TENANT), oauth_state_sk(oauth_jira.state_id(started.state))),
    )["Item"]
    record = deserialize(item)
    assert record[TTL_ATTRIBUTE] == int(started.expires_at.timestamp())
    assert started.expires_at == t0 + timedelta(seconds=oauth_jira.STATE_TTL_S)
    assert "consumed_at" not in record


def test_another_tenants_state_cannot_attach_a_site_to_a_connection(
    stack: LocalStack, jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    victim = create_jira(api, jira, "jira-victim")["id"]
    headers = {"Authorization": f"Bearer {issue_api_key('oauth-intruder')}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30, trust_env=False) as intruder:
        own = create_jira(intruder, jira, "jira-intruder")["id"]
        assert intruder.post("/oauth/jira/start", json={"connection_id": victim}).status_code == 404
        started = start(intruder, own)
        location = authorize(browser, started["authorization_url"])
        params = query_of(location)
        # Even holding the signing key, the intruder cannot aim its own issued state at the victim's
        # connection: the claims are re-signed, but no such state was ever issued to that tenant.
        assert stack.resources is not None
        key = stack.resources.client("secretsmanager").get_secret_value(
            SecretId=oauth_state_key_secret_name(STAGE)
        )["SecretString"]
        claims = oauth_jira.verify_state(params["state"], key.encode())
        aimed = oauth_jira.sign_state(replace(claims, tenant=DEMO_TENANT, connection_id=victim), key.encode())

        attack = browser.get(
            f"{stack.api_url}/oauth/jira/callback",
            params={"code": params["code"], "state": aimed},
            headers={NONCE_HEADER: started["nonce"]},
        )

        assert attack.status_code == 400
        assert attack.json()["error"]["code"] == "OAUTH_STATE_INVALID"
        assert unexchanged(jira, location)
        assert connection_of(api, victim)["has_credentials"] is False
        # The intruder's state completes the intruder's own connection, and nothing else.
        assert browser.get(location, headers={NONCE_HEADER: started["nonce"]}).status_code == 200
        assert connection_of(intruder, own)["has_credentials"] is True
        assert connection_of(api, victim)["has_credentials"] is False
        assert intruder.get(f"/connections/{victim}").status_code == 404


def test_forged_tampered_and_expired_states_are_refused(
    stack: LocalStack, jira: JiraSandbox, api: httpx.Client, browser: httpx.Client
) -> None:
    cid = create_jira(api, jira, "jira-states")["id"]
    callback = f"{stack.api_url}/oauth/jira/callback"
    location, nonce = consent(api, browser, cid)
    params = query_of(location)
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

    forged = browser.get(
        callback, params={"code": params["code"], "state": "eyJ0IjoiZGVtbyJ9.AAAA"}, headers=cookie(nonce)
    )
    modified = browser.get(
        callback, params={"code": params["code"], "state": tampered}, headers=cookie(nonce)
    )
    expired = browser.get(callback, params={"code": params["code"], "state": stale}, headers=cookie(nonce))

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
            "base_url": "https://api.github.com",  # never contacted; loopback is not allowlisted here
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
            "base_url": "https://api.github.com",  # never contacted; loopback is not allowlisted here
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
