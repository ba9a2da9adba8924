"""Shared ground of the GitHub sandbox's route modules: constants, GitHub's validation error, the list
filters, and the helpers every handler uses (the repository and issue lookups the caller may see, query
parsing with GitHub's 422s, numbered paging with ``Link``, webhook payloads, the search bucket).

``GitHubSandbox`` (``sandbox.py``) is assembled from route mixins that all derive from :class:`GitHubBase`:
``_repository`` (account, limits, repository, pull requests), ``_issues`` (issues, labels, assignees),
``_comments``, ``_search`` (``/search/issues``) and ``_hooks`` (repository webhooks). The core collects the
``@route`` handlers of every base class.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ..core import (
    ApiError,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    SandboxTracker,
    last_page,
    link_header,
    numbered_page_links,
    page_slice,
    page_url,
    parse_iso,
)
from ._render import GitHubRenderer
from ._state import (
    BOT_LOGIN,
    OUTSIDER_LOGIN,
    Comment,
    Commit,
    GitHubState,
    Issue,
)

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{RATE_DOCS}#about-secondary-rate-limits"
SEARCH_DOCS = "https://docs.github.com/v3/search/"
SEARCH_CAP = 1000  # GitHub serves the first 1000 results of a search, however many match
SEARCH_WINDOW_S = 60
SEARCH_LIMIT, SEARCH_LIMIT_ANONYMOUS = 30, 10  # per minute
UNSEARCHABLE = (
    "The listed users and repositories cannot be searched either because the resources do not exist or you "
    "do not have permission to view them."
)
HOOKSHOT = "GitHub-Hookshot/5a1b2c3"
DEFAULT_BRANCH = "main"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")
REPO = "/repos/{owner}/{repo}"
ISSUE = REPO + "/issues/{issue_number:int}"


def invalid(resource: str, field: str, value: Any = None, code: str = "invalid") -> ApiError:
    error: dict[str, Any] = {"resource": resource, "code": code, "field": field}
    if value is not None:
        error["value"] = value
    return ApiError(422, "Validation Failed", errors=[error])


class GitHubBase(SandboxTracker[GitHubState]):
    """What every GitHub route module shares; the sandbox class fills in the core hooks."""

    def __init__(self, **kwargs: Any) -> None:
        self._renderer: GitHubRenderer | None = None
        super().__init__(**kwargs)

    @property
    def outsider_token(self) -> str:
        """A valid token whose user cannot see the repository (GitHub answers 404, not 403)."""
        return f"{self.token}-outsider"

    @property
    def render(self) -> GitHubRenderer:
        renderer = self._renderer
        if renderer is None or renderer.state is not self.state or renderer.api != self.url:
            renderer = self._renderer = GitHubRenderer(self.url, self.state)
        return renderer

    def _request_id(self, request: SandboxRequest) -> str:
        cached = request.environ.get("sandbox.request_id")
        if cached is None:
            cached = request.environ["sandbox.request_id"] = uuid.uuid4().hex[:20].upper()
        return str(cached)

    def _sender(self, login: str | None) -> dict[str, Any]:
        return self.render.user(login or BOT_LOGIN)

    def _emit_issue(self, action: str, issue: Issue, actor: str | None, **extra: Any) -> None:
        if not self.state.hooks:
            return
        payload = {"action": action, "issue": self.render.issue(issue), **extra}
        payload["repository"] = self.render.repository()
        payload["sender"] = self._sender(actor)
        self.emit("issues", payload)

    def _emit_pull(self, action: str, pull: Issue, actor: str | None) -> None:
        """``pull_request``: GitHub sends it, not ``issues``, when a pull request opens or changes."""
        if not self.state.hooks:
            return
        payload = {
            "action": action,
            "number": pull.number,
            "pull_request": self.render.pull(pull, detail=True),
            "repository": self.render.repository(),
            "sender": self._sender(actor),
        }
        self.emit("pull_request", payload)

    def _emit_push(self, commits: Sequence[Commit], before: str, branch: str, actor: str | None) -> None:
        """``push``: one delivery per push, its commits oldest first with ``head_commit`` the newest."""
        if not self.state.hooks or not commits:
            return
        rendered = [self.render.push_commit(commit) for commit in commits]
        sender = self._sender(actor)
        payload = {
            "ref": f"refs/heads/{branch}",
            "before": before,
            "after": commits[-1].sha,
            "repository": self.render.repository(),
            "pusher": {"name": sender["login"], "email": rendered[-1]["author"]["email"]},
            "sender": sender,
            "created": False,
            "deleted": False,
            "forced": False,
            "base_ref": None,
            "compare": f"{self.render.html}/compare/{before[:12]}...{commits[-1].sha[:12]}",
            "commits": rendered,
            "head_commit": rendered[-1],
        }
        self.emit("push", payload)

    def _emit_comment(
        self, action: str, issue: Issue, comment: Comment, actor: str | None, **extra: Any
    ) -> None:
        if not self.state.hooks:
            return
        payload = {
            "action": action,
            "issue": self.render.issue(issue),
            "comment": self.render.comment(comment),
            **extra,
            "repository": self.render.repository(),
            "sender": self._sender(actor),
        }
        self.emit("issue_comment", payload)

    def _repo(self, request: SandboxRequest, owner: str, repo: str) -> GitHubState:
        state = self.state
        principal = request.principal
        same = owner.lower() == state.owner.lower() and repo.lower() == state.repo.lower()
        if not same or principal is None or not principal.may(state.full_name):
            raise ApiError(404, "Not Found")
        return state

    def _issue(self, request: SandboxRequest, owner: str, repo: str, number: int) -> Issue:
        issue = self._repo(request, owner, repo).issue(number)
        if issue is None:
            raise ApiError(404, "Not Found")
        return issue

    def _actor(self, request: SandboxRequest) -> str:
        return request.principal.login if request.principal and request.principal.login else BOT_LOGIN

    def _require_writer(self, request: SandboxRequest) -> None:
        principal = request.principal
        if principal is None or not principal.authenticated:
            raise ApiError(401, "Requires authentication")

    def _int_arg(self, request: SandboxRequest, name: str, default: int, resource: str) -> int:
        raw = request.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid(resource, name, raw) from None

    def _paging(self, request: SandboxRequest, resource: str) -> tuple[int, int]:
        per_page = self._int_arg(request, "per_page", DEFAULT_PER_PAGE, resource)
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        page = max(self._int_arg(request, "page", 1, resource), 1)
        return page, per_page

    def _since(self, request: SandboxRequest, resource: str, name: str = "since") -> int | None:
        raw = request.args.get(name)
        if raw is None or raw == "":
            return None
        try:
            return parse_iso(raw)
        except ValueError:
            raise invalid(resource, name, raw) from None

    def _choice(
        self, request: SandboxRequest, name: str, allowed: Sequence[str], default: str, resource: str
    ) -> str:
        raw = request.args.get(name) or default
        if raw not in allowed:
            raise invalid(resource, name, raw)
        return raw

    def _page_reply(
        self, request: SandboxRequest, keys: Sequence[Any], render: Callable[[Any], Any], resource: str
    ) -> Reply:
        page, per_page = self._paging(request, resource)
        chunk = keys[page_slice(page, per_page)]
        last = last_page(len(keys), per_page)
        params = dict(request.args.items())

        def url_for(number: int) -> str:
            return page_url(self.url, request.path, params, page=number)

        links = numbered_page_links(url_for, page, last)
        headers = {"Link": value} if (value := link_header(links)) else {}
        return Reply([render(key) for key in chunk], 200, headers)

    def _json_object(self, request: SandboxRequest) -> dict[str, Any]:
        body = self.read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, self.bad_json_message)
        return body

    def _logins(self, value: Any, resource: str, field: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid(resource, field)
        unknown = [login for login in value if login not in self.state.users or login == OUTSIDER_LOGIN]
        if unknown:
            raise invalid(resource, field, unknown[0])
        return list(dict.fromkeys(value))

    def _label_names(self, value: Any, resource: str = "Label") -> list[str]:
        if isinstance(value, dict):
            value = value.get("labels")
        if not isinstance(value, list):
            raise invalid(resource, "labels")
        names: list[str] = []
        for item in value:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name.strip():
                raise invalid(resource, "labels", item)
            names.append(self.state.label(name.strip()).name)
        return list(dict.fromkeys(names))

    def _search_bucket(self, principal: Principal, *, charge: bool) -> RateBucket:
        """The caller's ``search`` bucket: its own key and one-minute window, apart from ``core``."""
        limit = SEARCH_LIMIT if principal.authenticated else SEARCH_LIMIT_ANONYMOUS
        key = f"search:{principal.key}"
        count = self._limiter.charge if charge else self._limiter.peek
        return count(key, limit, resource="search", window_s=SEARCH_WINDOW_S)


def second(key: tuple[int, int]) -> int:
    return key[1]


def sorted_issues(state: GitHubState, sort: str, descending: bool) -> list[Issue]:
    live = state.live_issues()
    if sort == "updated":
        live.sort(key=lambda issue: (issue.updated_at, issue.number), reverse=descending)
    elif sort == "comments":
        live.sort(key=lambda issue: (issue.comments, issue.number), reverse=descending)
    elif descending:
        live.reverse()
    return live


def filter_issues(
    state: GitHubState,
    wanted: str,
    sort: str,
    descending: bool,
    since: int | None,
    labels: tuple[str, ...],
    assignee: str | None,
    creator: str | None,
) -> list[int]:
    required = set(labels)
    numbers: list[int] = []
    for issue in sorted_issues(state, sort, descending):
        if wanted != "all" and issue.state != wanted:
            continue
        if since is not None and issue.updated_at < since:
            continue
        if required and not required.issubset(name.lower() for name in issue.labels):
            continue
        if assignee is not None:
            if assignee == "none" and issue.assignees:
                continue
            if assignee == "*" and not issue.assignees:
                continue
            if assignee not in ("none", "*") and assignee not in issue.assignees:
                continue
        if creator is not None and issue.user != creator:
            continue
        numbers.append(issue.number)
    return numbers


def filter_comments(state: GitHubState, ids: Sequence[int], since: int, descending: bool) -> list[int]:
    comments = state.comments
    kept = [cid for cid in ids if comments[cid].updated_at >= since]
    return kept[::-1] if descending else kept
