"""Synced tracker data, normalized across providers: issues, comments, worklogs, sprints, users.

Status is normalized by category, never by name (a Jira workflow may call "done" anything): ``todo``,
``in_progress`` or ``done``, by the vocabulary each tracker declares (:mod:`trackbridge.domain.trackers`).
``content_hash`` covers the normalized fields a person can see, so a re-seen item whose hash is unchanged
costs no write (DESIGN section 5). ``deleted_at`` marks a tombstone: it wins
over older updates only (DESIGN section 10).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.connections import Provider
from trackbridge.domain.ids import parse_issue_ref
from trackbridge.domain.times import UtcDatetime
from trackbridge.domain.trackers import TRACKERS, StatusCategory

STATUS_CATEGORIES: Final[tuple[str, ...]] = ("todo", "in_progress", "done")

# Every tracker's vocabulary in one table, for callers that do not say which tracker a state is from. Trackers
# that share a raw value ("closed") agree on its category (tests/unit/domain/test_trackers.py).
_CATEGORY_BY_RAW: Final[Mapping[str, StatusCategory]] = MappingProxyType(
    {raw: category for spec in TRACKERS.values() for raw, category in spec.status_categories.items()}
)


def status_category_of(raw: str, provider: str | None = None) -> StatusCategory:
    """The category of a tracker's raw state (a Jira ``statusCategory.key``, a GitHub/GitLab ``state``), by
    ``provider``'s vocabulary, or by every tracker's when ``provider`` is not given; unknown means todo."""
    if provider is not None and provider in TRACKERS:
        return TRACKERS[provider].status_category(raw)
    return _CATEGORY_BY_RAW.get(raw.strip().lower(), "todo")


def content_hash(fields: Mapping[str, Any]) -> str:
    """sha256 over canonical JSON: key order and whitespace never change the hash."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _Synced(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Fields left out of the content hash: identity and bookkeeping, not content.
    unhashed_fields: ClassVar[frozenset[str]] = frozenset(
        {"content_hash", "ref", "external_id", "connection_id", "provider"}
    )

    def compute_hash(self) -> str:
        return content_hash(self.model_dump(mode="json", exclude=set(self.unhashed_fields)))

    def with_hash(self) -> Self:
        return self.model_copy(update={"content_hash": self.compute_hash()})


class Issue(_Synced):
    ref: str = Field(description="{connection_id}.{native_id}")
    external_id: str = Field(description="{provider}:{base_url_or_repo_url}:{issue_id}")
    connection_id: str
    provider: Provider
    key: str = Field(description="what people call it: #12 on GitHub/GitLab, OPS-12 on Jira")
    title: str
    body: str = ""
    status: str
    status_category: StatusCategory
    assignees: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    priority: str | None = None
    url: str | None = None
    # Hierarchy and dependencies (GitHub issue types, sub-issues and blocked-by; GitLab issue types; Jira
    # issue types). Refs name issues of the same connection ({connection_id}.{number}); an issue of another
    # repository of the same owner (GitHub allows it) is named "owner/repo#number". Part of the content
    # hash, so a change of type, parent, children or blockers alone is written.
    issue_type: str | None = Field(default=None, description="Bug, Feature, Task, issue, incident...")
    parent_ref: str | None = None
    sub_issue_refs: list[str] = Field(default_factory=list)
    blocked_by_refs: list[str] = Field(default_factory=list)
    # The tracker's ids of the sprints the issue is in (Jira's sprint field: every sprint it was carried
    # through, closed ones included), read with the issue itself, never with a request of its own.
    sprint_ids: list[str] = Field(default_factory=list, description="ids of the sprints the issue is in")
    created_at: UtcDatetime
    updated_at: UtcDatetime
    deleted_at: UtcDatetime | None = None
    content_hash: str = ""

    @property
    def native_id(self) -> str:
        parsed = parse_issue_ref(self.ref)
        return parsed[1] if parsed else ""

    # Hashed only when set: an issue without a type or relations keeps the hash it had before these fields
    # existed, so an upgrade does not rewrite every stored issue.
    hashed_when_set: ClassVar[tuple[str, ...]] = (
        "issue_type",
        "parent_ref",
        "sub_issue_refs",
        "blocked_by_refs",
        "sprint_ids",
    )

    def compute_hash(self) -> str:
        fields = self.model_dump(mode="json", exclude=set(self.unhashed_fields))
        for name in self.hashed_when_set:
            if not fields[name]:
                del fields[name]
        return content_hash(fields)


# Security advisories synced as issues (GitHub's repository advisories) carry external ids of their own shape,
# ``{provider}:{locator}/security-advisories:{advisory id}``: never an issue's, and what tells them apart.
ADVISORY_LOCATOR_SUFFIX: Final = "/security-advisories"


def is_advisory(issue: Issue) -> bool:
    """Whether ``issue`` is a security advisory stored as an issue (not in the tracker's issue listing)."""
    return f"{ADVISORY_LOCATOR_SUFFIX}:" in issue.external_id


class Comment(_Synced):
    id: str
    issue_ref: str
    connection_id: str
    author: str | None = None
    body: str = ""
    created_at: UtcDatetime
    updated_at: UtcDatetime
    deleted_at: UtcDatetime | None = None
    content_hash: str = ""

    unhashed_fields: ClassVar[frozenset[str]] = frozenset({"content_hash", "issue_ref", "connection_id"})


class Worklog(_Synced):
    id: str
    issue_ref: str
    connection_id: str
    author: str | None = None
    time_spent_s: int = Field(ge=0)
    started_at: UtcDatetime
    comment: str = ""
    created_at: UtcDatetime
    updated_at: UtcDatetime
    deleted_at: UtcDatetime | None = None
    content_hash: str = ""

    unhashed_fields: ClassVar[frozenset[str]] = frozenset({"content_hash", "issue_ref", "connection_id"})


# The update time of a catalogued item no sync has stamped yet (older than any the sync stamps).
NOT_SEEN: Final = datetime(1970, 1, 1, tzinfo=UTC)


class _Catalogued(_Synced):
    """A connection's sprints and users: listed whole on every pass, changes found by content hash alone.

    Their trackers give them no update time (Jira's sprints have dates, not a ``updated``; an assignee
    listing has none at all), so ``updated_at`` is not the tracker's: it is when trackbridge first saw the
    current content, stamped by the sync (``runtime.sync.catalog_syncers``) and left out of the hash. An
    unchanged item keeps its stored ``updated_at`` and hash, so the writer's usual decision skips it; a
    changed one gets the pass's time, newer than what is stored, so the conditional put lets it in.
    """

    unhashed_fields: ClassVar[frozenset[str]] = frozenset({"content_hash", "connection_id", "updated_at"})

    updated_at: UtcDatetime = Field(
        NOT_SEEN, description="when trackbridge first saw this content (not the tracker's time)"
    )
    content_hash: str = ""


class Sprint(_Catalogued):
    id: str
    connection_id: str
    name: str
    state: Literal["future", "active", "closed"]
    board_id: str | None = None
    goal: str | None = None
    start_at: UtcDatetime | None = None
    end_at: UtcDatetime | None = None
    complete_at: UtcDatetime | None = None
    deleted_at: UtcDatetime | None = None


class User(_Catalogued):
    id: str = Field(description="the tracker's account id: GitHub/GitLab numeric id, Jira accountId")
    connection_id: str
    login: str | None = None
    display_name: str | None = None
    email: str | None = None
    active: bool = True


TransitionField = Literal["status", "assignee"]


class Transition(BaseModel):
    """One change of an issue's status or assignee, as its tracker's complete changelog tells it (Jira: one
    item of a history entry). Kept per issue so "time in status" is a query over stored rows, not a request.

    ``id`` is ``{history id}:{field}`` (a history entry changes a field at most once); ``*_value`` is what
    the tracker names the value by (status id, account id), ``*_name`` what people read (status name,
    display name).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    issue_ref: str
    connection_id: str
    field: TransitionField
    from_value: str | None = None
    from_name: str | None = None
    to_value: str | None = None
    to_name: str | None = None
    author: str | None = None
    at: UtcDatetime


def time_in_status(
    transitions: Sequence[Transition], *, created_at: datetime, now: datetime, current: str | None = None
) -> dict[str, float]:
    """Seconds an issue spent in each status (by name), from its creation to ``now``.

    The status it was created in is the first status transition's ``from_name`` (``current`` when it never
    moved); each interval ends at the next transition. Assignee transitions are ignored; transitions out of
    order (equal times) are taken by (time, id), and time never runs backwards: a transition dated before
    the previous one ends a zero-length interval.
    """
    moves = sorted((t for t in transitions if t.field == "status"), key=lambda t: (t.at, t.id))
    status = moves[0].from_name if moves else current
    spent: dict[str, float] = {}
    since = created_at
    for move in [*moves, None]:
        until = now if move is None else max(move.at, since)
        if status is not None:
            spent[status] = spent.get(status, 0.0) + max(0.0, (until - since).total_seconds())
        if move is not None:
            status, since = move.to_name, until
    return spent


_Deletable = TypeVar("_Deletable", Issue, Comment, Worklog, Sprint)


def tombstone(item: _Deletable, deleted_at: datetime) -> _Deletable:
    """``item`` deleted at ``deleted_at``: the deletion time is the tombstone's update time, so it wins over
    older updates only (DESIGN section 10); an update stored after it keeps its own time."""
    return item.model_copy(
        update={
            "deleted_at": deleted_at,
            "updated_at": max(deleted_at, item.updated_at or deleted_at),
            "content_hash": "",
        }
    ).with_hash()


__all__ = [
    "ADVISORY_LOCATOR_SUFFIX",
    "NOT_SEEN",
    "STATUS_CATEGORIES",
    "Comment",
    "Issue",
    "Sprint",
    "StatusCategory",
    "Transition",
    "TransitionField",
    "User",
    "Worklog",
    "content_hash",
    "is_advisory",
    "status_category_of",
    "time_in_status",
    "tombstone",
]
