"""The link registry: ``POST /v1/links``, ``GET /v1/links?object=|issue=``, ``DELETE /v1/links/{id}``,
``POST /v1/links/{id}/refresh`` and the object view ``GET /v1/objects/{kind}/{database}/{schema}/{name}``.

Scopes: creating and deleting links need ``links:write``; listing, the object view and refreshing need
``links:read`` (a refresh changes no link: it pulls the linked issues as a sync would, like ``?refresh=true``
on the object view, which is a read). Another tenant's link, issue or connection is the same 404 as an
unknown one. Object keys and their URL form are described in ``trackbridge.domain.links``.

API callers create ``manual`` links only: ``auto_created`` and ``auto_detected`` say that trackbridge itself
opened the issue or found its key, and a client claiming so would make the two indistinguishable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import is_issue_ref
from trackbridge.domain.links import KEY_FORMAT_HINT, ObjectRef
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.links import LinkService, LinkView, ObjectLinkEntry, ObjectView

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

READ, WRITE = "links:read", "links:write"
MAX_REF_LENGTH: Final = 160
MAX_OBJECT_KEY_LENGTH: Final = 1100


def link_service() -> LinkService:
    """The container's link service (tests override this dependency by name)."""
    return container.link_service()


router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[LinkService, Depends(link_service)]
LinkId = Annotated[str, Path(max_length=64, description="a link id, e.g. link_b6fj4nr2v6zd4hlq7w3m")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
]

_OBJECT_EXAMPLE: Final = {"kind": "table", "database": "analytics", "schema": "public", "name": "orders"}
_LINK_EXAMPLE: Final = {
    "id": "link_b6fj4nr2v6zd4hlq7w3m",
    "object": _OBJECT_EXAMPLE,
    "issue_ref": "conn_k7mq4xw2p5rtz3nb6hcd.3051224",
    "type": "manual",
    "created_by": "api_key:k3ydf7hj2ln6pr4abc5e",
    "created_at": "2026-03-04T16:40:22Z",
}
_ENTRY_EXAMPLE: Final = {
    "id": "link_b6fj4nr2v6zd4hlq7w3m",
    "issue_ref": "conn_k7mq4xw2p5rtz3nb6hcd.3051224",
    "type": "manual",
    "created_by": "api_key:k3ydf7hj2ln6pr4abc5e",
    "created_at": "2026-03-04T16:40:22Z",
    "state": "active",
    "key": "#12",
    "title": "Checkout fails when the cart is empty",
    "status": "open",
    "status_category": "todo",
    "assignees": ["octocat"],
    "priority": None,
    "url": "https://github.com/acme/web/issues/12",
    "issue_updated_at": "2026-03-04T16:40:22Z",
    "deleted_at": None,
    "refreshed_at": "2026-03-05T08:00:00Z",
    "refresh": {"outcome": "unchanged", "error": None},
}
_CURSOR_EXAMPLE: Final = "AWq3J0x9mS2fV8tYc1pQeR4nK7uZbHd6LwGiTo5aNjXy0Ms3EvBr8CkUh2Pz"
EXAMPLES: Final[dict[str, Any]] = {
    "LinkCreate": {"object": _OBJECT_EXAMPLE, "issue_ref": "conn_k7mq4xw2p5rtz3nb6hcd.3051224"},
    "LinkCreated": _LINK_EXAMPLE,
    "LinkPage": {"items": [{**_LINK_EXAMPLE, "state": "active"}], "next_cursor": _CURSOR_EXAMPLE},
    "ObjectLinks": {
        "object": _OBJECT_EXAMPLE,
        "key": "table:analytics/public/orders",
        "items": [_ENTRY_EXAMPLE],
        "next_cursor": None,
    },
    "LinkEntry": _ENTRY_EXAMPLE,
}


class LinkCreate(BaseModel):
    """``POST /v1/links``: link an object to an issue."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLES["LinkCreate"]]})

    object: ObjectRef
    issue_ref: str = Field(
        min_length=1,
        max_length=MAX_REF_LENGTH,
        description="{connection_id}.{native_id}, as GET /v1/issues gives it; an issue not synced yet is "
        "fetched from the tracker",
    )
    type: Literal["manual"] = Field(
        "manual", description="manual only: auto_created and auto_detected links are made by trackbridge"
    )

    @field_validator("issue_ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        if not is_issue_ref(value):
            raise ValueError("an issue ref looks like {connection_id}.{native_id}")
        return value


# The answers, as their own schemas with their examples (``runtime.api.examples`` holds the others').
class LinkCreated(LinkView):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLES["LinkCreated"]]})


class LinkPage(BaseModel):
    """A page of links (``{"items", "next_cursor"}``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLES["LinkPage"]]})

    items: list[LinkView]
    next_cursor: str | None = None


class ObjectLinks(ObjectView):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLES["ObjectLinks"]]})


class LinkEntry(ObjectLinkEntry):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLES["LinkEntry"]]})


def _error(description: str) -> OpenAPIResponse:
    """An error answer of a route's own, in the API's error shape (``runtime.api.openapi``'s schema)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _principal_label(caller: Principal) -> str:
    return f"api_key:{caller.key_id}" if caller.key_id else "api"


def _query_error(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"invalid request: {path}: {message}",
        details={"errors": [{"path": path, "message": message, "type": "value_error"}]},
    )


def _parse_object(text: str) -> ObjectRef:
    try:
        return ObjectRef.parse_key(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid"))
        raise _query_error("query.object", f"{where}: {message}" if where else message) from None
    except ValueError:
        raise _query_error("query.object", KEY_FORMAT_HINT) from None


def _path_object(kind: str, database: str, schema: str, name: str) -> ObjectRef:
    try:
        return ObjectRef.from_path(kind, database, schema, name)
    except ValidationError as exc:
        errors = [
            {
                "path": ".".join(("path", *(str(p) for p in e.get("loc", ())))) if e.get("loc") else "path",
                "message": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:3])
        raise ValidationFailed(f"invalid request: {summary}", details={"errors": errors}) from None


@router.post(
    "/v1/links",
    status_code=201,
    summary="Link an object to an issue",
    description="Links an internal object (a table, view, alarm, test case, ...: `kind`, `database`, "
    "`schema`, `name`) to an issue by its ref. An issue not synced yet is fetched from its tracker and "
    "stored; one the tracker does not have is a 422 naming it. The same pair is linked once: a second "
    "link is a 409 whose `details.link_id` names the existing one. Kinds: table, schema, view, procedure, "
    "function, index, alarm, test_case, design, service, repository, or custom:<name>.",
    operation_id="createLink",
    tags=["links"],
    openapi_extensions=requires(WRITE),
    responses={
        201: {"description": "the link", "content": {"application/json": {"model": LinkCreated}}},
        404: _error("The issue ref names no connection of the tenant."),
        502: _error("Fetching the issue not synced yet: the tracker refused the connection's credentials."),
        504: _error("Fetching the issue not synced yet: the tracker did not answer in time."),
    },
)
def create_link(caller: Caller, service: Service, body: Annotated[LinkCreate, Body()]) -> Response[str]:
    caller.require(WRITE)
    link = service.create(
        caller.tenant, body.object, body.issue_ref, actor=caller.actor, created_by=_principal_label(caller)
    )
    answer = LinkCreated(**link.model_dump(), state="active")
    return Response(
        status_code=201, content_type=content_types.APPLICATION_JSON, body=answer.model_dump_json()
    )


@router.get(
    "/v1/links",
    summary="The links of an object, or of an issue",
    description="Exactly one of `object` (its key, kind:database/schema/name, e.g. "
    "`table:analytics/public/orders`; empty parts stay empty, `alarm://HighCPU`) or `issue` (an issue "
    "ref). Each link says whether its issue still exists (`state`). Reads what trackbridge stored.",
    operation_id="listLinks",
    tags=["links"],
    openapi_extensions=requires(READ),
)
def list_links(
    caller: Caller,
    service: Service,
    object_key: Annotated[
        str | None,
        Query(alias="object", max_length=MAX_OBJECT_KEY_LENGTH, description="an object key"),
    ] = None,
    issue: Annotated[str | None, Query(max_length=MAX_REF_LENGTH, description="an issue ref")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> LinkPage:
    caller.require(READ)
    if (object_key is None) == (issue is None):
        raise ValidationFailed(
            "invalid request: give exactly one of object and issue",
            details={
                "errors": [
                    {"path": "query", "message": "exactly one of object, issue", "type": "value_error"}
                ]
            },
        )
    if object_key is not None:
        page = service.list_for_object(caller.tenant, _parse_object(object_key), limit=limit, cursor=cursor)
    else:
        page = service.list_for_issue(caller.tenant, str(issue), limit=limit, cursor=cursor)
    return LinkPage(items=page.items, next_cursor=page.next_cursor)


@router.delete(
    "/v1/links/<link_id>",
    summary="Remove a link",
    description="Removes the link from both sides at once. Another tenant's link and an unknown id are "
    "the same 404.",
    operation_id="deleteLink",
    tags=["links"],
    openapi_extensions=requires(WRITE),
    responses={204: {"description": "removed"}},
)
def delete_link(link_id: LinkId, caller: Caller, service: Service) -> Response[None]:
    caller.require(WRITE)
    service.delete(caller.tenant, link_id, actor=caller.actor)
    return Response(status_code=204, body=None)


@router.post(
    "/v1/links/<link_id>/refresh",
    summary="Pull a link's issue from its tracker now",
    description="One request to the tracker for the linked issue; the synced copy is updated (or marked "
    "deleted when the tracker no longer has it) and the link answers as the object view shows it, with "
    "`refresh` saying what happened. A tracker failure is reported in `refresh.error`, not as the status.",
    operation_id="refreshLink",
    tags=["links"],
    openapi_extensions=requires(READ),
    responses={200: {"description": "the link", "content": {"application/json": {"model": LinkEntry}}}},
)
def refresh_link(link_id: LinkId, caller: Caller, service: Service) -> Response[str]:
    caller.require(READ)
    entry = LinkEntry(**service.refresh_link(caller.tenant, link_id).model_dump())
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=entry.model_dump_json()
    )


@router.get(
    "/v1/objects/<kind>/<database>/<schema>/<name>",
    summary="An object's links with the live state of each issue",
    description="Each link of the object with its issue's status, status category, assignees, priority and "
    "url from the synced copy, when the tracker last changed it (`issue_updated_at`) and when a refresh "
    "last pulled it (`refreshed_at`). An issue deleted at the tracker shows as `issue_deleted`. "
    "`refresh=true` first pulls the page's issues from their trackers (one request each). Write an empty "
    "database or schema as `-`: `/v1/objects/alarm/-/-/HighCPU`; percent-encode other characters as in "
    "any URL path.",
    operation_id="getObjectLinks",
    tags=["links"],
    openapi_extensions=requires(READ),
    responses={
        200: {"description": "the object's links", "content": {"application/json": {"model": ObjectLinks}}}
    },
)
def object_view(
    kind: Annotated[str, Path(max_length=40, description="table, view, ..., or custom:<name>")],
    database: Annotated[str, Path(max_length=255, description="the database, or - when none")],
    schema: Annotated[str, Path(max_length=255, description="the schema, or - when none")],
    name: Annotated[str, Path(max_length=255, description="the object's name")],
    caller: Caller,
    service: Service,
    refresh: Annotated[bool, Query(description="pull the page's issues from their trackers first")] = False,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response[str]:
    caller.require(READ)
    obj = _path_object(kind, database, schema, name)
    view = service.object_view(caller.tenant, obj, refresh=refresh, limit=limit, cursor=cursor)
    body = ObjectLinks(**view.model_dump()).model_dump_json()
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


__all__ = ["EXAMPLES", "READ", "WRITE", "LinkCreate", "link_service", "router"]
