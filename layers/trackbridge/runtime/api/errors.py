"""The one place where anything that goes wrong in the API becomes an HTTP answer.

Every error body is ``{"error": {"code", "message", "details"}}`` (plus ``guidance`` when there is advice):

==============================================  ======  =================================================
cause                                           status  code
==============================================  ======  =================================================
``TrackbridgeError`` subclasses                 its     its own (``NOT_FOUND``, ``VERSION_CONFLICT``, ...)
a tracker refused an action (``TrackerError``)  table   its canonical code (``AUTH_INVALID``, ...)
body that is not JSON                           400     ``INVALID_JSON``
schema violation (body, path, query)            422     ``VALIDATION_FAILED``, ``details.errors[].path``
unsupported Content-Type                        415     ``UNSUPPORTED_MEDIA_TYPE``
no route for the path                           404     ``NOT_FOUND``
a route for the path, not for the method        405     ``METHOD_NOT_ALLOWED`` (+ ``Allow`` header)
body larger than ``max_body_bytes``             413     ``PAYLOAD_TOO_LARGE`` (checked before parsing)
no tenant on a tenant route                     401     ``UNAUTHORIZED``
anything else                                   500     ``INTERNAL``, only ``details.correlation_id``
==============================================  ======  =================================================

A tracker's refusal keeps its meaning where it is the caller's (404, 409, 413, 422 for fields the tracker
refused, 429 with ``Retry-After``) and is a 502/503/504 where it is the connection's or the tracker's: a
401 from the tracker is 502 ``AUTH_INVALID`` ("the tracker refused the connection's credentials", with
guidance to renew them), never a 401, which would say the caller's API key was wrong. The table is
``domain.error_codes``; details carry the provider, the tracker's status, ``retryable`` and field errors.

Validation details carry each failing field's path, pydantic's message and error type, never the input
value (a rejected body may hold credentials). A 500 is logged with its traceback under the request's
correlation id and answered without internals.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from trackbridge.domain.errors import TrackbridgeError
from trackbridge.providers.errors import TrackerError
from trackbridge.runtime.actions import tracker_failure
from trackbridge.runtime.observability import logger

_MAX_REPORTED_ERRORS = 20
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def error_body(code: str, message: str, details: Any = None, guidance: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "details": details}
    if guidance:
        error["guidance"] = guidance
    return {"error": error}


def error_response(
    status: int, code: str, message: str, details: Any = None, *, headers: Mapping[str, str] | None = None
) -> Response[Any]:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, details),
        headers=dict(headers or {}),
    )


def from_trackbridge_error(exc: TrackbridgeError) -> Response[Any]:
    headers = {}
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return Response(
        status_code=exc.status,
        content_type=content_types.APPLICATION_JSON,
        body=exc.to_body(),
        headers=headers,
    )


def proxy_response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    """An API Gateway proxy answer built outside the resolver (checks that run before it, the last resort)."""
    return {
        "statusCode": status,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def field_path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    reported = []
    for err in errors:
        reported.append(
            {
                "path": field_path(err.get("loc", ())),
                "message": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
        if len(reported) == _MAX_REPORTED_ERRORS:
            break
    return reported


def from_validation_error(exc: RequestValidationError) -> Response[Any]:
    errors = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in errors):
        first = next(err for err in errors if err.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "")
        return error_response(
            HTTPStatus.BAD_REQUEST,
            "INVALID_JSON",
            f"the request body is not valid JSON: {reason}".rstrip(": "),
            {"position": first.get("loc", ("body", None))[-1]},
        )
    reported = field_errors(errors)
    summary = "; ".join(f"{e['path']}: {e['message']}" for e in reported[:3])
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
        f"invalid request: {summary}",
        {"errors": reported},
    )


def correlation_id(app: APIGatewayRestResolver) -> str | None:
    try:
        request_id = app.current_event.request_context.request_id
    except (AttributeError, KeyError, TypeError):
        request_id = None
    if request_id:
        return str(request_id)
    context = getattr(app, "lambda_context", None)
    return getattr(context, "aws_request_id", None)


def internal_error_body(correlation: str | None) -> dict[str, Any]:
    return error_body("INTERNAL", "internal error", {"correlation_id": correlation})


def allowed_methods(app: APIGatewayRestResolver, path: str) -> list[str]:
    """Methods that have a route for ``path``: tells a 405 from a 404."""
    # Powertools keeps its route table private; these two lists are how it matches requests itself.
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    return sorted({route.method for route in routes if route.method in _METHODS and route.rule.match(path)})


def register(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(TrackbridgeError)
    def _trackbridge(exc: TrackbridgeError) -> Response[Any]:
        if exc.status >= 500:
            logger.warning(
                "api.dependency_failure",
                extra={"code": exc.code, "details": exc.details, "correlation_id": correlation_id(app)},
            )
        return from_trackbridge_error(exc)

    @app.exception_handler(TrackerError)
    def _tracker(exc: TrackerError) -> Response[Any]:
        failure = tracker_failure(exc)
        if failure.status >= 500:
            logger.warning(
                "api.tracker_failure",
                extra={
                    "code": str(exc.code),
                    "provider": exc.provider,
                    "correlation_id": correlation_id(app),
                },
            )
        return Response(
            status_code=failure.status,
            content_type=content_types.APPLICATION_JSON,
            body=failure.body(),
            headers=dict(failure.headers),
        )

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[Any]:
        return from_validation_error(exc)

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(exc: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json"
        )

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response[Any]:
        path = app.current_event.path
        allowed = allowed_methods(app, path)
        if allowed:
            return error_response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                f"{app.current_event.http_method} is not allowed here; use {', '.join(allowed)}",
                {"allowed": allowed},
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "no such route", {"path": path})

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[Any]:
        return error_response(exc.status_code, HTTPStatus(exc.status_code).name, str(exc.msg))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        correlation = correlation_id(app)
        logger.exception("api.unhandled_error", extra={"correlation_id": correlation})
        return Response(
            status_code=int(HTTPStatus.INTERNAL_SERVER_ERROR),
            content_type=content_types.APPLICATION_JSON,
            body=internal_error_body(correlation),
        )


__all__ = [
    "allowed_methods",
    "correlation_id",
    "error_body",
    "error_response",
    "field_errors",
    "from_trackbridge_error",
    "from_validation_error",
    "internal_error_body",
    "proxy_response",
    "register",
]
