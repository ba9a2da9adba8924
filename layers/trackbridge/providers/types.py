"""Plain value objects that cross the adapter boundary: configuration in, pages and reports out.

Synced data itself is the domain's (:mod:`trackbridge.domain.issues`: Issue, Comment, Worklog, Sprint,
User); what lives here is adapter vocabulary: what a tracker can do (:class:`Capabilities`), where it is
(:class:`TrackerConfig`), what one page of a listing returned (:class:`Page`), how a connection test went
(:class:`ConnectionReport`), the inputs of write operations (:class:`IssueDraft`, :class:`IssueChanges`), and
what a webhook delivery says (:class:`WebhookDelivery`: a ping, ignored, or :class:`WebhookChange` s).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

from trackbridge.domain.connections import Connection
from trackbridge.domain.dev_refs import DevActivity
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.issues import Comment, Issue
from trackbridge.providers.pagination import PageCursor

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a tracker supports and its adapter can do; checked before an operation runs (``require``).

    Two different claims live here. Each field says *the tracker supports it* (and the adapter has the
    operation: ``list_worklogs``, ``register_webhook``...). :data:`IMPLEMENTED` names the capabilities
    *trackbridge implements end to end*: an API route or the sync engine uses them. ``GET /v1/providers``
    serves :meth:`advertised`, which lists only those, so a client never reads a capability the product
    cannot deliver. Wiring a capability into a route or a syncer is what adds it to :data:`IMPLEMENTED`
    (``tests/unit/providers/test_advertised_capabilities.py`` maps each one to its route or sync entity).
    """

    # capability -> what uses it. Not yet (adapter only): worklogs (no syncer, no route),
    # webhook_registration (no route registers a webhook), security_advisories (nothing reads them).
    IMPLEMENTED: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "attachments": "POST /v1/connections/{connection_id}/issues/{key}/attachments",
            "transitions": "GET and POST /v1/connections/{connection_id}/issues/{key}/transitions",
            "repo_wide_comments": "sync: comments come from one scope-wide listing, not per issue",
            "conditional_requests": "sync: listing pages are revalidated with their ETags",
            "dev_activity": "POST /v1/connections/{connection_id}/scan-links",
            "sprints": "sync: the sprints entity (boards' sprints, listed whole); GET /v1/sprints",
            "users": "sync: the users entity (the scope's people, listed whole); GET /v1/users",
            "repository_activity": "sync: the activity entity; GET /v1/repositories/{connection_id}/activity",
            "worklog_feed": "sync: the worklogs entity (/worklog/updated + /worklog/list, /worklog/deleted)",
            "changelog_bulkfetch": "sync: the changelogs entity (POST /changelog/bulkfetch, 1,000 issues)",
        }
    )

    attachments: bool = False
    worklogs: bool = False
    sprints: bool = False
    transitions: bool = False
    repo_wide_comments: bool = False
    conditional_requests: bool = False
    webhook_registration: bool = False
    security_advisories: bool = False
    # Commits and pull/merge requests of the repository (link detection); a repository host has them.
    dev_activity: bool = False
    # The people of the scope as accounts (``list_users``: assignees, members, assignable users).
    users: bool = False
    # Commits, pull/merge requests, releases and languages of the repository as records (``iter_repo_*``,
    # ``repo_languages``): what a summary of its activity needs. Jira has no repository.
    repository_activity: bool = False
    # A site-wide worklog change feed (ids changed or deleted since a time, then their content 1,000 a call):
    # incremental worklog syncs without a request per issue (Jira's ``/worklog/updated``).
    worklog_feed: bool = False
    # Complete issue histories for up to 1,000 issues a call (Jira's ``POST /changelog/bulkfetch``): the
    # changelogs entity, stored as status and assignee transitions.
    changelog_bulkfetch: bool = False

    def as_dict(self) -> dict[str, bool]:
        """Every declared capability: what the tracker supports, used or not."""
        return asdict(self)

    def advertised(self) -> dict[str, bool]:
        """What ``GET /v1/providers`` shows: the :data:`IMPLEMENTED` capabilities, each true or false."""
        return {name: bool(getattr(self, name)) for name in self.IMPLEMENTED}

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Where an adapter works: a projection of the domain ``Connection`` without anything secret.

    ``scope`` is the connection's scope (``{"repo": "o/r"}``, ``{"project": "group/p"}``, ``{"jql": ...}``);
    ``options`` holds provider-specific settings that are not part of the public connection shape.
    """

    base_url: str
    scope: Mapping[str, str]
    connection_id: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every normalized item carries a ref built from this id; a bad one would fail every item later.
        if not is_id(IdPrefix.CONNECTION, self.connection_id):
            raise ValidationFailed(
                "connection_id must be a connection id (conn_...)",
                details={"connection_id": self.connection_id},
            )
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValidationFailed("base_url must be an http(s) URL", details={"base_url": self.base_url})

    @classmethod
    def from_connection(cls, connection: Connection, **options: Any) -> TrackerConfig:
        return cls(
            base_url=connection.base_url,
            scope=connection.scope.model_dump(),
            connection_id=connection.id,
            options=options,
        )

    def scope_value(self, key: str) -> str:
        value = self.scope.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValidationFailed(
                f"this connection's scope needs {key!r}",
                details={"scope": dict(self.scope), "required": key},
            )
        return value.strip()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, normalized.

    ``raw_count`` is what the tracker returned and ``skipped`` what was dropped (GitHub pull requests in
    issue lists, GitLab system notes), so ``len(items) + skipped == raw_count``. ``next_cursor`` is None on
    the last page; store it to resume. ``not_modified`` means a 304: what the caller stored from this page is
    still current, and ``items`` is empty for that reason, not because the page is.
    """

    items: tuple[T, ...]
    raw_count: int
    next_cursor: PageCursor | None
    not_modified: bool = False
    skipped: int = 0


IssuePage = Page[Issue]
CommentPage = Page[Comment]


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """One line of a connection test: what was checked, whether it passed, and what to do if not."""

    name: str
    ok: bool
    message: str
    guidance: str | None = None
    code: ErrorCode | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "message": self.message,
            "guidance": self.guidance,
            "code": str(self.code) if self.code else None,
        }


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    provider: str
    checks: tuple[ConnectionCheck, ...]
    identity: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str) -> ConnectionCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "ok": self.ok,
            "identity": self.identity,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True, slots=True)
class IssueDraft:
    """A new issue. ``body`` is Markdown; ``assignees`` are logins/usernames (Jira: account ids);
    ``fields`` are provider-native extras passed through unchanged (e.g. GitHub ``milestone``)."""

    title: str
    body: str = ""
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    priority: str | None = None
    issue_type: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IssueChanges:
    """A partial update: ``None`` leaves a field alone; ``labels`` replaces the set, ``add_labels`` and
    ``remove_labels`` edit it. Status changes go through ``transition_issue``, as Jira requires."""

    title: str | None = None
    body: str | None = None
    labels: tuple[str, ...] | None = None
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] | None = None
    priority: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return (
            self.title is None
            and self.body is None
            and self.labels is None
            and not self.add_labels
            and not self.remove_labels
            and self.assignees is None
            and self.priority is None
            and not self.fields
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """A move an issue can make now. ``id`` is what ``transition_issue`` accepts (besides a category)."""

    id: str
    name: str
    to_status: str
    to_category: str


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    filename: str
    url: str | None = None
    size: int | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookRegistration:
    id: str
    url: str
    events: tuple[str, ...] = ()
    active: bool = True


@dataclass(slots=True)
class RequestStats:
    """Counters the sync engine reports per operation (``requests``) and that benchmarks compare.

    One adapter may serve several threads at once (bulk actions run items on a pool), so the adapter
    counts through :meth:`add`, which takes a lock: ``+=`` on an attribute is a read and a write, and two
    threads interleaving them lose a count. Reading a counter needs no lock.
    """

    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    waited_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(
        self,
        *,
        requests: int = 0,
        not_modified: int = 0,
        retries: int = 0,
        rate_limit_waits: int = 0,
        waited_s: float = 0.0,
    ) -> None:
        with self._lock:
            self.requests += requests
            self.not_modified += not_modified
            self.retries += retries
            self.rate_limit_waits += rate_limit_waits
            self.waited_s += waited_s

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "not_modified": self.not_modified,
                "retries": self.retries,
                "rate_limit_waits": self.rate_limit_waits,
                "waited_s": self.waited_s,
            }

    def reset(self) -> None:
        with self._lock:
            self.requests = self.not_modified = self.retries = self.rate_limit_waits = 0
            self.waited_s = 0.0


class WebhookEntity(StrEnum):
    ISSUE = "issue"
    COMMENT = "comment"


class WebhookAction(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


class DeliveryKind(StrEnum):
    """What a verified delivery asks of trackbridge: apply ``changes``, answer a ``ping`` (GitHub's hook
    test: 200, nothing to apply), or count it as ``ignored`` (an event type or object trackbridge does not
    sync: 202, nothing to apply)."""

    CHANGES = "changes"
    PING = "ping"
    IGNORED = "ignored"
    # Commits pushed, a pull/merge request opened or edited: ``activity`` holds them (link detection).
    ACTIVITY = "activity"


@dataclass(frozen=True, slots=True)
class WebhookChange:
    """One item a delivery changed, in the sync engine's terms.

    ``issue_ref`` is the stored record's key (and with the connection, the natural FIFO message group);
    ``issue_key`` is what people call the issue (``#12``, ``OPS-12``). ``updated_at`` orders the change
    against stored state (an older event never overwrites newer state); for a delete it is the tracker's
    last known time of the item, or the delivery's own time where the tracker gives one (Jira).

    ``issue`` / ``comment`` is the item normalized exactly as a sync would normalize it (same content
    hash), present only when the payload carries every field the record holds; ``None`` means "fetch this
    one item" (``get_issue`` / ``get_comment``). A delete never carries one.
    """

    entity: WebhookEntity
    action: WebhookAction
    issue_ref: str
    issue_key: str
    updated_at: datetime | None
    comment_id: str | None = None
    issue: Issue | None = None
    comment: Comment | None = None

    @classmethod
    def of_issue(
        cls,
        issue_ref: str,
        issue_key: str,
        updated_at: datetime | None,
        *,
        issue: Issue | None = None,
        deleted: bool = False,
    ) -> WebhookChange:
        action = WebhookAction.DELETE if deleted else WebhookAction.UPSERT
        return cls(
            WebhookEntity.ISSUE, action, issue_ref, issue_key, updated_at, issue=None if deleted else issue
        )

    @classmethod
    def of_comment(
        cls,
        issue_ref: str,
        issue_key: str,
        comment_id: str,
        updated_at: datetime | None,
        *,
        comment: Comment | None = None,
        deleted: bool = False,
    ) -> WebhookChange:
        kind = WebhookAction.DELETE if deleted else WebhookAction.UPSERT
        record = None if deleted else comment
        return cls(WebhookEntity.COMMENT, kind, issue_ref, issue_key, updated_at, comment_id, comment=record)

    @classmethod
    def of_issue_comments(cls, issue_ref: str, issue_key: str, updated_at: datetime | None) -> WebhookChange:
        """Some comment of the issue changed and the payload does not say which (Azure DevOps'
        ``workitem.commented``): the apply step lists the issue's comments."""
        return cls(WebhookEntity.COMMENT, WebhookAction.UPSERT, issue_ref, issue_key, updated_at)

    @property
    def needs_fetch(self) -> bool:
        """An upsert whose payload was not enough to build the record: the apply step fetches the item."""
        if self.action is WebhookAction.DELETE:
            return False
        return (self.issue if self.entity is WebhookEntity.ISSUE else self.comment) is None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """A verified webhook body, parsed: what :meth:`TrackerAdapter.parse_webhook` returns.

    ``delivery_id`` is the tracker's id for this delivery, stable across its retries (the dedup key:
    GitHub ``X-GitHub-Delivery``; GitLab ``Idempotency-Key``, else ``webhook-id``, else
    ``X-Gitlab-Event-UUID`` with the body's digest; Jira ``X-Atlassian-Webhook-Identifier``); without
    any, ``sha256:<digest of the body>``, so an identical replay still deduplicates. ``event`` is the
    tracker's own name for what happened (``issues.closed``, ``Issue Hook/update``,
    ``jira:issue_updated``); ``reason`` says why a delivery is ``ignored``.
    """

    provider: str
    delivery_id: str
    event: str
    kind: DeliveryKind
    changes: tuple[WebhookChange, ...] = ()
    reason: str | None = None
    activity: tuple[DevActivity, ...] = ()

    @classmethod
    def of_activity(
        cls, provider: str, delivery_id: str, event: str, *activity: DevActivity
    ) -> WebhookDelivery:
        return cls(provider, delivery_id, event, DeliveryKind.ACTIVITY, activity=activity)

    @classmethod
    def ignored(cls, provider: str, delivery_id: str, event: str, reason: str) -> WebhookDelivery:
        return cls(provider, delivery_id, event, DeliveryKind.IGNORED, (), reason)

    @classmethod
    def ping(cls, provider: str, delivery_id: str, event: str) -> WebhookDelivery:
        return cls(provider, delivery_id, event, DeliveryKind.PING)

    @classmethod
    def of_changes(
        cls, provider: str, delivery_id: str, event: str, *changes: WebhookChange
    ) -> WebhookDelivery:
        return cls(provider, delivery_id, event, DeliveryKind.CHANGES, changes)


__all__ = [
    "Attachment",
    "Capabilities",
    "CommentPage",
    "ConnectionCheck",
    "ConnectionReport",
    "DeliveryKind",
    "IssueChanges",
    "IssueDraft",
    "IssuePage",
    "Page",
    "RequestStats",
    "TrackerConfig",
    "Transition",
    "WebhookAction",
    "WebhookChange",
    "WebhookDelivery",
    "WebhookEntity",
    "WebhookRegistration",
]
