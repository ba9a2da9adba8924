"""The one place where anything that goes wrong in the API becomes an HTTP answer.

Every error body is ``{"error": {"code", "message", "details"}}`` (plus ``guidance`` when there is advice),
built by ``domain.errors.error_body`` and nothing else; every code is a row of ``domain.error_codes``:

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

A ``TrackerError`` is a ``TrackbridgeError``: both go through :func:`failure_of` in one handler, and the
checks that run before the resolver answer the same way (:func:`proxy_failure`).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from trackbridge.domain.error_codes import ErrorCode, code_for_status
from trackbridge.domain.errors import TrackbridgeError, error_body
from trackbridge.providers.errors import TrackerError
from trackbridge.runtime.observability import logger

_MAX_REPORTED_ERRORS = 20
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, slots=True)
class Failure:
    """An error as the API answers it: status, body (``error_body``'s shape) and headers (``Retry-After``)."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def error(self) -> dict[str, Any]:
        return dict(self.body["error"])

    def response(self) -> Response[Any]:
        return Response(
            status_code=self.status,
            content_type=content_types.APPLICATION_JSON,
            body=self.body,
            headers=dict(self.headers),
        )


def _retry_after_header(seconds: float | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(max(1, round(seconds)))}


def tracker_failure(exc: TrackerError, *, now: datetime | None = None) -> Failure:
    """How a tracker failure is answered: ``error_codes`` gives the status (401s from the tracker are 502:
    the connection's credentials, not the caller's key, were refused), the tracker's own message, and
    guidance for whoever must act; ``Retry-After`` when the tracker said when to come back."""
    now = now or datetime.now(UTC)
    return Failure(exc.http_status, exc.to_body(now=now), _retry_after_header(exc.retry_after(now)))


def failure_of(exc: TrackbridgeError, *, now: datetime | None = None) -> Failure:
    """Any error of the tree as the API answers it (``TrackerError`` included)."""
    if isinstance(exc, TrackerError):
        return tracker_failure(exc, now=now)
    return Failure(exc.http_status, exc.to_body(), _retry_after_header(getattr(exc, "retry_after_s", None)))


def error_response(
    status: int, code: str, message: str, details: Any = None, *, headers: Mapping[str, str] | None = None
) -> Response[Any]:
    return Failure(int(status), error_body(code, message, details), dict(headers or {})).response()


def from_trackbridge_error(exc: TrackbridgeError) -> Response[Any]:
    return failure_of(exc).response()


def proxy_response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    """An API Gateway proxy answer built outside the resolver (checks that run before it, the last resort)."""
    return {
        "statusCode": status,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def proxy_failure(exc: TrackbridgeError) -> dict[str, Any]:
    """An error of the tree as a proxy answer, for the checks that run before the resolver."""
    failure = failure_of(exc)
    return proxy_response(failure.status, failure.body)


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
            ErrorCode.INVALID_JSON,
            f"the request body is not valid JSON: {reason}".rstrip(": "),
            {"position": first.get("loc", ("body", None))[-1]},
        )
    reported = field_errors(errors)
    summary = "; ".join(f"{e['path']}: {e['message']}" for e in reported[:3])
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        ErrorCode.VALIDATION_FAILED,
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
    return error_body(ErrorCode.INTERNAL, "internal error", {"correlation_id": correlation})


def allowed_methods(app: APIGatewayRestResolver, path: str) -> list[str]:
    """Methods that have a route for ``path``: tells a 405 from a 404."""
    # Powertools keeps its route table private; these two lists are how it matches requests itself.
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    return sorted({route.method for route in routes if route.method in _METHODS and route.rule.match(path)})


def register(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(TrackbridgeError)
    def _trackbridge(exc: TrackbridgeError) -> Response[Any]:
        failure = failure_of(exc)
        if failure.status >= 500:
            if isinstance(exc, TrackerError):
                event, extra = "api.tracker_failure", {"code": str(exc.code), "provider": exc.provider}
            else:
                event, extra = "api.dependency_failure", {"code": exc.code, "details": exc.details}
            logger.warning(event, extra={**extra, "correlation_id": correlation_id(app)})
        return failure.response()

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[Any]:
        return from_validation_error(exc)

    @app.exception_handler(RequestUnsupportedContentType)
    def _content_type(exc: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json",
        )

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response[Any]:
        path = app.current_event.path
        allowed = allowed_methods(app, path)
        if allowed:
            return error_response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                ErrorCode.METHOD_NOT_ALLOWED,
                f"{app.current_event.http_method} is not allowed here; use {', '.join(allowed)}",
                {"allowed": allowed},
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(HTTPStatus.NOT_FOUND, ErrorCode.NOT_FOUND, "no such route", {"path": path})

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[Any]:
        # Raised by Powertools itself (never by a route): the status's generic code, from the registry.
        return error_response(exc.status_code, code_for_status(exc.status_code), str(exc.msg))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        correlation = correlation_id(app)
        logger.exception("api.unhandled_error", extra={"correlation_id": correlation})
        return Failure(int(HTTPStatus.INTERNAL_SERVER_ERROR), internal_error_body(correlation)).response()


__all__ = [
    "Failure",
    "allowed_methods",
    "correlation_id",
    "error_body",
    "error_response",
    "failure_of",
    "field_errors",
    "from_trackbridge_error",
    "from_validation_error",
    "internal_error_body",
    "proxy_failure",
    "proxy_response",
    "register",
    "tracker_failure",
]
