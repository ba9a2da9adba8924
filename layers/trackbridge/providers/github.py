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
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import Comment, Issue, User, status_category_of
from trackbridge.providers._util import (
    assignee_objects,
    iso_seconds,
    issue_number,
    label_names,
    segment,
    trailing_number,
)
from trackbridge.providers.auth import BearerScheme
from trackbridge.providers.base import CheckStep, TrackerAdapter, describe_failure
from trackbridge.providers.classify import ErrorContext, ErrorRule
from trackbridge.providers.errors import NotFoundError, PermissionDeniedError
from trackbridge.providers.pagination import LinkHeaderPaginator, PageCursor, PageRequest
from trackbridge.providers.ratelimit import GitHubRateLimits
from trackbridge.providers.signatures import HubSignature
from trackbridge.providers.types import (
    Capabilities,
    CommentPage,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Transition,
    WebhookRegistration,
)

API_VERSION = "2022-11-28"
DEFAULT_WEBHOOK_EVENTS = ("issues", "issue_comment")
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


class GitHubAdapter(TrackerAdapter):
    name = "github"
    display_name = "GitHub"
    capabilities = Capabilities(
        transitions=True,
        repo_wide_comments=True,
        conditional_requests=True,
        webhook_registration=True,
        security_advisories=True,
    )
    auth_scheme = BearerScheme()
    scope_keys = ("repo",)
    default_base_url = "https://api.github.com"
    page_size = 100
    paginator = LinkHeaderPaginator()
    rate_limits = GitHubRateLimits()
    error_rules = GITHUB_ERROR_RULES
    signature_schemes = (HubSignature("X-Hub-Signature-256"),)
    # since= is second-precise and compares GitHub's own timestamps: a small margin is enough.
    incremental_overlap = timedelta(seconds=10)
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

    @property
    def locator(self) -> str:
        """The ``base_url_or_repo_url`` of external ids; the same rule as ``Connection.locator``."""
        return f"{self.config.base_url.rstrip('/')}/repos/{self.repo}"

    # ---- normalization ---------------------------------------------------------------------------
    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        def build() -> Issue:
            number = int(raw["number"])
            state = str(raw["state"])
            assignees = assignee_objects(raw)
            return Issue(
                ref=issue_ref(self.connection_id, number),
                external_id=external_id(self.name, self.locator, number),
                connection_id=self.connection_id,
                provider="github",
                key=f"#{number}",
                title=str(raw["title"]),
                body=raw.get("body") or "",
                status=state,
                status_category=status_category_of(state),
                assignees=[str(a["login"]) for a in assignees],
                labels=label_names(raw["labels"]),
                priority=None,
                url=raw.get("html_url"),
                created_at=raw["created_at"],
                updated_at=raw["updated_at"],
            ).with_hash()

        return self.normalize("issue", build)

    def normalize_comment(self, raw: Mapping[str, Any], *, number: int | None = None) -> Comment:
        def build() -> Comment:
            issue = number if number is not None else trailing_number(str(raw["issue_url"]))
            if issue is None:
                raise ValueError("comment without an issue number")
            user = raw.get("user") or {}
            return Comment(
                id=str(raw["id"]),
                issue_ref=issue_ref(self.connection_id, issue),
                connection_id=self.connection_id,
                author=user.get("login"),
                body=raw.get("body") or "",
                created_at=raw["created_at"],
                updated_at=raw["updated_at"],
            ).with_hash()

        return self.normalize("comment", build)

    def normalize_user(self, raw: Mapping[str, Any]) -> User:
        def build() -> User:
            return User(
                id=str(raw["id"]),
                connection_id=self.connection_id,
                login=raw.get("login"),
                display_name=raw.get("name"),
                email=raw.get("email"),
            )

        return self.normalize("user", build)

    @staticmethod
    def _is_pull_request(raw: Mapping[str, Any]) -> bool:
        return "pull_request" in raw

    @staticmethod
    def _is_pull_request_comment(raw: Mapping[str, Any]) -> bool:
        return "/pull/" in str(raw.get("html_url") or "")

    # ---- listings --------------------------------------------------------------------------------
    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        params: dict[str, Any] = {"state": "all" if include_closed else "open", "per_page": self.page_size}
        if since is not None:
            params.update(since=iso_seconds(since), sort="updated", direction="asc")
        else:
            params.update(sort="created", direction="asc")
        request = PageRequest(f"{self.repo_path}/issues", params)
        for page in self.iter_pages(request, cursor=cursor, conditional=True):
            yield self.normalized_page(page, "issues", self.normalize_issue, skip=self._is_pull_request)

    def iter_comment_pages(
        self, *, since: datetime | None = None, cursor: PageCursor | None = None
    ) -> Iterator[CommentPage]:
        params: dict[str, Any] = {"per_page": self.page_size, "direction": "asc"}
        if since is not None:
            params.update(since=iso_seconds(since), sort="updated")
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

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        limit = max(1, min(limit, 1000))  # GitHub search never returns more than 1000 results
        request = PageRequest(
            "/search/issues", {"q": f"repo:{self.repo} is:issue {query}".strip(), "per_page": min(limit, 100)}
        )
        found: list[Issue] = []
        for page in self.iter_pages(request):
            body = self.expect_dict(page.body, "search results")
            for raw in self.expect_list(body.get("items"), "search items"):
                if not self._is_pull_request(raw):
                    found.append(self.normalize_issue(raw))
            if len(found) >= limit:
                break
        return found[:limit]

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
        if not payload:
            return self.get_issue(str(number))
        # Absolute values: repeating the PATCH after a timeout leaves the same issue.
        raw = self.send_json("PATCH", path, json=payload, idempotent=True)
        return self.normalize_issue(self.expect_dict(raw, "updated issue"))

    _TRANSITIONS: ClassVar[Mapping[str, Mapping[str, str]]] = {
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

    def list_transitions(self, key: str) -> list[Transition]:
        issue = self.get_issue(key)
        if issue.status == "closed":
            return [Transition("reopen", "Reopen", "open", "todo")]
        return [
            Transition("close", "Close as completed", "closed", "done"),
            Transition("close_not_planned", "Close as not planned", "closed", "done"),
            Transition("close_duplicate", "Close as duplicate", "closed", "done"),
        ]

    def transition_issue(self, key: str, target: str) -> Issue:
        number = issue_number(key, provider=self.name)
        payload = self._TRANSITIONS.get(target.strip().lower())
        if payload is None:
            raise ValidationFailed(
                f"GitHub issues are open or closed; cannot move to {target!r}",
                details={"target": target, "accepted": sorted(self._TRANSITIONS)},
            )
        raw = self.send_json(
            "PATCH", f"{self.repo_path}/issues/{number}", json=dict(payload), idempotent=True
        )
        return self.normalize_issue(self.expect_dict(raw, "transitioned issue"))

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
        raw = self.expect_dict(self.send_json("POST", f"{self.repo_path}/hooks", json=payload), "webhook")

        def build() -> WebhookRegistration:
            return WebhookRegistration(
                id=str(raw["id"]),
                url=str((raw.get("config") or {}).get("url") or url),
                events=tuple(str(e) for e in raw.get("events") or events or DEFAULT_WEBHOOK_EVENTS),
                active=bool(raw.get("active", True)),
            )

        return self.normalize("webhook", build)

    def unregister_webhook(self, hook_id: str) -> None:
        self.delete_if_present(f"{self.repo_path}/hooks/{segment(hook_id)}")

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
            return ConnectionCheck(
                "scopes",
                False,
                f"token scopes: {', '.join(sorted(granted)) or 'none'}",
                "Give the classic token the repo scope (public_repo for public repositories only).",
                ErrorCode.PERMISSION_DENIED,
            )

        def repository() -> ConnectionCheck:
            body = self.expect_dict(self.get_json(self.repo_path), "repository")
            if body.get("has_issues") is False:
                return ConnectionCheck(
                    "repository",
                    False,
                    f"{self.repo} has issues turned off",
                    "Enable Issues in the repository's settings.",
                    ErrorCode.NOT_FOUND,
                )
            permissions = body.get("permissions") or {}
            granted = ", ".join(
                k for k in ("admin", "maintain", "push", "triage", "pull") if permissions.get(k)
            )
            visibility = "private" if body.get("private") else "public"
            return ConnectionCheck(
                "repository", True, f"{self.repo} ({visibility}) reachable; access: {granted or 'read'}"
            )

        def webhooks() -> ConnectionCheck:
            try:
                self.get_json(f"{self.repo_path}/hooks", params={"per_page": 1})
            except (PermissionDeniedError, NotFoundError) as exc:
                return ConnectionCheck(
                    "webhooks",
                    False,
                    describe_failure(exc),
                    "Registering webhooks needs admin rights on the repository (classic token: repo or "
                    "admin:repo_hook scope; fine-grained: Webhooks permission). Without it, sync polls.",
                    ErrorCode.PERMISSION_DENIED,
                )
            return ConnectionCheck("webhooks", True, "can register webhooks")

        return (("auth", auth), ("scopes", scopes), ("repository", repository), ("webhooks", webhooks))


__all__ = ["API_VERSION", "GITHUB_ERROR_RULES", "GitHubAdapter"]
