"""OAuth 2.0 (3LO) against the Jira sandbox: authorize with PKCE, exchange, rotate, and call the gateway."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from infra.local.trackers.jira import JiraSandbox
from trackbridge.providers import oauth_jira

pytestmark = pytest.mark.integration

REDIRECT = "http://127.0.0.1:9/v1/oauth/jira/callback"  # never called: the client reads the Location header
SCOPES = "read:jira-work write:jira-work read:jira-user manage:jira-webhook offline_access"


@pytest.fixture
def auth(jira: JiraSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=jira.oauth_url, timeout=60, trust_env=False, follow_redirects=False) as client:
        yield client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(jira: JiraSandbox, auth: httpx.Client, **overrides: str) -> httpx.Response:
    params = {
        "audience": "api.atlassian.com",
        "client_id": jira.client_id,
        "scope": SCOPES,
        "redirect_uri": REDIRECT,
        "state": "opaque-state",
        "response_type": "code",
        "prompt": "consent",
        **overrides,
    }
    return auth.get("/authorize", params=params)


def redirected(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT)
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def exchange(jira: JiraSandbox, auth: httpx.Client, code: str, **extra: str) -> httpx.Response:
    body = {
        "grant_type": "authorization_code",
        "client_id": jira.client_id,
        "client_secret": jira.client_secret,
        "code": code,
        "redirect_uri": REDIRECT,
        **extra,
    }
    return auth.post("/oauth/token", json=body)


def tokens(jira: JiraSandbox, auth: httpx.Client, scope: str = SCOPES) -> dict[str, Any]:
    verifier, challenge = pkce()
    query = redirected(
        authorize(jira, auth, scope=scope, code_challenge=challenge, code_challenge_method="S256")
    )
    response = exchange(jira, auth, query["code"], code_verifier=verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


def refresh(jira: JiraSandbox, auth: httpx.Client, token: str) -> httpx.Response:
    body = {
        "grant_type": "refresh_token",
        "client_id": jira.client_id,
        "client_secret": jira.client_secret,
        "refresh_token": token,
    }
    return auth.post("/oauth/token", json=body)


def gateway(jira: JiraSandbox, access_token: str) -> httpx.Client:
    return httpx.Client(
        base_url=jira.gateway_url,
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=60,
        trust_env=False,
    )


def test_authorization_code_with_pkce_reaches_the_api_through_the_gateway(
    jira: JiraSandbox, auth: httpx.Client
) -> None:
    verifier, challenge = pkce()
    query = redirected(authorize(jira, auth, code_challenge=challenge, code_challenge_method="S256"))
    assert query["state"] == "opaque-state"

    response = exchange(jira, auth, query["code"], code_verifier=verifier)
    granted = response.json()
    resources = auth.get(
        "/oauth/token/accessible-resources", headers={"Authorization": f"Bearer {granted['access_token']}"}
    )

    assert response.status_code == 200
    assert granted["token_type"] == "Bearer"
    assert granted["expires_in"] == 3600
    assert granted["scope"] == SCOPES
    assert granted["refresh_token"]
    (site,) = resources.json()
    assert site["id"] == jira.state.cloud_id == jira.describe()["cloud_id"]
    assert site["url"] == jira.url
    assert "offline_access" not in site["scopes"]
    with gateway(jira, granted["access_token"]) as api:
        me = api.get("/rest/api/3/myself")
        issue = api.get("/rest/api/3/issue/ACME-1").json()
        searched = api.get("/rest/api/3/search/jql", params={"jql": "project = ACME", "maxResults": 5})
    assert me.json()["accountId"] == jira.state.api_user
    assert issue["self"] == f"{jira.gateway_url}/rest/api/3/issue/{issue['id']}"
    assert len(searched.json()["issues"]) == 5
    assert jira.requests()["by_route"]["GET /rest/api/3/myself"] == 1


@pytest.mark.parametrize(
    ("extra", "description"),
    [
        ({"code_verifier": "not-the-verifier-" + "x" * 30}, "PKCE verification failed"),
        ({}, "PKCE verification failed"),
        (
            {"redirect_uri": "http://127.0.0.1:9/elsewhere"},
            "redirect_uri does not match the authorization request",
        ),
    ],
)
def test_a_code_needs_its_verifier_and_redirect_uri(
    jira: JiraSandbox, auth: httpx.Client, extra: dict[str, str], description: str
) -> None:
    _, challenge = pkce()
    code = redirected(authorize(jira, auth, code_challenge=challenge, code_challenge_method="S256"))["code"]

    response = exchange(jira, auth, code, **extra)

    assert response.status_code == 403
    assert response.json() == {"error": "invalid_grant", "error_description": description}
    assert exchange(jira, auth, code).status_code == 403  # a failed exchange still spends the code


def test_codes_are_single_use_and_the_client_secret_is_checked(jira: JiraSandbox, auth: httpx.Client) -> None:
    code = redirected(authorize(jira, auth))["code"]

    wrong_secret = exchange(jira, auth, code, client_secret="nope")
    first = exchange(jira, auth, code)
    second = exchange(jira, auth, code)

    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "access_denied"
    assert first.status_code == 200
    assert second.status_code == 403
    assert second.json() == {"error": "invalid_grant", "error_description": "Invalid authorization code"}


def test_authorize_refuses_unknown_clients_and_foreign_redirects_without_redirecting(
    jira: JiraSandbox, auth: httpx.Client
) -> None:
    unknown = authorize(jira, auth, client_id="someone-else")
    foreign = authorize(jira, auth, redirect_uri="https://evil.example/callback")

    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_client"
    assert foreign.status_code == 400
    assert "Location" not in foreign.headers


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "read:jira-work fly:to-the-moon!"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ],
)
def test_other_authorize_problems_come_back_to_the_redirect_uri(
    jira: JiraSandbox, auth: httpx.Client, overrides: dict[str, str], error: str
) -> None:
    query = redirected(authorize(jira, auth, **overrides))

    assert query["error"] == error
    assert query["state"] == "opaque-state"
    assert "code" not in query


def test_refresh_tokens_rotate_and_the_old_one_dies(jira: JiraSandbox, auth: httpx.Client) -> None:
    first = tokens(jira, auth)

    rotated = refresh(jira, auth, first["refresh_token"])
    replayed = refresh(jira, auth, first["refresh_token"])
    again = refresh(jira, auth, rotated.json()["refresh_token"])

    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    assert rotated.json()["access_token"] != first["access_token"]
    assert replayed.status_code == 403
    assert replayed.json() == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }
    assert again.status_code == 200
    with gateway(jira, first["access_token"]) as api:
        assert api.get("/rest/api/3/myself").status_code == 200  # an access token lives until it expires


def test_access_tokens_expire_and_idle_refresh_tokens_too(jira: JiraSandbox, auth: httpx.Client) -> None:
    jira.clock.freeze()
    granted = tokens(jira, auth)

    jira.clock.advance(3601)
    with gateway(jira, granted["access_token"]) as api:
        expired = api.get("/rest/api/3/myself")
    renewed = refresh(jira, auth, granted["refresh_token"])
    jira.clock.advance(91 * 86_400)
    idle = refresh(jira, auth, renewed.json()["refresh_token"])

    assert expired.status_code == 401
    assert expired.json() == {"code": 401, "message": "Unauthorized"}
    assert renewed.status_code == 200
    assert idle.status_code == 403


def test_without_offline_access_there_is_no_refresh_token(jira: JiraSandbox, auth: httpx.Client) -> None:
    granted = tokens(jira, auth, scope="read:jira-work")

    assert "refresh_token" not in granted


def test_the_gateway_enforces_scopes_and_the_cloud_id(jira: JiraSandbox, auth: httpx.Client) -> None:
    read_only = tokens(jira, auth, scope="read:jira-work")
    body = {"fields": {"project": {"key": "ACME"}, "issuetype": {"name": "Task"}, "summary": "x"}}

    with gateway(jira, read_only["access_token"]) as api:
        can_read = api.get("/rest/api/3/issue/ACME-1")
        cannot_write = api.post("/rest/api/3/issue", json=body)
        cannot_read_users = api.get("/rest/api/3/myself")
    wrong_cloud = httpx.get(
        f"{jira.oauth_url}/ex/jira/not-our-cloud/rest/api/3/myself",
        headers={"Authorization": f"Bearer {read_only['access_token']}"},
        trust_env=False,
    )
    control = httpx.get(f"{jira.gateway_url}/_sandbox/requests", trust_env=False)

    assert can_read.status_code == 200
    assert cannot_write.status_code == 401
    assert cannot_write.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    assert cannot_read_users.status_code == 401
    assert wrong_cloud.status_code == 404
    assert control.status_code == 404


def test_trackbridges_own_oauth_client_completes_and_refreshes(jira: JiraSandbox) -> None:
    """The product's 3LO client against the sandbox's endpoints: the contract both sides rely on."""
    app = oauth_jira.OAuthApp(
        client_id=jira.client_id,
        client_secret=SecretStr(jira.client_secret),
        redirect_uri=REDIRECT,
        endpoints=oauth_jira.OAuthEndpoints.under(jira.oauth_url),
    )
    key = b"state-signing-key-for-the-test"
    start = oauth_jira.start_authorization(app, tenant="t1", connection_id="c1", state_key=key)

    with httpx.Client(timeout=60, trust_env=False, follow_redirects=False) as http:
        query = redirected(http.get(start.url))
        claims, stored = oauth_jira.complete_authorization(
            app, http, code=query["code"], state=query["state"], state_key=key
        )
        renewed = oauth_jira.refresh_tokens(app, http, stored, now=stored.expires_at)

    assert (claims.tenant, claims.connection_id) == ("t1", "c1")
    assert stored.cloud_id == jira.state.cloud_id
    assert stored.api_base_url(app.endpoints) == jira.gateway_url
    assert renewed.refresh_token is not None
    assert stored.refresh_token is not None
    assert renewed.refresh_token.get_secret_value() != stored.refresh_token.get_secret_value()
