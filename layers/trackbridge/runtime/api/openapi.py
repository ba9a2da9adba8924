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

Around the table, :func:`complete` finishes the document Powertools generates: the tags and their
descriptions (:data:`TAGS`), each operation's required scope in its description and its 403, an example on
every schema an operation takes or answers (``runtime.api.examples``), no body on a 204, and the typed items
of the bulk request. :func:`with_server` names the server per request (``app.server_url``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from trackbridge.runtime.api.action_models import BulkCreate, BulkUpdate
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES, page_example
from trackbridge.runtime.api.operations import REQUIRED_SCOPE
from trackbridge.runtime.tracker_actions import MAX_BULK_ITEMS

ERROR_SCHEMA_NAME = "Error"
ERROR_DETAIL_SCHEMA_NAME = "ErrorDetail"
_SCHEMAS = "#/components/schemas/"
ERROR_DETAIL_SCHEMA: dict[str, Any] = {
    "title": "ErrorDetail",
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
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"$ref": f"{_SCHEMAS}{ERROR_DETAIL_SCHEMA_NAME}"}},
}

API_DESCRIPTION: Final = (
    "One API over Jira Cloud, GitHub and GitLab: connections to trackers, syncs into DynamoDB, the synced "
    "issues, and actions at the trackers.\n\n"
    "**Authentication**: `Authorization: Bearer tb_<key_id>_<secret>` (`trackbridge keys create`). Each "
    "operation names the scope its key needs; a key without it gets a 403 before its request is read.\n\n"
    '**Errors** answer `{"error": {"code", "message", "details", "guidance"?}}` with the status each '
    "operation lists; `code` is stable, `guidance` says what to do.\n\n"
    '**Listings** answer `{"items": [...], "next_cursor"}`. The cursor is opaque (encrypted, and only '
    "valid for the same listing and tenant): pass it back as `cursor` until it is null.\n\n"
    "**Issue keys** are the tracker's: `OPS-12` (Jira), `12` (GitHub, GitLab). A GitHub or GitLab key may "
    "also be written `#12`, percent-encoded in a path as `%2312`."
)

# Every tag an operation uses, (name, description), in the order Swagger UI shows them; a test keeps the two
# sets equal. Plain data: Powertools' OpenAPI models are imported only when the document is generated.
TAGS: Final[tuple[tuple[str, str], ...]] = (
    (
        "health",
        "Whether the API and each AWS dependency answer (public, no API key); with a key, each connection's "
        "health and the tenant's daily counters.",
    ),
    (
        "connections",
        "A tenant's tracker connections: which tracker, what of it to sync, when, and the "
        "credentials (write-only: kept in Secrets Manager, never returned).",
    ),
    (
        "sync",
        "Syncs of a connection into trackbridge (full, incremental, deletion checks): start, "
        "follow and cancel them, and read each entity's sync state and the sync log.",
    ),
    (
        "schedules",
        "Each connection's sync schedule in EventBridge Scheduler: show, set, pause, resume, trigger, and "
        "the back-off ladder that slows it after repeated failures and pauses it when a person must act.",
    ),
    (
        "issues",
        "The synced issues, with comments, worklogs and links, as trackbridge stored them; "
        "reading them never calls the tracker.",
    ),
    (
        "events",
        "Events sent to auto-issue (a CloudWatch alarm state change or an application event): queued with "
        "202, and their receipts.",
    ),
    ("rules", "Auto-issue rules and Markdown/Jinja2 templates: validated on save, dry run and preview."),
    (
        "links",
        "Links between internal objects (tables, views, alarms, test cases, ...) and tracker issues, both "
        "ways, with each linked issue's live state.",
    ),
    (
        "test runs",
        "JUnit XML reports as test runs: their test cases linked to the issues they name, flaky and failing "
        "tests sent to auto-issue, and each suite's requirement coverage.",
    ),
    (
        "tracker actions",
        "Changes and reads made at the tracker itself through a connection: create, update, "
        "comment, transition, attach, search and bulk. Each calls the tracker, so its errors include the "
        "tracker's (502, 504).",
    ),
    ("providers", "The trackers trackbridge supports and what each one can do."),
    (
        "repositories",
        "What happens in a GitHub or GitLab connection's repository (commits, pull/merge requests, releases, "
        "languages) per week, from the synced `activity` entity; reading it never calls the tracker.",
    ),
    (
        "keys",
        "The tenant's API keys: list and revoke them (`trackbridge keys create` issues them).",
    ),
    ("audit", "Who changed what and when, newest first."),
    (
        "alerts",
        "Operator alerts: channels (e-mail through the alerts topic, Slack, a signed webhook), the policy "
        "routing error codes to them, and the incidents alerted on (one alert each, then a recovery).",
    ),
    (
        "dlq",
        "Operator tools for the dead-letter queues (sync, inbound, auto_issue): list the tenant's failed "
        "messages with their failure, redrive or discard them (scope admin; audited).",
    ),
    (
        "oauth",
        "Connect a Jira connection through OAuth 2.0 (3LO) instead of an API token, and disconnect it.",
    ),
)

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


# Routes outside the tracker actions that may call a tracker: a connection test, OAuth, a hook's
# registration, linking an issue not synced yet, refreshing linked issues, and saving an auto-issue rule
# (a Jira target's create screen is read).
_TRACKER_PATHS = ("/test", "/webhook", "/refresh", "/scan-links")
_TRACKER_PREFIXES = ("/v1/oauth/", "/v1/links", "/v1/objects/", "/v1/rules")


def _calls_tracker(path: str, operation: Mapping[str, Any]) -> bool:
    tags = operation.get("tags") or ()
    return "tracker actions" in tags or path.endswith(_TRACKER_PATHS) or path.startswith(_TRACKER_PREFIXES)


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


def _response(status: int, *, scope: str | None = None) -> dict[str, Any]:
    description = _DESCRIPTIONS[status]
    if status == 403 and scope:
        description = f"The API key lacks the `{scope}` scope (`details.required_scope`)."
    response: dict[str, Any] = {
        "description": description,
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
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA_NAME] = copy.deepcopy(ERROR_SCHEMA)
    schemas[ERROR_DETAIL_SCHEMA_NAME] = copy.deepcopy(ERROR_DETAIL_SCHEMA)
    for path, operations in (document.get("paths") or {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method not in {"get", "head", *_WRITES}:
                continue
            responses = operation.setdefault("responses", {})
            scope = operation.get(REQUIRED_SCOPE)
            for status in sorted(_statuses(path, method, operation, public=path in public)):
                responses.setdefault(str(status), _response(status, scope=scope))
            for key, response in responses.items():
                if key.isdigit() and int(key) >= 400 and _needs_error_body(response):
                    # A route's own error entry keeps its description and any body it names itself; one
                    # without a body (Powertools writes null) or with Powertools' HTTPValidationError (our
                    # 422s answer in the error shape) gets the shared one.
                    response.setdefault("content", {})["application/json"] = _response(int(key))["content"][
                        "application/json"
                    ]
    return document


def _operations(document: Mapping[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, operations in (document.get("paths") or {}).items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and method in {"get", "head", *_WRITES}:
                yield path, method, operation


def _scopes(document: dict[str, Any]) -> None:
    """Each operation's description ends with the scope it requires (also its ``x-required-scope``)."""
    for _, _, operation in _operations(document):
        scope = operation.get(REQUIRED_SCOPE)
        if scope:
            text = (operation.get("description") or "").rstrip()
            operation["description"] = f"{text}\n\nRequires the `{scope}` scope.".lstrip()


def _no_content(document: dict[str, Any]) -> None:
    # Powertools gives a route answering Response[None] a JSON body of type null; a 204 has no body at all.
    for _, _, operation in _operations(document):
        response = (operation.get("responses") or {}).get("204")
        if response is not None:
            response.pop("content", None)


def _bulk_items(document: dict[str, Any]) -> None:
    """The bulk request's items, typed: each a create or an update, told apart by ``op``.

    The route reads items as plain objects and validates each on its own, so that one malformed item is a
    422 in its slot of the answer rather than a refusal of the whole request; the document says what each
    item must be.
    """
    schemas = document.get("components", {}).get("schemas", {})
    bulk = schemas.get("BulkRequest")
    if bulk is None:
        return
    template = _SCHEMAS + "{model}"
    for model in (BulkCreate, BulkUpdate):
        schemas[model.__name__] = model.model_json_schema(ref_template=template, mode="validation")
    items = bulk["properties"]["items"]
    items["items"] = {
        "oneOf": [{"$ref": f"{_SCHEMAS}BulkCreate"}, {"$ref": f"{_SCHEMAS}BulkUpdate"}],
        "discriminator": {
            "propertyName": "op",
            "mapping": {"create": f"{_SCHEMAS}BulkCreate", "update": f"{_SCHEMAS}BulkUpdate"},
        },
    }
    items["description"] = (
        f"1 to {MAX_BULK_ITEMS} items, each a create (`op: create` and the fields of an issue) or an "
        "update (`op: update`, the issue's `key` and the fields to change). Each item is validated on its "
        "own: one that is not valid answers 422 in its slot, and the others still run."
    )
    result = schemas.get("BulkItemResult", {}).get("properties", {})
    if "error" in result:
        result["error"] = {
            "anyOf": [{"$ref": f"{_SCHEMAS}{ERROR_DETAIL_SCHEMA_NAME}"}, {"type": "null"}],
            "description": "why this item failed, in the API's error shape; null when it succeeded",
        }


_PAGE = re.compile(r"Page_(?P<item>\w+)_")


def _examples(document: dict[str, Any]) -> None:
    """An example on every schema the examples table (or a listing of one of its models) covers."""
    schemas = document.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        page = _PAGE.fullmatch(name)
        if name in SCHEMA_EXAMPLES:
            schema["examples"] = [copy.deepcopy(SCHEMA_EXAMPLES[name])]
        elif page is not None and page["item"] in SCHEMA_EXAMPLES:
            schema["examples"] = [page_example(copy.deepcopy(SCHEMA_EXAMPLES[page["item"]]))]


def complete(schema: Mapping[str, Any], public_paths: Iterable[str]) -> dict[str, Any]:
    """The served document: ``schema`` with its error answers, scopes, examples and typed bulk items."""
    document = document_errors(schema, public_paths)
    _scopes(document)
    _no_content(document)
    _bulk_items(document)
    _examples(document)
    return document


def with_server(document: Mapping[str, Any], server: str) -> dict[str, Any]:
    """``document`` rooted at ``server``, a path relative to the host the document was fetched from."""
    description = (
        "this API, where its document was served from"
        if server == "/"
        else f"this API under the `{server.strip('/')}` stage or base path of the host it was served from"
    )
    return {**document, "servers": [{"url": server, "description": description}]}


__all__ = [
    "API_DESCRIPTION",
    "ERROR_DETAIL_SCHEMA",
    "ERROR_SCHEMA",
    "TAGS",
    "complete",
    "document_errors",
    "with_server",
]
