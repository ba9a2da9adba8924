"""GitLab Issues over the REST API v4 (gitlab.com or self-managed; ``base_url`` with or without ``/api/v4``).

GitLab specifics handled here (shared/research/tracker-apis.md, section 3):

- issues are addressed by ``iid`` (per project), projects by numeric id or URL-encoded path;
- issue listings use keyset pagination (``pagination=keyset``, only a ``Link`` header comes back): full syncs
  ``order_by=id``, incremental ones ``updated_after`` + ``order_by=updated_at``, both ascending. A GitLab
  that refuses keyset for issues (older than 18.3: ``405 Keyset pagination is not yet available``) is asked
  again with offset pagination ordered by ``created_at``/``updated_at``; the adapter remembers the answer;
- there is no project-wide notes listing: :meth:`GitLabAdapter.list_issue_comments` fetches one issue's notes
  and drops system notes; the sync engine calls it only for issues whose ``updated_at`` moved
  (request-floors.md: ceil(N/100) + notes only where notes changed);
- listings are conditional (``If-None-Match``): a 304 saves the transfer and the parsing, though GitLab,
  unlike GitHub, still counts it against the rate limit;
- ``RateLimit-Reset`` is an absolute epoch; a 429 carries ``Retry-After`` and the plain-text body
  ``Retry later``;
- priority is the scoped label ``priority::<value>`` (scoped labels of one scope exclude each other, so
  setting a priority is adding one label);
- attachments are uploads whose Markdown is posted as a note; worklogs (GraphQL-only timelogs) and sprints
  are not offered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from trackbridge.domain.dev_refs import DevActivity
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.issues import Comment, Issue, User
from trackbridge.domain.trackers import GITLAB
from trackbridge.providers._util import iso_seconds, issue_number, segment
from trackbridge.providers.auth import HeaderTokenScheme
from trackbridge.providers.base import CheckStep, FetchedPage
from trackbridge.providers.classify import ErrorRule
from trackbridge.providers.errors import NotFoundError, PermissionDeniedError, TrackerError
from trackbridge.providers.forge import ForgeAdapter, ForgeFields, objects
from trackbridge.providers.pagination import LinkHeaderPaginator, PageCursor, PageRequest
from trackbridge.providers.ratelimit import GitLabRateLimits
from trackbridge.providers.signatures import PlainToken, StandardWebhooks
from trackbridge.providers.types import (
    Attachment,
    Capabilities,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    Transition,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import WebhookChange, WebhookDelivery, header, obj, parse_time

PRIORITY_SCOPE = "priority::"
# Project roles (GitLab access levels): reporters read everything, maintainers manage webhooks.
ACCESS_LEVELS = {10: "Guest", 15: "Planner", 20: "Reporter", 30: "Developer", 40: "Maintainer", 50: "Owner"}
MAINTAINER = 40
TOKEN_EXPIRY_WARNING = timedelta(days=14)
# Webhook event names accepted by register_webhook -> GitLab's hook flags.
WEBHOOK_FLAGS: Mapping[str, tuple[str, ...]] = {
    "issues": ("issues_events", "confidential_issues_events"),
    "notes": ("note_events", "confidential_note_events"),
    "comments": ("note_events", "confidential_note_events"),
    "push": ("push_events",),
    "merge_requests": ("merge_requests_events",),
}
DEFAULT_WEBHOOK_EVENTS = ("issues", "notes", "push", "merge_requests")
# Merge request hook actions that can change what a request's title, body or branch names.
MERGE_REQUEST_ACTIONS = frozenset({"open", "reopen", "update"})


GITLAB_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(
        ErrorCode.AUTH_EXPIRED,
        frozenset({401}),
        contains="expired",
        guidance="The GitLab token has expired: renew it (or re-authorize) and update the connection.",
    ),
    ErrorRule(
        ErrorCode.AUTH_INVALID,
        frozenset({401}),
        guidance="GitLab rejected the token (revoked or mistyped): create a personal or project access "
        "token with the api scope and update the connection.",
    ),
    ErrorRule(
        ErrorCode.SUSPENDED_PAYMENT,
        frozenset({402, 403}),
        contains="has been blocked",
        guidance="The GitLab account is blocked: an instance or namespace administrator must unblock it.",
    ),
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({403}),
        contains="insufficient_scope",
        guidance="The token lacks a scope: give it api (read_api is enough to sync, not to write).",
    ),
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({403}),
        guidance="The token's user lacks a role on this project: Reporter reads issues, "
        "Maintainer manages webhooks.",
    ),
    ErrorRule(
        ErrorCode.NOT_FOUND,
        frozenset({404}),
        contains="Project Not Found",
        guidance="GitLab answers 404 for missing projects and for private ones the token cannot see: "
        "check the project path and the token's membership.",
    ),
)


def _numeric_id(raw: Any) -> int:
    return int(raw["id"])


def _keyset_refused(exc: TrackerError) -> bool:
    return exc.status in (400, 405, 501) and any(w in exc.message.lower() for w in ("keyset", "order_by"))


class GitLabAdapter(ForgeAdapter):
    tracker = GITLAB  # name, display name, scope keys, default base URL, incremental overlap and its reason
    # GitLab's Rack stack answers If-None-Match with 304: it saves the transfer, not the request quota.
    capabilities = Capabilities(
        attachments=True,
        transitions=True,
        conditional_requests=True,
        webhook_registration=True,
        dev_activity=True,
        users=True,
        repository_activity=True,
    )
    auth_scheme = HeaderTokenScheme(header="PRIVATE-TOKEN")
    page_size = 100
    paginator = LinkHeaderPaginator()
    rate_limits = GitLabRateLimits()
    error_rules = GITLAB_ERROR_RULES
    signature_schemes = (PlainToken("X-Gitlab-Token"), StandardWebhooks())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Learned from the tracker on first use: does this GitLab page project issues by keyset? None until
        # a listing has asked. Threads share an adapter: while nobody knows, one asks and the others wait
        # for its answer (the lock is held for that one request only), so the question is asked once.
        self._keyset_issues: bool | None = None
        self._keyset_probe = threading.Lock()

    # ---- addressing ------------------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        base = self.config.base_url.rstrip("/")
        return base if base.endswith("/api/v4") else f"{base}/api/v4"

    @property
    def project(self) -> str:
        return self.config.scope_value("project")

    @property
    def project_path(self) -> str:
        return f"/projects/{segment(self.project)}"

    scope_path = project_path

    # ---- normalization ---------------------------------------------------------------------------
    fields = ForgeFields(
        number="iid",
        body="description",
        login="username",
        url="web_url",
        comment_author="author",
        emails=("public_email", "email"),
    )

    def priority_of(self, labels: Sequence[str]) -> str | None:
        """The value of the scoped label ``priority::<value>``."""
        return next((x[len(PRIORITY_SCOPE) :] for x in labels if x.startswith(PRIORITY_SCOPE)), None)

    def type_of(self, raw: Mapping[str, Any]) -> str | None:
        """``issue_type`` when it says more than the default: incident, test_case or task (the work item
        type). A plain ``issue`` is no type at all (null), as on GitHub without issue types, so the stored
        copies of plain issues keep the content hash they had before types were read."""
        kind = raw.get("issue_type")
        return str(kind) if kind and kind != "issue" else None

    def normalize_note(self, raw: Mapping[str, Any], *, iid: int) -> Comment:
        return self.comment_of(raw, iid, what="note")

    # ---- development activity --------------------------------------------------------------------
    request_kind = "merge_request"

    def commits_request(self, since: datetime | None) -> PageRequest:
        params: dict[str, Any] = {"per_page": 100}
        if since is not None:
            params["since"] = iso_seconds(since)
        return PageRequest(f"{self.project_path}/repository/commits", params)

    def requests_request(self, since: datetime | None) -> PageRequest:
        params: dict[str, Any] = {"state": "all", "order_by": "updated_at", "sort": "desc", "per_page": 100}
        if since is not None:
            params["updated_after"] = iso_seconds(since)
        return PageRequest(f"{self.project_path}/merge_requests", params)

    # Repository activity: releases by release time, newest first (GitLab's default); languages in percent.
    release_time = "released_at"
    languages_in_bytes = False

    def releases_request(self) -> PageRequest:
        params = {"order_by": "released_at", "sort": "desc", "per_page": 100}
        return PageRequest(f"{self.project_path}/releases", params)

    def commit_of(self, raw: Mapping[str, Any]) -> DevActivity:
        when = raw.get("committed_date") or raw.get("created_at") or raw["timestamp"]
        return DevActivity(
            kind="commit",
            id=str(raw["id"]),
            text=str(raw["message"]),
            at=parse_time(when),
            url=raw.get("web_url") or raw.get("url"),
        )

    def request_of(self, raw: Mapping[str, Any]) -> DevActivity:
        return DevActivity(
            kind="merge_request",
            id=str(int(raw["iid"])),
            title=str(raw["title"]),
            text=str(raw.get("description") or ""),
            branch=str(raw["source_branch"]),
            at=parse_time(raw["updated_at"]),
            url=raw.get("web_url") or raw.get("url"),
        )

    def _activity_delivery(
        self, kind: str, action: Any, payload: Mapping[str, Any], delivery_id: str, name: str
    ) -> WebhookDelivery:
        """``push``: its commits (a hook lists at most 20; a scan finds the rest); ``merge_request``
        opened, reopened or updated: the request (its attributes carry the REST field names)."""
        if kind == "push":
            commits = [self.commit_of(raw) for raw in objects(payload, "commits")]
            if not commits:
                return WebhookDelivery.ignored(self.name, delivery_id, name, "a push without commits")
            return WebhookDelivery.of_activity(self.name, delivery_id, name, *commits)
        if action not in MERGE_REQUEST_ACTIONS:
            return WebhookDelivery.ignored(
                self.name, delivery_id, name, f"merge requests {action}: nothing new"
            )
        return WebhookDelivery.of_activity(
            self.name, delivery_id, name, self.request_of(obj(payload, "object_attributes"))
        )

    # ---- listings --------------------------------------------------------------------------------
    def _issue_listing(self, since: datetime | None, include_closed: bool, *, keyset: bool) -> PageRequest:
        params: dict[str, Any] = {"per_page": self.page_size, "sort": "asc"}
        if not include_closed:
            params["state"] = "opened"
        if since is not None:
            params.update(updated_after=iso_seconds(since), order_by="updated_at")
        else:
            params["order_by"] = "id" if keyset else "created_at"
        if keyset:
            params["pagination"] = "keyset"
        return PageRequest(f"{self.project_path}/issues", params)

    def raw_issue_pages(
        self, since: datetime | None, include_closed: bool, cursor: PageCursor | None
    ) -> Iterator[FetchedPage]:
        if cursor is not None:
            # A stored cursor is a full next URL: it already says which pagination it belongs to.
            request = self._issue_listing(since, include_closed, keyset=self._keyset_issues is not False)
            yield from self.iter_pages(request, cursor=cursor, conditional=True)
            return
        pages, first = self._first_issue_page(since, include_closed)
        yield first
        yield from pages

    def _first_issue_page(
        self, since: datetime | None, include_closed: bool
    ) -> tuple[Iterator[FetchedPage], FetchedPage]:
        """The listing's pages and its first one: by keyset unless this GitLab is known to refuse it."""
        if self._keyset_issues is None:
            with self._keyset_probe:
                if self._keyset_issues is None:
                    return self._keyset_or_offset(since, include_closed)
        if self._keyset_issues:
            return self._keyset_or_offset(since, include_closed)
        return self._open_listing(since, include_closed, keyset=False)

    def _keyset_or_offset(
        self, since: datetime | None, include_closed: bool
    ) -> tuple[Iterator[FetchedPage], FetchedPage]:
        try:
            opened = self._open_listing(since, include_closed, keyset=True)
        except TrackerError as exc:
            if not _keyset_refused(exc):
                raise
            self._keyset_issues = False
            return self._open_listing(since, include_closed, keyset=False)
        self._keyset_issues = True
        return opened

    def _open_listing(
        self, since: datetime | None, include_closed: bool, *, keyset: bool
    ) -> tuple[Iterator[FetchedPage], FetchedPage]:
        pages = self.iter_pages(self._issue_listing(since, include_closed, keyset=keyset), conditional=True)
        return pages, next(pages)

    def get_issue(self, key: str) -> Issue:
        return self.normalize_issue(self.expect_dict(self.get_json(self.issue_path(key)), "issue"))

    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        iid = issue_number(key, provider=self.name)
        params = {"per_page": self.page_size, "sort": "asc", "order_by": "created_at"}
        raw_items = self.collect(PageRequest(f"{self.issue_path(iid)}/notes", params))
        notes = [self.normalize_note(r, iid=iid) for r in raw_items if not r.get("system")]
        if since is not None:
            # The notes API has no time filter: filter here, the request count is the same.
            notes = [n for n in notes if n.updated_at >= since]
        return notes

    def get_comment(self, key: str, comment_id: str) -> Comment:
        iid = issue_number(key, provider=self.name)
        raw = self.expect_dict(self.get_json(f"{self.issue_path(iid)}/notes/{int(comment_id)}"), "note")
        return self.normalize_note(raw, iid=iid)

    def list_users(self) -> list[User]:
        raw_items = self.collect(
            PageRequest(f"{self.project_path}/members/all", {"per_page": self.page_size})
        )
        return [self.normalize_user(r) for r in raw_items]

    def search_request(self, query: str, per_page: int) -> PageRequest:
        params = {"search": query, "per_page": per_page, "order_by": "updated_at", "sort": "desc"}
        return PageRequest(f"{self.project_path}/issues", params)

    def search_hits(self, body: Any) -> list[Issue]:
        return [self.normalize_issue(raw) for raw in self.expect_list(body, "issues")]

    # ---- writes ----------------------------------------------------------------------------------
    def _user_ids(self, usernames: Sequence[str]) -> list[int]:
        ids: list[int] = []
        for username in usernames:
            found = self.expect_list(self.get_json("/users", params={"username": username}), "users")
            if not found:
                raise ValidationFailed(
                    f"GitLab has no user {username!r}",
                    details={"assignees": list(usernames), "unknown": username},
                )
            ids.append(self.normalize("user", partial(_numeric_id, found[0])))
        return ids

    def create_issue(self, draft: IssueDraft) -> Issue:
        labels = list(draft.labels)
        if draft.priority:
            labels.append(f"{PRIORITY_SCOPE}{draft.priority}")
        payload: dict[str, Any] = {**draft.fields, "title": draft.title, "description": draft.body}
        if labels:
            payload["labels"] = ",".join(labels)
        if draft.assignees:
            payload["assignee_ids"] = self._user_ids(draft.assignees)
        if draft.issue_type:
            payload["issue_type"] = draft.issue_type
        raw = self.send_json("POST", f"{self.project_path}/issues", json=payload)
        return self.normalize_issue(self.expect_dict(raw, "created issue"))

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        payload: dict[str, Any] = dict(changes.fields)
        if changes.title is not None:
            payload["title"] = changes.title
        if changes.body is not None:
            payload["description"] = changes.body
        add = list(changes.add_labels)
        if changes.priority is not None:
            add.append(f"{PRIORITY_SCOPE}{changes.priority}")
        if changes.labels is not None:
            payload["labels"] = ",".join([*changes.labels, *add])
        elif add:
            payload["add_labels"] = ",".join(add)
        if changes.remove_labels:
            payload["remove_labels"] = ",".join(changes.remove_labels)
        if changes.assignees is not None:
            payload["assignee_ids"] = self._user_ids(changes.assignees)
        return self.write_issue(key, payload, "updated issue")

    open_state = "opened"
    issue_write_method = "PUT"
    state_changes: ClassVar[Mapping[str, Mapping[str, str]]] = {
        target: {"state_event": event}
        for event, targets in (
            ("close", ("done", "close", "closed")),
            ("reopen", ("todo", "open", "opened", "reopen", "reopened")),
        )
        for target in targets
    }
    close_transitions = (Transition("close", "Close", "closed", "done"),)

    def add_comment(self, key: str, body: str) -> Comment:
        iid = issue_number(key, provider=self.name)
        raw = self.send_json("POST", f"{self.issue_path(iid)}/notes", json={"body": body})
        return self.normalize_note(self.expect_dict(raw, "note"), iid=iid)

    def attach_file(self, key: str, filename: str, content: bytes, content_type: str) -> Attachment:
        """Upload to the project, then post the upload's Markdown as a note: GitLab's way to attach."""
        iid = issue_number(key, provider=self.name)
        upload = self.expect_dict(
            self.decode(
                self.request(
                    "POST", f"{self.project_path}/uploads", files={"file": (filename, content, content_type)}
                )
            ),
            "upload",
        )
        markdown = str(upload.get("markdown") or f"[{filename}]({upload.get('url', '')})")
        self.add_comment(str(iid), markdown)

        def build() -> Attachment:
            path = str(upload.get("full_path") or upload["url"])
            root = self.api_base.removesuffix("/api/v4")
            return Attachment(
                id=path,
                filename=filename,
                url=path if path.startswith(("http://", "https://")) else f"{root}{path}",
                size=len(content),
                content_type=content_type,
            )

        return self.normalize("upload", build)

    # ---- webhooks --------------------------------------------------------------------------------
    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        wanted = list(events or DEFAULT_WEBHOOK_EVENTS)
        unknown = [e for e in wanted if e not in WEBHOOK_FLAGS]
        if unknown:
            raise ValidationFailed(
                f"unknown GitLab webhook events: {', '.join(unknown)}",
                details={"accepted": sorted(WEBHOOK_FLAGS)},
            )
        payload: dict[str, Any] = {
            "url": url,
            "token": secret,
            "push_events": False,
            "enable_ssl_verification": True,
        }
        for event in wanted:
            payload.update(dict.fromkeys(WEBHOOK_FLAGS[event], True))

        def registration(raw: Mapping[str, Any]) -> WebhookRegistration:
            return WebhookRegistration(
                id=str(raw["id"]), url=str(raw.get("url") or url), events=tuple(wanted), active=True
            )

        return self.create_hook(payload, registration)

    # Idempotency-Key (GitLab 17.4+) is stable across retries; webhook-id (signing token) is the same value.
    webhook_delivery_headers = ("Idempotency-Key", "webhook-id")

    # Without either (GitLab before 17.4): X-Gitlab-Event-UUID with the body's digest, since GitLab gives the
    # events one request triggers the same UUID (shared/research/tracker-apis.md, section 3.6).
    webhook_shared_id_headers = ("X-Gitlab-Event-UUID",)

    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        """The body's ``object_kind`` says what it is about (``X-Gitlab-Event`` only names the hook).

        ``issue`` and ``work_item`` (which GitLab sends under ``Issue Hook`` too) change an issue; ``note``
        on an issue changes a comment; every other kind is ignored, and so are notes on merge requests,
        commits and snippets, system notes, and deliveries about another project than the connection's.

        Where this departs from the REST shape a sync reads: labels come as objects named by ``title``,
        the issue's page is ``url``, the text of a note is ``note``, timestamps may read
        ``2016-08-18 17:47:36 UTC`` and have whole seconds (REST: milliseconds, so a webhook issue's hash
        can differ from a synced one's by its timestamps alone), and an old ``reopened`` state is
        ``opened``. An issue is normalized only when the payload has ``labels`` and its assignees (older
        GitLab sent neither), a note only when the person who triggered the event is its author
        (``user`` is the actor, not the author); otherwise the change asks the caller to fetch the item.
        GitLab sends no event when an issue or a note is deleted (the sync's deletion sweep finds those);
        an undocumented ``delete`` action would be read as a delete.
        """
        kind = payload["object_kind"]
        if not isinstance(kind, str):
            raise TypeError("object_kind is not a string")
        attrs_or_none = payload.get("object_attributes")
        action = attrs_or_none.get("action") if isinstance(attrs_or_none, Mapping) else None
        event = header(headers, "X-Gitlab-Event") or kind
        name = f"{event}/{action}" if isinstance(action, str) else event
        if kind not in ("issue", "work_item", "note", "push", "merge_request"):
            return WebhookDelivery.ignored(self.name, delivery_id, name, f"{kind} events are not synced")
        if not self._same_project(payload):
            return WebhookDelivery.ignored(self.name, delivery_id, name, f"not about {self.project}")
        if kind in ("push", "merge_request"):
            return self._activity_delivery(kind, action, payload, delivery_id, name)
        attrs = obj(payload, "object_attributes")
        if kind == "work_item" and not self._project_work_item(payload, attrs):
            return WebhookDelivery.ignored(
                self.name, delivery_id, name, "a work item that is not a project issue"
            )
        deleted = action == "delete"
        if kind == "note":
            noteable = attrs.get("noteable_type")
            if noteable != "Issue" or attrs.get("system"):
                what = "a system note" if noteable == "Issue" else f"a comment on a {noteable}"
                return WebhookDelivery.ignored(self.name, delivery_id, name, f"about {what}")
            iid = int(obj(payload, "issue")["iid"])
            note = None if deleted else self._hook_note(payload, attrs, iid)
            updated_at = parse_time(attrs.get("updated_at") or attrs["created_at"])
            ref, key = self.issue_handles(iid)
            change = WebhookChange.of_comment(
                ref, key, str(attrs["id"]), updated_at, comment=note, deleted=deleted
            )
        else:
            iid = int(attrs["iid"])
            issue = None if deleted else self._hook_issue(payload, attrs)
            ref, key = self.issue_handles(iid)
            change = WebhookChange.of_issue(
                ref, key, parse_time(attrs["updated_at"]), issue=issue, deleted=deleted
            )
        return WebhookDelivery.of_changes(self.name, delivery_id, name, change)

    @staticmethod
    def _project_work_item(payload: Mapping[str, Any], attrs: Mapping[str, Any]) -> bool:
        """Whether a ``work_item`` delivery is one of the project's issues (an issue, incident, task, test
        case...: the issues API serves it by iid). An epic, or any group-level work item (no ``project``),
        has an iid of its own namespace: read as project issue #iid it would overwrite an unrelated issue."""
        kind = str(attrs.get("type") or "Issue").strip().lower()
        return isinstance(payload.get("project"), Mapping) and kind != "epic"

    def _same_project(self, payload: Mapping[str, Any]) -> bool:
        project = payload.get("project")
        if not isinstance(project, Mapping):
            return True  # nothing to compare: the hook's secret already ties it to this connection
        names = {str(project.get("id")), str(project.get("path_with_namespace") or "").lower()}
        return self.project.lower() in names

    def _hook_issue(self, payload: Mapping[str, Any], attrs: Mapping[str, Any]) -> Issue | None:
        if "labels" not in payload or ("assignees" not in payload and attrs.get("assignee_ids") != []):
            return None
        state = str(attrs["state"])
        rest_shape = {
            "iid": attrs["iid"],
            "title": attrs["title"],
            "description": attrs.get("description"),
            "state": "opened" if state == "reopened" else state,
            "labels": [str(label["title"]) for label in payload["labels"] or []],
            "assignees": payload.get("assignees") or [],
            "web_url": attrs.get("url"),
            # The hook names the work item type ("Issue", "Test Case"); REST its issue_type ("test_case").
            "issue_type": str(attrs["type"]).lower().replace(" ", "_") if attrs.get("type") else None,
            "created_at": parse_time(attrs["created_at"]),
            "updated_at": parse_time(attrs["updated_at"]),
        }
        return self.normalize_issue(rest_shape)

    def _hook_note(self, payload: Mapping[str, Any], attrs: Mapping[str, Any], iid: int) -> Comment | None:
        actor = payload.get("user")
        if (
            not isinstance(actor, Mapping)
            or actor.get("id") is None
            or actor.get("id") != attrs.get("author_id")
        ):
            return None
        created_at = parse_time(attrs["created_at"])
        rest_shape = {
            "id": attrs["id"],
            "body": attrs.get("note"),
            "author": {"username": actor.get("username")},
            "created_at": created_at,
            "updated_at": parse_time(attrs["updated_at"]) if attrs.get("updated_at") else created_at,
        }
        return self.normalize_note(rest_shape, iid=iid)

    # ---- connection test -------------------------------------------------------------------------
    def connection_checks(self) -> Sequence[CheckStep]:
        def auth() -> ConnectionCheck:
            body = self.expect_dict(self.get_json("/user"), "user")
            self._identity = str(body.get("username") or "") or None
            return ConnectionCheck("auth", True, f"authenticated as {self._identity}")

        def scopes() -> ConnectionCheck:
            try:
                body = self.expect_dict(self.get_json("/personal_access_tokens/self"), "token")
            except (NotFoundError, PermissionDeniedError):
                # OAuth tokens and older GitLab versions cannot describe themselves.
                return ConnectionCheck(
                    "scopes", True, "token scopes not readable; the project checks below decide"
                )
            granted = sorted(str(s) for s in body.get("scopes") or [])
            expiry = self._expiry_warning(body.get("expires_at"))
            if "api" in granted:
                return ConnectionCheck("scopes", True, f"token scopes: {', '.join(granted)}", expiry)
            if "read_api" in granted:
                # Enough to sync, so the check passes; the guidance says what writing would need.
                read_only = "read_api syncs; creating issues, comments and webhooks needs the api scope."
                return ConnectionCheck(
                    "scopes",
                    True,
                    f"token scopes: {', '.join(granted)} (read only)",
                    f"{read_only} {expiry}" if expiry else read_only,
                )
            return self.scopes_refused(granted, "Give the token the api scope (read_api to sync only).")

        def project() -> ConnectionCheck:
            body = self.expect_dict(self.get_json(self.project_path), "project")
            name = str(body.get("path_with_namespace") or self.project)
            if body.get("issues_enabled") is False:
                return self.issues_turned_off(
                    "project",
                    name,
                    "Enable Issues in the project's settings (Visibility, project features, permissions).",
                )
            permissions = body.get("permissions") or {}
            levels = [
                int((permissions.get(k) or {}).get("access_level") or 0)
                for k in ("project_access", "group_access")
            ]
            role = (
                ACCESS_LEVELS.get(max(levels), "none (public project)")
                if max(levels)
                else "none (public project)"
            )
            return ConnectionCheck("project", True, f"{name} reachable; role: {role}")

        return (("auth", auth), ("scopes", scopes), ("project", project), ("webhooks", self.webhook_check))

    webhook_guidance = (
        "Registering webhooks needs the Maintainer role on the project. Without it, sync polls."
    )

    def _expiry_warning(self, expires_at: Any) -> str | None:
        if not isinstance(expires_at, str) or not expires_at:
            return None
        try:
            expires = datetime.fromisoformat(expires_at)
        except ValueError:
            return None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires - self.now() <= TOKEN_EXPIRY_WARNING:
            return f"The token expires on {expires.date().isoformat()}: renew it before then."
        return None


__all__ = ["GITLAB_ERROR_RULES", "GitLabAdapter"]
