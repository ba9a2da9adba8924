"""YouTrack (Cloud or Server, REST API ``/api``) behind the common adapter protocol.

What makes YouTrack different, and where this module handles it (shared/research/tracker-apis.md, section 6;
JetBrains developer portal: "Fields Syntax", "Pagination", "Issues", "Commands", "Permanent Token
Authorization", "Search Query Reference"):

- **Fields**: without ``fields=`` an answer holds only ``id`` and ``$type``; every read names its fields
  (:data:`ISSUE_FIELDS`), nested ones in parentheses.
- **Paging**: ``$skip``/``$top`` over a bare array (no total, no ``isLast``; without ``$top`` at most 42
  come back): a short page is the last one (:class:`~.pagination.OffsetPaginator`).
- **Search** is a query string (``project: ACME #Unresolved updated: 2026-01-02T03:04 .. * sort by: updated
  asc``). Full passes sort by ``created`` (an order updates cannot change); incremental ones by ``updated``.
  A query compares whole minutes, so the adapter drops what the listing returns from before ``since``
  (counted as ``skipped``): a page is still one request.
- **Timestamps** are epoch milliseconds (``created``, ``updated``, ``resolved``).
- **States** are the ``State`` custom field's value; ``isResolved`` on the value says done, whatever it is
  named. Priority, Type and Assignee are custom fields too; labels are tags.
- **Writes**: ``POST /api/issues`` creates, ``POST /api/issues/{id}`` updates (YouTrack uses POST for
  partial updates); tags, custom fields and states change through commands (``POST /api/commands`` with
  ``{"query": "State Fixed tag ops", "issues": [{"idReadable": "ACME-12"}]}``), values with blanks braced.
- **Comments** are per issue (``/api/issues/{id}/comments``); a comment moved to the recycle bin is
  ``deleted: true`` and counts as gone.
- **Removals** are in the activity stream (developer portal: "Issue Activities Page" ``/api/activitiesPage``,
  "ActivityCursorPage", "Pagination for Activities"): ``IssueCreatedCategory`` with the issue in ``removed``
  is a deleted issue, ``CommentsCategory`` with the comment in ``removed`` a deleted (or binned) one. Pages
  run oldest first from ``start`` (epoch ms) and then from the page's ``afterCursor`` while ``hasAfter``;
  :meth:`YouTrackAdapter.iter_deleted` is the deletion check's feed
  (:class:`~trackbridge.runtime.sync.deletion_check.ListsDeletions`), so a check costs the stream's pages
  instead of an id listing plus a GET per missing issue.
- **Auth**: a permanent token, ``Authorization: Bearer perm:...``.
- **Errors**: ``{"error": "...", "error_description": "..."}``; no rate-limit headers are documented, so
  only ``Retry-After`` is read (on 429 and 503).
- **Webhooks**: YouTrack has no REST-registered, signed webhooks; deliveries come from trackbridge's YouTrack
  app (installed once by an administrator: workflow rules that post on issue and comment changes, and an
  HTTP handler at ``/api/extensionEndpoints/trackbridge/hooks`` that stores a project's delivery URL and
  secret as app data). The app sends the connection's secret in ``X-Trackbridge-Token``, compared in constant
  time (:class:`~.signatures.PlainToken`): a header rather than the URL, so the secret stays out of access
  logs. It covers no byte of the body (YouTrack's workflow ``http`` module cannot compute an HMAC);
  ``X-Trackbridge-Delivery`` is the delivery's id. Removed issues and comments arrive as ``*.removed``
  events and become tombstones.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import InvalidInput, ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import Comment, Issue, StatusCategory, User
from trackbridge.domain.trackers import YOUTRACK, is_youtrack_project
from trackbridge.providers.auth import BearerScheme
from trackbridge.providers.base import CheckStep, TrackerAdapter
from trackbridge.providers.classify import ErrorRule
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import OffsetPaginator, PageCursor, PageRequest
from trackbridge.providers.signatures import PlainToken
from trackbridge.providers.types import (
    Capabilities,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Page,
    Transition,
    WebhookChange,
    WebhookDelivery,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import epoch_millis, header, obj

ISSUE_FIELDS = (
    "id,idReadable,summary,description,created,updated,resolved,project(shortName),tags(name),"
    "customFields(name,value(name,login,isResolved))"
)
COMMENT_FIELDS = "id,text,created,updated,deleted,author(login),issue(id,project(shortName))"
USER_FIELDS = "id,login,fullName,email,banned"
STATE_FIELD = "State"
# The activity stream's removals: issues deleted, comments deleted or binned (and restored).
ACTIVITY_CATEGORIES = "IssueCreatedCategory,CommentsCategory"
_ENTITY_REF = "id,idReadable,project(shortName)"
ACTIVITY_FIELDS = (
    "afterCursor,hasAfter,activities(id,timestamp,category(id),"
    f"target({_ENTITY_REF},deleted,issue({_ENTITY_REF})),added(id),removed(id,{_ENTITY_REF}))"
)
# A bound on one feed's pages (a page is ``page_size`` activities): far beyond any interval's removals.
MAX_ACTIVITY_PAGES = 10_000
# The trackbridge app's HTTP handler that stores a project's delivery URL and secret (see the docstring).
HOOKS_ENDPOINT = "extensionEndpoints/trackbridge/hooks"
DEFAULT_WEBHOOK_EVENTS = ("issues", "comments")
_ISSUE_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_]*)-([1-9]\d{0,17})")
_ENTITY_ID = re.compile(r"\d{1,9}-\d{1,18}")
_NUMBER = re.compile(r"#?([1-9]\d{0,17})")
_COMMENT_ID = re.compile(r"\d{1,9}-\d{1,18}")
# A command value that needs no braces; a value holding a brace cannot be written in a command at all.
_BARE_VALUE = re.compile(r"[\w.@-]+")

YOUTRACK_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(
        ErrorCode.AUTH_INVALID,
        frozenset({401}),
        guidance="YouTrack rejected the permanent token (revoked, expired or mistyped): create one under "
        "Profile > Account Security > Tokens with the YouTrack scope and update the connection.",
    ),
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({403}),
        guidance="The token's user lacks a permission in this project: Read Issue to sync; Create Issue, "
        "Update Issue and Create Comment to write.",
    ),
    ErrorRule(
        ErrorCode.NOT_FOUND,
        frozenset({404}),
        guidance="YouTrack answers 404 for missing issues and for projects the token's user cannot see: "
        "check the project ID and the user's access to it.",
    ),
)


def _millis(value: Any) -> datetime:
    moment = epoch_millis(value)
    if moment is None:
        raise ValueError(f"not an epoch-milliseconds timestamp: {value!r}")
    return moment


def query_minute(moment: datetime) -> str:
    """``2026-01-02T03:04``: the minute ``moment`` falls in (UTC), so ``updated: <it> .. *`` can only list
    more than asked, never less."""
    if moment.tzinfo is None:
        raise InvalidInput("timestamps must carry a time zone", details={"since": moment.isoformat()})
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def command_value(value: str) -> str:
    """``value`` as one word of a command: bare when it is one word, else in braces."""
    text = value.strip()
    if not text or any(c in text for c in "{}\r\n"):
        raise InvalidInput(
            "a YouTrack value must be non-empty and hold no braces or line breaks",
            details={"value": value[:100]},
        )
    return text if _BARE_VALUE.fullmatch(text) else f"{{{text}}}"


def _field_value(raw: Mapping[str, Any], name: str) -> Any:
    for field in raw.get("customFields") or []:
        if isinstance(field, Mapping) and field.get("name") == name:
            return field.get("value")
    return None


def _entity_ids(raw_items: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(raw["id"]) for raw in raw_items)


def _value_name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        named = value.get("name") or value.get("login")
        return str(named) if named else None
    return None


class YouTrackAdapter(TrackerAdapter):
    tracker = YOUTRACK  # name, display name, scope keys, default base URL, incremental overlap and its reason
    capabilities = Capabilities(transitions=True, webhook_registration=True)
    auth_scheme = BearerScheme()
    page_size = 100
    paginator = OffsetPaginator(
        start_param="$skip", items_field=None, last_field=None, total_field=None, size_param="$top"
    )
    error_rules = YOUTRACK_ERROR_RULES
    signature_schemes = (PlainToken(header="X-Trackbridge-Token", name="youtrack-app-token"),)
    webhook_delivery_headers = ("X-Trackbridge-Delivery",)
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The project's database id ("0-1"), which creating an issue needs: asked for once, on first use.
        self._project_id: str | None = None
        self._project_lookup = threading.Lock()

    # ---- addressing ------------------------------------------------------------------------------
    @property
    def site_url(self) -> str:
        """Where people browse: the base URL without ``/api``."""
        return self.config.base_url.rstrip("/").removesuffix("/api")

    @property
    def api_base(self) -> str:
        return f"{self.site_url}/api"

    @property
    def project(self) -> str:
        project = self.config.scope_value("project")
        if not is_youtrack_project(project):
            raise ValidationFailed("not a YouTrack project ID", details={"scope.project": project[:40]})
        return project

    @property
    def locator(self) -> str:
        return self.tracker.locate(self.site_url, {"project": self.project})

    def check_key(self, key: str | int) -> str:
        """``ACME-12`` (this project's), ``12`` or ``#12`` (a number in this project), or an entity id
        (``2-15``); anything else never reaches a URL path."""
        text = str(key).strip()
        number = _NUMBER.fullmatch(text)
        if number:
            return f"{self.project}-{number.group(1)}"
        issue_key = _ISSUE_KEY.fullmatch(text)
        if issue_key and issue_key.group(1) != self.project:
            # Another project's issue: outside this connection's scope, as if it did not exist.
            raise self.not_found(f"{text[:40]} is not in project {self.project}")
        if issue_key or _ENTITY_ID.fullmatch(text):
            return text
        raise InvalidInput(
            f"not a YouTrack issue id: {text[:40]!r}", details={"expected": f"{self.project}-12 or 12"}
        )

    def not_found(self, message: str) -> NotFoundError:
        """What the tracker would answer for something outside the connection's project: a 404."""
        return NotFoundError(
            message,
            provider=self.name,
            status=404,
            code=ErrorCode.NOT_FOUND,
            guidance=YOUTRACK_ERROR_RULES[2].guidance,
        )

    @staticmethod
    def check_comment_id(comment_id: str) -> str:
        if not isinstance(comment_id, str) or not _COMMENT_ID.fullmatch(comment_id.strip()):
            raise InvalidInput("not a YouTrack comment id", details={"comment_id": str(comment_id)[:40]})
        return comment_id.strip()

    def issue_handles(self, issue_id: str, key: str) -> tuple[str, str]:
        return issue_ref(self.connection_id, issue_id), key

    # ---- normalization ---------------------------------------------------------------------------
    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        return self.normalize("issue", lambda: self._issue(raw))

    def _issue(self, raw: Mapping[str, Any]) -> Issue:
        key = str(raw["idReadable"])
        state = _field_value(raw, STATE_FIELD)
        assignee = _field_value(raw, "Assignee")
        return Issue(
            ref=issue_ref(self.connection_id, str(raw["id"])),
            external_id=external_id(self.name, self.locator, raw["id"]),
            connection_id=self.connection_id,
            provider="youtrack",
            key=key,
            title=str(raw.get("summary") or ""),
            body=str(raw.get("description") or ""),
            status=_value_name(state) or "",
            status_category=self.status_category(state, resolved=raw.get("resolved")),
            assignees=[str(assignee["login"])]
            if isinstance(assignee, Mapping) and assignee.get("login")
            else [],
            labels=[str(tag["name"]) for tag in raw.get("tags") or []],
            priority=_value_name(_field_value(raw, "Priority")),
            issue_type=_value_name(_field_value(raw, "Type")),
            url=f"{self.site_url}/issue/{key}",
            created_at=_millis(raw["created"]),
            updated_at=_millis(raw["updated"]),
        ).with_hash()

    def status_category(self, state: Any, *, resolved: Any = None) -> StatusCategory:
        """Done when the State value says ``isResolved`` (or, without a State field, the issue has a
        ``resolved`` time); otherwise the declared vocabulary, never done for an unresolved value."""
        if isinstance(state, Mapping):
            if state.get("isResolved") is True:
                return "done"
            category = self.tracker.status_category(str(state.get("name") or ""))
            return "todo" if category == "done" and state.get("isResolved") is False else category
        return "done" if resolved else "todo"

    def normalize_comment(self, raw: Mapping[str, Any], issue_id: str) -> Comment:
        def build() -> Comment:
            author = raw.get("author") or {}
            created = _millis(raw["created"])
            return Comment(
                id=str(raw["id"]),
                issue_ref=issue_ref(self.connection_id, issue_id),
                connection_id=self.connection_id,
                author=str(author["login"]) if author.get("login") else None,
                body=str(raw.get("text") or ""),
                created_at=created,
                updated_at=_millis(raw["updated"]) if raw.get("updated") else created,
            ).with_hash()

        return self.normalize("comment", build)

    def normalize_user(self, raw: Mapping[str, Any]) -> User:
        return self.normalize(
            "user",
            lambda: User(
                id=str(raw["login"]),
                connection_id=self.connection_id,
                display_name=raw.get("fullName"),
                email=raw.get("email") or None,
                active=not raw.get("banned", False),
            ),
        )

    # ---- listings --------------------------------------------------------------------------------
    def sync_query(self, *, since: datetime | None = None, include_closed: bool = True) -> str:
        parts = [f"project: {self.project}"]
        if not include_closed:
            parts.append("#Unresolved")
        if since is not None:
            parts.append(f"updated: {query_minute(since)} .. *")
        parts.append("sort by: updated asc" if since is not None else "sort by: created asc")
        return " ".join(parts)

    def _listing(self, query: str, top: int) -> PageRequest:
        return PageRequest("issues", {"query": query, "fields": ISSUE_FIELDS, "$top": top})

    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        request = self._listing(self.sync_query(since=since, include_closed=include_closed), self.page_size)
        for page in self.iter_pages(request, cursor=cursor):
            raw_items = self.expect_list(page.body, "issues")
            issues = tuple(self.normalize_issue(r) for r in raw_items)
            kept = issues if since is None else tuple(i for i in issues if i.updated_at >= since)
            yield Page(kept, len(raw_items), page.next_cursor, skipped=len(issues) - len(kept))

    # The deletion check's listing: the full listing's query and pages with ``fields=id`` only (YouTrack
    # documents no larger $top for lean answers, so the page size stays; the bodies shrink to ids).
    def iter_issue_id_pages(
        self, *, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[Page[str]]:
        """The entity ids of the sync's issues (its query, by ``created``), ``page_size`` a page."""
        query = self.sync_query(include_closed=include_closed)
        request = PageRequest("issues", {"query": query, "fields": "id", "$top": self.page_size})
        for page in self.iter_pages(request, cursor=cursor):
            raw_items = self.expect_list(page.body, "issues")
            ids = self.normalize("issue id", partial(_entity_ids, raw_items))
            yield Page(ids, len(ids), page.next_cursor)

    # ---- the activity stream: the deletion check's removal feed ----------------------------------
    def iter_deleted(
        self, cursor: PageCursor | None = None, *, since: datetime | None = None
    ) -> Iterator[Page[tuple[str, str | None, bool]]]:
        """Issue and comment removals (issue key, comment id or None, certain) from ``cursor`` (a page's
        ``afterCursor``), else from ``since``, oldest first: one request a page, at most
        :data:`MAX_ACTIVITY_PAGES`; ``next_cursor`` is None once ``hasAfter`` is false."""
        params: dict[str, Any] = {
            "categories": ACTIVITY_CATEGORIES,
            "fields": ACTIVITY_FIELDS,
            "reverse": "false",
            "$top": self.page_size,
        }
        if since is not None:
            params["start"] = int(since.timestamp() * 1000)
        token = cursor.token if cursor is not None else None
        for _ in range(MAX_ACTIVITY_PAGES):
            query = {k: v for k, v in params.items() if k != "start"} | {"cursor": token} if token else params
            body = self.expect_dict(self.get_json("activitiesPage", params=query), "activities page")
            page = self.normalize("activities page", partial(self._removals, body))
            yield page
            if page.next_cursor is None:
                return
            token = page.next_cursor.token

    def _removals(self, body: Mapping[str, Any]) -> Page[tuple[str, str | None, bool]]:
        """A page's activities replayed in order, an entity's last event deciding; a comment's removal
        counts only while its ``target`` (its state now) is still deleted, so one restored on a later page is
        not reported. A removal is certain when the stream names the issue's project as this connection's
        (and, for a comment, says it is deleted), and uncertain (confirmed by a GET) otherwise: a project's
        short name can be changed, and a key with the old prefix may now name another project's issue."""
        verdicts: dict[tuple[str, str | None], bool | None] = {}  # True gone, None gone if confirmed
        activities = body.get("activities") or []
        for activity in activities:
            category = (activity.get("category") or {}).get("id")
            target = activity.get("target") or {}
            if category == "IssueCreatedCategory":
                issue = {**target, **((activity.get("removed") or activity.get("added") or [{}])[0])}
                comment_id = None
            elif category == "CommentsCategory" and target.get("id"):
                issue, comment_id = target.get("issue") or {}, str(target["id"])
            else:
                continue
            key, ours = issue.get("idReadable"), self._ours(issue)
            if not key or ours is False:
                continue
            # A comment's ``target`` is its state now: restored since (``deleted: false``) it is not gone,
            # and without the flag (a permanently deleted comment may not say) a GET settles it.
            now_gone = True if comment_id is None else target.get("deleted")
            went = bool(activity.get("removed")) and now_gone is not False
            verdicts[(str(key), comment_id)] = (True if ours and now_gone else None) if went else False
        removed = tuple(
            (key, cid, gone is True) for (key, cid), gone in verdicts.items() if gone is not False
        )
        after = body.get("afterCursor")
        more = bool(body.get("hasAfter")) and bool(after)
        return Page(
            removed,
            len(activities),
            PageCursor(token=str(after)) if more else None,
            skipped=len(activities) - len(removed),
        )

    def _ours(self, issue: Mapping[str, Any]) -> bool | None:
        """Whether an activity's issue is this connection's: True/False by its project, else None when
        only its key's prefix says it is (False when that says it is not)."""
        project = issue.get("project")
        if isinstance(project, Mapping) and project.get("shortName"):
            return project["shortName"] == self.project
        match = _ISSUE_KEY.fullmatch(str(issue.get("idReadable") or ""))
        return None if match and match.group(1) == self.project else False

    def _raw_issue(self, key: str) -> dict[str, Any]:
        raw = self.expect_dict(
            self.get_json(f"issues/{self.check_key(key)}", params={"fields": ISSUE_FIELDS}), "issue"
        )
        if not self._in_project(raw):
            # Another project's issue (by entity id): outside this connection's scope, as if it did not exist.
            raise self.not_found(f"{key} is not in project {self.project}")
        return raw

    def get_issue(self, key: str) -> Issue:
        return self.normalize_issue(self._raw_issue(key))

    def _comments_path(self, key: str) -> str:
        return f"issues/{self.check_key(key)}/comments"

    def _comment(self, raw: Mapping[str, Any]) -> Comment:
        """A comment with its issue (``issue(id,project(shortName))`` rides along: no GET of the issue to
        learn its entity id); another project's comment does not exist for this connection."""
        issue = raw.get("issue")
        if not isinstance(issue, Mapping) or not self._in_project(issue):
            raise self.not_found("the comment's issue is not in this project")
        return self.normalize_comment(raw, str(issue.get("id")))

    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        request = PageRequest(self._comments_path(key), {"fields": COMMENT_FIELDS, "$top": self.page_size})
        comments = [self._comment(r) for r in self.collect(request) if not r.get("deleted")]
        if since is not None:
            comments = [c for c in comments if c.updated_at >= since]
        return comments

    def get_comment(self, key: str, comment_id: str) -> Comment:
        comment_id = self.check_comment_id(comment_id)
        path = f"{self._comments_path(key)}/{comment_id}"
        raw = self.expect_dict(self.get_json(path, params={"fields": COMMENT_FIELDS}), "comment")
        if raw.get("deleted"):
            raise self.not_found(f"comment {comment_id} was deleted")
        return self._comment(raw)

    def list_users(self) -> list[User]:
        request = PageRequest("users", {"fields": USER_FIELDS, "$top": self.page_size})
        return [self.normalize_user(r) for r in self.collect(request)]

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        """A user's YouTrack query, within the connection's project. YouTrack ORs repeated attributes
        (``project: ACME project: OTHER``), so what comes back is filtered to the project as well."""
        if limit < 1:
            return []
        request = self._listing(f"project: {self.project} {query}", min(limit, self.page_size))

        def ours(body: Any) -> list[Issue]:
            raw_items = self.expect_list(body, "issues")
            return [self.normalize_issue(r) for r in raw_items if self._in_project(r)]

        return self.collect_until(request, limit, ours)

    def _in_project(self, raw: Any) -> bool:
        project = raw.get("project") if isinstance(raw, Mapping) else None
        return not isinstance(project, Mapping) or project.get("shortName") in (None, self.project)

    # ---- writes ----------------------------------------------------------------------------------
    def project_id(self) -> str:
        """The project's database id (``0-1``), which ``POST /api/issues`` needs: asked for once."""
        if self._project_id is None:
            with self._project_lookup:
                if self._project_id is None:
                    found = self.expect_list(
                        self.get_json(
                            "admin/projects", params={"fields": "id,shortName,name", "query": self.project}
                        ),
                        "projects",
                    )
                    match = [
                        p for p in found if isinstance(p, Mapping) and p.get("shortName") == self.project
                    ]
                    if not match:
                        raise self.not_found(f"project {self.project} is not visible to the token")
                    self._project_id = str(match[0]["id"])
        return self._project_id

    def command(self, key: str, query: str) -> None:
        """Apply a command (``tag ops State Fixed``) to one issue."""
        self.send_json("POST", "commands", json={"query": query, "issues": [{"idReadable": key}]})

    @staticmethod
    def _field_commands(
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        priority: str | None = None,
        assignees: Sequence[str] | None = None,
        issue_type: str | None = None,
    ) -> list[str]:
        words = [f"tag {command_value(t)}" for t in add]
        words += [f"untag {command_value(t)}" for t in remove]
        if priority is not None:
            words.append(f"Priority {command_value(priority)}")
        if issue_type is not None:
            words.append(f"Type {command_value(issue_type)}")
        if assignees is not None:
            if len(assignees) > 1:
                raise InvalidInput(
                    "a YouTrack issue has one assignee", details={"assignees": list(assignees)}
                )
            words.append(f"Assignee {command_value(assignees[0])}" if assignees else "Assignee Unassigned")
        return words

    def create_issue(self, draft: IssueDraft) -> Issue:
        payload = {
            **draft.fields,
            "project": {"id": self.project_id()},
            "summary": draft.title,
            "description": draft.body,
        }
        created = self.expect_dict(
            self.send_json("POST", "issues", json=payload, params={"fields": "id,idReadable"}),
            "created issue",
        )
        key = str(created["idReadable"])
        words = self._field_commands(
            add=draft.labels,
            priority=draft.priority,
            assignees=draft.assignees or None,
            issue_type=draft.issue_type,
        )
        if words:
            self.command(key, " ".join(words))
        return self.get_issue(key)

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        key = self.check_key(key)
        payload: dict[str, Any] = dict(changes.fields)
        if changes.title is not None:
            payload["summary"] = changes.title
        if changes.body is not None:
            payload["description"] = changes.body
        add, remove = list(changes.add_labels), list(changes.remove_labels)
        if changes.labels is not None:
            current = set(self.get_issue(key).labels)
            add += [t for t in changes.labels if t not in current]
            remove += [t for t in current if t not in changes.labels]
        words = self._field_commands(
            add=add, remove=remove, priority=changes.priority, assignees=changes.assignees
        )
        if payload:
            self.send_json("POST", f"issues/{key}", json=payload, params={"fields": "id"})
        if words:
            self.command(key, " ".join(words))
        return self.get_issue(key)

    def _state_values(self) -> list[Mapping[str, Any]]:
        fields = self.expect_list(
            self.get_json(
                f"admin/projects/{self.project_id()}/customFields",
                params={"fields": "field(name),bundle(values(name,isResolved))", "$top": 100},
            ),
            "project custom fields",
        )
        for field in fields:
            if isinstance(field, Mapping) and (field.get("field") or {}).get("name") == STATE_FIELD:
                return [v for v in (field.get("bundle") or {}).get("values") or [] if isinstance(v, Mapping)]
        return []

    def list_transitions(self, key: str) -> list[Transition]:
        """Every State value but the current one: YouTrack's default workflow lets any state follow any."""
        current = self.get_issue(key).status
        return [
            Transition(str(v["name"]), str(v["name"]), str(v["name"]), self.status_category(v))
            for v in self._state_values()
            if v.get("name") and v["name"] != current
        ]

    def transition_issue(self, key: str, target: str) -> Issue:
        key = self.check_key(key)
        moves = self.list_transitions(key)
        wanted = target.strip().lower()
        chosen = next((t for t in moves if t.to_category == wanted), None) or next(
            (t for t in moves if t.name.lower() == wanted), None
        )
        if chosen is None:
            raise InvalidInput(
                f"no State value {target!r} to move {key} to",
                details={"available": [t.name for t in moves]},
            )
        self.command(key, f"{STATE_FIELD} {command_value(chosen.name)}")
        return self.get_issue(key)

    def add_comment(self, key: str, body: str) -> Comment:
        raw = self.send_json(
            "POST", self._comments_path(key), json={"text": body}, params={"fields": COMMENT_FIELDS}
        )
        return self._comment(self.expect_dict(raw, "comment"))

    # ---- webhooks (trackbridge's YouTrack app) ---------------------------------------------------
    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        wanted = tuple(events or DEFAULT_WEBHOOK_EVENTS)
        unknown = [e for e in wanted if e not in DEFAULT_WEBHOOK_EVENTS]
        if unknown:
            raise ValidationFailed(
                f"unknown YouTrack webhook events: {', '.join(unknown)}",
                details={"accepted": list(DEFAULT_WEBHOOK_EVENTS)},
            )
        body = {"project": self.project, "url": url, "secret": secret, "events": list(wanted)}
        raw = self.expect_dict(self.send_json("POST", HOOKS_ENDPOINT, json=body), "hook")
        return self.normalize(
            "hook", lambda: WebhookRegistration(id=str(raw["id"]), url=url, events=wanted, active=True)
        )

    def unregister_webhook(self, hook_id: str) -> None:
        try:
            self.request("DELETE", HOOKS_ENDPOINT, params={"project": self.project, "id": str(hook_id)})
        except NotFoundError:
            return

    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        """The app's body: ``event`` (``issue.created|updated|removed``, ``comment.added|updated|removed``),
        ``project`` (shortName), ``issue`` {``id``, ``idReadable``, ``updated``} and for comments ``comment``
        {``id``, ``updated``}. It names what changed, not its fields: every upsert asks for a fetch."""
        event = str(payload["event"])
        if payload.get("project") != self.project:
            return WebhookDelivery.ignored(self.name, delivery_id, event, f"not about {self.project}")
        entity, _, action = event.partition(".")
        if entity not in ("issue", "comment") or not action:
            return WebhookDelivery.ignored(self.name, delivery_id, event, f"{event} events are not synced")
        issue = obj(payload, "issue")
        ref, key = self.issue_handles(str(issue["id"]), str(issue["idReadable"]))
        removed = action == "removed"
        stamp = epoch_millis(payload.get("timestamp"))
        if entity == "issue":
            when = epoch_millis(issue.get("updated")) or stamp
            change = WebhookChange.of_issue(ref, key, when, deleted=removed)
        else:
            comment = obj(payload, "comment")
            when = epoch_millis(comment.get("updated")) or stamp
            change = WebhookChange.of_comment(ref, key, str(comment["id"]), when, deleted=removed)
        return WebhookDelivery.of_changes(
            self.name, delivery_id, header(headers, "X-Trackbridge-Event") or event, change
        )

    # ---- connection test -------------------------------------------------------------------------
    def connection_checks(self) -> Sequence[CheckStep]:
        def auth() -> ConnectionCheck:
            me = self.expect_dict(self.get_json("users/me", params={"fields": "login,fullName"}), "user")
            self._identity = str(me.get("login") or me.get("fullName") or "") or None
            return ConnectionCheck("auth", True, f"authenticated as {self._identity}")

        def project() -> ConnectionCheck:
            self.project_id()
            return ConnectionCheck("project", True, f"project {self.project} is visible")

        def issues() -> ConnectionCheck:
            found = self.expect_list(
                self.get_json(
                    "issues", params={"query": f"project: {self.project}", "fields": "id", "$top": 1}
                ),
                "issues",
            )
            return ConnectionCheck("issues", True, "issues are readable" if found else "no issues yet")

        return (("auth", auth), ("project", project), ("issues", issues))


__all__ = ["YOUTRACK_ERROR_RULES", "YouTrackAdapter", "command_value", "query_minute"]
