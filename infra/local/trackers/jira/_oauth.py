"""Atlassian's OAuth 2.0 (3LO) authorization server and API gateway, for the Jira sandbox.

Real Jira splits these over two hosts besides the site: ``auth.atlassian.com`` (``/authorize``,
``/oauth/token``) and ``api.atlassian.com`` (``/oauth/token/accessible-resources`` and the gateway
``/ex/jira/{cloudId}/rest/api/3/...``, the only place a 3LO bearer token is accepted). The sandbox serves
all four on one extra loopback port of its own (``JiraSandbox.oauth_url``), which is exactly the layout
trackbridge's ``OAuthEndpoints.under(base_url)`` expects; the site URL keeps answering 401 to bearer
tokens, as ``<site>.atlassian.net`` does.

The flow, with what is checked:

- ``GET /authorize?audience=api.atlassian.com&client_id&scope&redirect_uri&state&response_type=code
  &prompt=consent[&code_challenge&code_challenge_method=S256]``: consent is automatic for the sandbox's
  API user; the answer is a 302 to ``redirect_uri?code=...&state=...``. An unknown client or a
  non-loopback ``redirect_uri`` is a 400 page (never a redirect); other problems redirect with
  ``error=`` (RFC 6749 4.1.2.1). Atlassian does not document PKCE; the sandbox verifies it when a
  challenge was sent (S256 only), which a conforming server may do and which catches a client bug.
- ``POST /oauth/token`` (JSON, form accepted too): ``authorization_code`` needs ``client_secret``, the
  same ``redirect_uri`` and, after a challenge, ``code_verifier``; codes are single-use and live 10
  minutes. ``refresh_token`` rotates: every refresh returns a new refresh token and the old one answers
  ``403 {"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}``. A refresh
  token also dies after 90 days unused, and its family after 365 days. Access tokens live
  ``access_token_ttl_s`` (default 3600 s) of the tracker's clock.
- ``GET /oauth/token/accessible-resources``: ``[{"id": cloudId, "url", "name", "scopes", "avatarUrl"}]``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from .._webhooks import is_loopback_url

if TYPE_CHECKING:
    from .sandbox import JiraSandbox

AUDIENCE = "api.atlassian.com"
CODE_TTL_S = 600
REFRESH_IDLE_S = 90 * 86_400
REFRESH_FAMILY_S = 365 * 86_400
GATEWAY_PREFIX = "/ex/jira/"
GATEWAY_ENVIRON = "trackbridge.jira.gateway"
# Classic 3LO scopes; granular ones ("read:issue:jira", "read:sprint:jira-software") are accepted by shape.
CLASSIC_SCOPES = frozenset(
    {
        "read:jira-work",
        "write:jira-work",
        "read:jira-user",
        "manage:jira-project",
        "manage:jira-configuration",
        "manage:jira-webhook",
        "manage:jira-data-provider",
        "read:me",
        "read:account",
        "report:personal-data",
        "offline_access",
    }
)
_GRANULAR = re.compile(r"[a-z]+(?:-[a-z]+)*:[a-z0-9.-]+(?::[a-z0-9-]+)+\Z")


def valid_scope(scope: str) -> bool:
    return scope in CLASSIC_SCOPES or bool(_GRANULAR.match(scope))


@dataclass(slots=True)
class AuthCode:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    account_id: str
    challenge: str | None
    expires: int


@dataclass(slots=True)
class AccessGrant:
    client_id: str
    account_id: str
    scopes: tuple[str, ...]
    expires: int


@dataclass(slots=True)
class RefreshGrant:
    client_id: str
    account_id: str
    scopes: tuple[str, ...]
    last_used: int
    family_started: int


@dataclass(slots=True)
class OAuthBook:
    """Codes and tokens issued since the last reset (part of the tracker's state, so a reset forgets them)."""

    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessGrant] = field(default_factory=dict)
    refresh: dict[str, RefreshGrant] = field(default_factory=dict)

    def access_grant(self, token: str, now: int) -> AccessGrant | None:
        grant = self.access.get(token)
        if grant is None or grant.expires <= now:
            return None
        return grant


def _pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
        content_type="application/json",
    )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json({"error": error, "error_description": description}, status)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class AuthServer:
    """The WSGI app on ``oauth_url``: the authorization server, accessible resources and the gateway."""

    def __init__(self, tracker: JiraSandbox, *, access_token_ttl_s: int = 3600) -> None:
        self.tracker = tracker
        self.access_token_ttl_s = access_token_ttl_s

    @property
    def book(self) -> OAuthBook:
        return self.tracker.state.oauth

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(GATEWAY_PREFIX):
            return self._gateway(environ, start_response, path)
        request = Request(environ)
        request.max_content_length = 1024 * 1024
        if path.rstrip("/") == "/authorize" and request.method == "GET":
            response = self._authorize(request)
        elif path.rstrip("/") == "/oauth/token" and request.method == "POST":
            response = self._token(request)
        elif path.rstrip("/") == "/oauth/token/accessible-resources" and request.method == "GET":
            response = self._resources(request)
        else:
            response = _json({"code": 404, "message": "Not Found"}, 404)
        return response(environ, start_response)

    # ------------------------------------------------------------------ gateway

    def _gateway(
        self, environ: dict[str, Any], start_response: Callable[..., Any], path: str
    ) -> Iterable[bytes]:
        cloud_id, _, rest = path[len(GATEWAY_PREFIX) :].partition("/")
        if cloud_id != self.tracker.state.cloud_id or rest.startswith("_sandbox") or not rest:
            return _json({"code": 404, "message": "Not Found"}, 404)(environ, start_response)
        inner = dict(environ)
        inner["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + GATEWAY_PREFIX + cloud_id
        inner["PATH_INFO"] = "/" + rest
        inner[GATEWAY_ENVIRON] = cloud_id
        return self.tracker(inner, start_response)

    # ------------------------------------------------------------------ /authorize

    def _authorize(self, request: Request) -> Response:
        args = request.args
        tracker = self.tracker
        client_id = args.get("client_id", "")
        redirect_uri = args.get("redirect_uri", "")
        if not hmac.compare_digest(client_id.encode(), tracker.client_id.encode()):
            return _oauth_error(400, "invalid_client", "Unknown client_id.")
        if not redirect_uri or not is_loopback_url(redirect_uri):
            # Never redirect to an unregistered place: the sandbox app's callbacks are loopback URLs only.
            return _oauth_error(
                400, "invalid_request", "redirect_uri must be a registered (loopback) callback URL."
            )
        state = args.get("state")

        def fail(error: str, description: str) -> Response:
            params = {"error": error, "error_description": description}
            if state is not None:
                params["state"] = state
            return Response(status=302, headers={"Location": _with_query(redirect_uri, params)})

        if args.get("response_type") != "code":
            return fail("unsupported_response_type", "response_type must be code.")
        if args.get("audience", AUDIENCE) != AUDIENCE:
            return fail("invalid_request", f"audience must be {AUDIENCE}.")
        scopes = tuple(dict.fromkeys(s for s in args.get("scope", "").split() if s))
        if not scopes or not all(valid_scope(s) for s in scopes):
            return fail("invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        challenge = args.get("code_challenge")
        method = args.get("code_challenge_method", "plain" if challenge else None)
        if challenge is not None and (
            method != "S256" or not re.fullmatch(r"[A-Za-z0-9_-]{43,128}", challenge)
        ):
            return fail("invalid_request", "code_challenge_method must be S256 with a valid code_challenge.")
        code = secrets.token_urlsafe(24)
        with tracker.lock:
            self.book.codes[code] = AuthCode(
                client_id, redirect_uri, scopes, tracker.state.api_user, challenge, tracker.now() + CODE_TTL_S
            )
        params = {"code": code}
        if state is not None:
            params["state"] = state
        return Response(status=302, headers={"Location": _with_query(redirect_uri, params)})

    # ------------------------------------------------------------------ /oauth/token

    def _token_body(self, request: Request) -> dict[str, Any] | None:
        if request.mimetype == "application/x-www-form-urlencoded":
            return dict(request.form.items())
        try:
            body = json.loads(request.get_data(cache=True) or b"null")
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _token(self, request: Request) -> Response:
        body = self._token_body(request)
        if body is None:
            return _oauth_error(400, "invalid_request", "The request body must be a JSON object.")
        tracker = self.tracker
        client_id = str(body.get("client_id") or "")
        secret = str(body.get("client_secret") or "")
        client_ok = hmac.compare_digest(client_id.encode(), tracker.client_id.encode())
        secret_ok = hmac.compare_digest(secret.encode(), tracker.client_secret.encode())
        if not (client_ok and secret_ok):
            return _oauth_error(401, "access_denied", "Unauthorized")
        grant_type = body.get("grant_type")
        with tracker.lock:
            if grant_type == "authorization_code":
                return self._exchange(body, client_id)
            if grant_type == "refresh_token":
                return self._refresh(body, client_id)
        return _oauth_error(
            400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token."
        )

    def _issue(
        self, client_id: str, account_id: str, scopes: tuple[str, ...], family: int | None
    ) -> Response:
        now = self.tracker.now()
        access = secrets.token_urlsafe(32)
        self.book.access[access] = AccessGrant(client_id, account_id, scopes, now + self.access_token_ttl_s)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.access_token_ttl_s,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
        }
        if "offline_access" in scopes:
            refresh = secrets.token_urlsafe(32)
            self.book.refresh[refresh] = RefreshGrant(client_id, account_id, scopes, now, family or now)
            body["refresh_token"] = refresh
        return _json(body)

    def _exchange(self, body: dict[str, Any], client_id: str) -> Response:
        code = self.book.codes.pop(str(body.get("code") or ""), None)  # single use, even when it fails
        if code is None or code.client_id != client_id or code.expires <= self.tracker.now():
            return _oauth_error(403, "invalid_grant", "Invalid authorization code")
        if body.get("redirect_uri") != code.redirect_uri:
            return _oauth_error(403, "invalid_grant", "redirect_uri does not match the authorization request")
        if code.challenge is not None:
            verifier = body.get("code_verifier")
            if not isinstance(verifier, str) or not hmac.compare_digest(
                _pkce_s256(verifier).encode(), code.challenge.encode()
            ):
                return _oauth_error(403, "invalid_grant", "PKCE verification failed")
        return self._issue(client_id, code.account_id, code.scopes, None)

    def _refresh(self, body: dict[str, Any], client_id: str) -> Response:
        token = str(body.get("refresh_token") or "")
        grant = self.book.refresh.pop(token, None)  # rotation: the presented token is spent either way
        now = self.tracker.now()
        if (
            grant is None
            or grant.client_id != client_id
            or now - grant.last_used > REFRESH_IDLE_S
            or now - grant.family_started > REFRESH_FAMILY_S
        ):
            return _oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.")
        return self._issue(client_id, grant.account_id, grant.scopes, grant.family_started)

    # ------------------------------------------------------------------ accessible resources

    def _resources(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        tracker = self.tracker
        with tracker.lock:
            grant = (
                self.book.access_grant(token.strip(), tracker.now()) if scheme.lower() == "bearer" else None
            )
        if grant is None:
            return _json({"code": 401, "message": "Unauthorized"}, 401)
        return _json(
            [
                {
                    "id": tracker.state.cloud_id,
                    "url": tracker.url,
                    "name": tracker.site_name,
                    "scopes": [s for s in grant.scopes if s != "offline_access"],
                    "avatarUrl": f"{tracker.url}/images/site-avatar.png",
                }
            ]
        )
