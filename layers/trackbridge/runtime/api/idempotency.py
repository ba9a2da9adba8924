"""The ``Idempotency-Key`` header of the routes that create something at a tracker.

The semantics (replay, 422 ``IDEMPOTENCY_KEY_REUSED``, 409 ``IDEMPOTENCY_IN_PROGRESS``, failures not
stored, keys per tenant, 24 hours) are ``runtime/idempotency.py``'s; this module is the HTTP side: the
header parameter as OpenAPI documents it, the service as a dependency, and the answer as a response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import AfterValidator

from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal
from trackbridge.runtime.idempotency import (
    HEADER,
    KEY_PATTERN,
    KEY_RULE,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    Answer,
    IdempotentRequests,
    is_valid_key,
)

DESCRIPTION = (
    "Makes a retry safe: the same key with the same request (connection, path and body) within 24 hours "
    f"answers the first success again, with `{REPLAYED_HEADER}: true`, and does not call the tracker again; "
    "the same key with another request is a 422 `IDEMPOTENCY_KEY_REUSED`; while the first request still "
    "runs, a 409 `IDEMPOTENCY_IN_PROGRESS` with `Retry-After`. A failed request is not stored, so its "
    "retry runs again. Keys are per tenant and per operation; 1 to 255 printable ASCII characters (a UUID "
    "is a good key). Without the header every request runs."
)


def _header_schema(schema: dict[str, Any]) -> None:
    # A header is a string or absent, never null: document it so (the parameter is optional).
    schema.pop("anyOf", None)
    schema.update(type="string", minLength=1, maxLength=MAX_KEY_LENGTH, pattern=KEY_PATTERN)


def _checked(value: str | None) -> str | None:
    if value is not None and not is_valid_key(value):
        raise ValueError(KEY_RULE)
    return value


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description=DESCRIPTION,
        examples=["5f0c9a52-6a1e-4c1e-9a8e-2b7d0f3c4e21"],
        json_schema_extra=_header_schema,
    ),
    AfterValidator(_checked),
]
Idempotency = Annotated[IdempotentRequests, Depends(container.idempotent_requests)]


def idempotently(
    idempotency: IdempotentRequests,
    caller: Principal,
    operation: str,
    key: str | None,
    request: Mapping[str, Any],
    produce: Callable[[], Answer],
) -> Response[Any]:
    """``produce()`` run at most once per ``key`` (see ``runtime/idempotency.py``), answered as HTTP."""
    # Powertools keeps the invocation's context on the router class; it says how long this request may hold
    # the key before a retry may take it over.
    context = getattr(BaseRouter, "lambda_context", None)
    answer = idempotency.run(caller.tenant, operation, key, request, produce, context=context)
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else {}
    return Response(answer.status, content_types.APPLICATION_JSON, answer.body, headers=headers)


__all__ = ["DESCRIPTION", "Idempotency", "IdempotencyKey", "idempotently"]
