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
- ``GET /search/issues`` parses GitHub's query language (``_query``) and answers
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
``delete_comment`` (``comment_id``), ``delete`` (``number``; GitHub's GraphQL-only deletion), ``push``
(``message``, ``branch``: a commit on top of the history, sent as a ``push`` event), ``sub_issue``
(``number``, ``child``, ``remove``), ``block`` (``number``, ``blocker``, ``remove``) and
``update_advisory`` (``ghsa_id``, ``fields``: summary, description, severity, state). Each fires the same
webhook as the equivalent API write; ``create`` with ``pull`` (and ``head``, its branch) fires
``pull_request`` ``opened``, as GitHub does.

Development activity: ``GET /repos/{o}/{r}/commits`` (newest first; ``sha`` a branch or a sha of 7+
characters, ``since``/``until``, ``author``, numbered ``Link`` pages) and ``GET /repos/{o}/{r}/pulls``
(``state``, ``sort``, ``direction``). Every third seeded commit names an issue (``#n``, ``Fixes #n``, a key
of the seeded Jira project ``ACME``) and every twelfth one a number no issue has; seeded pull requests'
branches are ``<n>-<words>`` or ``feature/ACME-<n>-<words>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
from collections.abc import Mapping
from typing import Any, ClassVar

from ..core import (
    ApiError,
    FaultRule,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    Sizes,
    WebhookRequest,
    iso_z,
    mutation,
)
from ._base import (
    DEFAULT_BRANCH,
    DOCS,
    RATE_DOCS,
    SECONDARY_DOCS,
)
from ._comments import CommentRoutes
from ._hooks import HookRoutes
from ._issues import IssueRoutes
from ._members import MemberMutations
from ._relations import RelationRoutes
from ._repository import RepositoryRoutes
from ._search import SearchRoutes
from ._state import (
    BOT_LOGIN,
    OUTSIDER_LOGIN,
    Commit,
    GitHubState,
    Issue,
    seed_state,
)

__all__ = ["GitHubSandbox"]


class GitHubSandbox(
    IssueRoutes, CommentRoutes, RepositoryRoutes, SearchRoutes, HookRoutes, RelationRoutes, MemberMutations
):
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
    # What callers need (see core): a repository-scoped connection with a token; issues named by number.
    scope_key = "repo"
    listing_route = "GET */issues"
    issue_ref_key = "number"
    close_fields: ClassVar[Mapping[str, Any]] = {"state": "closed"}

    def build_state(self, sizes: Sizes, rng: random.Random) -> GitHubState:
        return seed_state(rng, **sizes.seeding())

    def describe_extra(self) -> dict[str, Any]:
        return {"repo": self.state.full_name}

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

    # ------------------------------------------------------------------ for tests, benchmarks and the demo

    def issue_counts(self) -> tuple[int, int, int]:
        # Pull requests share the issues' numbering and come back in the issue listing.
        records = [issue for issue in self.state.issues if issue is not None]
        plain = sum(1 for issue in records if not issue.pull)
        return plain, len(records), len(self.state.comments)

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        # 100 issues a page, and one repository-wide comment listing, 100 a page.
        return math.ceil(listed / 100) + math.ceil(comments / 100)

    def read_with_client_library(self) -> None:
        import github as pygithub

        # PyGithub paces itself (0.25 s between requests by default); the comparison is about requests.
        client = pygithub.Github(
            base_url=self.url,
            auth=pygithub.Auth.Token(self.token),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        for issue in client.get_repo(self.state.full_name).get_issues(state="all"):
            list(issue.get_comments())

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
        head = body.pop("head", None)
        if head is not None and (not pull or not isinstance(head, str) or not head.strip()):
            raise ValueError("head (a branch name) is for a pull request only")
        try:
            issue = self._create_issue(self.state, body, actor or BOT_LOGIN, pull=pull, head=head)
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

    @mutation("sub_issue")
    def mutate_sub_issue(self, number: Any = None, child: Any = None, remove: bool = False) -> dict[str, Any]:
        """``child`` becomes (``remove``: stops being) a sub-issue of ``number``."""
        parent, sub = self._mutation_issue(number), self._mutation_issue(child)
        try:
            if remove:
                self.unlink_sub_issue(parent, sub)
            else:
                self.link_sub_issue(parent, sub, replace_parent=True)
        except (ApiError, ValueError) as exc:
            raise ValueError(f"cannot change sub-issue #{sub.number} of #{parent.number}") from exc
        return {"number": parent.number, "sub_issues": list(parent.sub_issues)}

    @mutation("block")
    def mutate_block(self, number: Any = None, blocker: Any = None, remove: bool = False) -> dict[str, Any]:
        """Issue ``number`` becomes (``remove``: stops being) blocked by ``blocker``."""
        blocked, by = self._mutation_issue(number), self._mutation_issue(blocker)
        try:
            if remove:
                self.unlink_blocker(blocked, by)
            else:
                self.link_blocker(blocked, by)
        except (ApiError, ValueError) as exc:
            raise ValueError(f"cannot change blocker #{by.number} of #{blocked.number}") from exc
        return {"number": blocked.number, "blocked_by": list(blocked.blocked_by)}

    @mutation("update_advisory")
    def mutate_update_advisory(
        self, ghsa_id: Any = None, fields: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Change a repository advisory's ``summary``, ``description``, ``severity`` or ``state``; its
        ``updated_at`` moves (and ``published_at``/``closed_at`` with a state change), as GitHub's PATCH."""
        advisory = next((a for a in self.state.advisories if a.ghsa_id == ghsa_id), None)
        if advisory is None:
            raise KeyError(f"advisory {ghsa_id}")
        changes = dict(fields or {})
        allowed = {
            "summary": None,
            "description": None,
            "severity": ("low", "medium", "high", "critical"),
            "state": ("triage", "draft", "published", "closed"),
        }
        for name, value in changes.items():
            choices = allowed.get(name, ())
            if name not in allowed or not isinstance(value, str) or (choices and value not in choices):
                raise ValueError(f"cannot set {name} to {value!r}")
        now = max(self.now(), advisory.updated_at + 1)
        for name, value in changes.items():
            setattr(advisory, name, value)
        if changes.get("state") == "published" and advisory.published_at is None:
            advisory.published_at = now
        if "state" in changes:
            advisory.closed_at = now if changes["state"] == "closed" else None
        advisory.updated_at = now
        self.touch()
        return {"ghsa_id": advisory.ghsa_id, "updated_at": iso_z(advisory.updated_at)}

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

    @mutation("push")
    def mutate_push(
        self, message: Any = None, actor: str | None = None, branch: Any = DEFAULT_BRANCH
    ) -> dict[str, Any]:
        """A commit pushed to ``branch``: it heads ``GET /commits`` (the sandbox keeps one history) and a
        ``push`` webhook carries it."""
        if not isinstance(message, str) or not message.strip():
            raise ValueError("message must be a non-empty string")
        if not isinstance(branch, str) or not branch.strip():
            raise ValueError("branch must be a non-empty string")
        author = actor or BOT_LOGIN
        if author not in self.state.users:
            raise ValueError(f"unknown user {author!r}")
        history = self.state.commits
        before = history[0].sha if history else "0" * 40
        when = max(self.now(), history[0].date + 1 if history else 0)
        sha = hashlib.sha1(f"{before}\n{when}\n{message}".encode(), usedforsecurity=False).hexdigest()
        commit = Commit(sha, message, author, when, before if history else None)
        history.insert(0, commit)
        self.touch()
        self._emit_push([commit], before, branch, author)
        return {"sha": sha, "date": iso_z(when), "branch": branch}

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
