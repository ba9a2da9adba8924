"""``/v1/oauth/jira/*``: connect a Jira connection through OAuth 2.0 (3LO), and disconnect it.

* ``POST /v1/oauth/jira/start`` ``{"connection_id"}`` (scope ``connections:write``) -> 200
  ``{"authorization_url", "state_expires_at", "nonce"}`` and ``Set-Cookie: tb_oauth_nonce=<nonce>; Path=
  <prefix>/v1/oauth/jira; Max-Age=600; HttpOnly; Secure; SameSite=Lax``: send the user's browser to the URL.
  The state in it is recorded for one use; the nonce binds the flow to whoever started it.
* ``GET /v1/oauth/jira/callback?code&state`` is **public**: the user's browser arrives here from Atlassian
  without an API key. The signed ``state`` names the tenant and connection; the callback also needs the
  start's nonce, which a browser sends back in the cookie (SameSite=Lax, not Strict: the callback is a
  top-level navigation from Atlassian's site, which Strict would strip the cookie from) and any other
  caller sends in the ``X-Trackbridge-OAuth-Nonce`` header (a header rather than a query parameter: query
  strings end up in logs, browser history and ``Referer``). A forged, stale, replayed or foreign callback
  is a 400 before any token exchange. It answers a small HTML page when the caller prefers ``text/html``
  (browsers do), else JSON; either says only whether the connection succeeded, never the connection.
* ``POST /v1/oauth/jira/revoke`` ``{"connection_id"}`` (scope ``connections:write``) -> 200: revokes at the
  authorization server when it has an endpoint (Atlassian has none: the user removes the app under their
  account's connected apps), forgets the stored tokens and sets ``has_credentials`` to false. A POST with a
  body, like ``start``, rather than ``DELETE /v1/connections/{id}/oauth``: both OAuth actions live under one
  prefix, and the connection itself is not deleted.

The redirect URI is ``TB_JIRA_OAUTH_REDIRECT_URI`` when set, else derived from the request's own host and
stage (``runtime.jira_oauth.redirect_uri_for``), identically at start and at the callback. The cookie's
path is the request's own ``.../oauth/jira`` prefix (with the stage on an execute-api host), so the
browser sends it to the callback and nowhere else; a browser keeps one nonce cookie, so of two flows
started in one browser only the later one completes from it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Protocol
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Depends, Request, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Cookie, Header, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.shared.cookies import Cookie as SetCookie
from aws_lambda_powertools.shared.cookies import SameSite
from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import TrackbridgeError
from trackbridge.domain.oauth import CALLBACK_PATH, SESSION_NONCE_COOKIE, SESSION_NONCE_HEADER, STATE_TTL_S
from trackbridge.domain.times import UtcDatetime
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.errors import from_trackbridge_error
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.observability import logger

if TYPE_CHECKING:
    from trackbridge.providers.oauth_jira import AuthorizationStart
    from trackbridge.runtime.jira_oauth import JiraOAuthService, Revocation

WRITE = "connections:write"
NO_STORE = {"Cache-Control": "no-store"}


class OAuthFlows(Protocol):
    """What the routes ask of the OAuth service (``runtime.jira_oauth.JiraOAuthService``)."""

    def start(self, tenant: str, connection_id: str, *, redirect_uri: str) -> AuthorizationStart: ...

    def complete(
        self,
        query: Mapping[str, str],
        *,
        session_nonce: str | None,
        redirect_uri: str,
        request_id: str | None,
    ) -> Connection: ...

    def revoke(self, tenant: str, connection_id: str, actor: Actor) -> Revocation: ...


if TYPE_CHECKING:
    _THE_SERVICE_FITS: type[OAuthFlows] = JiraOAuthService  # mypy holds the service to the routes' view

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[OAuthFlows, Depends(container.jira_oauth_service)]


def _redirect_uri(request: Request) -> str:
    from trackbridge.runtime.jira_oauth import redirect_uri_for

    return redirect_uri_for(request.resolved_event.raw_event)


RedirectUri = Annotated[str, Depends(_redirect_uri)]


def _request_id(request: Request) -> str | None:
    context = request.resolved_event.raw_event.get("requestContext") or {}
    value = context.get("requestId")
    return str(value) if value else None


RequestId = Annotated[str | None, Depends(_request_id)]


def _accept(request: Request) -> str:
    headers = request.resolved_event.raw_event.get("headers") or {}
    return str(next((v for k, v in headers.items() if str(k).lower() == "accept"), "") or "")


Accept = Annotated[str, Depends(_accept)]


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type``: that of the most specific range that matches it."""
    family = media_type.split("/", 1)[0]
    rank, quality = -1, 0.0
    for media_range in accept.split(","):
        name, *params = (part.strip() for part in media_range.split(";"))
        name = name.lower()
        specificity = {media_type: 2, f"{family}/*": 1, "*/*": 0}.get(name, -1)
        if specificity <= rank:
            continue
        value = 1.0
        for param in params:
            key, _, raw = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    value = float(raw)
                except ValueError:
                    value = 0.0
        rank, quality = specificity, value
    return quality


def prefers_html(accept: str) -> bool:
    """A browser's navigation (``text/html,...,*/*;q=0.8``) gets the page; ``*/*`` or JSON gets JSON."""
    return _quality(accept, "text/html") > _quality(accept, content_types.APPLICATION_JSON)


def _nonce_cookie(redirect_uri: str, value: str, *, max_age: int) -> SetCookie:
    # The callback's own directory: the prefix this host serves the API under (stage included).
    path = urlsplit(redirect_uri).path.rsplit("/", 1)[0] or "/"
    return SetCookie(
        name=SESSION_NONCE_COOKIE,
        value=value,
        path=path,
        max_age=max_age,
        secure=True,
        http_only=True,
        same_site=SameSite.LAX_MODE,
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{title}</title></head>
<body><h1>{title}</h1><p>{message}</p>{extra}</body></html>
"""
# No script, no external anything: the page says what happened and nothing can run in it or frame it.
_PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": (
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Vary": "Accept",
}


def _page(title: str, message: str, *, code: str | None = None, guidance: str | None = None) -> str:
    extra = ""
    if guidance:
        extra += f"<p>{html.escape(guidance)}</p>"
    if code:
        extra += f"<p><small>Error code: <code>{html.escape(code)}</code></small></p>"
    return _PAGE.format(title=html.escape(title), message=html.escape(message), extra=extra)


# The models below build their validators on first use (``defer_build``): an OAuth request or the OpenAPI
# document, not the API's cold start, pays for them (issue 14).


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True)


class OAuthConnectionRef(_Model):
    model_config = ConfigDict(extra="forbid")  # and defer_build, from _Model

    connection_id: str = Field(min_length=1, max_length=64, examples=["conn_abcdefghijklmnopqrst"])


class AuthorizationStarted(_Model):
    authorization_url: str
    state_expires_at: UtcDatetime
    nonce: str = Field(
        description="Present it at the callback: a browser sends it back in the tb_oauth_nonce cookie this "
        f"answer sets; any other caller in the {SESSION_NONCE_HEADER} header. Keep it secret."
    )


class OAuthCallbackResult(_Model):
    """What the public callback says: whether it worked, never the connection or any token."""

    status: str = Field(examples=["connected"])
    message: str


class OAuthErrorDetail(_Model):
    code: str = Field(examples=["OAUTH_STATE_USED"])
    message: str
    details: Any = None
    guidance: str | None = None


class OAuthErrorBody(_Model):
    error: OAuthErrorDetail


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": OAuthErrorBody}}}


_CALLER_ERRORS: dict[int, OpenAPIResponse] = {
    400: _error("the body is not JSON (INVALID_JSON) or not decodable (INVALID_BODY)"),
    401: _error("no or invalid API key"),
    403: _error("the API key lacks the connections:write scope"),
    404: _error("no such connection in this tenant"),
    413: _error("the body is larger than the API accepts"),
    415: _error("the body is not application/json"),
    422: _error("invalid body, or the connection is not a Jira one (OAUTH_UNSUPPORTED_PROVIDER)"),
    503: _error("OAuth is not configured (OAUTH_NOT_CONFIGURED) or AWS failed; retry"),
}


def _page_or_json(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    """A callback answer: JSON, or the HTML page when the caller prefers text/html."""
    return {
        "description": description,
        "content": {
            "application/json": {"model": model},
            "text/html": {"schema": {"type": "string", "examples": [_page("Jira is connected", "...")]}},
        },
    }


_CALLBACK_RESPONSES: dict[int, OpenAPIResponse] = {
    200: _page_or_json("connected (nothing about the connection itself is returned)", OAuthCallbackResult),
    400: _page_or_json(
        "the callback cannot complete, and no token was exchanged: "
        "OAUTH_CALLBACK_INCOMPLETE (no code or state), OAUTH_DENIED (the user refused consent), "
        "OAUTH_STATE_INVALID (forged, tampered or never issued), OAUTH_STATE_EXPIRED, "
        "OAUTH_STATE_USED (already completed or attempted), OAUTH_NONCE_MISSING / OAUTH_NONCE_MISMATCH "
        "(not the caller that started the flow), OAUTH_CODE_INVALID, OAUTH_SITE_NOT_GRANTED, "
        "OAUTH_SITE_AMBIGUOUS",
        OAuthErrorBody,
    ),
    404: _page_or_json("the connection was deleted since the flow started", OAuthErrorBody),
    409: _page_or_json("the connection or its tokens kept changing meanwhile; start again", OAuthErrorBody),
    422: _error("a query parameter or the nonce header is too long"),
    429: _page_or_json("the authorization server is rate limiting (Retry-After)", OAuthErrorBody),
    503: _page_or_json(
        "the authorization server, Secrets Manager or DynamoDB failed, or OAuth is not set up", OAuthErrorBody
    ),
}


class OAuthRevoked(_Model):
    status: str = "revoked"
    revoked_at_provider: bool
    forgot_tokens: bool
    guidance: str | None = None
    connection: Connection


@router.post(
    "/v1/oauth/jira/start",
    summary="Start connecting a Jira connection through OAuth 2.0 (3LO)",
    description="Answers the URL to send the user's browser to, and a nonce that the callback requires: "
    "set as the tb_oauth_nonce cookie (HttpOnly, Secure, SameSite=Lax, scoped to /v1/oauth/jira) and "
    f"returned in the body for callers that present it in the {SESSION_NONCE_HEADER} header instead.",
    operation_id="startJiraOAuth",
    tags=["oauth"],
    openapi_extensions=requires(WRITE),
    responses={
        200: {
            "description": "the authorization URL and the nonce",
            "content": {"application/json": {"model": AuthorizationStarted}},
            "headers": {
                "Set-Cookie": {
                    "description": f"{SESSION_NONCE_COOKIE}=<nonce>; Path=/v1/oauth/jira; "
                    f"Max-Age={STATE_TTL_S}; HttpOnly; Secure; SameSite=Lax",
                    "schema": {"type": "string"},
                }
            },
        },
        **_CALLER_ERRORS,
    },
)
def start(
    body: Annotated[OAuthConnectionRef, Body()], caller: Caller, service: Service, redirect_uri: RedirectUri
) -> Response[AuthorizationStarted]:
    caller.require(WRITE)
    started = service.start(caller.tenant, body.connection_id, redirect_uri=redirect_uri)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=AuthorizationStarted(
            authorization_url=started.url, state_expires_at=started.expires_at, nonce=started.session_nonce
        ),
        headers=NO_STORE,
        cookies=[_nonce_cookie(redirect_uri, started.session_nonce, max_age=STATE_TTL_S)],
    )


Param = Annotated[str | None, Query(max_length=4096)]


@router.get(
    CALLBACK_PATH,
    summary="Where Atlassian sends the user back after consent (public; the signed state identifies it)",
    description="Needs the nonce of the start that issued the state: the tb_oauth_nonce cookie (browsers) "
    f"or the {SESSION_NONCE_HEADER} header. Each state completes at most one authorization. Answers an "
    "HTML page when the caller prefers text/html, else JSON; neither carries the connection.",
    operation_id="completeJiraOAuth",
    tags=["oauth"],
    security=[{}],
    responses=_CALLBACK_RESPONSES,
)
def callback(
    service: Service,
    redirect_uri: RedirectUri,
    request_id: RequestId,
    accept: Accept,
    code: Param = None,
    state: Param = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Param = None,
    nonce_header: Annotated[str | None, Header(alias=SESSION_NONCE_HEADER, max_length=256)] = None,
    nonce_cookie: Annotated[str | None, Cookie(alias=SESSION_NONCE_COOKIE, max_length=256)] = None,
) -> Response[Any]:
    # Required parameters are checked by the service so that a missing one is a 400 naming the flow,
    # not a schema error, and a provider's ?error= wins over missing ones.
    query = {
        name: value
        for name, value in (
            ("code", code),
            ("state", state),
            ("error", error),
            ("error_description", error_description),
        )
        if value is not None
    }
    html_wanted = prefers_html(accept)
    try:
        # An explicit header wins over the cookie: a script that sends one means it.
        service.complete(
            query,
            session_nonce=nonce_header or nonce_cookie,
            redirect_uri=redirect_uri,
            request_id=request_id,
        )
    except TrackbridgeError as exc:
        if not html_wanted:
            raise  # the API's JSON error, from the one error mapping
        logger.info("oauth.jira.callback_refused", extra={"code": exc.code, "status": exc.http_status})
        retry_after = from_trackbridge_error(exc).headers.get("Retry-After")
        return Response(
            status_code=exc.http_status,
            content_type="text/html; charset=utf-8",
            body=_page("Jira was not connected", exc.message, code=exc.code, guidance=exc.guidance),
            headers={**_PAGE_HEADERS, **({"Retry-After": retry_after} if retry_after else {})},
        )
    message = "Jira is connected to trackbridge; you can close this window."
    # The nonce has done its job: drop the cookie so it does not linger for the state's lifetime.
    spent = [_nonce_cookie(redirect_uri, "", max_age=0)]
    if html_wanted:
        return Response(
            status_code=200,
            content_type="text/html; charset=utf-8",
            body=_page("Jira is connected", message),
            headers=_PAGE_HEADERS,
            cookies=spent,
        )
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=OAuthCallbackResult(status="connected", message=message),
        headers={**NO_STORE, "Vary": "Accept"},
        cookies=spent,
    )


@router.post(
    "/v1/oauth/jira/revoke",
    summary="Revoke a Jira connection's OAuth authorization and forget its tokens",
    description="Revokes the authorization at the authorization server when it has an endpoint for it "
    "(Atlassian has none: `guidance` then says where the user removes the app), forgets the stored tokens "
    "and sets the connection's `has_credentials` to false. The connection itself stays.",
    operation_id="revokeJiraOAuth",
    tags=["oauth"],
    openapi_extensions=requires(WRITE),
    responses={
        200: {"description": "revoked", "content": {"application/json": {"model": OAuthRevoked}}},
        **_CALLER_ERRORS,
        409: _error("the tokens kept changing while revoking them; try again"),
    },
)
def revoke(body: Annotated[OAuthConnectionRef, Body()], caller: Caller, service: Service) -> OAuthRevoked:
    caller.require(WRITE)
    result = service.revoke(caller.tenant, body.connection_id, caller.actor)
    guidance = (
        None
        if result.revoked_at_provider
        else "Atlassian offers no revocation endpoint: also remove the app under your Atlassian account's "
        "Connected apps to end its access there."
    )
    return OAuthRevoked(
        revoked_at_provider=result.revoked_at_provider,
        forgot_tokens=result.forgot_tokens,
        guidance=guidance,
        connection=result.connection,
    )


__all__ = ["router"]
