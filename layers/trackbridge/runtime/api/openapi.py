"""The error answers of every operation, written into the OpenAPI document from one table.

Powertools documents a route's success status and its own 422. The other answers come from layers every
route shares (the gateway, the authorizer, the pre-parse checks in ``app``, the error mapping in
``errors``), so they are declared here once, by what an operation has: a body, path parameters, a tenant
key, a write, a call to a tracker. An explicit ``responses`` entry on a route wins over the table.

====== ============================================ ==============================================
status when                                         operations
====== ============================================ ==============================================
400    the body is not JSON / base64 / multipart     all (the gateway hands every body through)
401    no valid API key                               tenant operations
403    the key lacks the scope (``required_scope``)   tenant operations
404    an id in the path (or ``connection``) names    operations with path parameters or a
       nothing of this tenant's                       ``connection`` query parameter
409    a conflicting state (a sync already running,   writes
       a version conflict, the tracker's 409)
413    the body is over the limit                     all
415    the body is not ``application/json``           operations with a JSON body
422    a field fails validation (``details.errors``)  all
429    throttled by the API or by the tracker         all
502    the tracker failed or refused the connection   operations that call a tracker
503    a dependency or the tracker is unavailable     all
504    the tracker did not answer in time             operations that call a tracker
====== ============================================ ==============================================
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

ERROR_SCHEMA_NAME = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "a canonical code, e.g. NOT_FOUND, AUTH_INVALID"},
                "message": {"type": "string"},
                "details": {"description": "structured context: field errors, required_scope, provider"},
                "guidance": {
                    "type": "string",
                    "description": "what a person should do, when there is advice",
                },
            },
        }
    },
}

_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}

_DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read: not JSON, not valid base64, or a broken multipart body.",
    401: "No valid API key (`Authorization: Bearer tb_...`).",
    403: "The API key lacks the scope named in `details.required_scope`.",
    404: "Nothing of this tenant's has that id.",
    409: "Conflicts with the current state: a sync already running, a changed version, or the tracker's 409.",
    413: "The body is over the limit given in `details.limit`.",
    415: "Send the body as `application/json`.",
    422: "A field failed validation: `details.errors[]` carry each field's path.",
    429: "Too many requests, to this API or to the tracker: retry after `Retry-After` seconds.",
    502: "The tracker failed or refused the connection's credentials (`AUTH_INVALID`): see `guidance`.",
    503: "A dependency or the tracker is unavailable for now: retry after `Retry-After` seconds.",
    504: "The tracker did not answer in time.",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})


def _calls_tracker(path: str, operation: Mapping[str, Any]) -> bool:
    tags = operation.get("tags") or ()
    return "tracker actions" in tags or path.endswith("/test") or path.startswith("/v1/oauth/")


def _statuses(path: str, method: str, operation: Mapping[str, Any], *, public: bool) -> set[int]:
    statuses = {400, 413, 422, 429, 503}
    parameters = operation.get("parameters") or ()
    if not public:
        statuses |= {401, 403}
    if any(p.get("in") == "path" or p.get("name") == "connection" for p in parameters):
        statuses.add(404)
    if method in _WRITES:
        statuses.add(409)
    if "application/json" in ((operation.get("requestBody") or {}).get("content") or {}):
        statuses.add(415)
    if _calls_tracker(path, operation):
        statuses |= {404, 502, 504}
    return statuses


def _response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}}},
    }
    if status in (429, 503):
        response["headers"] = copy.deepcopy(_RETRY_AFTER)
    return response


def _needs_error_body(response: Mapping[str, Any]) -> bool:
    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
    return (
        not schema
        or schema.get("type") == "null"
        or str(schema.get("$ref", "")).endswith("/HTTPValidationError")
    )


def document_errors(schema: Mapping[str, Any], public_paths: Iterable[str]) -> dict[str, Any]:
    """A copy of ``schema`` in which every operation lists the error answers it can give."""
    document = copy.deepcopy(dict(schema))
    public = frozenset(public_paths)
    document.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    for path, operations in (document.get("paths") or {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method not in {"get", "head", *_WRITES}:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(path, method, operation, public=path in public)):
                responses.setdefault(str(status), _response(status))
            for key, response in responses.items():
                if key.isdigit() and int(key) >= 400 and _needs_error_body(response):
                    # A route's own error entry keeps its description and any body it names itself; one
                    # without a body (Powertools writes null) or with Powertools' HTTPValidationError (our
                    # 422s answer in the error shape) gets the shared one.
                    response.setdefault("content", {})["application/json"] = _response(int(key))["content"][
                        "application/json"
                    ]
    return document


__all__ = ["ERROR_SCHEMA", "document_errors"]
