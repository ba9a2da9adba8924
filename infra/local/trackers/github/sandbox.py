"""The GitHub sandbox: GitHub's REST API for one private repository, ``acme/widgets``, at ``http://127.0.0.1:PORT``.

Routes live at the root like ``api.github.com``, so ``github.Github(base_url=url, auth=Auth.Token(token))``
works unchanged. What it reproduces, and where a naive fake goes wrong (research/tracker-apis.md, 2 and 9):

- Auth: ``Authorization: Bearer|token <token>``. The seeded token (``sandbox-github-token-<seed>``) owns the
  repository; ``<token>-outsider`` is valid but cannot see it (404, as GitHub hides private repositories);
  no header is anonymous (60 requests/hour, 404 for the private repository, 401 on ``/user``); anything else
  is 401 ``Bad credentials``.
- Issue lists include pull requests (with a ``pull_request`` key); ``state`` defaults to ``open``; ``since``
  filters ``updated_at >=``; ``sort=created|updated|comments``, ``direction``, ``labels`` (all must match),
  ``assignee``, ``creator``; ``per_page`` is clamped to 100 (default 30); ``Link`` has
  ``prev``/``next``/``last``/``first`` and is omitted when one page holds everything. There is no REST
  DELETE for issues (404, like any unknown route).
- Adding a comment bumps the issue's ``updated_at`` and ``comments``; deleting one does neither's
  ``updated_at`` (the ``issue_comment.deleted`` webhook is how a client learns).
- Weak ETag on every GET; ``If-None-Match`` -> 304 that an authenticated caller is not charged for;
  ``x-ratelimit-limit/remaining/used/reset/resource`` on every response; primary limit (default 5000/h per
  token) -> 403 with ``x-ratelimit-remaining: 0``; a fault with ``retry_after_s`` and status 403/429 is a
  secondary limit ("You have exceeded a secondary rate limit", ``retry-after``). ``/rate_limit`` is free.
- Errors: ``{"message", "documentation_url", "status"}``; 422 adds ``errors`` (``missing_field``,
  ``invalid``, ...); a body that is not JSON is 400 ``Problems parsing JSON``. Query values that cannot be
  parsed (``per_page=abc``, ``since=yesterday``, ``state=maybe``) are 422 with an ``invalid`` error.
- ``GET /search/issues`` parses GitHub's query language (``_github_search``) and answers
  ``{"total_count", "incomplete_results", "search_type", "items"}`` with a ``score`` per item; it has its own
  ``search`` rate-limit bucket (30 a minute with a token, 10 without, ``x-ratelimit-resource: search``) and
  is not charged to ``core``; only the first 1000 results can be paged to (a page starting past them is 422
  ``Only the first 1000 search results are available``); an empty ``q`` is 422 ``missing``, and a
  ``repo:``/``user:``/``org:`` naming what the caller cannot see is 422 ("The listed users and
  repositories cannot be searched ...").
- Webhooks registered with ``POST /repos/{owner}/{repo}/hooks`` (``content_type`` defaults to ``form``:
  ``payload=<url-encoded JSON>``) get ``ping`` on creation and ``issues`` / ``issue_comment`` events for every
  mutation, with ``X-GitHub-Event``, ``X-GitHub-Delivery``, ``X-GitHub-Hook-ID``, ``X-Hub-Signature-256``
  (and the legacy SHA-1 ``X-Hub-Signature``) over the exact bytes sent, and ``User-Agent:
  GitHub-Hookshot/...``. GitHub does not retry a failed delivery (only a manual redelivery does), so the
  sandbox sends each delivery once. Hook URLs must be loopback: the sandbox never sends traffic off the
  machine.

``/_sandbox/mutate`` actions: ``create`` (``fields``: title, body, labels, assignees, pull), ``update``
(``number``, ``fields``: any of title, body, state, state_reason, labels, assignees; ``touch_only`` just bumps
``updated_at``), ``comment`` (``number``, ``body``), ``edit_comment`` (``comment_id``, ``body``),
``delete_comment`` (``comment_id``) and ``delete`` (``number``; GitHub's GraphQL-only deletion). Each
fires the same webhook as the equivalent API write.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from urllib.parse import urlencode

from ._github_render import GitHubRenderer
from ._github_search import SORTS as SEARCH_SORTS
from ._github_search import SearchError, parse_query, search
from ._github_state import (
    BOT_LOGIN,
    OUTSIDER_LOGIN,
    REPO_ID,
    Comment,
    GitHubState,
    Hook,
    Issue,
    seed_state,
)
from .core import (
    ApiError,
    FaultRule,
    ListWindow,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    SandboxTracker,
    Sizes,
    WebhookRequest,
    is_loopback_url,
    iso_z,
    last_page,
    link_header,
    mutation,
    numbered_page_links,
    page_slice,
    page_url,
    parse_iso,
    route,
)

__all__ = ["GitHubSandbox"]

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
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")
REPO = "/repos/{owner}/{repo}"
ISSUE = REPO + "/issues/{issue_number:int}"


def _invalid(resource: str, field: str, value: Any = None, code: str = "invalid") -> ApiError:
    error: dict[str, Any] = {"resource": resource, "code": code, "field": field}
    if value is not None:
        error["value"] = value
    return ApiError(422, "Validation Failed", errors=[error])


class GitHubSandbox(SandboxTracker[GitHubState]):
    """GitHub REST for ``acme/widgets``; see the module docstring for the behaviour reproduced."""

    kind = "github"
    default_rate_limit = 5000
    rate_limit_window_s = 3600
    # GitHub waits 10 s for a hook endpoint and never retries a failed delivery automatically.
    webhook_timeout_s = 10.0
    webhook_retry_delays_s = ()
    unknown_method_status = 404
    bad_json_message = "Problems parsing JSON"
    # Primary-limit exhaustion: GitHub documents "403 or 429"; PyGithub and Octokit handle both.
    primary_limit_status: ClassVar[int] = 403
    rate_limit_fault_statuses: ClassVar[frozenset[int]] = frozenset({403, 429})

    def __init__(self, **kwargs: Any) -> None:
        self._renderer: GitHubRenderer | None = None
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ core hooks

    def build_state(self, sizes: Sizes, rng: random.Random) -> GitHubState:
        return seed_state(
            rng,
            issues=sizes.issues,
            comments_per_issue=sizes.comments_per_issue,
            closed_ratio=sizes.closed_ratio,
            users=sizes.users,
        )

    def describe_extra(self) -> dict[str, Any]:
        return {"repo": self.state.full_name}

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

    def authenticate(self, request: SandboxRequest) -> Principal:
        header = request.headers.get("Authorization", "").strip()
        if not header:
            return Principal(
                key=f"ip:{request.remote_addr}",
                login="",
                authenticated=False,
                rate_limit=60,
                grants=frozenset(),
            )
        scheme, _, credential = header.partition(" ")
        presented = credential.strip().encode()
        if scheme.lower() in ("bearer", "token") and presented:
            if hmac.compare_digest(presented, self.token.encode()):
                return Principal(key="user:sandbox-bot", login=BOT_LOGIN)
            if hmac.compare_digest(presented, self.outsider_token.encode()):
                return Principal(key="user:outsider", login=OUTSIDER_LOGIN, grants=frozenset())
        raise ApiError(401, "Bad credentials")

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        body: dict[str, Any] = {
            "message": error.message,
            "documentation_url": error.details.get("documentation_url", DOCS),
            "status": str(error.status),
        }
        if "errors" in error.details:
            body["errors"] = error.details["errors"]
        return Reply(body, error.status, dict(error.headers))

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": str(bucket.reset),
            "X-RateLimit-Used": str(bucket.used),
            "X-RateLimit-Resource": bucket.resource,
        }

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        principal = request.principal
        if principal is not None and principal.authenticated:
            user = self.state.users.get(principal.login)
            message = (
                f"API rate limit exceeded for user ID {user.id if user else 0}. If you reach out to GitHub "
                f"Support for help, please include the request ID {self._request_id(request)}."
            )
        else:
            message = (
                f"API rate limit exceeded for {request.remote_addr}. (But here's the good news: "
                "Authenticated requests get a higher rate limit. Check out the documentation for more "
                "details.)"
            )
        return ApiError(self.primary_limit_status, message, documentation_url=RATE_DOCS)

    def rate_limit_fault(self, request: SandboxRequest, rule: FaultRule, bucket: RateBucket) -> ApiError:
        error = super().rate_limit_fault(request, rule, bucket)
        error.message = rule.message or error.message
        return error

    def fault_error(self, request: SandboxRequest, rule: FaultRule) -> ApiError:
        if rule.status in (403, 429) and rule.retry_after_s is not None:
            message = rule.message or (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                f"If you reach out to GitHub Support for help, please include the request ID "
                f"{self._request_id(request)}."
            )
            return ApiError(
                rule.status,
                message,
                headers={"Retry-After": str(rule.retry_after_s)},
                documentation_url=SECONDARY_DOCS,
            )
        return super().fault_error(request, rule)

    def response_headers(self, request: SandboxRequest, reply: Reply) -> dict[str, str]:
        return {
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": request.headers.get("X-GitHub-Api-Version", "2022-11-28"),
            "X-GitHub-Request-Id": self._request_id(request),
            "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
        }

    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        return [
            self._signed(hook, event, payload)
            for hook in self.state.hooks.values()
            if hook.active and (event in hook.events or "*" in hook.events)
        ]

    # ------------------------------------------------------------------ helpers

    def _request_id(self, request: SandboxRequest) -> str:
        cached = request.environ.get("sandbox.request_id")
        if cached is None:
            cached = request.environ["sandbox.request_id"] = uuid.uuid4().hex[:20].upper()
        return str(cached)

    def _signed(self, hook: Hook, event: str, payload: Any) -> WebhookRequest:
        document = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        if hook.content_type == "json":
            body = document.encode()
            content_type = "application/json"
        else:
            body = urlencode({"payload": document}).encode()
            content_type = "application/x-www-form-urlencoded"
        delivery_id = str(uuid.uuid4())
        headers = {
            "Content-Type": content_type,
            "User-Agent": HOOKSHOT,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": str(hook.id),
            "X-GitHub-Hook-Installation-Target-Type": "repository",
            "X-GitHub-Hook-Installation-Target-ID": str(REPO_ID),
        }
        if hook.secret:
            key = hook.secret.encode()
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        return WebhookRequest(hook.url, headers, body, event, delivery_id, str(hook.id))

    def _sender(self, login: str | None) -> dict[str, Any]:
        return self.render.user(login or BOT_LOGIN)

    def _emit_issue(self, action: str, issue: Issue, actor: str | None, **extra: Any) -> None:
        if not self.state.hooks:
            return
        payload = {"action": action, "issue": self.render.issue(issue), **extra}
        payload["repository"] = self.render.repository()
        payload["sender"] = self._sender(actor)
        self.emit("issues", payload)

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
            raise _invalid(resource, name, raw) from None

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
            raise _invalid(resource, name, raw) from None

    def _choice(
        self, request: SandboxRequest, name: str, allowed: Sequence[str], default: str, resource: str
    ) -> str:
        raw = request.args.get(name) or default
        if raw not in allowed:
            raise _invalid(resource, name, raw)
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
            raise _invalid(resource, field)
        unknown = [login for login in value if login not in self.state.users or login == OUTSIDER_LOGIN]
        if unknown:
            raise _invalid(resource, field, unknown[0])
        return list(dict.fromkeys(value))

    def _label_names(self, value: Any, resource: str = "Label") -> list[str]:
        if isinstance(value, dict):
            value = value.get("labels")
        if not isinstance(value, list):
            raise _invalid(resource, "labels")
        names: list[str] = []
        for item in value:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name.strip():
                raise _invalid(resource, "labels", item)
            names.append(self.state.label(name.strip()).name)
        return list(dict.fromkeys(names))

    # ------------------------------------------------------------------ account and limits

    @route("GET", "/rate_limit", rate_limited=False)
    def get_rate_limit(self, request: SandboxRequest) -> Reply:
        assert request.principal is not None
        bucket = self.rate_status(request.principal)
        core = {
            "limit": bucket.limit,
            "used": bucket.used,
            "remaining": bucket.remaining,
            "reset": bucket.reset,
        }

        def other(limit: int, resource: str, window: int) -> dict[str, Any]:
            reset = self.now() + window
            return {"limit": limit, "used": 0, "remaining": limit, "reset": reset, "resource": resource}

        searching = self._search_bucket(request.principal, charge=False)
        resources = {
            "core": {**core, "resource": "core"},
            "search": {
                "limit": searching.limit,
                "used": searching.used,
                "remaining": searching.remaining,
                "reset": searching.reset,
                "resource": "search",
            },
            "graphql": other(5000, "graphql", 3600),
            "integration_manifest": other(5000, "integration_manifest", 3600),
            "source_import": other(100, "source_import", 60),
            "code_scanning_upload": other(1000, "code_scanning_upload", 3600),
            "actions_runner_registration": other(10000, "actions_runner_registration", 3600),
            "scim": other(15000, "scim", 3600),
            "dependency_snapshots": other(100, "dependency_snapshots", 60),
            "code_search": other(10, "code_search", 60),
        }
        reply = Reply({"resources": resources, "rate": {**core, "resource": "core"}})
        reply.headers.update(self.rate_limit_headers(bucket))
        return reply

    @route("GET", "/user")
    def get_authenticated_user(self, request: SandboxRequest) -> Reply:
        principal = request.principal
        if principal is None or not principal.authenticated:
            raise ApiError(401, "Requires authentication")
        return Reply(self.render.user_profile(principal.login, private=True))

    @route("GET", "/users/{username}")
    def get_user(self, request: SandboxRequest, username: str) -> Reply:
        if username not in self.state.users:
            raise ApiError(404, "Not Found")
        return Reply(self.render.user_profile(username, private=False))

    # ------------------------------------------------------------------ repository

    @route("GET", REPO)
    def get_repository(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        self._repo(request, owner, repo)
        return Reply(self.render.full_repository(admin=True))

    @route("GET", REPO + "/languages")
    def list_languages(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        return Reply(dict(self._repo(request, owner, repo).languages))

    @route("GET", REPO + "/commits")
    def list_commits(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        author = request.args.get("author")
        since = self._since(request, "Commit")
        until = self._since(request, "Commit", "until")
        commits = [
            commit
            for commit in state.commits
            if (author is None or commit.author == author)
            and (since is None or commit.date >= since)
            and (until is None or commit.date <= until)
        ]
        return self._page_reply(request, commits, self.render.commit, "Commit")

    @route("GET", REPO + "/releases")
    def list_releases(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        return self._page_reply(request, state.releases, self.render.release, "Release")

    @route("GET", REPO + "/security-advisories")
    def list_security_advisories(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        """Cursor pagination (``before``/``after`` in the ``Link`` header), not ``page``, as on GitHub."""
        state = self._repo(request, owner, repo)
        sort = self._choice(
            request, "sort", ("created", "updated", "published"), "created", "RepositoryAdvisory"
        )
        direction = self._choice(request, "direction", ("asc", "desc"), "desc", "RepositoryAdvisory")
        wanted = request.args.get("state")
        if wanted is not None and wanted not in ("triage", "draft", "published", "closed"):
            raise _invalid("RepositoryAdvisory", "state", wanted)
        per_page = self._int_arg(request, "per_page", DEFAULT_PER_PAGE, "RepositoryAdvisory")
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)

        def sort_key(advisory: Any) -> tuple[int, str]:
            value = {"created": advisory.created_at, "updated": advisory.updated_at}.get(sort)
            if value is None:
                value = advisory.published_at or 0
            return (value, advisory.ghsa_id)

        items = sorted(
            (a for a in state.advisories if wanted is None or a.state == wanted),
            key=sort_key,
            reverse=direction == "desc",
        )
        ids = [advisory.ghsa_id for advisory in items]
        start, stop = 0, per_page
        if after := request.args.get("after"):
            if after not in ids:
                raise ApiError(400, "Invalid cursor value")
            start = ids.index(after) + 1
            stop = start + per_page
        elif before := request.args.get("before"):
            if before not in ids:
                raise ApiError(400, "Invalid cursor value")
            stop = ids.index(before)
            start = max(stop - per_page, 0)
        chunk = items[start:stop]
        params = dict(request.args.items())
        links: list[tuple[str, str]] = []
        if chunk and start > 0:
            links.append(
                ("prev", page_url(self.url, request.path, params, after=None, before=chunk[0].ghsa_id))
            )
        if chunk and stop < len(items):
            links.append(
                ("next", page_url(self.url, request.path, params, before=None, after=chunk[-1].ghsa_id))
            )
        headers = {"Link": value} if (value := link_header(links)) else {}
        return Reply([self.render.advisory(a) for a in chunk], 200, headers)

    # ------------------------------------------------------------------ issues

    @route("GET", REPO + "/issues")
    def list_issues(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        wanted = self._choice(request, "state", ("open", "closed", "all"), "open", "Issue")
        sort = self._choice(request, "sort", ("created", "updated", "comments"), "created", "Issue")
        direction = self._choice(request, "direction", ("asc", "desc"), "desc", "Issue")
        since = self._since(request, "Issue")
        labels = tuple(
            sorted({n.strip().lower() for n in request.args.get("labels", "").split(",") if n.strip()})
        )
        assignee = request.args.get("assignee") or None
        creator = request.args.get("creator") or None
        descending = direction == "desc"
        simple = not labels and assignee is None and creator is None
        keys: Sequence[int]
        if simple and wanted == "all" and sort == "updated":
            # The incremental-sync walk: straight off the (updated_at, number) index, nothing copied.
            index = state.by_updated.keys()
            start = state.by_updated.index_at_or_after((since, 0)) if since is not None else 0
            keys = ListWindow(index, start, reverse=descending, project=_second)
        elif simple and wanted == "all" and sort == "created" and since is None and not state.deleted_count:
            # Numbers are dense and in creation order: a page is arithmetic on a range.
            count = len(state.issues)
            keys = range(count, 0, -1) if descending else range(1, count + 1)
        else:
            query = ("issues", wanted, sort, direction, since, labels, assignee, creator)
            keys = self.view(
                query,
                lambda: _filter_issues(state, wanted, sort, descending, since, labels, assignee, creator),
            )
        render = self.render.issue
        issues = state.issues
        return self._page_reply(request, keys, lambda number: render(issues[number - 1]), "Issue")

    @route("POST", REPO + "/issues")
    def create_issue(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        self._require_writer(request)
        body = self._json_object(request)
        issue = self._create_issue(state, body, self._actor(request))
        url = f"{self.render.repo_api}/issues/{issue.number}"
        return Reply(self.render.issue(issue, detail=True), 201, {"Location": url})

    def _create_issue(
        self, state: GitHubState, body: dict[str, Any], actor: str, *, pull: bool = False
    ) -> Issue:
        title = body.get("title")
        if isinstance(title, int | float) and not isinstance(title, bool):
            title = str(title)  # GitHub accepts a number as a title
        if not isinstance(title, str) or not title.strip():
            raise _invalid("Issue", "title", code="missing_field")
        text = body.get("body")
        if text is not None and not isinstance(text, str):
            raise _invalid("Issue", "body")
        if body.get("milestone") is not None:
            raise _invalid("Issue", "milestone", body["milestone"])
        assignees = self._logins(body.get("assignees"), "Issue", "assignees")
        if isinstance(body.get("assignee"), str):
            assignees = list(
                dict.fromkeys([*self._logins([body["assignee"]], "Issue", "assignee"), *assignees])
            )
        labels = self._label_names(body["labels"], "Issue") if body.get("labels") is not None else []
        now = self.now()
        issue = Issue(
            len(state.issues) + 1, title, text, actor, "open", None, labels, assignees, now, now, pull=pull
        )
        state.add_issue(issue)
        self.touch()
        self._emit_issue("opened", issue, actor)
        return issue

    @route("GET", ISSUE)
    def get_issue(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        return Reply(self.render.issue(self._issue(request, owner, repo, issue_number), detail=True))

    @route("PATCH", ISSUE)
    def update_issue(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        self._update_issue(issue, self._json_object(request), self._actor(request))
        return Reply(self.render.issue(issue, detail=True))

    def _update_issue(self, issue: Issue, body: dict[str, Any], actor: str) -> None:
        """Apply a PATCH body; validate everything first so a 422 changes nothing."""
        state = self.state
        changes: dict[str, Any] = {}
        if "title" in body:
            title = body["title"]
            if not isinstance(title, str) or not title.strip():
                raise _invalid("Issue", "title", code="missing_field")
            if title != issue.title:
                changes["title"] = {"from": issue.title}
        if "body" in body:
            if body["body"] is not None and not isinstance(body["body"], str):
                raise _invalid("Issue", "body")
            if body["body"] != issue.body:
                changes["body"] = {"from": issue.body or ""}
        new_state = body.get("state")
        if new_state is not None and new_state not in ("open", "closed"):
            raise _invalid("Issue", "state", new_state)
        reason = body.get("state_reason")
        if reason is not None and reason not in STATE_REASONS:
            raise _invalid("Issue", "state_reason", reason)
        if body.get("milestone") is not None:
            raise _invalid("Issue", "milestone", body["milestone"])
        assignees = None
        if "assignees" in body:
            assignees = self._logins(body["assignees"], "Issue", "assignees")
        elif "assignee" in body:
            assignees = self._logins([body["assignee"]] if body["assignee"] else [], "Issue", "assignee")
        labels = self._label_names(body["labels"], "Issue") if body.get("labels") is not None else None

        now = self.now()
        events: list[tuple[str, dict[str, Any]]] = []
        if "title" in changes:
            issue.title = body["title"]
        if "body" in changes:
            issue.body = body["body"]
        if changes:
            events.append(("edited", {"changes": changes}))
        if labels is not None and labels != issue.labels:
            added = [name for name in labels if name not in issue.labels]
            removed = [name for name in issue.labels if name not in labels]
            issue.labels = labels
            events += [("labeled", {"label": self.render.label(state.labels[n])}) for n in added]
            events += [("unlabeled", {"label": self.render.label(state.labels[n])}) for n in removed]
        if assignees is not None and assignees != issue.assignees:
            added = [login for login in assignees if login not in issue.assignees]
            removed = [login for login in issue.assignees if login not in assignees]
            issue.assignees = assignees
            events += [("assigned", {"assignee": self.render.user(login)}) for login in added]
            events += [("unassigned", {"assignee": self.render.user(login)}) for login in removed]
        if new_state == "closed" and issue.state == "open":
            state.set_state(issue, "closed")
            issue.closed_at, issue.closed_by = now, actor
            issue.state_reason = reason if reason not in (None, "reopened") else "completed"
            events.append(("closed", {}))
        elif new_state == "open" and issue.state == "closed":
            state.set_state(issue, "open")
            issue.closed_at, issue.closed_by, issue.state_reason = None, None, "reopened"
            events.append(("reopened", {}))
        elif reason is not None and issue.state == "closed" and reason != issue.state_reason:
            issue.state_reason = reason
            events.append(("edited", {"changes": {}}))
        if not events:
            return
        state.set_updated(issue, now)
        self.touch()
        for action, extra in events:
            self._emit_issue(action, issue, actor, **extra)

    # ------------------------------------------------------------------ comments

    @route("GET", REPO + "/issues/comments")
    def list_repo_comments(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        sort = self._choice(request, "sort", ("created", "updated"), "created", "IssueComment")
        direction = self._choice(request, "direction", ("asc", "desc"), "asc", "IssueComment")
        since = self._since(request, "IssueComment")
        descending = direction == "desc"
        keys: Sequence[int]
        if sort == "updated":
            start = state.comments_by_updated.index_at_or_after((since, 0)) if since is not None else 0
            keys = ListWindow(state.comments_by_updated.keys(), start, reverse=descending, project=_second)
        elif since is None:
            keys = ListWindow(state.comment_ids, reverse=descending)
        else:
            keys = self.view(
                ("comments", since, descending),
                lambda: _filter_comments(state, state.comment_ids, since, descending),
            )
        comments, render = state.comments, self.render.comment
        return self._page_reply(request, keys, lambda cid: render(comments[cid]), "IssueComment")

    @route("GET", ISSUE + "/comments")
    def list_issue_comments(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        state = self._repo(request, owner, repo)
        self._issue(request, owner, repo, issue_number)
        since = self._since(request, "IssueComment")
        ids = state.comments_by_issue.get(issue_number, [])
        keys = ids if since is None else _filter_comments(state, ids, since, False)
        comments, render = state.comments, self.render.comment
        return self._page_reply(request, keys, lambda cid: render(comments[cid]), "IssueComment")

    @route("POST", ISSUE + "/comments")
    def create_comment(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        body = self._json_object(request)
        comment = self._add_comment(issue, body.get("body"), self._actor(request))
        return Reply(self.render.comment(comment), 201, {"Location": self.render.comment(comment)["url"]})

    def _add_comment(self, issue: Issue, text: Any, actor: str) -> Comment:
        if not isinstance(text, str) or not text.strip():
            raise _invalid("IssueComment", "body", code="missing_field")
        state = self.state
        now = self.now()
        comment = Comment(state.next_comment_id, issue.number, actor, text, now, now)
        state.next_comment_id += 1
        state.add_comment(comment)
        issue.comments += 1
        state.set_updated(issue, now)
        self.touch()
        self._emit_comment("created", issue, comment, actor)
        return comment

    def _comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Comment:
        comment = self._repo(request, owner, repo).comments.get(comment_id)
        if comment is None:
            raise ApiError(404, "Not Found")
        return comment

    @route("GET", REPO + "/issues/comments/{comment_id:int}")
    def get_comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Reply:
        return Reply(self.render.comment(self._comment(request, owner, repo, comment_id)))

    @route("PATCH", REPO + "/issues/comments/{comment_id:int}")
    def update_comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Reply:
        comment = self._comment(request, owner, repo, comment_id)
        self._require_writer(request)
        self._edit_comment(comment, self._json_object(request).get("body"), self._actor(request))
        return Reply(self.render.comment(comment))

    def _edit_comment(self, comment: Comment, text: Any, actor: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise _invalid("IssueComment", "body", code="missing_field")
        if text == comment.body:
            return
        previous = comment.body
        comment.body = text
        self.state.set_comment_updated(comment, self.now())
        self.touch()
        issue = self.state.issue(comment.issue_number)
        if issue is not None:
            self._emit_comment("edited", issue, comment, actor, changes={"body": {"from": previous}})

    @route("DELETE", REPO + "/issues/comments/{comment_id:int}")
    def delete_comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Reply:
        comment = self._comment(request, owner, repo, comment_id)
        self._require_writer(request)
        self._delete_comment(comment, self._actor(request))
        return Reply(None, 204)

    def _delete_comment(self, comment: Comment, actor: str) -> None:
        state = self.state
        issue = state.issue(comment.issue_number)
        state.drop_comment(comment)
        self.touch()
        if issue is not None:
            issue.comments = max(issue.comments - 1, 0)
            self._emit_comment("deleted", issue, comment, actor)

    # ------------------------------------------------------------------ labels and assignees

    @route("GET", REPO + "/labels")
    def list_labels(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        labels = list(state.labels.values())
        return self._page_reply(request, labels, self.render.label, "Label")

    @route("POST", REPO + "/labels")
    def create_label(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        self._require_writer(request)
        body = self._json_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _invalid("Label", "name", code="missing_field")
        if any(existing.lower() == name.strip().lower() for existing in state.labels):
            raise _invalid("Label", "name", name, code="already_exists")
        color = str(body.get("color") or "ededed").removeprefix("#").lower()
        if len(color) != 6 or any(ch not in "0123456789abcdef" for ch in color):
            raise _invalid("Label", "color", body.get("color"))
        label = state.label(name.strip())
        label.color = color
        description = body.get("description")
        label.description = description if isinstance(description, str) else None
        self.touch()
        return Reply(self.render.label(label), 201)

    @route("GET", REPO + "/labels/{name}")
    def get_label(self, request: SandboxRequest, owner: str, repo: str, name: str) -> Reply:
        state = self._repo(request, owner, repo)
        for label in state.labels.values():
            if label.name.lower() == name.lower():
                return Reply(self.render.label(label))
        raise ApiError(404, "Not Found")

    @route("GET", ISSUE + "/labels")
    def list_issue_labels(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        state = self.state
        return self._page_reply(request, issue.labels, lambda n: self.render.label(state.labels[n]), "Label")

    def _set_labels(self, request: SandboxRequest, issue: Issue, labels: list[str]) -> Reply:
        self._update_issue(issue, {"labels": labels}, self._actor(request))
        state = self.state
        return Reply([self.render.label(state.labels[name]) for name in issue.labels])

    @route("POST", ISSUE + "/labels")
    def add_issue_labels(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        added = self._label_names(self.read_json(request), "Label")
        return self._set_labels(request, issue, list(dict.fromkeys([*issue.labels, *added])))

    @route("PUT", ISSUE + "/labels")
    def replace_issue_labels(
        self, request: SandboxRequest, owner: str, repo: str, issue_number: int
    ) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        return self._set_labels(request, issue, self._label_names(self.read_json(request), "Label"))

    @route("DELETE", ISSUE + "/labels")
    def clear_issue_labels(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        self._set_labels(request, issue, [])
        return Reply(None, 204)

    @route("DELETE", ISSUE + "/labels/{name}")
    def remove_issue_label(
        self, request: SandboxRequest, owner: str, repo: str, issue_number: int, name: str
    ) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        remaining = [label for label in issue.labels if label.lower() != name.lower()]
        if len(remaining) == len(issue.labels):
            raise ApiError(404, "Label does not exist")
        return self._set_labels(request, issue, remaining)

    @route("GET", REPO + "/assignees")
    def list_assignees(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        people = [login for login in state.users if login != OUTSIDER_LOGIN]
        return self._page_reply(request, people, self.render.user, "User")

    @route("POST", ISSUE + "/assignees")
    def add_assignees(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        wanted = self._json_object(request).get("assignees") or []
        if not isinstance(wanted, list):
            raise _invalid("Issue", "assignees")
        # GitHub silently ignores people who cannot be assigned here.
        valid = [login for login in wanted if login in self.state.users and login != OUTSIDER_LOGIN]
        self._update_issue(
            issue, {"assignees": list(dict.fromkeys([*issue.assignees, *valid]))}, self._actor(request)
        )
        return Reply(self.render.issue(issue), 201)

    @route("DELETE", ISSUE + "/assignees")
    def remove_assignees(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        unwanted = self._json_object(request).get("assignees") or []
        if not isinstance(unwanted, list):
            raise _invalid("Issue", "assignees")
        kept = [login for login in issue.assignees if login not in unwanted]
        self._update_issue(issue, {"assignees": kept}, self._actor(request))
        return Reply(self.render.issue(issue))

    # ------------------------------------------------------------------ pull requests

    @route("GET", REPO + "/pulls")
    def list_pulls(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        wanted = self._choice(request, "state", ("open", "closed", "all"), "open", "PullRequest")
        sort = self._choice(
            request, "sort", ("created", "updated", "popularity", "long-running"), "created", "PullRequest"
        )
        default_direction = "desc" if sort in ("created", "updated") else "asc"
        direction = self._choice(request, "direction", ("asc", "desc"), default_direction, "PullRequest")
        ordered = "updated" if sort == "updated" else "created"
        keys = self.view(
            ("pulls", wanted, ordered, direction),
            lambda: [
                issue.number
                for issue in _sorted_issues(state, ordered, direction == "desc")
                if issue.pull and (wanted == "all" or issue.state == wanted)
            ],
        )
        issues, render = state.issues, self.render.pull
        return self._page_reply(request, keys, lambda number: render(issues[number - 1]), "PullRequest")

    @route("GET", REPO + "/pulls/{pull_number:int}")
    def get_pull(self, request: SandboxRequest, owner: str, repo: str, pull_number: int) -> Reply:
        issue = self._issue(request, owner, repo, pull_number)
        if not issue.pull:
            raise ApiError(404, "Not Found")
        return Reply(self.render.pull(issue, detail=True))

    # ------------------------------------------------------------------ search

    def _search_bucket(self, principal: Principal, *, charge: bool) -> RateBucket:
        """The caller's ``search`` bucket: its own key and one-minute window, apart from ``core``."""
        limit = SEARCH_LIMIT if principal.authenticated else SEARCH_LIMIT_ANONYMOUS
        key = f"search:{principal.key}"
        count = self._limiter.charge if charge else self._limiter.peek
        return count(key, limit, resource="search", window_s=SEARCH_WINDOW_S)

    @route("GET", "/search/issues", rate_limited=False)
    def search_issues(self, request: SandboxRequest) -> Reply:
        # rate_limited=False keeps the core bucket out of it; the search bucket is checked and charged here.
        principal = request.principal
        assert principal is not None
        standing = self._search_bucket(principal, charge=False)
        if standing.exhausted:
            error = self.rate_limited(request, standing)
            error.headers.update(self.rate_limit_headers(standing))
            raise error
        headers = self.rate_limit_headers(self._search_bucket(principal, charge=True))
        try:
            reply = self._search(request, principal)
        except ApiError as error:
            error.headers = {**headers, **error.headers}
            raise
        reply.headers.update(headers)
        return reply

    def _search(self, request: SandboxRequest, principal: Principal) -> Reply:
        q = request.args.get("q", "")
        if not q.strip():
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"resource": "Search", "field": "q", "code": "missing"}],
                documentation_url=SEARCH_DOCS,
            )
        sort = request.args.get("sort") or None
        if sort is not None and sort not in SEARCH_SORTS:
            raise _invalid("Search", "sort", sort)
        descending = self._choice(request, "order", ("asc", "desc"), "desc", "Search") == "desc"
        page, per_page = self._paging(request, "Search")
        if (page - 1) * per_page >= SEARCH_CAP:
            raise ApiError(
                422, "Only the first 1000 search results are available", documentation_url=SEARCH_DOCS
            )
        state = self.state
        try:
            query = parse_query(q, viewer=principal.login)
            visible = principal.may(state.full_name)
            if query.unknown_scopes(state.owner, state.repo) or (
                not visible and (query.repos or query.owners)
            ):
                raise SearchError(UNSEARCHABLE)
        except SearchError as exc:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[{"message": str(exc), "resource": "Search", "field": "q", "code": "invalid"}],
                documentation_url=SEARCH_DOCS,
            ) from None
        results: Sequence[tuple[int, float]] = []
        if visible and query.covers(state.owner, state.repo):
            results = self.view(
                ("search", q, principal.login, sort, descending),
                lambda: search(query, state, sort, descending),
            )
        reachable = results[:SEARCH_CAP]
        params = dict(request.args.items())

        def url_for(number: int) -> str:
            return page_url(self.url, request.path, params, page=number)

        links = numbered_page_links(url_for, page, last_page(len(reachable), per_page))
        issues, render = state.issues, self.render.search_item
        items = []
        for number, score in reachable[page_slice(page, per_page)]:
            issue = issues[number - 1]
            if issue is not None:
                items.append(render(issue, score))
        body = {
            "total_count": len(results),
            "incomplete_results": False,
            "search_type": "lexical",
            "items": items,
        }
        return Reply(body, 200, {"Link": value} if (value := link_header(links)) else {})

    # ------------------------------------------------------------------ hooks

    def _last_response(self, hook: Hook) -> dict[str, Any]:
        for delivery in reversed(self.deliveries()):
            if delivery.request.hook_id == str(hook.id) and delivery.attempts:
                attempt = delivery.attempts[-1]
                if attempt.status is not None and 200 <= attempt.status < 300:
                    return {"code": attempt.status, "status": "active", "message": "OK"}
                return {
                    "code": attempt.status,
                    "status": "failed",
                    "message": attempt.error or "Invalid HTTP Response",
                }
        return {"code": None, "status": "unused", "message": None}

    def _hook(self, request: SandboxRequest, owner: str, repo: str, hook_id: int) -> Hook:
        hook = self._repo(request, owner, repo).hooks.get(hook_id)
        if hook is None:
            raise ApiError(404, "Not Found")
        return hook

    def _hook_config(self, config: Any, current: Hook | None) -> tuple[str, str, str | None, str]:
        if not isinstance(config, dict):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {"resource": "Hook", "code": "custom", "message": "Config must contain URL for webhooks"}
                ],
            )
        url = config.get("url", current.url if current else None)
        if not isinstance(url, str) or not url:
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {"resource": "Hook", "code": "custom", "message": "Config must contain URL for webhooks"}
                ],
            )
        if not is_loopback_url(url):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "Hook",
                        "code": "custom",
                        "message": "The sandbox delivers webhooks to loopback URLs only",
                    }
                ],
            )
        content_type = config.get("content_type", current.content_type if current else "form")
        if content_type not in ("json", "form"):
            raise _invalid("Hook", "content_type", content_type)
        secret = config.get("secret", current.secret if current else None)
        if secret is not None and not isinstance(secret, str):
            raise _invalid("Hook", "secret")
        insecure = str(config.get("insecure_ssl", current.insecure_ssl if current else "0"))
        return url, content_type, secret or None, insecure

    def _events(self, value: Any, default: list[str]) -> list[str]:
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or not value:
            raise _invalid("Hook", "events")
        return list(dict.fromkeys(value))

    def _ping(self, hook: Hook) -> None:
        payload = {
            "zen": "Keep it logically awesome.",
            "hook_id": hook.id,
            "hook": self.render.hook(hook, self._last_response(hook)),
            "repository": self.render.repository(),
            "sender": self.render.user(BOT_LOGIN),
        }
        self.send_webhooks([self._signed(hook, "ping", payload)])

    @route("GET", REPO + "/hooks")
    def list_hooks(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        hooks = list(state.hooks.values())
        return self._page_reply(request, hooks, lambda h: self.render.hook(h, self._last_response(h)), "Hook")

    @route("POST", REPO + "/hooks")
    def create_hook(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        self._require_writer(request)
        body = self._json_object(request)
        if body.get("name", "web") != "web":
            raise _invalid("Hook", "name", body.get("name"))
        url, content_type, secret, insecure = self._hook_config(body.get("config"), None)
        if any(existing.url == url for existing in state.hooks.values()):
            raise ApiError(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "Hook",
                        "code": "custom",
                        "message": "Hook already exists on this repository",
                    }
                ],
            )
        events = self._events(body.get("events"), ["push"])
        active = body.get("active", True)
        if not isinstance(active, bool):
            raise _invalid("Hook", "active")
        now = self.now()
        hook = Hook(state.next_hook_id, url, content_type, secret, insecure, events, active, now, now)
        state.next_hook_id += 1
        state.hooks[hook.id] = hook
        self.touch()
        if hook.active:
            self._ping(hook)
        return Reply(
            self.render.hook(hook, self._last_response(hook)),
            201,
            {"Location": f"{self.render.repo_api}/hooks/{hook.id}"},
        )

    @route("GET", REPO + "/hooks/{hook_id:int}")
    def get_hook(self, request: SandboxRequest, owner: str, repo: str, hook_id: int) -> Reply:
        hook = self._hook(request, owner, repo, hook_id)
        return Reply(self.render.hook(hook, self._last_response(hook)))

    @route("PATCH", REPO + "/hooks/{hook_id:int}")
    def update_hook(self, request: SandboxRequest, owner: str, repo: str, hook_id: int) -> Reply:
        hook = self._hook(request, owner, repo, hook_id)
        self._require_writer(request)
        body = self._json_object(request)
        if "config" in body:
            hook.url, hook.content_type, hook.secret, hook.insecure_ssl = self._hook_config(
                body["config"], hook
            )
        events = self._events(body.get("events"), hook.events)
        events = [
            e
            for e in [*events, *self._events(body.get("add_events"), [])]
            if e not in (body.get("remove_events") or [])
        ]
        hook.events = list(dict.fromkeys(events))
        if "active" in body:
            if not isinstance(body["active"], bool):
                raise _invalid("Hook", "active")
            hook.active = body["active"]
        hook.updated_at = self.now()
        self.touch()
        return Reply(self.render.hook(hook, self._last_response(hook)))

    @route("DELETE", REPO + "/hooks/{hook_id:int}")
    def delete_hook(self, request: SandboxRequest, owner: str, repo: str, hook_id: int) -> Reply:
        hook = self._hook(request, owner, repo, hook_id)
        self._require_writer(request)
        del self.state.hooks[hook.id]
        self.touch()
        return Reply(None, 204)

    @route("POST", REPO + "/hooks/{hook_id:int}/pings")
    def ping_hook(self, request: SandboxRequest, owner: str, repo: str, hook_id: int) -> Reply:
        hook = self._hook(request, owner, repo, hook_id)
        self._require_writer(request)
        self._ping(hook)
        return Reply(None, 204)

    # ------------------------------------------------------------------ /_sandbox/mutate

    def _mutation_issue(self, number: Any) -> Issue:
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValueError("number must be an integer")
        issue = self.state.issue(number)
        if issue is None:
            raise KeyError(f"issue {number}")
        return issue

    @mutation("create")
    def mutate_create(self, fields: dict[str, Any] | None = None, actor: str | None = None) -> dict[str, Any]:
        body = dict(fields or {})
        body.setdefault("title", f"Sandbox issue created at {iso_z(self.now())}")
        pull = bool(body.pop("pull", False))
        try:
            issue = self._create_issue(self.state, body, actor or BOT_LOGIN, pull=pull)
        except ApiError as exc:
            raise ValueError(json.dumps(exc.details.get("errors", exc.message))) from exc
        return {"number": issue.number, "updated_at": iso_z(issue.updated_at)}

    @mutation("update")
    def mutate_update(
        self,
        number: Any = None,
        fields: dict[str, Any] | None = None,
        actor: str | None = None,
        touch_only: bool = False,
    ) -> dict[str, Any]:
        issue = self._mutation_issue(number)
        if touch_only or not fields:
            # "Something changed" without a visible field change: updated_at moves, an edited event fires.
            self.state.set_updated(issue, max(self.now(), issue.updated_at + 1))
            self.touch()
            self._emit_issue("edited", issue, actor or BOT_LOGIN, changes={})
        else:
            try:
                self._update_issue(issue, dict(fields), actor or BOT_LOGIN)
            except ApiError as exc:
                raise ValueError(json.dumps(exc.details.get("errors", exc.message))) from exc
        return {"number": issue.number, "updated_at": iso_z(issue.updated_at), "state": issue.state}

    @mutation("comment")
    def mutate_comment(
        self, number: Any = None, body: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        issue = self._mutation_issue(number)
        try:
            comment = self._add_comment(
                issue, body or f"Sandbox comment at {iso_z(self.now())}", actor or BOT_LOGIN
            )
        except ApiError as exc:
            raise ValueError(exc.message) from exc
        return {"number": issue.number, "comment_id": comment.id, "updated_at": iso_z(issue.updated_at)}

    @mutation("edit_comment")
    def mutate_edit_comment(
        self, comment_id: Any = None, body: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        comment = self.state.comments.get(comment_id) if isinstance(comment_id, int) else None
        if comment is None:
            raise KeyError(f"comment {comment_id}")
        try:
            self._edit_comment(comment, body, actor or BOT_LOGIN)
        except ApiError as exc:
            raise ValueError("body must be a non-empty string") from exc
        return {"comment_id": comment.id, "updated_at": iso_z(comment.updated_at)}

    @mutation("delete_comment")
    def mutate_delete_comment(self, comment_id: Any = None, actor: str | None = None) -> dict[str, Any]:
        comment = self.state.comments.get(comment_id) if isinstance(comment_id, int) else None
        if comment is None:
            raise KeyError(f"comment {comment_id}")
        self._delete_comment(comment, actor or BOT_LOGIN)
        return {"comment_id": comment.id, "deleted": True}

    @mutation("delete")
    def mutate_delete(self, number: Any = None, actor: str | None = None) -> dict[str, Any]:
        issue = self._mutation_issue(number)
        rendered = self.render.issue(issue) if self.state.hooks else None
        self.state.remove_issue(issue)
        self.touch()
        if rendered is not None:
            self.emit(
                "issues",
                {
                    "action": "deleted",
                    "issue": rendered,
                    "repository": self.render.repository(),
                    "sender": self._sender(actor),
                },
            )
        return {"number": issue.number, "deleted": True}


def _second(key: tuple[int, int]) -> int:
    return key[1]


def _sorted_issues(state: GitHubState, sort: str, descending: bool) -> list[Issue]:
    live = state.live_issues()
    if sort == "updated":
        live.sort(key=lambda issue: (issue.updated_at, issue.number), reverse=descending)
    elif sort == "comments":
        live.sort(key=lambda issue: (issue.comments, issue.number), reverse=descending)
    elif descending:
        live.reverse()
    return live


def _filter_issues(
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
    for issue in _sorted_issues(state, sort, descending):
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


def _filter_comments(state: GitHubState, ids: Sequence[int], since: int, descending: bool) -> list[int]:
    comments = state.comments
    kept = [cid for cid in ids if comments[cid].updated_at >= since]
    return kept[::-1] if descending else kept
