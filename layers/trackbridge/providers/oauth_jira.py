"""Jira Cloud OAuth 2.0 (3LO): authorize URL, code exchange, cloud id, rotating refresh, revocation.

Why a module of its own: a 3LO connection holds tokens that change under it. Access tokens last about an
hour and every refresh returns a new refresh token while disabling the old one (tracker-apis 1.1), so two
Lambdas refreshing at once can lose the newer token for good. This module keeps that logic pure (httpx
only, no AWS): persistence is a :class:`TokenStore` the runtime implements over Secrets Manager, and
:func:`fresh_tokens` settles races through the store's compare-and-swap on a version number.

The flow::

    # POST /v1/oauth/jira/start
    start = start_authorization(app, tenant=..., connection_id=..., state_key=key)
    # the runtime records state_id(start.state) with session_nonce_hash(start.session_nonce) and hands
    # start.session_nonce to the caller (a cookie for a browser)
    # the user consents at start.url; Atlassian redirects to GET /v1/oauth/jira/callback?code&state
    # the runtime checks the nonce the caller presents and consumes the record, once
    claims, tokens = complete_authorization(app, http, code=..., state=..., state_key=key)
    store.compare_and_swap(None, tokens)
    auth = OAuthTokenAuth(app, store, http)    # the adapter's httpx.Auth: refreshes before expiry and on 401
    base_url = tokens.api_base_url(app.endpoints)   # https://api.atlassian.com/ex/jira/{cloudId}

**State** is signed (HMAC-SHA256 over tenant, connection, nonce and expiry) and short-lived, so the callback
knows whose authorization it completes before any lookup, and a forged or stale state is a 400. A signature
alone does not make it single-use, nor tie it to the browser that started the flow: whoever saw the
authorization URL could replay its state with a code of their own and attach their Atlassian site to the
tenant's connection. So the runtime also records each state when it issues it (keyed by :func:`state_id`)
and consumes the record at the callback, and :func:`start_authorization` returns a **session nonce**, a
secret apart from the state (which travels in URLs), that the caller who started the flow must present at
the callback; only :func:`session_nonce_hash` of it is stored, and :func:`session_nonce_matches` compares
in constant time (RFC 6749 10.12, "binding to the user-agent's authenticated state").

**PKCE**: Atlassian does not document PKCE for 3LO and still requires ``client_secret`` in the exchange
(tracker-apis 1.1). We send an S256 ``code_challenge`` anyway, since an authorization server ignores
parameters it does not know and a conforming one gains protection against code interception, and we keep
sending the secret. The verifier is derived from the state key and the nonce, so it never leaves the
server and needs no storage between start and callback.

**Revocation**: Atlassian documents no endpoint to revoke a 3LO token (the user removes the app under
their account's connected apps). :func:`revoke_token` calls an RFC 7009 endpoint when one is configured
(``OAuthEndpoints.revocation_url``) and otherwise reports that only the stored tokens can be forgotten.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx
from pydantic import SecretStr

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.oauth import STATE_TTL_S
from trackbridge.providers.classify import classify_response, classify_transport_error, parse_body
from trackbridge.providers.errors import AuthenticationError, TrackerError, make_error
from trackbridge.providers.ratelimit import RateLimitInfo

logger = logging.getLogger(__name__)

PROVIDER = "jira"
# read/write issues, read users, register webhooks; offline_access is what yields a refresh token.
DEFAULT_SCOPES: tuple[str, ...] = (
    "read:jira-work",
    "write:jira-work",
    "read:jira-user",
    "manage:jira-webhook",
    "offline_access",
)
SESSION_NONCE_BYTES = 32  # 256 bits: guessing one is hopeless, however many callbacks an attacker sends
_MAX_SESSION_NONCE_CHARS = 256
REFRESH_SKEW_S = 300  # refresh this long before expiry: a sync slice must not see a token die mid-page


@dataclass(frozen=True, slots=True)
class OAuthEndpoints:
    """Where Atlassian's authorization server and API gateway are (overridable for the sandbox)."""

    authorize_url: str = "https://auth.atlassian.com/authorize"
    token_url: str = "https://auth.atlassian.com/oauth/token"  # noqa: S105 - a URL, not a password
    resources_url: str = "https://api.atlassian.com/oauth/token/accessible-resources"
    api_base_template: str = "https://api.atlassian.com/ex/jira/{cloud_id}"
    revocation_url: str | None = None
    audience: str = "api.atlassian.com"

    @classmethod
    def under(cls, base_url: str, *, revocation_path: str | None = None) -> OAuthEndpoints:
        """The same paths under one base URL: how the sandbox serves both the auth server and the gateway."""
        base = base_url.rstrip("/")
        return cls(
            authorize_url=f"{base}/authorize",
            token_url=f"{base}/oauth/token",
            resources_url=f"{base}/oauth/token/accessible-resources",
            api_base_template=base + "/ex/jira/{cloud_id}",
            revocation_url=f"{base}{revocation_path}" if revocation_path else None,
        )


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """The OAuth app registered in Atlassian's developer console. ``repr`` never shows the secret."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    endpoints: OAuthEndpoints = field(default_factory=OAuthEndpoints)


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a connection keeps in Secrets Manager. ``version`` grows by one on every rotation: it is what
    :meth:`TokenStore.compare_and_swap` compares."""

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: datetime
    cloud_id: str = ""
    site_url: str = ""
    scope: str = ""
    version: int = 1

    def expires_within(self, seconds: float, now: datetime) -> bool:
        return self.expires_at - now <= timedelta(seconds=seconds)

    def api_base_url(self, endpoints: OAuthEndpoints) -> str:
        if not self.cloud_id:
            raise InvalidInput("the OAuth tokens carry no cloud id yet: complete the authorization first")
        return endpoints.api_base_template.format(cloud_id=self.cloud_id)

    def to_secret(self) -> dict[str, Any]:
        """The JSON written to Secrets Manager (the one place the tokens are unwrapped)."""
        return {
            "access_token": self.access_token.get_secret_value(),
            "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token else None,
            "expires_at": self.expires_at.astimezone(UTC).isoformat(),
            "cloud_id": self.cloud_id,
            "site_url": self.site_url,
            "scope": self.scope,
            "version": self.version,
        }

    @classmethod
    def from_secret(cls, data: Mapping[str, Any]) -> TokenSet:
        try:
            expires_at = datetime.fromisoformat(str(data["expires_at"]))
            refresh = data.get("refresh_token")
            return cls(
                access_token=SecretStr(str(data["access_token"])),
                refresh_token=SecretStr(str(refresh)) if refresh else None,
                expires_at=expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC),
                cloud_id=str(data.get("cloud_id") or ""),
                site_url=str(data.get("site_url") or ""),
                scope=str(data.get("scope") or ""),
                version=int(data.get("version") or 1),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise make_error(
                ErrorCode.AUTH_INVALID, "the stored OAuth tokens are unreadable", provider=PROVIDER
            ) from exc


class TokenStore(Protocol):
    """Where a connection's tokens live. Implementations must make :meth:`compare_and_swap` atomic."""

    def load(self) -> TokenSet | None: ...

    def compare_and_swap(self, old: TokenSet | None, new: TokenSet) -> bool:
        """Store ``new`` only if what is stored is still ``old`` (same ``version``; ``None``: nothing
        stored). True when stored; False when another writer got there first."""
        ...


# --------------------------------------------------------------------------------------------------------
# State and PKCE
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthorizationState:
    tenant: str
    connection_id: str
    nonce: str
    expires_at: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_state(claims: AuthorizationState, key: bytes) -> str:
    payload = json.dumps(
        {
            "t": claims.tenant,
            "c": claims.connection_id,
            "n": claims.nonce,
            "e": int(claims.expires_at.timestamp()),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    mac = hmac.new(key, b"state:" + payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify_state(state: str, key: bytes, *, now: datetime | None = None) -> AuthorizationState:
    """The claims of a state we signed; a tampered, malformed or expired state is a 400."""
    now = now or datetime.now(UTC)
    invalid = InvalidInput(
        "the OAuth state is invalid: start the authorization again",
        code="OAUTH_STATE_INVALID",
        guidance="Call POST /v1/oauth/jira/start again and follow the new URL.",
    )
    if not isinstance(state, str) or len(state) > 2048 or state.count(".") != 1:
        raise invalid
    encoded_payload, encoded_mac = state.split(".")
    try:
        payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
    except (ValueError, TypeError):
        raise invalid from None
    expected = hmac.new(key, b"state:" + payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise invalid
    try:
        data = json.loads(payload)
        claims = AuthorizationState(
            tenant=str(data["t"]),
            connection_id=str(data["c"]),
            nonce=str(data["n"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), tz=UTC),
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        raise invalid from None
    if now >= claims.expires_at:
        raise InvalidInput(
            "the OAuth authorization took too long and its state has expired: start again",
            code="OAUTH_STATE_EXPIRED",
            guidance="Call POST /v1/oauth/jira/start again and complete the consent within a few minutes.",
        )
    return claims


def pkce_verifier(key: bytes, nonce: str) -> str:
    """RFC 7636 verifier (43 characters of base64url) derived from the state key: nothing to store."""
    return _b64(hmac.new(key, b"pkce:" + nonce.encode(), hashlib.sha256).digest())


def pkce_challenge(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class AuthorizationStart:
    url: str
    state: str
    expires_at: datetime
    # The secret the starter keeps and presents at the callback; never logged (kept out of repr).
    session_nonce: str = field(default="", repr=False)


def state_id(state: str) -> str:
    """The id the issued-state record is kept under: a digest of the exact state string, so no other
    string (another tenant's, a re-signed one) can address it, and a key never holds raw input."""
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def new_session_nonce() -> str:
    return secrets.token_urlsafe(SESSION_NONCE_BYTES)


def session_nonce_hash(nonce: str) -> str:
    """What is stored instead of the nonce. A plain digest suffices: the nonce is 256 random bits."""
    return hashlib.sha256(b"oauth-session:" + nonce.encode("utf-8")).hexdigest()


def session_nonce_matches(presented: str | None, expected_hash: str) -> bool:
    """Whether ``presented`` is the nonce behind ``expected_hash``, compared in constant time."""
    if not presented or len(presented) > _MAX_SESSION_NONCE_CHARS:
        return False
    return hmac.compare_digest(session_nonce_hash(presented).encode(), expected_hash.encode())


def start_authorization(
    app: OAuthApp,
    *,
    tenant: str,
    connection_id: str,
    state_key: bytes,
    now: datetime | None = None,
    ttl_s: int = STATE_TTL_S,
) -> AuthorizationStart:
    """The URL to send the user to, with a signed state bound to ``tenant`` and ``connection_id``, and a
    fresh session nonce for the caller (the state is public; the nonce is not)."""
    now = now or datetime.now(UTC)
    claims = AuthorizationState(
        tenant, connection_id, secrets.token_urlsafe(16), now + timedelta(seconds=ttl_s)
    )
    state = sign_state(claims, state_key)
    params = {
        "audience": app.endpoints.audience,
        "client_id": app.client_id,
        "scope": " ".join(app.scopes),
        "redirect_uri": app.redirect_uri,
        "state": state,
        "response_type": "code",
        "prompt": "consent",
        "code_challenge": pkce_challenge(pkce_verifier(state_key, claims.nonce)),
        "code_challenge_method": "S256",
    }
    # quote, not quote_plus: Atlassian's documented URL separates scopes with %20.
    url = f"{app.endpoints.authorize_url}?{urlencode(params, quote_via=quote)}"
    return AuthorizationStart(
        url=url, state=state, expires_at=claims.expires_at, session_nonce=new_session_nonce()
    )


def raise_for_callback_error(query: Mapping[str, str]) -> None:
    """The authorization server reports a refusal as ``?error=access_denied&error_description=...``."""
    error = query.get("error")
    if error:
        description = str(query.get("error_description") or "")[:300]
        raise InvalidInput(
            f"the authorization was not granted: {error}" + (f" ({description})" if description else ""),
            code="OAUTH_DENIED",
            guidance="Start again and accept the consent screen with an account that can see the Jira site.",
        )


# --------------------------------------------------------------------------------------------------------
# Token endpoint, accessible resources
# --------------------------------------------------------------------------------------------------------


def _post_token(app: OAuthApp, http: httpx.Client, body: dict[str, str], *, grant: str) -> dict[str, Any]:
    try:
        response = http.post(app.endpoints.token_url, json=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise classify_transport_error(exc, provider=PROVIDER) from exc
    data = parse_body(response)
    if response.is_success and isinstance(data, dict) and isinstance(data.get("access_token"), str):
        return data
    error = data.get("error") if isinstance(data, dict) else None
    if error == "invalid_grant":
        if grant == "authorization_code":
            raise InvalidInput(
                "the authorization code is invalid, expired or already used: start the authorization again",
                code="OAUTH_CODE_INVALID",
            )
        raise make_error(
            ErrorCode.AUTH_EXPIRED,
            "the Jira refresh token is no longer valid (rotated, unused for 90 days or revoked)",
            provider=PROVIDER,
            status=response.status_code,
            guidance="Re-authorize the connection: POST /v1/oauth/jira/start.",
        )
    if error in ("invalid_client", "unauthorized_client"):
        raise make_error(
            ErrorCode.AUTH_INVALID,
            f"Atlassian rejected the OAuth app's credentials ({error})",
            provider=PROVIDER,
            status=response.status_code,
            guidance="Check the OAuth app's client id and secret in trackbridge's settings.",
        )
    if response.is_success:
        raise make_error(
            ErrorCode.MALFORMED_RESPONSE,
            "the token endpoint answered without an access token",
            provider=PROVIDER,
        )
    raise classify_response(response, provider=PROVIDER, rate_limit=RateLimitInfo())


def _token_set(data: Mapping[str, Any], *, now: datetime, previous: TokenSet | None = None) -> TokenSet:
    try:
        expires_in = int(data.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600
    refresh = data.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        # A refresh answer without a new refresh token keeps the old one (rotation may be disabled).
        refresh_secret = previous.refresh_token if previous else None
    else:
        refresh_secret = SecretStr(refresh)
    return TokenSet(
        access_token=SecretStr(str(data["access_token"])),
        refresh_token=refresh_secret,
        expires_at=now + timedelta(seconds=max(0, expires_in)),
        cloud_id=previous.cloud_id if previous else "",
        site_url=previous.site_url if previous else "",
        scope=str(data.get("scope") or (previous.scope if previous else "")),
        version=previous.version + 1 if previous else 1,
    )


def exchange_code(
    app: OAuthApp,
    http: httpx.Client,
    *,
    code: str,
    claims: AuthorizationState,
    state_key: bytes,
    now: datetime,
) -> TokenSet:
    if not isinstance(code, str) or not code.strip() or len(code) > 4096:
        raise InvalidInput("the callback has no authorization code", code="OAUTH_CODE_INVALID")
    body = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        # Atlassian requires the secret even though we also send a PKCE verifier (see the module docs).
        "client_secret": app.client_secret.get_secret_value(),
        "code": code,
        "redirect_uri": app.redirect_uri,
        "code_verifier": pkce_verifier(state_key, claims.nonce),
    }
    return _token_set(_post_token(app, http, body, grant="authorization_code"), now=now)


@dataclass(frozen=True, slots=True)
class AccessibleResource:
    """A site the user granted the app: ``id`` is the cloud id API calls go through."""

    id: str
    url: str
    name: str
    scopes: tuple[str, ...]


def accessible_resources(
    app: OAuthApp, http: httpx.Client, access_token: SecretStr
) -> list[AccessibleResource]:
    headers = {"Authorization": f"Bearer {access_token.get_secret_value()}", "Accept": "application/json"}
    try:
        response = http.get(app.endpoints.resources_url, headers=headers)
    except httpx.HTTPError as exc:
        raise classify_transport_error(exc, provider=PROVIDER) from exc
    if not response.is_success:
        raise classify_response(response, provider=PROVIDER, rate_limit=RateLimitInfo())
    data = parse_body(response)
    if not isinstance(data, list):
        raise make_error(
            ErrorCode.MALFORMED_RESPONSE, "accessible-resources is not an array", provider=PROVIDER
        )
    resources = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            scopes = item.get("scopes")
            resources.append(
                AccessibleResource(
                    id=item["id"],
                    url=str(item.get("url") or ""),
                    name=str(item.get("name") or ""),
                    scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
                )
            )
    return resources


def _site_key(url: str) -> str:
    parsed = httpx.URL(url.strip()) if url.strip() else None
    return (parsed.host or "").lower() if parsed else ""


def choose_resource(
    resources: Sequence[AccessibleResource], site_url: str | None = None
) -> AccessibleResource:
    """The site the connection means: the one at ``site_url``, else the only Jira site granted."""
    jira = [r for r in resources if not r.scopes or any("jira" in s for s in r.scopes)]
    if site_url:
        wanted = _site_key(site_url)
        for resource in jira:
            if _site_key(resource.url) == wanted:
                return resource
        raise InvalidInput(
            f"the authorization does not cover {site_url}",
            code="OAUTH_SITE_NOT_GRANTED",
            details={"granted_sites": [r.url for r in jira]},
            guidance="Authorize again and pick that site on the consent screen.",
        )
    if len(jira) == 1:
        return jira[0]
    if not jira:
        raise InvalidInput(
            "the authorization grants no Jira site",
            code="OAUTH_SITE_NOT_GRANTED",
            guidance="Authorize again with an account that can use a Jira Cloud site.",
        )
    raise InvalidInput(
        "the authorization covers several Jira sites: set the connection's base_url to the one to use",
        code="OAUTH_SITE_AMBIGUOUS",
        details={"granted_sites": [r.url for r in jira]},
    )


def complete_authorization(
    app: OAuthApp,
    http: httpx.Client,
    *,
    code: str,
    state: str,
    state_key: bytes,
    site_url: str | None = None,
    now: datetime | None = None,
) -> tuple[AuthorizationState, TokenSet]:
    """The callback: verify the state, exchange the code, resolve the cloud id. Returns tokens to store."""
    now = now or datetime.now(UTC)
    claims = verify_state(state, state_key, now=now)
    tokens = exchange_code(app, http, code=code, claims=claims, state_key=state_key, now=now)
    resource = choose_resource(accessible_resources(app, http, tokens.access_token), site_url)
    return claims, replace(tokens, cloud_id=resource.id, site_url=resource.url)


def refresh_tokens(app: OAuthApp, http: httpx.Client, tokens: TokenSet, *, now: datetime) -> TokenSet:
    """One refresh: a new access token and (rotation) a new refresh token; the old one stops working."""
    if tokens.refresh_token is None:
        raise make_error(
            ErrorCode.AUTH_EXPIRED,
            "the Jira access token expired and there is no refresh token (offline_access was not granted)",
            provider=PROVIDER,
            guidance="Re-authorize the connection: POST /v1/oauth/jira/start.",
        )
    body = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret.get_secret_value(),
        "refresh_token": tokens.refresh_token.get_secret_value(),
    }
    return _token_set(_post_token(app, http, body, grant="refresh_token"), now=now, previous=tokens)


def fresh_tokens(
    app: OAuthApp,
    http: httpx.Client,
    store: TokenStore,
    *,
    now: Callable[[], datetime] | None = None,
    skew_s: float = REFRESH_SKEW_S,
    rejected_version: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_rounds: int = 4,
    settle_wait_s: float = 0.5,
) -> TokenSet:
    """Tokens valid for at least ``skew_s`` more seconds, refreshing (once, race-safely) if needed.

    ``rejected_version``: the API just refused that version's access token (401), so refresh it even if
    it looks unexpired, unless a newer version is already stored.

    Two refreshers racing: both read version N and refresh. The first to ``compare_and_swap`` wins. The
    loser either got ``invalid_grant`` (its refresh token was already rotated away) or a token pair
    whose swap fails; either way it re-reads and uses the winner's version N+1. A loser that sees
    ``invalid_grant`` before the winner has stored its tokens waits ``settle_wait_s`` and re-reads, a
    bounded number of times, before reporting ``AUTH_EXPIRED``.
    """
    clock = now or (lambda: datetime.now(UTC))
    for _ in range(max_rounds):
        current = store.load()
        if current is None:
            raise make_error(
                ErrorCode.AUTH_INVALID,
                "this connection has no OAuth tokens",
                provider=PROVIDER,
                guidance="Authorize the connection: POST /v1/oauth/jira/start.",
            )
        forced = rejected_version is not None and current.version <= rejected_version
        if not forced and not current.expires_within(skew_s, clock()):
            return current
        try:
            renewed = refresh_tokens(app, http, current, now=clock())
        except AuthenticationError as exc:
            if exc.code is not ErrorCode.AUTH_EXPIRED:
                raise
            latest = store.load()
            if latest is not None and latest.version > current.version:
                continue  # another refresher won and stored its tokens: use them
            sleep(settle_wait_s)
            latest = store.load()
            if latest is not None and latest.version > current.version:
                continue
            raise
        if store.compare_and_swap(current, renewed):
            logger.info("oauth.jira.refreshed", extra={"version": renewed.version})
            return renewed
        logger.info("oauth.jira.refresh_lost_race", extra={"version": current.version})
    raise make_error(
        ErrorCode.AUTH_EXPIRED,
        f"could not obtain fresh Jira tokens after {max_rounds} attempts",
        provider=PROVIDER,
        retryable=True,
    )


def revoke_token(app: OAuthApp, http: httpx.Client, tokens: TokenSet) -> bool:
    """Revoke the refresh token at the authorization server when it has an RFC 7009 endpoint.

    Returns False when no endpoint is configured (Atlassian's case): the caller then only forgets the
    stored tokens and tells the user to remove the app from their account's connected apps.
    """
    url = app.endpoints.revocation_url
    if not url:
        return False
    token = tokens.refresh_token or tokens.access_token
    body = {
        "token": token.get_secret_value(),
        "token_type_hint": "refresh_token" if tokens.refresh_token else "access_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret.get_secret_value(),
    }
    try:
        response = http.post(url, data=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise classify_transport_error(exc, provider=PROVIDER) from exc
    # RFC 7009 2.2: an invalid (already revoked) token also answers 200.
    if not response.is_success:
        raise classify_response(response, provider=PROVIDER, rate_limit=RateLimitInfo())
    return True


class OAuthTokenAuth(httpx.Auth):
    """``Authorization: Bearer`` with tokens from a :class:`TokenStore`, refreshed before they expire and
    once more when the API answers 401 (the token was revoked or rotated elsewhere)."""

    def __init__(
        self,
        app: OAuthApp,
        store: TokenStore,
        http: httpx.Client,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._app = app
        self._store = store
        self._http = http
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._tokens: TokenSet | None = None

    def current(self) -> TokenSet:
        if self._tokens is None or self._tokens.expires_within(REFRESH_SKEW_S, self._clock()):
            self._tokens = fresh_tokens(
                self._app, self._http, self._store, now=self._clock, sleep=self._sleep
            )
        return self._tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        tokens = self.current()
        request.headers["Authorization"] = f"Bearer {tokens.access_token.get_secret_value()}"
        response = yield request
        if response.status_code != 401:
            return
        try:
            self._tokens = fresh_tokens(
                self._app,
                self._http,
                self._store,
                now=self._clock,
                sleep=self._sleep,
                rejected_version=tokens.version,
            )
        except TrackerError:
            return  # the 401 stands: the adapter classifies it as AUTH_INVALID
        request.headers["Authorization"] = f"Bearer {self._tokens.access_token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return f"OAuthTokenAuth(client_id={self._app.client_id!r}, tokens=<redacted>)"

    __str__ = __repr__


__all__ = [
    "DEFAULT_SCOPES",
    "REFRESH_SKEW_S",
    "SESSION_NONCE_BYTES",
    "STATE_TTL_S",
    "AccessibleResource",
    "AuthorizationStart",
    "AuthorizationState",
    "OAuthApp",
    "OAuthEndpoints",
    "OAuthTokenAuth",
    "TokenSet",
    "TokenStore",
    "accessible_resources",
    "choose_resource",
    "complete_authorization",
    "exchange_code",
    "fresh_tokens",
    "new_session_nonce",
    "pkce_challenge",
    "pkce_verifier",
    "raise_for_callback_error",
    "refresh_tokens",
    "revoke_token",
    "session_nonce_hash",
    "session_nonce_matches",
    "sign_state",
    "start_authorization",
    "state_id",
    "verify_state",
]
