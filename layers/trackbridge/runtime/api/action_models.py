"""Request and response bodies of the tracker-action routes (``runtime.api.actions``).

Each request body turns into the plain value the use case takes (``IssueCreate.draft()`` -> ``IssueDraft``,
``IssuePatch.changes()`` -> ``IssueChanges``, ``TransitionRequest.target()`` -> ``TransitionTarget``), and
:func:`bulk_items` reads a bulk request's items one by one, so a bad item is refused alone (422 with its
``body.items.<n>`` paths) while the others run.

The adapter vocabulary (``providers.types``) is imported by the methods that build it: the API's cold start
loads no provider module (issue 14, ``tests/unit/test_cold_imports.py``), and the first tracker action pays
for it, with the adapters it is about to need anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.issues import StatusCategory
from trackbridge.runtime.issues import IssueView
from trackbridge.runtime.tracker_actions import (
    MAX_BULK_ITEMS,
    BulkItem,
    BulkOutcome,
    CloseReason,
    IssueUpdate,
    TransitionTarget,
)

if TYPE_CHECKING:
    from trackbridge.providers.types import IssueChanges, IssueDraft, Transition

MAX_TITLE = 1_000
# GitHub's own cap on issue and comment bodies (characters); the other trackers accept at least as much.
MAX_BODY = 65_536
MAX_LIST = 100
MAX_SEARCH_LIMIT = 100


# ---- request bodies ---------------------------------------------------------------------------------------


# Every model here builds its validator on first use (``defer_build``): the first tracker-action request or
# the OpenAPI document, rather than the API's cold start, pays for it (issue 14).


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class IssueCreate(_Body):
    """A new issue. ``body`` is Markdown (rendered as ADF for Jira); ``assignees`` are logins (GitHub),
    usernames (GitLab) or one account id (Jira); ``fields`` are tracker-native extras sent as they are."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field("", max_length=MAX_BODY)
    labels: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    assignees: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    priority: str | None = Field(None, min_length=1, max_length=255)
    type: str | None = Field(None, min_length=1, max_length=255, description="issue type, e.g. Bug")
    fields: dict[str, Any] = Field(default_factory=dict, description="tracker-native fields")

    def draft(self) -> IssueDraft:
        from trackbridge.providers.types import IssueDraft

        return IssueDraft(
            title=self.title,
            body=self.body,
            labels=tuple(self.labels),
            assignees=tuple(self.assignees),
            priority=self.priority,
            issue_type=self.type,
            fields=dict(self.fields),
        )


class IssuePatch(_Body):
    """A partial update: absent fields stay as they are. ``labels`` replaces the set; ``add_labels`` and
    ``remove_labels`` edit it. Status changes go through ``/transitions``."""

    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE)
    body: str | None = Field(None, max_length=MAX_BODY)
    labels: list[str] | None = Field(None, max_length=MAX_LIST)
    add_labels: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    remove_labels: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    assignees: list[str] | None = Field(None, max_length=MAX_LIST)
    priority: str | None = Field(None, min_length=1, max_length=255)
    fields: dict[str, Any] = Field(default_factory=dict, description="tracker-native fields")

    @model_validator(mode="after")
    def _something(self) -> IssuePatch:
        if self.changes().empty:
            raise ValueError("nothing to change: give at least one field")
        return self

    def changes(self) -> IssueChanges:
        from trackbridge.providers.types import IssueChanges

        return IssueChanges(
            title=self.title,
            body=self.body,
            labels=tuple(self.labels) if self.labels is not None else None,
            add_labels=tuple(self.add_labels),
            remove_labels=tuple(self.remove_labels),
            assignees=tuple(self.assignees) if self.assignees is not None else None,
            priority=self.priority,
            fields=dict(self.fields),
        )


class TransitionRequest(_Body):
    """Where to move: a status (or transition) by name, or a status category. ``reason`` is GitHub's close
    reason; trackers without one ignore it."""

    to: str | None = Field(
        None, min_length=1, max_length=255, description="a status or transition name or id"
    )
    status_category: StatusCategory | None = None
    reason: CloseReason | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TransitionRequest:
        if (self.to is None) == (self.status_category is None):
            raise ValueError("give exactly one of 'to' and 'status_category'")
        return self

    def target(self) -> TransitionTarget:
        return TransitionTarget(
            to=self.to if self.to is not None else str(self.status_category), reason=self.reason
        )


class CommentCreate(_Body):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown")


class BulkRequest(_Body):
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BULK_ITEMS,
        description='each {"op": "create", ...issue fields} or {"op": "update", "key", ...changes}',
    )


class BulkCreate(IssueCreate):
    op: Literal["create"]


class BulkUpdate(IssuePatch):
    op: Literal["update"]
    key: str = Field(min_length=1, max_length=255)


def bulk_item(index: int, raw: Any) -> BulkItem:
    """One bulk item read: a draft, an update, or the ``ValidationFailed`` that answers it (422)."""
    try:
        op = raw.get("op") if isinstance(raw, Mapping) else None
        if op == "update":
            update = BulkUpdate.model_validate(raw)
            return IssueUpdate(update.key, update.changes())
        return BulkCreate.model_validate(raw).draft()
    except ValidationError as exc:
        errors = [
            {"path": ".".join(str(p) for p in ("body", "items", index, *e["loc"])), "message": e["msg"]}
            for e in exc.errors()
        ]
        return ValidationFailed("invalid item", details={"errors": errors})


def bulk_items(raw: Sequence[Any]) -> list[BulkItem]:
    return [bulk_item(index, item) for index, item in enumerate(raw)]


# ---- answers -----------------------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(defer_build=True)


class TransitionView(_Answer):
    id: str
    name: str
    to_status: str
    to_category: str

    @classmethod
    def of(cls, t: Transition) -> TransitionView:
        return cls(id=t.id, name=t.name, to_status=t.to_status, to_category=t.to_category)


class AttachmentView(_Answer):
    id: str
    issue_key: str
    filename: str
    url: str | None = None
    size: int | None = None
    content_type: str | None = None


class BulkItemResult(_Answer):
    index: int
    status: int = Field(description="201 created, 200 updated, else the error's HTTP status")
    issue: IssueView | None = None
    error: dict[str, Any] | None = None


class BulkResult(_Answer):
    items: list[BulkItemResult]
    succeeded: int
    failed: int

    @classmethod
    def of(cls, outcome: BulkOutcome) -> BulkResult:
        items = [
            BulkItemResult(
                index=r.index,
                status=r.status,
                issue=IssueView.of(r.issue) if r.issue is not None else None,
                error=r.error,
            )
            for r in outcome.items
        ]
        return cls(items=items, succeeded=outcome.succeeded, failed=outcome.failed)


__all__ = [
    "MAX_BODY",
    "MAX_LIST",
    "MAX_SEARCH_LIMIT",
    "MAX_TITLE",
    "AttachmentView",
    "BulkCreate",
    "BulkItemResult",
    "BulkRequest",
    "BulkResult",
    "BulkUpdate",
    "CommentCreate",
    "IssueCreate",
    "IssuePatch",
    "TransitionRequest",
    "TransitionView",
    "bulk_item",
    "bulk_items",
]
