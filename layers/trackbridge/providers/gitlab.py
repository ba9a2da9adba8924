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

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import Comment, Issue, User, status_category_of
from trackbridge.providers._util import assignee_objects, iso_seconds, issue_number, label_names, segment
from trackbridge.providers.auth import HeaderTokenScheme
from trackbridge.providers.base import CheckStep, FetchedPage, TrackerAdapter, describe_failure
from trackbridge.providers.classify import ErrorRule
from trackbridge.providers.errors import NotFoundError, PermissionDeniedError, TrackerError
from trackbridge.providers.pagination import LinkHeaderPaginator, PageCursor, PageRequest
from trackbridge.providers.ratelimit import GitLabRateLimits
from trackbridge.providers.signatures import PlainToken, StandardWebhooks
from trackbridge.providers.types import (
    Attachment,
    Capabilities,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Transition,
    WebhookRegistration,
)

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
}
DEFAULT_WEBHOOK_EVENTS = ("issues", "notes")


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


class GitLabAdapter(TrackerAdapter):
    name = "gitlab"
    display_name = "GitLab"
    # GitLab's Rack stack answers If-None-Match with 304: it saves the transfer, not the request quota.
    capabilities = Capabilities(
        attachments=True, transitions=True, conditional_requests=True, webhook_registration=True
    )
    auth_scheme = HeaderTokenScheme(header="PRIVATE-TOKEN")
    scope_keys = ("project",)
    default_base_url = "https://gitlab.com"
    page_size = 100
    paginator = LinkHeaderPaginator()
    rate_limits = GitLabRateLimits()
    error_rules = GITLAB_ERROR_RULES
    signature_schemes = (PlainToken("X-Gitlab-Token"), StandardWebhooks())
    # A new note bumps the issue's updated_at only when it is over 60 s old (ThrottledTouch): reach back
    # past that, plus margin, so note-driven updates are never missed.
    incremental_overlap = timedelta(minutes=2)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Learned from the tracker on first use: does this GitLab page project issues by keyset?
        self._keyset_issues = True

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

    @property
    def locator(self) -> str:
        """The ``base_url_or_repo_url`` of external ids; the same rule as ``Connection.locator``."""
        return f"{self.config.base_url.rstrip('/')}/projects/{self.project}"

    def _issue_path(self, key: str | int) -> str:
        return f"{self.project_path}/issues/{issue_number(key, provider=self.name)}"

    # ---- normalization ---------------------------------------------------------------------------
    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        def build() -> Issue:
            iid = int(raw["iid"])
            state = str(raw["state"])
            labels = label_names(raw.get("labels") or [])
            priority = next((x[len(PRIORITY_SCOPE) :] for x in labels if x.startswith(PRIORITY_SCOPE)), None)
            assignees = assignee_objects(raw)
            return Issue(
                ref=issue_ref(self.connection_id, iid),
                external_id=external_id(self.name, self.locator, iid),
                connection_id=self.connection_id,
                provider="gitlab",
                key=f"#{iid}",
                title=str(raw["title"]),
                body=raw.get("description") or "",
                status=state,
                status_category=status_category_of(state),
                assignees=[str(a["username"]) for a in assignees],
                labels=labels,
                priority=priority,
                url=raw.get("web_url"),
                created_at=raw["created_at"],
                updated_at=raw["updated_at"],
            ).with_hash()

        return self.normalize("issue", build)

    def normalize_note(self, raw: Mapping[str, Any], *, iid: int) -> Comment:
        def build() -> Comment:
            author = raw.get("author") or {}
            return Comment(
                id=str(raw["id"]),
                issue_ref=issue_ref(self.connection_id, iid),
                connection_id=self.connection_id,
                author=author.get("username"),
                body=raw.get("body") or "",
                created_at=raw["created_at"],
                updated_at=raw.get("updated_at") or raw["created_at"],
            ).with_hash()

        return self.normalize("note", build)

    def normalize_user(self, raw: Mapping[str, Any]) -> User:
        def build() -> User:
            return User(
                id=str(raw["id"]),
                connection_id=self.connection_id,
                login=raw.get("username"),
                display_name=raw.get("name"),
                email=raw.get("public_email") or raw.get("email") or None,
                active=raw.get("state", "active") == "active",
            )

        return self.normalize("user", build)

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

    def _raw_issue_pages(
        self, since: datetime | None, include_closed: bool, cursor: PageCursor | None
    ) -> Iterator[FetchedPage]:
        if cursor is not None or not self._keyset_issues:
            # A stored cursor is a full next URL: it already says which pagination it belongs to.
            request = self._issue_listing(since, include_closed, keyset=self._keyset_issues)
            yield from self.iter_pages(request, cursor=cursor, conditional=True)
            return
        pages = self.iter_pages(self._issue_listing(since, include_closed, keyset=True), conditional=True)
        try:
            first = next(pages)
        except TrackerError as exc:
            if not _keyset_refused(exc):
                raise
            self._keyset_issues = False
            yield from self.iter_pages(
                self._issue_listing(since, include_closed, keyset=False), conditional=True
            )
            return
        yield first
        yield from pages

    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        for page in self._raw_issue_pages(since, include_closed, cursor):
            yield self.normalized_page(page, "issues", self.normalize_issue)

    def get_issue(self, key: str) -> Issue:
        return self.normalize_issue(self.expect_dict(self.get_json(self._issue_path(key)), "issue"))

    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        iid = issue_number(key, provider=self.name)
        params = {"per_page": self.page_size, "sort": "asc", "order_by": "created_at"}
        raw_items = self.collect(PageRequest(f"{self._issue_path(iid)}/notes", params))
        notes = [self.normalize_note(r, iid=iid) for r in raw_items if not r.get("system")]
        if since is not None:
            # The notes API has no time filter: filter here, the request count is the same.
            notes = [n for n in notes if n.updated_at >= since]
        return notes

    def get_comment(self, key: str, comment_id: str) -> Comment:
        iid = issue_number(key, provider=self.name)
        raw = self.expect_dict(self.get_json(f"{self._issue_path(iid)}/notes/{int(comment_id)}"), "note")
        return self.normalize_note(raw, iid=iid)

    def list_users(self) -> list[User]:
        raw_items = self.collect(
            PageRequest(f"{self.project_path}/members/all", {"per_page": self.page_size})
        )
        return [self.normalize_user(r) for r in raw_items]

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        limit = max(1, min(limit, 1000))
        params = {"search": query, "per_page": min(limit, 100), "order_by": "updated_at", "sort": "desc"}
        found: list[Issue] = []
        for page in self.iter_pages(PageRequest(f"{self.project_path}/issues", params)):
            found.extend(self.normalize_issue(r) for r in self.expect_list(page.body, "issues"))
            if len(found) >= limit:
                break
        return found[:limit]

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
        if not payload:
            return self.get_issue(key)
        raw = self.send_json("PUT", self._issue_path(key), json=payload)
        return self.normalize_issue(self.expect_dict(raw, "updated issue"))

    _TRANSITIONS: ClassVar[Mapping[str, str]] = {
        "done": "close",
        "close": "close",
        "closed": "close",
        "todo": "reopen",
        "open": "reopen",
        "opened": "reopen",
        "reopen": "reopen",
        "reopened": "reopen",
    }

    def list_transitions(self, key: str) -> list[Transition]:
        issue = self.get_issue(key)
        if issue.status == "closed":
            return [Transition("reopen", "Reopen", "opened", "todo")]
        return [Transition("close", "Close", "closed", "done")]

    def transition_issue(self, key: str, target: str) -> Issue:
        event = self._TRANSITIONS.get(target.strip().lower())
        if event is None:
            raise ValidationFailed(
                f"GitLab issues are opened or closed; cannot move to {target!r}",
                details={"target": target, "accepted": sorted(self._TRANSITIONS)},
            )
        raw = self.send_json("PUT", self._issue_path(key), json={"state_event": event})
        return self.normalize_issue(self.expect_dict(raw, "transitioned issue"))

    def add_comment(self, key: str, body: str) -> Comment:
        iid = issue_number(key, provider=self.name)
        raw = self.send_json("POST", f"{self._issue_path(iid)}/notes", json={"body": body})
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
        raw = self.expect_dict(self.send_json("POST", f"{self.project_path}/hooks", json=payload), "webhook")

        def build() -> WebhookRegistration:
            return WebhookRegistration(
                id=str(raw["id"]), url=str(raw.get("url") or url), events=tuple(wanted), active=True
            )

        return self.normalize("webhook", build)

    def unregister_webhook(self, hook_id: str) -> None:
        self.delete_if_present(f"{self.project_path}/hooks/{segment(hook_id)}")

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
            return ConnectionCheck(
                "scopes",
                False,
                f"token scopes: {', '.join(granted) or 'none'}",
                "Give the token the api scope (read_api to sync only).",
                ErrorCode.PERMISSION_DENIED,
            )

        def project() -> ConnectionCheck:
            body = self.expect_dict(self.get_json(self.project_path), "project")
            name = str(body.get("path_with_namespace") or self.project)
            if body.get("issues_enabled") is False:
                return ConnectionCheck(
                    "project",
                    False,
                    f"{name} has issues turned off",
                    "Enable Issues in the project's settings (Visibility, project features, permissions).",
                    ErrorCode.NOT_FOUND,
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

        def webhooks() -> ConnectionCheck:
            try:
                self.get_json(f"{self.project_path}/hooks", params={"per_page": 1})
            except (PermissionDeniedError, NotFoundError) as exc:
                return ConnectionCheck(
                    "webhooks",
                    False,
                    describe_failure(exc),
                    "Registering webhooks needs the Maintainer role on the project. Without it, sync polls.",
                    ErrorCode.PERMISSION_DENIED,
                )
            return ConnectionCheck("webhooks", True, "can register webhooks")

        return (("auth", auth), ("scopes", scopes), ("project", project), ("webhooks", webhooks))

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
