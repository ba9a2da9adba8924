"""The REST resolver: routes of every area, OpenAPI, Swagger UI, error mapping, and the pre-parse checks.

:func:`resolve` is what ``functions/api.py`` calls. Before Powertools parses anything it refuses a tenant
route without an authorizer tenant (401, first, as API Gateway would), a base64 body that does not decode
(400), a body over ``max_body_bytes`` (413; uploads have their own larger limit) and a multipart body
Powertools' parser would crash on (400). Powertools' validation runs before any middleware, so these
checks cannot live in one. The public paths match the routes that ``infra/definition.py`` leaves without
the authorizer (a test keeps the two in step).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge import __version__
from trackbridge.domain.errors import InvalidInput, PayloadTooLarge, TrackbridgeError, Unauthorized
from trackbridge.runtime.api import actions, audit, connections, errors, health, issues, keys, oauth, sync
from trackbridge.runtime.api.context import principal_from_event
from trackbridge.runtime.api.openapi import document_errors
from trackbridge.runtime.observability import logger, metrics
from trackbridge.runtime.settings import get_settings

OPENAPI_PATH = "/v1/openapi.json"
DOCS_PATH = "/v1/docs"
HEALTH_PATH = "/v1/health"
OAUTH_CALLBACK_PATH = "/v1/oauth/jira/callback"  # the user's browser, back from Atlassian: no API key
PUBLIC_PATHS = frozenset({HEALTH_PATH, OPENAPI_PATH, DOCS_PATH, OAUTH_CALLBACK_PATH})


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        # Powertools turns a JSONDecodeError into our 400; a body nested past the recursion limit is as bad.
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=_parse_json)
app.configure_openapi(
    title="trackbridge",
    version=__version__,
    summary="One API over Jira Cloud, GitHub and GitLab, with sync, links and auto-issues",
    security_schemes={
        "bearer": HTTPBearer(description="a tenant API key, tb_<key_id>_<secret> (trackbridge keys create)")
    },
    security=[{"bearer": []}],
)
errors.register(app)
for _router in (health.router, connections.router, audit.router, sync.router):
    app.include_router(_router)
app.include_router(oauth.router)
app.include_router(actions.router)
app.include_router(issues.router)
app.include_router(keys.router)
app.enable_swagger(path=DOCS_PATH, persist_authorization=True)


@lru_cache(maxsize=1)
def _openapi_json() -> str:
    # The schema only changes with the code, so it is generated once per process.
    return json.dumps(openapi_document(), separators=(",", ":"))


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document with every operation's error answers (``runtime.api.openapi``)."""
    return document_errors(json.loads(app.get_openapi_json_schema()), PUBLIC_PATHS)


@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_schema() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_openapi_json())


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


def _refusal(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 401, 400 or 413 answer when the request must not reach the resolver, else None.

    The order is API Gateway's: the authorizer answers before anything looks at the body.
    """
    exc: TrackbridgeError | None = None
    multipart = _is_multipart(event)
    # Uploads get a limit of their own: Lambda's 6 MB request cap, not the JSON body limit, bounds them.
    limit = (
        max(get_settings().max_body_bytes, actions.MAX_UPLOAD_BYTES)
        if multipart
        else get_settings().max_body_bytes
    )
    if event.get("path") not in PUBLIC_PATHS and principal_from_event(event) is None:
        exc = Unauthorized("missing or invalid API key")
    else:
        try:
            raw = _raw_body(event)
            if _is_json(event) and event.get("isBase64Encoded"):
                raw.decode("utf-8")  # Powertools would fail on it with an unhandled UnicodeDecodeError
        except (binascii.Error, ValueError):
            exc = InvalidInput("the body is not valid base64 or not UTF-8 JSON", code="INVALID_BODY")
        else:
            problem = actions.multipart_problem(_content_type(event), raw) if multipart else None
            if len(raw) > limit:
                what = "an upload" if multipart else "the request body"
                exc = PayloadTooLarge(f"{what} may be at most {limit} bytes", details={"limit": limit})
            elif problem is not None:
                exc = InvalidInput(problem, code="INVALID_BODY")
    return None if exc is None else errors.proxy_response(exc.status, exc.to_body())


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
        refusal = _refusal(event)
        if refusal is not None:
            return refusal
        return app.resolve(_canonical(event), context)
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


__all__ = ["DOCS_PATH", "OPENAPI_PATH", "PUBLIC_PATHS", "app", "openapi_document", "resolve"]
