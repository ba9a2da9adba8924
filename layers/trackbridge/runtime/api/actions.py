"""Tracker actions over any connection, ``GET /v1/providers`` and ``POST /v1/connections/{id}/test``.

Scopes: ``issues:write`` for every route that calls the tracker, reads (transitions, search) included, and
``connections:write`` for the connection test, so a read-only key never makes trackbridge send a request;
``GET /v1/providers`` is open to every authenticated tenant. How a tracker's refusal
becomes an HTTP answer is ``api/errors.py``'s table.

Attachments come as ``multipart/form-data`` with one ``file`` part. API Gateway passes such bodies base64
encoded (``multipart/form-data`` is one of the API's binary media types, in the CDK stack and the local
gateway alike); :func:`multipart_problem` refuses a body Powertools' parser would choke on before it runs.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, File, Path, Query, UploadFile
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.issues import Comment
from trackbridge.domain.pagination import Page
from trackbridge.runtime import container
from trackbridge.runtime.api.action_models import (
    MAX_SEARCH_LIMIT,
    AttachmentView,
    BulkRequest,
    BulkResult,
    CommentCreate,
    IssueCreate,
    IssuePatch,
    TransitionRequest,
    TransitionView,
    bulk_items,
)
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.idempotency import Idempotency, IdempotencyKey, idempotently
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.api.views import ConnectionTestReport, ProviderList
from trackbridge.runtime.idempotency import Answer
from trackbridge.runtime.issues import IssueView, SyncedIssues
from trackbridge.runtime.tracker_actions import BULK_BUDGET_S, MAX_BULK_ITEMS, TrackerActions

WRITE, CONNECTIONS_WRITE = "issues:write", "connections:write"
# Every route here sends requests to a tracker, reads included: a read-only key may read what trackbridge
# stored, but never make it call out (its base URL and credentials are the tenant's, the requests ours).
OUTBOUND_NOTE = " Calls the tracker, so a read-only key gets 403."
MULTIPART = "multipart/form-data"
# Lambda takes at most 6 MB per synchronous request and API Gateway sends a binary body base64 encoded
# (4 bytes per 3): 4 MiB of upload plus the event around it stays under that.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
# Margin left of the Lambda's remaining time when a bulk request stops starting items.
_BULK_MARGIN_S = 3.0

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[TrackerActions, Depends(container.tracker_actions)]
Reader = Annotated[SyncedIssues, Depends(container.synced_issues)]
ConnectionId = Annotated[
    str, Path(max_length=64, description="a connection id, e.g. conn_abcdefghijklmnopqrst")
]
IssueKey = Annotated[
    str,
    Path(
        max_length=255,
        description="the tracker's key: OPS-12 (Jira); 12 or #12 (GitHub, GitLab), where the # must be "
        "percent-encoded in a URL path (/issues/%2312; a bare # would start the URL's fragment)",
    ),
]


class Providers(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use, as action_models' models are

    items: list[dict[str, Any]]
    next_cursor: str | None = None


class Transitions(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[TransitionView]
    next_cursor: str | None = None


def multipart_problem(content_type: str, body: bytes) -> str | None:
    """Why Powertools' multipart parser would fail on this body (it raises a bare ValueError), or None.

    Mirrors its reading: a ``boundary=`` parameter, and part headers in UTF-8.
    """
    boundary = next(
        (
            p.strip()[len("boundary=") :].strip('"')
            for p in content_type.split(";")
            if p.strip().startswith("boundary=")
        ),
        "",
    )
    if not boundary:
        return "multipart/form-data needs a boundary parameter"
    for part in body.split(f"--{boundary}".encode()):
        head, separator, _ = part.strip(b"\r\n").partition(b"\r\n\r\n")
        if separator:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError:
                return "the headers of a multipart part are not UTF-8"
    return None


@router.get(
    "/v1/providers",
    summary="Supported trackers and what each can do",
    description="Per tracker: its `provider` name, capabilities (attachments, transitions, repo-wide "
    "comments, conditional requests: only what trackbridge does end to end, each true or false), the keys "
    "of a connection's scope and credentials, its default base URL and page size. Any valid API key may "
    "read it.",
    operation_id="listProviders",
    tags=["providers"],
    responses={
        200: {
            "description": "the supported trackers",
            "content": {"application/json": {"model": ProviderList}},
        }
    },
)
def list_providers(caller: Caller) -> Providers:
    # The registry imports every adapter (and the ADF converter with markdown-it): only this route needs it.
    from trackbridge.providers.registry import describe_providers

    return Providers(items=describe_providers())


@router.post(
    "/v1/connections/<connection_id>/test",
    summary="Test a connection: authentication, scopes, reachability, webhook permission",
    description="Always 200 when the test ran: `ok` is false when a check failed, and each failed check "
    "carries a canonical code and guidance." + OUTBOUND_NOTE,
    operation_id="testConnection",
    tags=["connections"],
    openapi_extensions=requires(CONNECTIONS_WRITE),
    responses={
        200: {
            "description": "the test ran; `ok` says whether every check passed",
            "content": {"application/json": {"model": ConnectionTestReport}},
        }
    },
)
def test_connection(connection_id: ConnectionId, caller: Caller, service: Service) -> dict[str, Any]:
    caller.require(CONNECTIONS_WRITE)
    return service.test_connection(caller.tenant, connection_id).to_dict()


@router.post(
    "/v1/connections/<connection_id>/issues",
    status_code=201,
    summary="Create an issue on the tracker",
    description="Creates the issue at the tracker and answers it as trackbridge stores it (201). `body` is "
    "Markdown (sent as ADF to Jira); `assignees` are logins (GitHub), usernames (GitLab) or one account id "
    "(Jira); `fields` are tracker-native extras passed as they are.",
    operation_id="createIssue",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def create_issue(
    connection_id: ConnectionId,
    body: Annotated[IssueCreate, Body()],
    caller: Caller,
    service: Service,
    reader: Reader,
    idempotency: Idempotency,
    idempotency_key: IdempotencyKey = None,
) -> Response[IssueView]:
    caller.require(WRITE)

    def create() -> Answer:
        issue = service.create_issue(caller.tenant, connection_id, body.draft(), caller.actor)
        return Answer.of(201, reader.view(caller.tenant, issue))

    request = {"connection_id": connection_id, "body": body}
    return idempotently(idempotency, caller, "issue.create", idempotency_key, request, create)


@router.patch(
    "/v1/connections/<connection_id>/issues/<key>",
    summary="Update an issue's title, body, labels, assignees, priority or native fields",
    description="Changes only the fields given (at least one): `labels` replaces the set, `add_labels` and "
    "`remove_labels` edit it. Status changes go through `.../transitions`. Answers the updated issue.",
    operation_id="updateIssue",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def update_issue(
    connection_id: ConnectionId,
    key: IssueKey,
    body: Annotated[IssuePatch, Body()],
    caller: Caller,
    service: Service,
    reader: Reader,
) -> IssueView:
    caller.require(WRITE)
    issue = service.update_issue(caller.tenant, connection_id, key, body.changes(), caller.actor)
    return reader.view(caller.tenant, issue)


@router.post(
    "/v1/connections/<connection_id>/issues/<key>/comments",
    status_code=201,
    summary="Comment on an issue (Markdown)",
    description="Adds the comment at the tracker (Markdown; sent as ADF to Jira) and answers it (201).",
    operation_id="addComment",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def add_comment(
    connection_id: ConnectionId,
    key: IssueKey,
    body: Annotated[CommentCreate, Body()],
    caller: Caller,
    service: Service,
    idempotency: Idempotency,
    idempotency_key: IdempotencyKey = None,
) -> Response[Comment]:
    caller.require(WRITE)

    def comment() -> Answer:
        return Answer.of(201, service.add_comment(caller.tenant, connection_id, key, body.body, caller.actor))

    request = {"connection_id": connection_id, "key": key, "body": body}
    return idempotently(idempotency, caller, "issue.comment", idempotency_key, request, comment)


@router.get(
    "/v1/connections/<connection_id>/issues/<key>/transitions",
    summary="The moves an issue can make now",
    description="The transitions the tracker offers for the issue in its current status (Jira's workflow; "
    "open and close on GitHub and GitLab), each with the status and status category it leads to."
    + OUTBOUND_NOTE,
    operation_id="listTransitions",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def list_transitions(
    connection_id: ConnectionId, key: IssueKey, caller: Caller, service: Service
) -> Transitions:
    caller.require(WRITE)
    moves = service.list_transitions(caller.tenant, connection_id, key)
    return Transitions(items=[TransitionView.of(t) for t in moves])


@router.post(
    "/v1/connections/<connection_id>/issues/<key>/transitions",
    summary="Move an issue to a status or a status category",
    description='`{"to": "In Review"}` (a status or transition name or id) or `{"status_category": '
    '"todo|in_progress|done"}`; `reason` (`completed`, `not_planned`, `duplicate`) is GitHub\'s close '
    "reason. GitHub and GitLab issues are only open or closed: `in_progress` is a 422 there.",
    operation_id="transitionIssue",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def transition_issue(
    connection_id: ConnectionId,
    key: IssueKey,
    body: Annotated[TransitionRequest, Body()],
    caller: Caller,
    service: Service,
    reader: Reader,
) -> IssueView:
    caller.require(WRITE)
    issue = service.transition_issue(caller.tenant, connection_id, key, body.target(), caller.actor)
    return reader.view(caller.tenant, issue)


@router.post(
    "/v1/connections/<connection_id>/issues/<key>/attachments",
    status_code=201,
    summary="Attach a file (multipart/form-data, one `file` part)",
    description=f"At most {MAX_UPLOAD_BYTES} bytes (413 beyond). A tracker without attachments (GitHub) "
    "answers 422 `UNSUPPORTED_CAPABILITY`; GitLab attaches by uploading and posting the upload as a note.",
    operation_id="attachFile",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def attach_file(
    connection_id: ConnectionId,
    key: IssueKey,
    file: Annotated[UploadFile, File(description="the file, with a file name")],
    caller: Caller,
    service: Service,
    idempotency: Idempotency,
    idempotency_key: IdempotencyKey = None,
) -> Response[AttachmentView]:
    caller.require(WRITE)
    filename = (file.filename or "").strip()
    problems = []
    if not filename:
        problems.append({"path": "body.file", "message": "the file part needs a filename", "type": "missing"})
    if not file.content:
        problems.append({"path": "body.file", "message": "the file is empty", "type": "too_short"})
    if problems:
        raise ValidationFailed("invalid upload", details={"errors": problems})
    content_type = file.content_type or "application/octet-stream"

    def attach() -> Answer:
        attachment = service.attach_file(
            caller.tenant,
            connection_id,
            key,
            filename=filename,
            content=file.content,
            content_type=content_type,
            actor=caller.actor,
        )
        view = AttachmentView(
            id=attachment.id,
            issue_key=key,
            filename=attachment.filename,
            url=attachment.url,
            size=attachment.size,
            content_type=attachment.content_type,
        )
        return Answer.of(201, view)

    digest = hashlib.sha256(file.content).hexdigest()
    request = {"connection_id": connection_id, "key": key, "file": [filename, content_type, digest]}
    return idempotently(idempotency, caller, "issue.attach", idempotency_key, request, attach)


@router.get(
    "/v1/connections/<connection_id>/search",
    summary="Search the tracker with its own query language",
    description="`q` is JQL on Jira (ANDed with the connection's scope; Jira's 400 comes back as a 400 "
    "`INVALID_JQL` with Jira's message), GitHub search qualifiers, or GitLab's `search` text. One page of "
    "at most `limit` issues, never a cursor." + OUTBOUND_NOTE,
    operation_id="searchTracker",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def search(
    connection_id: ConnectionId,
    caller: Caller,
    service: Service,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="a tracker-native query")],
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH_LIMIT)] = 50,
) -> Page[IssueView]:
    caller.require(WRITE)
    found = service.search(caller.tenant, connection_id, q, limit=limit)
    return Page[IssueView](items=[IssueView.of(i) for i in found])


def _bulk_budget_s() -> float:
    context = router.lambda_context
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return BULK_BUDGET_S
    return max(0.0, min(BULK_BUDGET_S, remaining() / 1000 - _BULK_MARGIN_S))


@router.post(
    "/v1/connections/<connection_id>/issues:bulk",
    summary=f"Create or update up to {MAX_BULK_ITEMS} issues",
    description="Always 200 once the request is valid; each item answers on its own, in order: "
    '`{"index", "status", "issue"?, "error"?}` with 201 for created, 200 for updated, else the error\'s '
    "status. `succeeded` and `failed` count them. A failed item never hides a success. Items run on a few "
    "threads (one on GitHub, whose limits punish concurrent writes); items not started before the "
    "request's time runs out answer 503 `NOT_ATTEMPTED`: nothing was sent for them, send them again.",
    operation_id="bulkIssues",
    tags=["tracker actions"],
    openapi_extensions=requires(WRITE),
)
def bulk(
    connection_id: ConnectionId,
    body: Annotated[BulkRequest, Body()],
    caller: Caller,
    service: Service,
    idempotency: Idempotency,
    idempotency_key: IdempotencyKey = None,
) -> Response[BulkResult]:
    caller.require(WRITE)

    def run() -> Answer:
        outcome = service.bulk(
            caller.tenant, connection_id, bulk_items(body.items), caller.actor, budget_s=_bulk_budget_s()
        )
        result = BulkResult.of(outcome)
        # A bulk in which nothing succeeded created nothing: not stored, so a retry runs it again.
        return Answer.of(200, result, store=result.succeeded > 0)

    request = {"connection_id": connection_id, "body": body}
    return idempotently(idempotency, caller, "issue.bulk", idempotency_key, request, run)


__all__ = ["MAX_UPLOAD_BYTES", "MULTIPART", "multipart_problem", "router"]
