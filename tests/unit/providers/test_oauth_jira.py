"""Jira OAuth 2.0 (3LO): authorize URL, state, PKCE, code exchange, cloud id, rotating refresh and its race.

A small authorization server behind ``httpx.MockTransport`` plays Atlassian's part: it checks the PKCE
verifier against the challenge it saw at /authorize, rotates refresh tokens (a used one is dead), lists
accessible resources and guards a Jira API under /ex/jira/{cloudId}.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import InvalidInput
from trackbridge.providers.errors import AuthenticationError, MalformedResponseError, TransientError
from trackbridge.providers.jira import JiraAdapter
from trackbridge.providers.oauth_jira import (
    DEFAULT_SCOPES,
    AccessibleResource,
    AuthorizationState,
    OAuthApp,
    OAuthEndpoints,
    OAuthTokenAuth,
    TokenSet,
    choose_resource,
    complete_authorization,
    fresh_tokens,
    pkce_challenge,
    pkce_verifier,
    raise_for_callback_error,
    refresh_tokens,
    revoke_token,
    session_nonce_hash,
    session_nonce_matches,
    sign_state,
    start_authorization,
    state_id,
    verify_state,
)
from trackbridge.providers.types import TrackerConfig

from .conftest import CONNECTION_ID

AUTH = "https://auth.sandbox.test"
CLOUD_ID = "1324a887-45db-1bf4-1e99-ef0ff456d421"
SITE = "https://acme.atlassian.net"
CLIENT_SECRET = "client-secret-that-must-never-leak"
STATE_KEY = b"state-signing-key-for-tests-0123456789"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REDIRECT = "https://tb.example/v1/oauth/jira/callback"


def app(*, revocation: bool = True) -> OAuthApp:
    return OAuthApp(
        client_id="client-1",
        client_secret=SecretStr(CLIENT_SECRET),
        redirect_uri=REDIRECT,
        endpoints=OAuthEndpoints.under(AUTH, revocation_path="/oauth/revoke" if revocation else None),
    )


def json_response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


@dataclass
class AuthServer:
    """What Atlassian's authorization server and API gateway do, as far as trackbridge can tell."""

    grace_reuse: bool = False  # accept a just-rotated refresh token once more (some servers allow it)
    expires_in: int = 3600
    resources: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": CLOUD_ID, "url": SITE, "name": "acme", "scopes": ["read:jira-work", "write:jira-work"]}
        ]
    )
    challenges: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (challenge, redirect)
    refresh_tokens: dict[str, bool] = field(default_factory=dict)  # token -> still valid
    access_tokens: set[str] = field(default_factory=set)
    revoked: list[str] = field(default_factory=list)
    refresh_calls: int = 0
    issued_pairs: int = 0
    barrier: threading.Barrier | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _issue(self) -> dict[str, Any]:
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        self.access_tokens.add(access)
        self.refresh_tokens[refresh] = True
        self.issued_pairs += 1
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.expires_in,
            "scope": " ".join(DEFAULT_SCOPES),
            "token_type": "Bearer",
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        path = request.url.path
        if path == "/authorize":
            query = dict(request.url.params)
            assert query["code_challenge_method"] == "S256"
            code = f"code-{secrets.token_hex(4)}"
            self.challenges[code] = (query["code_challenge"], query["redirect_uri"])
            location = f"{query['redirect_uri']}?code={code}&state={query['state']}"
            return httpx.Response(302, headers={"location": location})
        if path == "/oauth/token":
            return self._token(json.loads(request.content))
        if path == "/oauth/token/accessible-resources":
            if self._bearer(request) not in self.access_tokens:
                return json_response(401, {"code": 401, "message": "Unauthorized"})
            return json_response(200, self.resources)
        if path == "/oauth/revoke":
            form = parse_qs(request.content.decode())
            self.revoked.append(form["token"][0])
            self.refresh_tokens[form["token"][0]] = False
            return httpx.Response(200)
        if path == f"/ex/jira/{CLOUD_ID}/rest/api/3/myself":
            if self._bearer(request) not in self.access_tokens:
                return json_response(401, {"code": 401, "message": "Unauthorized"})
            return json_response(200, {"accountId": "a1", "displayName": "Mia"})
        return json_response(404, {"message": f"no route {path}"})

    @staticmethod
    def _bearer(request: httpx.Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ")

    def _token(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("client_id") != "client-1" or body.get("client_secret") != CLIENT_SECRET:
            return json_response(401, {"error": "invalid_client", "error_description": "Unknown client"})
        if body["grant_type"] == "authorization_code":
            challenge, redirect = self.challenges.pop(body["code"], (None, None))
            verifier = body.get("code_verifier", "")
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if challenge is None or digest != challenge or body["redirect_uri"] != redirect:
                return json_response(
                    403, {"error": "invalid_grant", "error_description": "Invalid authorization code"}
                )
            return json_response(200, self._issue())
        # refresh_token
        self.refresh_calls += 1
        if self.barrier is not None:
            self.barrier.wait()  # both refreshers are in flight before either is answered
        with self.lock:
            token = body["refresh_token"]
            state = self.refresh_tokens.get(token)
            if state is None or (state is False and not self.grace_reuse):
                return json_response(
                    403, {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
                )
            self.refresh_tokens[token] = False  # rotation: a used refresh token is dead
            return json_response(200, self._issue())


class MemoryStore:
    """A TokenStore with an atomic compare-and-swap on the version (what Secrets Manager plus a
    condition gives the runtime)."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self.tokens = tokens
        self.lock = threading.Lock()
        self.swapped = threading.Event()
        self.swaps = 0

    def load(self) -> TokenSet | None:
        with self.lock:
            return self.tokens

    def compare_and_swap(self, old: TokenSet | None, new: TokenSet) -> bool:
        with self.lock:
            current = self.tokens
            if (current is None) != (old is None) or (current and old and current.version != old.version):
                return False
            self.tokens = new
            self.swaps += 1
            self.swapped.set()
            return True


@pytest.fixture
def server() -> AuthServer:
    return AuthServer()


@pytest.fixture
def http(server: AuthServer) -> Iterator[httpx.Client]:
    client = httpx.Client(transport=httpx.MockTransport(server.handler))
    yield client
    client.close()


def authorize(http: httpx.Client, url: str) -> dict[str, str]:
    """The user's browser: follow the authorize URL, read the callback's query."""
    response = http.get(url)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {k: v[0] for k, v in query.items()}


def stored_tokens(server: AuthServer, http: httpx.Client, *, expires_at: datetime) -> TokenSet:
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    callback = authorize(http, start.url)
    _, tokens = complete_authorization(
        app(), http, code=callback["code"], state=callback["state"], state_key=STATE_KEY, now=T0
    )
    return replace(tokens, expires_at=expires_at)


# ---- authorize URL, state, PKCE ----------------------------------------------------------------------------


def test_authorize_url_carries_everything_atlassian_documents_plus_pkce() -> None:
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    parts = urlsplit(start.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{AUTH}/authorize"
    assert "scope=read%3Ajira-work%20write%3Ajira-work" in parts.query  # %20 between scopes, as documented
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "audience": "api.atlassian.com",
        "client_id": "client-1",
        "scope": " ".join(DEFAULT_SCOPES),
        "redirect_uri": REDIRECT,
        "state": start.state,
        "response_type": "code",
        "prompt": "consent",
        "code_challenge": query["code_challenge"],
        "code_challenge_method": "S256",
    }
    assert "offline_access" in query["scope"].split()
    claims = verify_state(start.state, STATE_KEY, now=T0)
    assert (claims.tenant, claims.connection_id) == ("acme", CONNECTION_ID)
    assert claims.expires_at == start.expires_at == T0 + timedelta(minutes=10)
    assert query["code_challenge"] == pkce_challenge(pkce_verifier(STATE_KEY, claims.nonce))
    assert CLIENT_SECRET not in start.url


def test_default_endpoints_are_atlassians() -> None:
    endpoints = OAuthEndpoints()
    assert endpoints.authorize_url == "https://auth.atlassian.com/authorize"
    assert endpoints.token_url == "https://auth.atlassian.com/oauth/token"
    assert endpoints.resources_url == "https://api.atlassian.com/oauth/token/accessible-resources"
    assert endpoints.revocation_url is None
    tokens = TokenSet(SecretStr("a"), None, T0, cloud_id=CLOUD_ID)
    assert tokens.api_base_url(endpoints) == f"https://api.atlassian.com/ex/jira/{CLOUD_ID}"


def test_pkce_verifier_fits_rfc_7636() -> None:
    verifier = pkce_verifier(STATE_KEY, "nonce")
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    # RFC 7636 appendix B's example pair.
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_each_start_hands_the_caller_a_secret_session_nonce_apart_from_the_state() -> None:
    first, second = (
        start_authorization(app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0)
        for _ in range(2)
    )

    assert len(first.session_nonce) >= 43  # 32 random bytes, base64url
    assert first.session_nonce != second.session_nonce
    # The state travels in URLs (browser history, logs, Referer): the nonce must not be derivable from it.
    assert first.session_nonce not in first.url
    assert first.session_nonce not in first.state
    assert first.session_nonce not in repr(first)
    assert verify_state(first.state, STATE_KEY, now=T0).nonce != first.session_nonce


def test_only_the_right_session_nonce_matches_its_stored_digest() -> None:
    nonce = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    ).session_nonce
    stored = session_nonce_hash(nonce)

    assert nonce not in stored
    assert session_nonce_matches(nonce, stored)
    for wrong in (None, "", nonce[:-1], nonce + "x", nonce.upper(), "x" * 5000):
        assert not session_nonce_matches(wrong, stored)


def test_state_ids_are_key_safe_digests_of_the_exact_state() -> None:
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    other = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )

    assert state_id(start.state) == state_id(start.state)
    assert state_id(start.state) != state_id(other.state)
    assert state_id(start.state) != state_id(_tamper(start.state))
    assert len(state_id(start.state)) == 64
    assert set(state_id(start.state)) <= set("0123456789abcdef")


def _tamper(state: str) -> str:
    payload, mac = state.split(".")
    return payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]


@pytest.mark.parametrize(
    "make_state",
    [
        _tamper,
        lambda s: s.split(".")[0],
        lambda s: "",
        lambda s: "a.b.c",
        lambda s: "!!!.???",
        lambda s: s + "x" * 3000,
        lambda s: sign_state(
            AuthorizationState("other", CONNECTION_ID, "n", T0 + timedelta(minutes=5)), b"wrong key"
        ),
    ],
)
def test_forged_or_broken_state_is_a_400(make_state: Callable[[str], str]) -> None:
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    with pytest.raises(InvalidInput) as caught:
        verify_state(make_state(start.state), STATE_KEY, now=T0)
    assert caught.value.status == 400
    assert caught.value.code == "OAUTH_STATE_INVALID"


def test_expired_state_is_a_400() -> None:
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    with pytest.raises(InvalidInput) as caught:
        verify_state(start.state, STATE_KEY, now=T0 + timedelta(minutes=10, seconds=1))
    assert caught.value.code == "OAUTH_STATE_EXPIRED"


def test_a_refused_consent_is_a_400() -> None:
    with pytest.raises(InvalidInput) as caught:
        raise_for_callback_error(
            {"error": "access_denied", "error_description": "User did not authorize the request"}
        )
    assert caught.value.code == "OAUTH_DENIED"
    raise_for_callback_error({"code": "x", "state": "y"})  # no error: nothing raised


# ---- code exchange and cloud id ----------------------------------------------------------------------------


def test_callback_exchanges_the_code_with_secret_and_verifier_and_resolves_the_cloud_id(
    server: AuthServer, http: httpx.Client
) -> None:
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    callback = authorize(http, start.url)
    claims, tokens = complete_authorization(
        app(), http, code=callback["code"], state=callback["state"], state_key=STATE_KEY, now=T0
    )
    assert (claims.tenant, claims.connection_id) == ("acme", CONNECTION_ID)
    assert (tokens.cloud_id, tokens.site_url, tokens.version) == (CLOUD_ID, SITE, 1)
    assert tokens.expires_at == T0 + timedelta(hours=1)
    assert tokens.refresh_token is not None
    assert tokens.api_base_url(app().endpoints) == f"{AUTH}/ex/jira/{CLOUD_ID}"
    assert "at-" not in repr(tokens)
    assert "rt-" not in repr(tokens)


def test_a_code_replayed_or_without_the_right_verifier_is_a_400(
    server: AuthServer, http: httpx.Client
) -> None:
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    callback = authorize(http, start.url)
    other = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    # The other authorization's state derives another verifier: the server refuses the code.
    with pytest.raises(InvalidInput) as caught:
        complete_authorization(
            app(), http, code=callback["code"], state=other.state, state_key=STATE_KEY, now=T0
        )
    assert caught.value.code == "OAUTH_CODE_INVALID"


def test_wrong_client_secret_is_auth_invalid(http: httpx.Client) -> None:
    bad = replace(app(), client_secret=SecretStr("nope"))
    start = start_authorization(bad, tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0)
    callback = authorize(http, start.url)
    with pytest.raises(AuthenticationError) as caught:
        complete_authorization(
            bad, http, code=callback["code"], state=callback["state"], state_key=STATE_KEY, now=T0
        )
    assert caught.value.code is ErrorCode.AUTH_INVALID
    assert "nope" not in repr(caught.value.to_dict())


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (503, {"error": "temporarily_unavailable"}, TransientError),
        (200, {"token_type": "Bearer"}, MalformedResponseError),
    ],
)
def test_token_endpoint_failures_are_classified(status: int, body: Any, error: type[Exception]) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: json_response(status, body)))
    tokens = TokenSet(SecretStr("a"), SecretStr("r"), T0)
    with pytest.raises(error):
        refresh_tokens(app(), client, tokens, now=T0)


RESOURCES = [
    AccessibleResource("c1", "https://one.atlassian.net", "one", ("read:jira-work",)),
    AccessibleResource("c2", "https://two.atlassian.net", "two", ("read:jira-work",)),
    AccessibleResource("c3", "https://wiki.atlassian.net", "wiki", ("read:confluence-content.all",)),
]


def test_choose_resource() -> None:
    assert choose_resource(RESOURCES[:1]).id == "c1"
    assert choose_resource(RESOURCES, "https://TWO.atlassian.net/").id == "c2"
    assert choose_resource([RESOURCES[0], RESOURCES[2]]).id == "c1"  # a Confluence site is not a candidate
    with pytest.raises(InvalidInput) as ambiguous:
        choose_resource(RESOURCES)
    assert ambiguous.value.code == "OAUTH_SITE_AMBIGUOUS"
    assert ambiguous.value.details == {
        "granted_sites": ["https://one.atlassian.net", "https://two.atlassian.net"]
    }
    with pytest.raises(InvalidInput) as missing:
        choose_resource(RESOURCES, "https://three.atlassian.net")
    assert missing.value.code == "OAUTH_SITE_NOT_GRANTED"
    with pytest.raises(InvalidInput):
        choose_resource([])


# ---- refresh, rotation and the race ------------------------------------------------------------------------


def test_refresh_rotates_and_bumps_the_version(server: AuthServer, http: httpx.Client) -> None:
    first = stored_tokens(server, http, expires_at=T0)
    second = refresh_tokens(app(), http, first, now=T0)
    assert second.version == 2
    assert (second.cloud_id, second.site_url) == (CLOUD_ID, SITE)
    assert second.refresh_token is not None
    assert first.refresh_token is not None
    assert second.refresh_token.get_secret_value() != first.refresh_token.get_secret_value()
    with pytest.raises(AuthenticationError) as caught:
        refresh_tokens(app(), http, first, now=T0)  # the old refresh token died with the rotation
    assert caught.value.code is ErrorCode.AUTH_EXPIRED


def test_fresh_tokens_refreshes_only_near_expiry(server: AuthServer, http: httpx.Client) -> None:
    store = MemoryStore(stored_tokens(server, http, expires_at=T0 + timedelta(minutes=30)))
    assert fresh_tokens(app(), http, store, now=lambda: T0).version == 1
    assert server.refresh_calls == 0
    late = T0 + timedelta(minutes=26)  # less than five minutes left
    assert fresh_tokens(app(), http, store, now=lambda: late).version == 2
    assert server.refresh_calls == 1


def test_no_tokens_is_auth_invalid(http: httpx.Client) -> None:
    with pytest.raises(AuthenticationError) as caught:
        fresh_tokens(app(), http, MemoryStore(), now=lambda: T0)
    assert caught.value.code is ErrorCode.AUTH_INVALID


RACE_WAIT_S = 120.0


def _race(server: AuthServer, http: httpx.Client, store: MemoryStore) -> list[TokenSet]:
    # Waits on conditions, bounded generously: on a loaded machine a thread may start seconds late.
    server.barrier = threading.Barrier(2, timeout=RACE_WAIT_S)
    results: list[TokenSet] = []
    errors: list[BaseException] = []

    def settle(_: float) -> None:
        # The loser may see invalid_grant before the winner stored its tokens: it waits for the swap.
        store.swapped.wait(RACE_WAIT_S)

    def refresher() -> None:
        try:
            results.append(fresh_tokens(app(), http, store, now=lambda: T0, sleep=settle))
        except BaseException as exc:  # a thread cannot raise into the test: hand it to the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=refresher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RACE_WAIT_S)
    assert not errors, errors
    assert len(results) == 2
    return results


@pytest.mark.parametrize("grace_reuse", [False, True], ids=["strict rotation", "reuse grace"])
def test_two_concurrent_refreshes_never_lose_the_newer_token(grace_reuse: bool) -> None:
    server = AuthServer(grace_reuse=grace_reuse)
    with httpx.Client(transport=httpx.MockTransport(server.handler)) as http:
        store = MemoryStore(stored_tokens(server, http, expires_at=T0))
        results = _race(server, http, store)
    assert server.refresh_calls == 2
    # Exactly one refresh was stored; both refreshers use its tokens.
    assert store.swaps == 1
    stored = store.load()
    assert stored is not None
    assert stored.version == 2
    assert {r.access_token.get_secret_value() for r in results} == {stored.access_token.get_secret_value()}
    # The stored refresh token is the live one: the next refresh works.
    server.barrier = None
    with httpx.Client(transport=httpx.MockTransport(server.handler)) as http:
        assert refresh_tokens(app(), http, stored, now=T0).version == 3


def test_a_dead_refresh_token_is_auth_expired_after_a_bounded_wait(
    server: AuthServer, http: httpx.Client
) -> None:
    tokens = stored_tokens(server, http, expires_at=T0)
    refresh_tokens(app(), http, tokens, now=T0)  # rotated elsewhere, never stored
    waits: list[float] = []
    with pytest.raises(AuthenticationError) as caught:
        fresh_tokens(app(), http, MemoryStore(tokens), now=lambda: T0, sleep=waits.append)
    assert caught.value.code is ErrorCode.AUTH_EXPIRED
    assert waits == [0.5]


# ---- the adapter's auth, end to end ------------------------------------------------------------------------


def _oauth_adapter(
    server: AuthServer, http: httpx.Client, store: MemoryStore, clock: list[datetime]
) -> JiraAdapter:
    tokens = store.load()
    assert tokens is not None
    auth = OAuthTokenAuth(app(), store, http, clock=lambda: clock[0], sleep=lambda s: None)
    config = TrackerConfig(
        tokens.api_base_url(app().endpoints), {"project": "OPS"}, CONNECTION_ID, {"site_url": SITE}
    )
    return JiraAdapter(config, auth, client=httpx.Client(transport=httpx.MockTransport(server.handler)))


def test_end_to_end_authorize_call_refresh(server: AuthServer, http: httpx.Client) -> None:
    # POST /v1/oauth/jira/start, the user's consent, GET /v1/oauth/jira/callback
    start = start_authorization(
        app(), tenant="acme", connection_id=CONNECTION_ID, state_key=STATE_KEY, now=T0
    )
    callback = authorize(http, start.url)
    _, tokens = complete_authorization(
        app(), http, code=callback["code"], state=callback["state"], state_key=STATE_KEY, now=T0
    )
    store = MemoryStore()
    assert store.compare_and_swap(None, tokens)
    clock = [T0]
    adapter = _oauth_adapter(server, http, store, clock)
    # The API answers through the gateway with the bearer token.
    assert adapter.test_connection().identity == "Mia"
    assert server.refresh_calls == 0
    # Fifty-seven minutes later the token is refreshed before it is used.
    clock[0] = T0 + timedelta(minutes=57)
    adapter.get_json("rest/api/3/myself")
    assert server.refresh_calls == 1
    stored = store.load()
    assert stored is not None
    assert stored.version == 2
    adapter.close()


def test_a_401_refreshes_once_and_retries(server: AuthServer, http: httpx.Client) -> None:
    store = MemoryStore(stored_tokens(server, http, expires_at=T0 + timedelta(hours=1)))
    adapter = _oauth_adapter(server, http, store, [T0])
    server.access_tokens.clear()  # the site revoked every access token
    assert adapter.get_json("rest/api/3/myself")["accountId"] == "a1"
    assert server.refresh_calls == 1
    assert adapter.stats.requests == 1  # one logical request; the auth flow resent it once
    adapter.close()


def test_a_401_that_a_refresh_cannot_cure_is_auth_invalid(server: AuthServer, http: httpx.Client) -> None:
    store = MemoryStore(stored_tokens(server, http, expires_at=T0 + timedelta(hours=1)))
    adapter = _oauth_adapter(server, http, store, [T0])
    server.access_tokens.clear()
    server.refresh_tokens.clear()  # the user removed the app: nothing works any more
    with pytest.raises(AuthenticationError) as caught:
        adapter.get_json("rest/api/3/myself")
    assert caught.value.code is ErrorCode.AUTH_INVALID
    adapter.close()


# ---- revocation and storage --------------------------------------------------------------------------------


def test_revoke_posts_the_refresh_token_when_an_endpoint_exists(
    server: AuthServer, http: httpx.Client
) -> None:
    tokens = stored_tokens(server, http, expires_at=T0)
    assert revoke_token(app(), http, tokens)
    assert tokens.refresh_token is not None
    assert server.revoked == [tokens.refresh_token.get_secret_value()]
    with pytest.raises(AuthenticationError):
        refresh_tokens(app(), http, tokens, now=T0)


def test_without_a_revocation_endpoint_nothing_is_sent(server: AuthServer, http: httpx.Client) -> None:
    tokens = stored_tokens(server, http, expires_at=T0)
    requests_before = server.issued_pairs
    assert revoke_token(app(revocation=False), http, tokens) is False
    assert server.revoked == []
    assert server.issued_pairs == requests_before


def test_secret_round_trip_and_corruption() -> None:
    tokens = TokenSet(
        SecretStr("access-XYZ"),
        SecretStr("refresh-XYZ"),
        T0,
        cloud_id=CLOUD_ID,
        site_url=SITE,
        scope="x",
        version=7,
    )
    secret = tokens.to_secret()
    assert secret["access_token"] == "access-XYZ"
    assert TokenSet.from_secret(json.loads(json.dumps(secret))) == tokens
    assert TokenSet.from_secret({**secret, "refresh_token": None}).refresh_token is None
    assert "XYZ" not in repr(tokens)
    with pytest.raises(AuthenticationError):
        TokenSet.from_secret({"access_token": "at"})
