"""Links from development activity: ``POST /v1/connections/{id}/scan-links`` and
``GET /v1/connections/{id}/unresolved-refs``.

A scan reads the connection's repository (its commits and pull/merge requests since ``since``) and links
the synced issues they name (``auto_detected``; ``runtime.link_detection`` says how keys resolve and how a
commit or request is named as an object). Scopes: as the connection's other writes, ``connections:write``
for a scan (it makes links and spends tracker requests) and ``connections:read`` for the unresolved keys.
Another tenant's connection is a 404; a Jira connection (no repository) a 422 ``UNSUPPORTED_CAPABILITY``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.link_detection import DetectionResult
from trackbridge.storage.links import UnresolvedRef

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from trackbridge.runtime.link_detection import LinkDetector

READ, WRITE = "connections:read", "connections:write"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
if TYPE_CHECKING:
    Detector = Annotated[LinkDetector, Depends(container.link_detector)]
else:
    Detector = Annotated[Any, Depends(container.link_detector)]
ConnectionId = Annotated[str, Path(description="a connection id, e.g. conn_abcdefghijklmnopqrst")]

_RESULT_EXAMPLE: Final[dict[str, Any]] = {
    "commits": 42,
    "pull_requests": 7,
    "links_created": 9,
    "links_existing": 3,
    "unresolved": 2,
    "closing": 4,
    "requests": 2,
    "truncated": False,
}
_UNRESOLVED_EXAMPLE: Final[dict[str, Any]] = {
    "connection_id": "conn_k7mq4xw2p5rtz3nb6hcd",
    "ref": "#530",
    "object": {"kind": "repository", "database": "acme:widgets", "schema": "commit", "name": "3f2a" * 10},
    "closes": False,
    "url": "https://github.com/acme/widgets/commit/" + "3f2a" * 10,
    "seen_at": "2026-03-04T16:40:22Z",
}


class ScanLinks(BaseModel):
    """``POST /v1/connections/{id}/scan-links``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"since": "2026-03-01T00:00:00Z"}]}
    )

    since: AwareDatetime | None = Field(
        None,
        description="read commits and pull/merge requests changed at or after this time (ISO 8601 with a "
        "zone; default: 30 days ago; not in the future)",
    )


class ScanResult(DetectionResult):
    model_config = ConfigDict(json_schema_extra={"examples": [_RESULT_EXAMPLE]})


class UnresolvedPage(BaseModel):
    """A page of unresolved references (``{"items", "next_cursor"}``)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_UNRESOLVED_EXAMPLE], "next_cursor": None}]}
    )

    items: list[UnresolvedRef]
    next_cursor: str | None = None


def _error(description: str) -> OpenAPIResponse:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


@router.post(
    "/v1/connections/<connection_id>/scan-links",
    summary="Link the issues named by the repository's recent commits and pull requests",
    description="Reads the connection's commits and pull requests (GitHub) or merge requests (GitLab) "
    "changed since `since` and links each synced issue they name (`#12`, `owner/repo#12`, a Jira key "
    "such as `ACME-12` of one of the tenant's Jira connections, closing keywords, branch names) as an "
    "`auto_detected` link of the commit or request (`repository:acme:widgets/commit/<sha>`). A key naming "
    "no synced issue is recorded as unresolved, not linked. Scanning again links nothing twice. "
    "`requests` counts the tracker requests made. A Jira connection has no repository: 422.",
    operation_id="scanLinks",
    tags=["links"],
    openapi_extensions=requires(WRITE),
    responses={
        200: {"description": "what the scan found", "content": {"application/json": {"model": ScanResult}}},
        422: _error("invalid body, or the connection's tracker has no repository (UNSUPPORTED_CAPABILITY)"),
        502: _error("the tracker refused the connection's credentials"),
        504: _error("the tracker did not answer in time"),
    },
)
def scan_links(
    connection_id: ConnectionId,
    caller: Caller,
    detector: Detector,
    body: Annotated[ScanLinks | None, Body()] = None,
) -> ScanResult:
    caller.require(WRITE)
    since = body.since if body is not None else None
    result = detector.scan(caller.tenant, connection_id, since, actor=caller.actor)
    return ScanResult(**result.model_dump())


@router.get(
    "/v1/connections/<connection_id>/unresolved-refs",
    summary="Issue keys found in the repository that name no synced issue",
    description="What link detection (scans and push / pull request webhooks) found and could not link: "
    "each key with the commit or request naming it. A key links once its issue is synced and the commit "
    "or request is seen again.",
    operation_id="listUnresolvedRefs",
    tags=["links"],
    openapi_extensions=requires(READ),
)
def list_unresolved(
    connection_id: ConnectionId,
    caller: Caller,
    detector: Detector,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the last page")
    ] = None,
) -> UnresolvedPage:
    caller.require(READ)
    page = detector.unresolved(caller.tenant, connection_id, limit=limit, cursor=cursor)
    return UnresolvedPage(items=page.items, next_cursor=page.next_cursor)


__all__ = ["READ", "WRITE", "ScanLinks", "router"]
