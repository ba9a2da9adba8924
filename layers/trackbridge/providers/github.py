"""GitHub Issues over the REST API (``https://api.github.com`` or a GHES ``https://host/api/v3``).

Request floors this adapter is built to meet (shared/research/request-floors.md): issues cost
``ceil(N/100)`` requests (``per_page=100``) and comments ``ceil(C/100)`` through the repository-wide comment
listing; an idle incremental sync costs two conditional requests answered 304, which GitHub does not count
against the primary limit.

GitHub specifics handled here (shared/research/tracker-apis.md, section 2):

- issue listings include pull requests: items with a ``pull_request`` key are skipped and counted apart, and
  so are comments whose ``html_url`` points at a pull request;
- full listings page by ``sort=created&direction=asc`` (an update cannot move an item between pages);
  incremental ones by ``since`` + ``sort=updated&direction=asc`` (DESIGN section 10);
- ``state`` is ``open``/``closed``; the status category comes from it, never from a label or a name;
- exhausting the hourly budget answers 403 *or* 429 with ``x-ratelimit-remaining: 0`` (a quota), and the
  secondary limits say so only in the message (wait ``retry-after``, else one minute);
- there is no REST upload for issue attachments, and no worklogs or sprints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from types import MappingProxyType
from typing import Any, ClassVar

from trackbridge.domain.dev_refs import DevActivity
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import ADVISORY_LOCATOR_SUFFIX, Comment, Issue, User
from trackbridge.domain.trackers import GITHUB
from trackbridge.providers._util import iso_seconds, issue_number, segment, trailing_number
from trackbridge.providers.auth import BearerScheme
from trackbridge.providers.base import CheckStep, FetchedPage
from trackbridge.providers.classify import ErrorContext, ErrorRule
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.forge import ForgeAdapter, ForgeFields, objects
from trackbridge.providers.pagination import LinkHeaderPaginator, PageCursor, PageRequest
from trackbridge.providers.ratelimit import GitHubRateLimits
from trackbridge.providers.signatures import HubSignature
from trackbridge.providers.types import (
    Capabilities,
    CommentPage,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    Transition,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import (
    WebhookChange,
    WebhookDelivery,
    WebhookPayloadError,
    header,
    obj,
    parse_time,
)

API_VERSION = "2022-11-28"
# A security advisory's severity -> the priority of the issue it becomes.
ADVISORY_PRIORITIES: Mapping[str, str] = MappingProxyType(
    {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}
)
DEFAULT_WEBHOOK_EVENTS = ("issues", "issue_comment", "push", "pull_request")
# Development activity: commits and pull requests whose texts name issues (link detection).
ACTIVITY_EVENTS = ("push", "pull_request")
PULL_ACTIONS = frozenset({"opened", "edited", "reopened", "synchronize", "ready_for_review"})
# Classic tokens list their scopes in x-oauth-scopes; any of these can read and write issues of the repo.
_REPO_SCOPES = frozenset({"repo", "public_repo"})


def _budget_spent(ctx: ErrorContext) -> bool:
    return ctx.rate_limit.exhausted


GITHUB_ERROR_RULES: tuple[ErrorRule, ...] = (
    # Secondary limits first: they can arrive while the hourly budget still has requests left.
    ErrorRule(
        ErrorCode.RATE_LIMITED,
        frozenset({403, 429}),
        contains="secondary rate limit",
        secondary=True,
        default_wait_s=60.0,
        guidance="GitHub's secondary limit (too many requests at once or too many writes): "
        "work resumes after the wait; spread writes out.",
    ),
    ErrorRule(
        ErrorCode.RATE_LIMITED,
        frozenset({403, 429}),
        contains="abuse detection",
        secondary=True,
        default_wait_s=60.0,
    ),
    ErrorRule(ErrorCode.QUOTA_EXHAUSTED, frozenset({403, 429}), when=_budget_spent),
    ErrorRule(ErrorCode.QUOTA_EXHAUSTED, frozenset({403, 429}), contains="API rate limit exceeded"),
    ErrorRule(
        ErrorCode.AUTH_EXPIRED,
        frozenset({401}),
        contains="expired",
        guidance="The GitHub token has expired: create a new one and update the connection.",
    ),
    ErrorRule(
        ErrorCode.AUTH_INVALID,
        frozenset({401}),
        guidance="GitHub rejected the token (revoked, expired or mistyped): create a new token "
        "and update the connection.",
    ),
    ErrorRule(
        ErrorCode.SUSPENDED_PAYMENT,
        frozenset({403}),
        contains="suspended",
        guidance="The GitHub account or organization is suspended: its owner must contact GitHub.",
    ),
    ErrorRule(
        ErrorCode.SUSPENDED_PAYMENT,
        frozenset({403}),
        contains="billing",
        guidance="The GitHub account is locked for a billing problem: its owner must settle it.",
    ),
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({403}),
        contains="Resource not accessible by personal access token",
        guidance="The fine-grained token lacks a permission: give it Issues (read and write) and, "
        "for webhooks, Webhooks (read and write) on this repository.",
    ),
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({403}),
        contains="Resource not accessible by integration",
        guidance="The GitHub App lacks a permission: grant it Issues (and Webhooks) on this repository.",
    ),
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({403}),
        contains="admin rights",
        guidance="Managing webhooks needs admin rights on the repository.",
    ),
    # Not NOT_FOUND: every issue would look deleted and a sync would tombstone the whole repository.
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({410}),
        contains="Issues are disabled",
        guidance="Issues are turned off for this repository: enable them in the repository settings.",
    ),
    ErrorRule(
        ErrorCode.NOT_FOUND,
        frozenset({404}),
        guidance="GitHub answers 404 for missing items and for private repositories the token cannot see: "
        "check the repository name and the token's access.",
    ),
)


# Nothing on GitHub is older than this: a ``since`` before it filters nothing.
_GITHUB_BEGAN = datetime(2008, 1, 1, tzinfo=UTC)


def _since_param(since: datetime) -> dict[str, str]:
    """``{"since": ...}``, or nothing for a moment before GitHub existed: GitHub answers
    ``since=1970-01-01T00:00:00Z`` with an empty list (research/tracker-api-changes-2026.md), and an earlier
    ``since`` filters nothing anyway, so the same update-ordered listing is asked for without it."""
    stamp = iso_seconds(since)  # refuses a moment without a time zone
    return {"since": stamp} if since > _GITHUB_BEGAN else {}


def _issue_of_comment(raw: Mapping[str, Any]) -> int:
    """A comment of the repository-wide listing names its issue only in ``issue_url``."""
    number = trailing_number(str(raw["issue_url"]))
    if number is None:
        raise ValueError("comment without an issue number")
    return number


class GitHubAdapter(ForgeAdapter):
    tracker = GITHUB  # name, display name, scope keys, default base URL, incremental overlap and its reason
    capabilities = Capabilities(
        transitions=True,
        repo_wide_comments=True,
        conditional_requests=True,
        webhook_registration=True,
        security_advisories=True,
        dev_activity=True,
        users=True,
        repository_activity=True,
    )
    auth_scheme = BearerScheme()
    page_size = 100
    paginator = LinkHeaderPaginator()
    rate_limits = GitHubRateLimits()
    error_rules = GITHUB_ERROR_RULES
    signature_schemes = (HubSignature("X-Hub-Signature-256"),)
    default_headers: ClassVar[Mapping[str, str]] = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }

    # ---- addressing ------------------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        base = self.config.base_url.rstrip("/")
        # People paste the web address; the REST API of github.com lives on its own host.
        if base in ("https://github.com", "http://github.com"):
            return "https://api.github.com"
        return base

    @property
    def repo(self) -> str:
        return self.config.scope_value("repo")

    @property
    def repo_path(self) -> str:
        owner, _, name = self.repo.partition("/")
        return f"/repos/{segment(owner)}/{segment(name)}"

    scope_path = repo_path

    # ---- normalization ---------------------------------------------------------------------------
    fields = ForgeFields(
        number="number",
        body="body",
        login="login",
        url="html_url",
        comment_author="user",
        labels_required=True,
    )

    def normalize_comment(self, raw: Mapping[str, Any], *, number: int | None = None) -> Comment:
        if number is None:
            number = self.normalize("comment", partial(_issue_of_comment, raw))
        return self.comment_of(raw, number)

    def type_of(self, raw: Mapping[str, Any]) -> str | None:
        kind = raw.get("type")
        return str(kind["name"]) if isinstance(kind, Mapping) and kind.get("name") else None

    def relations_of(self, raw: Mapping[str, Any], number: int) -> dict[str, Any]:
        """The parent comes free with the issue (``parent_issue_url``); children and blockers are listed
        only for issues whose ``sub_issues_summary.total`` or ``issue_dependencies_summary`` (all blockers,
        open or closed) is not zero: one request each, and none for the issues without them."""

        def counts() -> tuple[str | None, int, int]:
            parent_url = raw.get("parent_issue_url")
            subs = raw.get("sub_issues_summary") or {}
            deps = raw.get("issue_dependencies_summary") or {}
            blockers = deps.get("total_blocked_by", deps.get("blocked_by"))
            parent = self._ref_of_url(str(parent_url)) if parent_url else None
            return parent, int(subs.get("total") or 0), int(blockers or 0)

        parent, children, blockers = self.normalize("issue", counts)
        found: dict[str, Any] = {}
        if parent is not None:
            found["parent_ref"] = parent
        path = f"{self.repo_path}/issues/{number}"
        if children:
            found["sub_issue_refs"] = self._listed_refs(f"{path}/sub_issues")
        if blockers:
            found["blocked_by_refs"] = self._listed_refs(f"{path}/dependencies/blocked_by")
        return found

    def _listed_refs(self, path: str) -> list[str]:
        raws = self.collect(PageRequest(path, {"per_page": self.page_size}))
        return [self.normalize("issue", partial(self._ref_of_url, str(r["url"]))) for r in raws]

    def _ref_of_url(self, url: str) -> str:
        """``.../repos/{o}/{r}/issues/{n}``: this connection's issue ref, or ``o/r#n`` for an issue of another
        repository (GitHub links sub-issues and blockers across the repositories of one owner)."""
        head, sep, tail = url.rstrip("/").rpartition("/issues/")
        if not sep or not tail.isdigit():
            raise ValueError(f"not an issue URL: {url!r}")
        repo = "/".join(head.rsplit("/", 2)[-2:])
        if repo.lower() == self.repo.lower():
            return issue_ref(self.connection_id, int(tail))
        return f"{repo}#{int(tail)}"

    @staticmethod
    def _is_pull_request(raw: Mapping[str, Any]) -> bool:
        return "pull_request" in raw

    @staticmethod
    def _is_pull_request_comment(raw: Mapping[str, Any]) -> bool:
        return "/pull/" in str(raw.get("html_url") or "")

    # ---- listings --------------------------------------------------------------------------------
    def raw_issue_pages(
        self, since: datetime | None, include_closed: bool, cursor: PageCursor | None
    ) -> Iterator[FetchedPage]:
        params: dict[str, Any] = {"state": "all" if include_closed else "open", "per_page": self.page_size}
        if since is not None:
            params.update(sort="updated", direction="asc", **_since_param(since))
        else:
            params.update(sort="created", direction="asc")
        request = PageRequest(f"{self.repo_path}/issues", params)
        return self.iter_pages(request, cursor=cursor, conditional=True)

    def skip_issue(self, raw: Mapping[str, Any]) -> bool:
        return self._is_pull_request(raw)

    def iter_comment_pages(
        self, *, since: datetime | None = None, cursor: PageCursor | None = None
    ) -> Iterator[CommentPage]:
        params: dict[str, Any] = {"per_page": self.page_size, "direction": "asc"}
        if since is not None:
            params.update(sort="updated", **_since_param(since))
        else:
            params.update(sort="created")
        request = PageRequest(f"{self.repo_path}/issues/comments", params)
        for page in self.iter_pages(request, cursor=cursor, conditional=True):
            yield self.normalized_page(
                page, "comments", self.normalize_comment, skip=self._is_pull_request_comment
            )

    def get_issue(self, key: str) -> Issue:
        number = issue_number(key, provider=self.name)
        raw = self.expect_dict(self.get_json(f"{self.repo_path}/issues/{number}"), "issue")
        if self._is_pull_request(raw):
            raise NotFoundError(
                f"#{number} is a pull request, not an issue", code=ErrorCode.NOT_FOUND, provider=self.name
            )
        return self.normalize_issue(raw)

    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        number = issue_number(key, provider=self.name)
        params: dict[str, Any] = {"per_page": self.page_size}
        if since is not None:
            params["since"] = iso_seconds(since)
        raw_items = self.collect(PageRequest(f"{self.repo_path}/issues/{number}/comments", params))
        return [self.normalize_comment(r, number=number) for r in raw_items]

    def get_comment(self, key: str, comment_id: str) -> Comment:
        number = issue_number(key, provider=self.name)
        raw = self.expect_dict(
            self.get_json(f"{self.repo_path}/issues/comments/{int(comment_id)}"), "comment"
        )
        comment = self.normalize_comment(raw)
        if comment.issue_ref != issue_ref(self.connection_id, number):
            # Comment ids are repository-wide: one under another issue is not this issue's comment.
            raise NotFoundError(
                f"comment {comment_id} is not on #{number}", code=ErrorCode.NOT_FOUND, provider=self.name
            )
        return comment

    def list_users(self) -> list[User]:
        raw_items = self.collect(PageRequest(f"{self.repo_path}/assignees", {"per_page": self.page_size}))
        return [self.normalize_user(r) for r in raw_items]

    def search_request(self, query: str, per_page: int) -> PageRequest:
        return PageRequest(
            "/search/issues", {"q": f"repo:{self.repo} is:issue {query}".strip(), "per_page": per_page}
        )

    def search_hits(self, body: Any) -> list[Issue]:
        items = self.expect_list(self.expect_dict(body, "search results").get("items"), "search items")
        return [self.normalize_issue(raw) for raw in items if not self._is_pull_request(raw)]

    def list_security_advisories(self, *, state: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"per_page": self.page_size, "sort": "updated", "direction": "asc"}
        if state:
            params["state"] = state
        raw_items = self.collect(PageRequest(f"{self.repo_path}/security-advisories", params))

        def build(raw: Mapping[str, Any]) -> dict[str, Any]:
            return {
                "id": str(raw["ghsa_id"]),
                "cve_id": raw.get("cve_id"),
                "summary": raw.get("summary") or "",
                "severity": raw.get("severity"),
                "state": raw.get("state"),
                "url": raw.get("html_url"),
                "published_at": raw.get("published_at"),
                "updated_at": raw.get("updated_at"),
            }

        return [self.normalize("security advisory", partial(build, r)) for r in raw_items]

    def iter_advisory_issues(self, *, since: datetime | None = None) -> Iterator[list[Issue]]:
        """Pages of the repository's security advisories as issues (:func:`advisory_issue`), most recently
        updated first; paging stops at the first page that reaches before ``since`` (the listing has no
        ``since`` filter, and pages by ``before``/``after`` cursors in ``Link``)."""
        request = PageRequest(
            f"{self.repo_path}/security-advisories",
            {"per_page": self.page_size, "sort": "updated", "direction": "desc"},
        )
        for page in self.iter_pages(request):
            raws = self.expect_list(page.body, request.url)
            issues = [self.normalize("security advisory", partial(self.advisory_issue, raw)) for raw in raws]
            recent = [issue for issue in issues if since is None or issue.updated_at >= since]
            yield recent
            if len(recent) < len(issues):
                return

    def advisory_issue(self, raw: Mapping[str, Any]) -> Issue:
        """A repository security advisory as an issue of type Bug: key and native id its GHSA id, priority
        from its severity (critical -> Critical ... low -> Low), done once closed or withdrawn. Its external
        id, ``github:{repo locator}/security-advisories:{ghsa_id}``, links it to the advisory and can never
        equal an issue's (issues end in their number, under the repository locator itself)."""
        ghsa = str(raw["ghsa_id"])
        state = str(raw["state"])
        severity = raw.get("severity")
        return Issue(
            ref=issue_ref(self.connection_id, ghsa),
            external_id=external_id(self.name, self.locator + ADVISORY_LOCATOR_SUFFIX, ghsa),
            connection_id=self.connection_id,
            provider="github",
            key=ghsa,
            title=str(raw["summary"]),
            body=raw.get("description") or "",
            status=state,
            status_category="done" if state in ("closed", "withdrawn") else "todo",
            labels=[str(raw["cve_id"])] if raw.get("cve_id") else [],
            priority=ADVISORY_PRIORITIES.get(str(severity)) if severity else None,
            issue_type="Bug",
            url=raw.get("html_url"),
            created_at=raw["created_at"],
            updated_at=raw["updated_at"],
        ).with_hash()

    # ---- development activity --------------------------------------------------------------------
    request_kind = "pull_request"

    def commits_request(self, since: datetime | None) -> PageRequest:
        params = {**(_since_param(since) if since is not None else {}), "per_page": 100}
        return PageRequest(f"{self.repo_path}/commits", params)

    def requests_request(self, since: datetime | None) -> PageRequest:
        # No since filter on pulls: newest update first, and the caller stops past ``since``.
        params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100}
        return PageRequest(f"{self.repo_path}/pulls", params)

    # Repository activity: releases by creation, newest first; languages in bytes.
    release_time = "published_at"
    languages_in_bytes = True

    def releases_request(self) -> PageRequest:
        return PageRequest(f"{self.repo_path}/releases", {"per_page": 100})

    def commit_of(self, raw: Mapping[str, Any]) -> DevActivity:
        commit = obj(raw, "commit")
        signature = commit.get("committer") or obj(commit, "author")
        return DevActivity(
            kind="commit",
            id=str(raw["sha"]),
            text=str(commit["message"]),
            at=parse_time(signature["date"]),
            url=raw.get("html_url"),
        )

    def request_of(self, raw: Mapping[str, Any]) -> DevActivity:
        return DevActivity(
            kind="pull_request",
            id=str(int(raw["number"])),
            title=str(raw["title"]),
            text=str(raw.get("body") or ""),
            branch=str(obj(raw, "head")["ref"]),
            at=parse_time(raw["updated_at"]),
            url=raw.get("html_url"),
        )

    def push_commit_of(self, raw: Mapping[str, Any]) -> DevActivity:
        """A commit of a ``push`` delivery (``id``, ``message``, ``timestamp``, ``url``: not REST's)."""
        return DevActivity(
            kind="commit",
            id=str(raw["id"]),
            text=str(raw["message"]),
            at=parse_time(raw["timestamp"]),
            url=raw.get("url"),
        )

    # ---- writes ----------------------------------------------------------------------------------
    def create_issue(self, draft: IssueDraft) -> Issue:
        payload: dict[str, Any] = {**draft.fields, "title": draft.title, "body": draft.body}
        if draft.labels:
            payload["labels"] = list(draft.labels)
        if draft.assignees:
            payload["assignees"] = list(draft.assignees)
        if draft.issue_type:
            payload["type"] = draft.issue_type
        # GitHub has no priority field; a priority in the draft is deliberately not invented as a label.
        raw = self.send_json("POST", f"{self.repo_path}/issues", json=payload)
        return self.normalize_issue(self.expect_dict(raw, "created issue"))

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        number = issue_number(key, provider=self.name)
        path = f"{self.repo_path}/issues/{number}"
        if changes.add_labels:
            self.send_json(
                "POST", f"{path}/labels", json={"labels": list(changes.add_labels)}, idempotent=True
            )
        for label in changes.remove_labels:
            self.delete_if_present(f"{path}/labels/{segment(label)}")  # not on the issue: as wanted
        payload: dict[str, Any] = dict(changes.fields)
        if changes.title is not None:
            payload["title"] = changes.title
        if changes.body is not None:
            payload["body"] = changes.body
        if changes.labels is not None:
            payload["labels"] = list(changes.labels)
        if changes.assignees is not None:
            payload["assignees"] = list(changes.assignees)
        # Absolute values: repeating the PATCH after a timeout leaves the same issue.
        return self.write_issue(number, payload, "updated issue")

    open_state = "open"
    issue_write_method = "PATCH"
    state_changes: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "done": {"state": "closed", "state_reason": "completed"},
        "close": {"state": "closed", "state_reason": "completed"},
        "closed": {"state": "closed", "state_reason": "completed"},
        "completed": {"state": "closed", "state_reason": "completed"},
        "close_not_planned": {"state": "closed", "state_reason": "not_planned"},
        "not_planned": {"state": "closed", "state_reason": "not_planned"},
        "close_duplicate": {"state": "closed", "state_reason": "duplicate"},
        "duplicate": {"state": "closed", "state_reason": "duplicate"},
        "todo": {"state": "open"},
        "open": {"state": "open"},
        "reopen": {"state": "open"},
        "reopened": {"state": "open"},
    }

    close_transitions = (
        Transition("close", "Close as completed", "closed", "done"),
        Transition("close_not_planned", "Close as not planned", "closed", "done"),
        Transition("close_duplicate", "Close as duplicate", "closed", "done"),
    )

    def add_comment(self, key: str, body: str) -> Comment:
        number = issue_number(key, provider=self.name)
        raw = self.send_json("POST", f"{self.repo_path}/issues/{number}/comments", json={"body": body})
        return self.normalize_comment(self.expect_dict(raw, "comment"), number=number)

    # ---- webhooks --------------------------------------------------------------------------------
    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        payload = {
            "name": "web",
            "active": True,
            "events": list(events or DEFAULT_WEBHOOK_EVENTS),
            # content_type defaults to "form" on GitHub: ask for JSON explicitly.
            "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
        }

        def registration(raw: Mapping[str, Any]) -> WebhookRegistration:
            return WebhookRegistration(
                id=str(raw["id"]),
                url=str((raw.get("config") or {}).get("url") or url),
                events=tuple(str(e) for e in raw.get("events") or events or DEFAULT_WEBHOOK_EVENTS),
                active=bool(raw.get("active", True)),
            )

        return self.create_hook(payload, registration)

    def enable_webhook(self, hook_id: str) -> None:
        """Turn a hook that was set ``active: false`` back on."""
        self.send_json("PATCH", f"{self.repo_path}/hooks/{segment(hook_id)}", json={"active": True})

    webhook_delivery_headers = ("X-GitHub-Delivery",)

    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        """``X-GitHub-Event`` names the event, the body's ``action`` what happened.

        ``ping`` (sent when a hook is created) is a ping. ``issues`` and ``issue_comment`` are changes;
        every other event is ignored, and so is anything about a pull request (GitHub sends comments on
        pull requests as ``issue_comment``) or about another repository than the connection's. An
        ``issues`` event carries the whole issue in its REST shape, so it is normalized as a sync does;
        ``deleted`` and ``transferred`` (it left this repository) are deletes, timed by the issue's last
        ``updated_at`` (GitHub gives no deletion time). A comment event changes only its comment.
        """
        event = header(headers, "X-GitHub-Event")
        if event is None:
            raise WebhookPayloadError("no X-GitHub-Event header: not a GitHub delivery", provider=self.name)
        action = payload.get("action")
        name = f"{event}.{action}" if isinstance(action, str) else event
        if event == "ping":
            return WebhookDelivery.ping(self.name, delivery_id, name)
        if event not in ("issues", "issue_comment", *ACTIVITY_EVENTS):
            return WebhookDelivery.ignored(self.name, delivery_id, name, f"{event} events are not synced")
        repository = payload.get("repository")
        full_name = repository.get("full_name") if isinstance(repository, Mapping) else None
        if isinstance(full_name, str) and full_name.lower() != self.repo.lower():
            return WebhookDelivery.ignored(
                self.name, delivery_id, name, f"about {full_name}, not {self.repo}"
            )
        if event in ACTIVITY_EVENTS:
            return self._activity_delivery(event, action, payload, delivery_id, name)
        raw_issue = obj(payload, "issue")
        if self._is_pull_request(raw_issue):
            return WebhookDelivery.ignored(self.name, delivery_id, name, "about a pull request")
        number = int(raw_issue["number"])
        ref, key = self.issue_handles(number)
        if event == "issues" and action in ("deleted", "transferred"):
            change = WebhookChange.of_issue(ref, key, parse_time(raw_issue["updated_at"]), deleted=True)
        elif event == "issues":
            issue = self.normalize_issue(raw_issue)
            change = WebhookChange.of_issue(ref, key, issue.updated_at, issue=issue)
        else:
            raw_comment = obj(payload, "comment")
            comment_id = str(raw_comment["id"])
            if action == "deleted":
                updated_at = parse_time(raw_comment["updated_at"])
                change = WebhookChange.of_comment(ref, key, comment_id, updated_at, deleted=True)
            else:
                comment = self.normalize_comment(raw_comment, number=number)
                change = WebhookChange.of_comment(ref, key, comment_id, comment.updated_at, comment=comment)
        return WebhookDelivery.of_changes(self.name, delivery_id, name, change)

    def _activity_delivery(
        self, event: str, action: Any, payload: Mapping[str, Any], delivery_id: str, name: str
    ) -> WebhookDelivery:
        """``push``: its commits; ``pull_request`` opened, edited, reopened or synchronized: the request.
        A branch deletion pushes no commits and a closed request says nothing new: both are ignored."""
        if event == "push":
            commits = [self.push_commit_of(raw) for raw in objects(payload, "commits")]
            if not commits:
                return WebhookDelivery.ignored(self.name, delivery_id, name, "a push without commits")
            return WebhookDelivery.of_activity(self.name, delivery_id, name, *commits)
        if action not in PULL_ACTIONS:
            return WebhookDelivery.ignored(
                self.name, delivery_id, name, f"pull requests {action} say nothing new"
            )
        return WebhookDelivery.of_activity(
            self.name, delivery_id, name, self.request_of(obj(payload, "pull_request"))
        )

    # ---- connection test -------------------------------------------------------------------------
    def connection_checks(self) -> Sequence[CheckStep]:
        state: dict[str, Any] = {}

        def auth() -> ConnectionCheck:
            response = self.request("GET", "/user")
            body = self.expect_dict(self.decode(response), "user")
            self._identity = str(body.get("login") or "") or None
            state["scopes"] = response.headers.get("x-oauth-scopes")
            state["expires"] = response.headers.get("github-authentication-token-expiration")
            message = f"authenticated as {self._identity}"
            if state["expires"]:
                message += f"; the token expires {state['expires']}"
            return ConnectionCheck("auth", True, message)

        def scopes() -> ConnectionCheck:
            header = state.get("scopes")
            if header is None:
                return ConnectionCheck(
                    "scopes",
                    True,
                    "fine-grained or app token: its permissions are checked on the repository below",
                )
            granted = {s.strip() for s in header.split(",") if s.strip()}
            if granted & _REPO_SCOPES:
                only_public = "repo" not in granted
                return ConnectionCheck(
                    "scopes",
                    True,
                    f"token scopes: {', '.join(sorted(granted))}",
                    "public_repo reaches public repositories only; use the repo scope for private ones"
                    if only_public
                    else None,
                )
            return self.scopes_refused(
                granted, "Give the classic token the repo scope (public_repo for public repositories only)."
            )

        def repository() -> ConnectionCheck:
            body = self.expect_dict(self.get_json(self.repo_path), "repository")
            if body.get("has_issues") is False:
                return self.issues_turned_off(
                    "repository", self.repo, "Enable Issues in the repository's settings."
                )
            permissions = body.get("permissions") or {}
            granted = ", ".join(
                k for k in ("admin", "maintain", "push", "triage", "pull") if permissions.get(k)
            )
            visibility = "private" if body.get("private") else "public"
            return ConnectionCheck(
                "repository", True, f"{self.repo} ({visibility}) reachable; access: {granted or 'read'}"
            )

        return (
            ("auth", auth),
            ("scopes", scopes),
            ("repository", repository),
            ("webhooks", self.webhook_check),
        )

    webhook_guidance = (
        "Registering webhooks needs admin rights on the repository (classic token: repo or "
        "admin:repo_hook scope; fine-grained: Webhooks permission). Without it, sync polls."
    )


__all__ = ["ADVISORY_PRIORITIES", "API_VERSION", "GITHUB_ERROR_RULES", "GitHubAdapter"]
