"""The REST resolver: routes of every area, OpenAPI, Swagger UI, error mapping, and the pre-parse checks.

:func:`resolve` is what ``functions/api.py`` calls. Before Powertools parses anything it refuses, in API
Gateway's order: a tenant route without an authorizer tenant (401), a key without the route's declared scope
(403, ``operations.requires``), then a base64 body that does not decode (400), a body over
``max_body_bytes`` (413; uploads have their own larger limit), a multipart body Powertools' parser would
crash on (400) and a JSON body whose JSON types are not the documented ones (422: Powertools' lax mode
would read ``0`` as ``false`` and an array as its first element). Powertools' validation runs before any
middleware, so these checks cannot live in one.

Pagination cursors are sealed here, at the boundary (``runtime.api.cursors``): a ``cursor`` parameter is
opened before the route sees it and every ``next_cursor`` is sealed before the answer leaves.

The OpenAPI document and Swagger UI name the server the request came through (``servers``): ``/`` behind
the local gateway or a custom domain, ``/<stage>`` on an execute-api host, where the stage precedes the
``/v1`` of every path. The public paths match the routes that ``infra/definition.py`` leaves without the
authorizer (a test keeps the two in step).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler import api_gateway as powertools_api
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from trackbridge import __version__
from trackbridge.domain.errors import (
    InvalidInput,
    PayloadTooLarge,
    TrackbridgeError,
    Unauthorized,
    ValidationFailed,
)
from trackbridge.domain.pagination import MAX_CURSOR_LENGTH
from trackbridge.runtime.api import (
    actions,
    alerts,
    audit,
    catalog,
    connections,
    dlq,
    errors,
    events,
    health,
    issues,
    keys,
    links,
    oauth,
    repositories,
    rules,
    scan_links,
    schedules,
    sync,
    test_runs,
    tracked_users,
    webhooks,
)
from trackbridge.runtime.api import metrics as metrics_api
from trackbridge.runtime.api.context import Principal, principal_from_event
from trackbridge.runtime.api.cursors import CursorSealer, cursor_sealer
from trackbridge.runtime.api.openapi import API_DESCRIPTION, TAGS, complete, with_server
from trackbridge.runtime.api.operations import Operation, OperationTable
from trackbridge.runtime.observability import logger, metrics
from trackbridge.runtime.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

OPENAPI_PATH = "/v1/openapi.json"
DOCS_PATH = "/v1/docs"
HEALTH_PATH = "/v1/health"
OAUTH_CALLBACK_PATH = "/v1/oauth/jira/callback"  # the user's browser, back from Atlassian: no API key
PUBLIC_PATHS = frozenset({HEALTH_PATH, OPENAPI_PATH, DOCS_PATH, OAUTH_CALLBACK_PATH})


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _parse_json(text: str) -> Any:
    try:
        parsed = json.loads(text)
    except RecursionError:
        # Powertools turns a JSONDecodeError into our 400; a body nested past the recursion limit is as bad.
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
    if _SURROGATE_ESCAPE.search(text):
        # JSON's grammar lets "\ud800" stand alone, but it is no character: nothing downstream can encode
        # it (DynamoDB, a tracker, a log line). Paired surrogates (an emoji) encode and pass.
        try:
            json.dumps(parsed, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise json.JSONDecodeError("a string holds an unpaired UTF-16 surrogate", text, 0) from exc
    return parsed


class _Resolver(APIGatewayRestResolver):
    """Powertools' resolver, given its OpenAPI configuration when a document is first generated.

    The configuration is made of Powertools' OpenAPI models (``Tag``, ``HTTPBearer``: about 0.1 s of import,
    ``benchmarks/cold_imports.py``); the resolver routes and validates without them, and Powertools itself
    imports them only to generate a document. So they are imported on the first document, not at cold start.
    """

    _openapi_configured = False

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> OpenAPI:
        if not self._openapi_configured:
            self._configure_openapi()
        return super().get_openapi_schema(*args, **kwargs)

    def _configure_openapi(self) -> None:
        from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Tag

        self.configure_openapi(
            title="trackbridge",
            version=__version__,
            summary="One API over Jira Cloud, GitHub and GitLab, with sync, links and auto-issues",
            description=API_DESCRIPTION,
            tags=[Tag(name=name, description=description) for name, description in TAGS],
            security_schemes={
                "bearer": HTTPBearer(
                    description="a tenant API key, tb_<key_id>_<secret> (trackbridge keys create)"
                )
            },
            security=[{"bearer": []}],
        )
        self._openapi_configured = True


app = _Resolver(enable_validation=True, json_body_deserializer=_parse_json)
errors.register(app)
for _router in (health.router, connections.router, audit.router, sync.router):
    app.include_router(_router)
app.include_router(oauth.router)
app.include_router(actions.router)
app.include_router(issues.router)
app.include_router(catalog.router)
app.include_router(keys.router)
app.include_router(webhooks.router)
app.include_router(links.router)
app.include_router(scan_links.router)
app.include_router(events.router)
app.include_router(rules.router)
app.include_router(schedules.router)
app.include_router(dlq.router)
app.include_router(metrics_api.router)
app.include_router(alerts.router)
app.include_router(test_runs.router)
app.include_router(tracked_users.router)
app.include_router(repositories.router)


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document with every operation's error answers and examples (``runtime.api.openapi``),
    without ``servers``: :func:`served_document` names the server of the request at hand."""
    # The schema only changes with the code, so it is generated once per process.
    return complete(json.loads(app.get_openapi_json_schema()), PUBLIC_PATHS)


# A stage or base path: what API Gateway puts before /v1. Anything else is not reflected into the page.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]{1,128}){0,4}")


def server_url(event: dict[str, Any]) -> str:
    """Where the API is rooted for whoever sent ``event``: the part of the request path before the route's.

    On an execute-api host ``requestContext.path`` is ``/<stage>/v1/...`` while ``path`` is ``/v1/...``:
    the server is ``/<stage>``. Behind the local gateway or a custom domain without a base path the two are
    equal: ``/``. Relative, so that Swagger UI and clients resolve it against the host they used.
    """
    context = event.get("requestContext") or {}
    full, path = str(context.get("path") or ""), str(event.get("path") or "")
    prefix = full[: -len(path)] if path and full.endswith(path) else ""
    return prefix if prefix and _PREFIX.fullmatch(prefix) else "/"


@lru_cache(maxsize=8)
def served_document(server: str) -> str:
    """The document as ``/v1/openapi.json`` and the docs page serve it under ``server``."""
    return json.dumps(with_server(openapi_document(), server), separators=(",", ":"))


@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_schema() -> Response[str]:
    body = served_document(server_url(app.current_event.raw_event))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


@lru_cache(maxsize=1)
def _swagger_assets() -> tuple[str, str]:
    # Powertools ships Swagger UI's bundle; the page inlines it, so nothing is fetched from elsewhere.
    folder = Path(powertools_api.__file__).parent / "openapi" / "swagger_ui"
    js = (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (folder / "swagger-ui.min.css").read_text(encoding="utf-8")
    return js, css


@app.get(DOCS_PATH, include_in_schema=False)
def docs() -> Response[str]:
    """Swagger UI over the served document (Powertools' own page would embed a document without the error
    answers and with the stage doubled into every "Try it out" URL)."""
    spec = served_document(server_url(app.current_event.raw_event))
    query = app.current_event.query_string_parameters or {}
    if query.get("format") == "json":  # the page names this URL as its document's
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=spec)
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    js, css = _swagger_assets()
    # "</" inside the inlined JSON would end the <script> element early.
    page = generate_swagger_html(spec.replace("</", "<\\/"), js, css, "", None, persist_authorization=True)
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page)


@lru_cache(maxsize=1)
def operations() -> OperationTable:
    # Powertools keeps its route table private; errors.allowed_methods reads the same two lists.
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    return OperationTable(routes)


def _sealer() -> CursorSealer:
    # Honour app.dependency_overrides, the seam tests use for every other collaborator.
    factory = app.dependency_overrides.get(cursor_sealer, cursor_sealer)
    sealer: CursorSealer = factory()
    return sealer


def _throttled(event: dict[str, Any], principal: Principal | None) -> dict[str, Any] | None:
    """429 with ``Retry-After`` when the caller's tenant is over the request rate its authorizer context
    names (``runtime.rate_limits``): counted for every authenticated request, before anything else runs."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    raw = str(authorizer.get("rate_limit") or "") if isinstance(authorizer, dict) else ""
    if principal is None or not raw.isdigit() or int(raw) <= 0:
        return None
    from trackbridge.runtime import container

    limiter = app.dependency_overrides.get(container.rate_limiter, container.rate_limiter)()
    try:
        limiter.check(principal.tenant, int(raw))
    except TrackbridgeError as exc:
        failure = errors.failure_of(exc)
        response = errors.proxy_response(failure.status, failure.body)
        response["multiValueHeaders"].update({name: [value] for name, value in failure.headers.items()})
        return response
    return None


def _raw_body(event: dict[str, Any]) -> bytes:
    """The body as bytes; ValueError when a base64 body is not base64."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("body is not text")
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=True)
    return body.encode("utf-8")


def _content_type(event: dict[str, Any]) -> str:
    headers = event.get("headers") or {}
    return str(next((v for k, v in headers.items() if str(k).lower() == "content-type"), "") or "").strip()


def _is_json(event: dict[str, Any]) -> bool:
    content_type = _content_type(event)
    return not content_type or content_type.lower().startswith("application/json")


def _is_multipart(event: dict[str, Any]) -> bool:
    # Powertools compares the header as sent; another spelling is refused by it as unsupported (415).
    return _content_type(event).startswith(actions.MULTIPART)


def _strictly_invalid(operation: Operation, raw: bytes) -> ValidationFailed | None:
    """A 422 for a JSON body that holds other JSON types than the document says, else None.

    Powertools validates in pydantic's lax mode, which reads ``0`` as ``false``, ``"12"`` as ``12`` and an
    array as its first element; the document promises JSON types, so the body is held to them first (the
    route's own model, in strict JSON mode). What is not JSON at all is left to Powertools (400).
    """
    if not raw.strip():
        return None  # no body: Powertools says whether one is required
    try:
        operation.body.validate_json(raw, strict=True)
    except ValidationError as exc:
        problems = list(exc.errors())
        if any(problem["type"] == "json_invalid" for problem in problems):
            return None
        reported = errors.field_errors({**p, "loc": ("body", *p["loc"])} for p in problems)
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in reported[:3])
        return ValidationFailed(f"invalid request: {summary}", details={"errors": reported})
    return None


def _check_body(event: dict[str, Any], operation: Operation | None) -> None:
    """400, 413 or 422 for a body that must not reach Powertools."""
    multipart = _is_multipart(event)
    # Uploads get a limit of their own: Lambda's 6 MB request cap, not the JSON body limit, bounds them.
    limit = (
        max(get_settings().max_body_bytes, actions.MAX_UPLOAD_BYTES)
        if multipart
        else get_settings().max_body_bytes
    )
    if operation is not None and operation.operation_id == test_runs.UPLOAD_OPERATION:
        limit = max(get_settings().max_body_bytes, test_runs.MAX_REPORT_BYTES)  # a JUnit XML report
    try:
        raw = _raw_body(event)
        if _is_json(event) and event.get("isBase64Encoded"):
            raw.decode("utf-8")  # Powertools would fail on it with an unhandled UnicodeDecodeError
    except (binascii.Error, ValueError):
        raise InvalidInput("the body is not valid base64 or not UTF-8 JSON", code="INVALID_BODY") from None
    if len(raw) > limit:
        what = "an upload" if multipart else "the request body"
        raise PayloadTooLarge(f"{what} may be at most {limit} bytes", details={"limit": limit})
    problem = actions.multipart_problem(_content_type(event), raw) if multipart else None
    if problem is not None:
        raise InvalidInput(problem, code="INVALID_BODY")
    if operation is not None and operation.json_body and _is_json(event):
        invalid = _strictly_invalid(operation, raw)
        if invalid is not None:
            raise invalid


def _refusal(
    event: dict[str, Any], operation: Operation | None, principal: Principal | None
) -> dict[str, Any] | None:
    """A 401, 403, 400, 413 or 422 answer when the request must not reach the resolver, else None.

    The order is API Gateway's: the authorizer answers before anything looks at the body, and so does the
    scope check (a key that may not call the route learns nothing about its body).
    """
    try:
        if event.get("path") not in PUBLIC_PATHS:
            if principal is None:
                raise Unauthorized("missing or invalid API key")
            if operation is not None and operation.scope is not None:
                principal.require(operation.scope)
        _check_body(event, operation)
    except TrackbridgeError as exc:
        return errors.proxy_failure(exc)
    return None


def _opened(
    event: dict[str, Any], operation: Operation | None, principal: Principal | None
) -> dict[str, Any]:
    """``event`` with its ``cursor`` parameter opened to storage's plain cursor (400 when it is not ours)."""
    if operation is None or not operation.paged or principal is None:
        return event
    single = dict(event.get("queryStringParameters") or {})
    multi = {k: list(v) for k, v in (event.get("multiValueQueryStringParameters") or {}).items()}
    tokens = [single["cursor"]] if "cursor" in single else []
    tokens += multi.get("cursor") or []
    # A cursor over the documented length is left to Powertools' validation (422, like any other field).
    if not tokens or any(not isinstance(t, str) or len(t) > MAX_CURSOR_LENGTH for t in tokens):
        return event
    sealer, path = _sealer(), str(event.get("path") or "")

    def plain(token: str) -> str:
        return sealer.open(token, tenant=principal.tenant, path=path) if token else token

    if "cursor" in single:
        single["cursor"] = plain(single["cursor"])
    if "cursor" in multi:
        multi["cursor"] = [plain(token) for token in multi["cursor"]]
    return {
        **event,
        "queryStringParameters": single or event.get("queryStringParameters"),
        "multiValueQueryStringParameters": multi or event.get("multiValueQueryStringParameters"),
    }


# A page's body as Powertools and pydantic write it: compact JSON whose last member is ``next_cursor`` (a
# page model's last field), and a storage cursor is base64url (``storage.cursors``), which JSON never escapes.
_CURSOR_MEMBER = '"next_cursor":"'
_PLAIN_CURSOR = re.compile(r"[A-Za-z0-9_-]+")
_LAST_PAGE_TAIL = '"next_cursor":null}'


def _cursor_span(body: str) -> tuple[int, int] | None:
    """Where the top-level ``next_cursor`` string sits in ``body``, when the body ends with it, else None.

    The body is JSON, so its last ``}`` closes the top-level object; the member right before it is that
    object's own. The name's opening quote follows a ``,`` or ``{``, which no string holds unescaped before
    a quote, so it is a real name, not text inside a value. Any other layout is left to :func:`_resealed`.
    """
    if not body.endswith('"}'):
        return None
    member = body.rfind(_CURSOR_MEMBER)
    if member < 1 or body[member - 1] not in ",{":
        return None
    start, end = member + len(_CURSOR_MEMBER), len(body) - 2
    return (start, end) if _PLAIN_CURSOR.fullmatch(body, start, end) else None


def _last_page(body: str) -> bool:
    """Whether ``body`` ends with a top-level ``"next_cursor":null`` (as :func:`_cursor_span` reasons)."""
    tail = _LAST_PAGE_TAIL
    return body.endswith(tail) and len(body) > len(tail) and body[-len(tail) - 1] in ",{"


def _resealed(body: str, seal: Callable[[str], str]) -> str | None:
    """``body`` decoded and encoded again with its ``next_cursor`` sealed; None when it has no cursor."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    cursor = decoded.get("next_cursor") if isinstance(decoded, dict) else None
    if not isinstance(cursor, str) or not cursor:
        return None
    decoded["next_cursor"] = seal(cursor)
    return json.dumps(decoded, separators=(",", ":"))


def _sealed(response: dict[str, Any], event: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    """``response`` with its ``next_cursor`` sealed: no storage cursor leaves the API.

    A page ends with its cursor, which is sealed in place, without decoding the page (50 issues are most of
    a listing's answer); a last page (``null``) is left as it is. Only a body of another layout is decoded.
    """
    body = response.get("body")
    if (
        principal is None
        or not isinstance(body, str)
        or response.get("isBase64Encoded")
        or '"next_cursor"' not in body
        or not 200 <= int(response.get("statusCode") or 0) < 300
        or _last_page(body)
    ):
        return response
    sealer, tenant, path = _sealer(), principal.tenant, str(event.get("path") or "")

    def seal(cursor: str) -> str:
        return sealer.seal(cursor, tenant=tenant, path=path)

    span = _cursor_span(body)
    if span is not None:
        start, end = span
        sealed: str | None = body[:start] + seal(body[start:end]) + body[end:]
    else:
        sealed = _resealed(body, seal)
    return response if sealed is None else {**response, "body": sealed}


# GitHub and GitLab issue keys read "#12". API Gateway hands the handler a decoded path, so a client that
# percent-encodes the key ("/issues/%2312") arrives as "/issues/#12", which no route pattern matches ("#" is
# not a URI path character). The adapters take "12" and "#12" alike, so the "#" is dropped before routing.
_HASH_KEY = re.compile(r"(/issues/)#(\d+)(?=/|$)")


def _canonical(event: dict[str, Any]) -> dict[str, Any]:
    path = event.get("path")
    if isinstance(path, str) and "#" in path:
        return {**event, "path": _HASH_KEY.sub(r"\1\2", path)}
    return event


def _answer(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        event = _canonical(event)
        operation = operations().match(str(event.get("httpMethod") or ""), str(event.get("path") or ""))
        principal = principal_from_event(event)
        refusal = _throttled(event, principal) or _refusal(event, operation, principal)
        if refusal is not None:
            return refusal
        try:
            opened = _opened(event, operation, principal)
        except TrackbridgeError as exc:
            return errors.proxy_failure(exc)
        response: dict[str, Any] = app.resolve(opened, context)
        try:
            return _sealed(response, event, principal)
        except TrackbridgeError as exc:
            return errors.proxy_failure(exc)
    except Exception:
        # Only reachable when the event itself is broken (the resolver's own handler catches the rest).
        request_context = event.get("requestContext") if isinstance(event, dict) else None
        correlation = (request_context or {}).get("requestId") or getattr(context, "aws_request_id", None)
        logger.exception("api.unhandled_error", extra={"correlation_id": correlation})
        return errors.proxy_response(500, errors.internal_error_body(correlation))


def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = _answer(event, context)
    # One count per status class (Api2xx ... Api5xx): what alarms on error rates watch.
    metrics.add_metric(name=f"Api{int(response['statusCode']) // 100}xx", unit=MetricUnit.Count, value=1)
    return response


__all__ = [
    "DOCS_PATH",
    "OPENAPI_PATH",
    "PUBLIC_PATHS",
    "app",
    "openapi_document",
    "operations",
    "resolve",
    "served_document",
    "server_url",
]
