"""The GitLab sandbox: GitLab's REST API v4 for one private project, ``acme/widgets``, at ``http://127.0.0.1:PORT``.

The API lives under ``/api/v4`` as on a real instance, so ``gitlab.Gitlab(url, private_token=token)`` works
unchanged. What it reproduces, and where a naive fake goes wrong (research/tracker-apis.md, sections 3 and 9):

- Auth: ``PRIVATE-TOKEN``, ``Authorization: Bearer`` or ``?private_token=`` / ``?access_token=``. The seeded
  token owns the project; ``<token>-outsider`` is valid but no member (404, as GitLab hides private projects);
  no credential is anonymous (404 for the project, 401 where GitLab calls ``authenticate!``); any other
  credential is ``401 {"message":"401 Unauthorized"}``.
- Projects by numeric id or URL-encoded path (``acme%2Fwidgets``; an unencoded slash is another path, 404).
  Issues are addressed by ``iid``; ``id`` is instance-wide.
- ``GET /projects/:id/issues``: ``state``, ``labels`` (all must match; ``None``/``Any``), ``milestone``,
  ``author_*``, ``assignee_*``, ``iids[]``, ``search``, ``confidential``, ``created_after/before``,
  ``updated_after/before`` (inclusive, ISO 8601 with offsets; an unencoded ``+`` arrives as a space and is
  400 ``updated_after is invalid``), ``order_by`` (default ``created_at``), ``sort`` (default ``desc``).
  Offset pages (``per_page`` default 20, clamped to 100) carry ``x-page``, ``x-per-page``, ``x-next-page``,
  ``x-prev-page``, ``x-total``, ``x-total-pages`` and ``link`` (prev/next/first/last); past 10,000 matches
  ``x-total``, ``x-total-pages`` and ``rel="last"`` are left out, as GitLab does. ``pagination=keyset``
  (project issues, GitLab 18.3+) answers only a ``link`` with ``rel="next"`` and an opaque ``cursor``; the
  last page has no link (``CursorPager#apply_headers`` adds one only when ``has_next_page?``).
  ``GET /issues`` defaults to ``scope=created_by_me``.
- Errors come in GitLab's two shapes: Grape parameter errors ``{"error": "title is missing"}``,
  ``{"error": "per_page is invalid"}``, ``{"error": "state does not have a valid value"}``; model and lookup
  errors ``{"message": {"title": ["can't be blank"]}}``, ``{"message": "404 Project Not Found"}``. Unknown
  routes are ``{"error": "404 Not Found"}``.
- Notes list system notes (``"system": true``) for title, description, assignee, confidentiality and due-date
  changes. Closing and reopening write resource state events instead (``/resource_state_events``), as current
  GitLab does. Saving a note touches its issue (``Note`` has ``after_save :touch_noteable``), but ``Issue``
  includes ``ThrottledTouch``: ``updated_at`` moves only when it is more than 60 s old. An incremental note
  sync keyed on the issue's ``updated_after`` therefore needs an overlap of at least a minute.
- ``RateLimit-Name/-Limit/-Observed/-Remaining/-Reset`` on every response (``-Limit`` normalised to a minute,
  ``-Reset`` an absolute epoch, as ``Gitlab::RackAttack.throttled_response_headers``); the limit answers
  ``429`` ``text/plain`` ``Retry later`` with ``RateLimit-ResetTime`` and ``Retry-After``. Conditional GETs
  answer 304 on a matching ``If-None-Match``; unlike GitHub, a 304 still counts against the limit.
- Project hooks (``/projects/:id/hooks``; ``push_events`` defaults to true, every other event to false; the
  token is write-only) get ``Issue Hook``/``Confidential Issue Hook``/``Note Hook``/``Confidential Note Hook``
  deliveries with ``X-Gitlab-Token``, ``X-Gitlab-Event``, ``X-Gitlab-Event-UUID`` (one per hook per
  originating request, or the caller's own when the request carried one), ``X-Gitlab-Webhook-UUID`` (fresh per
  request), ``X-Gitlab-Instance``, ``Idempotency-Key`` (kept by resends) and ``User-Agent: GitLab/<version>``;
  a hook with a ``signing_token`` (``whsec_...``) also gets Standard Webhooks ``webhook-id`` (= the
  Idempotency-Key), ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>``. GitLab does not
  retry a failed delivery by itself (``WebHookService#execute`` logs the failure and returns); only
  ``POST .../hooks/:hook_id/events/:event_id/resend`` sends it again. Four consecutive failures disable a hook
  temporarily (1 minute, doubling up to 24 h) and 40 disable it for good (GitLab.com's auto-disabling, MR
  !166329). Hook URLs must be loopback: the sandbox never sends traffic off the machine.

``/_sandbox/mutate`` actions: ``create`` (``fields``: title, description, labels, assignee_ids, confidential),
``update`` (``iid``, ``fields``: any issue update parameter, plus ``state``, ``body`` and ``assignees``
(usernames) for scripts shared with the GitHub sandbox; ``touch_only`` only moves ``updated_at``), ``comment``
or ``note`` (``iid``, ``body``, ``internal``), ``edit_comment`` and ``delete_comment`` (``note_id``) and
``delete`` (``iid``), ``push`` (``message``, ``branch``: a commit on top of ``main``'s history, sent as a
``Push Hook``) and ``merge_request`` (``title``, ``description``, ``source_branch``: opened, sent as a
``Merge Request Hook``). ``number`` is accepted for ``iid``. Each fires the webhook the API write would.

Repository activity (``_repository``): ``/repository/commits`` and ``/merge_requests``. Every third seeded
commit names an issue (``#n``, ``Fixes #n``, a key of the seeded Jira project ``ACME``) and every twelfth one
a number no issue has; seeded merge requests' branches are ``<n>-<words>`` or ``feature/ACME-<n>-<words>``.
"""

from __future__ import annotations

import hmac
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from email.utils import formatdate
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
    mutation,
)
from ._base import (
    API,
    JSON_TYPE,
    TRIGGER_FLAGS,
    keep_encoded_project_path,
    message_with,
    phrase,
)
from ._hooks import HookRoutes
from ._instance import InstanceRoutes
from ._issues import IssueRoutes
from ._links import LinkRoutes
from ._members import MemberMutations
from ._notes import NoteRoutes
from ._query import (
    Params,
    unauthorized,
)
from ._releases import ReleaseRoutes
from ._render import hook_time, iso_ms
from ._repository import RepositoryRoutes
from ._state import (
    BOT_USERNAME,
    OUTSIDER_USERNAME,
    PROJECT_ID,
    GitLabState,
    Issue,
    Note,
    seed_state,
)

__all__ = ["GitLabSandbox"]


class GitLabSandbox(
    IssueRoutes,
    NoteRoutes,
    InstanceRoutes,
    HookRoutes,
    RepositoryRoutes,
    ReleaseRoutes,
    LinkRoutes,
    MemberMutations,
):
    """GitLab REST v4 for ``acme/widgets``; see the module docstring for the behaviour reproduced."""

    kind = "gitlab"
    # Self-managed defaults when the authenticated API limit is enabled: 7,200 requests per 3,600 s.
    default_rate_limit = 7200
    rate_limit_window_s = 3600
    # Gitlab.config.gitlab.webhook_timeout defaults to 10 s; failed deliveries are not retried.
    webhook_timeout_s = 10.0
    webhook_retry_delays_s = ()
    unknown_method_status = 405
    # Grape's InvalidMessageBody problem text for a body that is not the declared JSON.
    bad_json_message = "message body does not match declared format"
    not_modified_is_free = False
    # What callers need (see core): a project-scoped connection with a token; issues named by iid.
    scope_key = "project"
    listing_route = "GET */issues"
    issue_ref_key = "iid"
    close_fields: ClassVar[Mapping[str, Any]] = {"state_event": "close"}

    def build_state(self, sizes: Sizes, rng: random.Random) -> GitLabState:
        return seed_state(rng, **sizes.seeding())

    def describe_extra(self) -> dict[str, Any]:
        return {
            "project": self.state.full_path,
            "project_id": PROJECT_ID,
            "api_url": f"{self.url}{API}",
            "signing_token": self.signing_token,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        keep_encoded_project_path(environ)
        local = self._local
        local.event_uuid = self._recycled_uuid(environ.get("HTTP_X_GITLAB_EVENT_UUID"))
        local.hook_uuids = {}
        local.authenticated = True
        try:
            return super().__call__(environ, start_response)
        finally:
            local.event_uuid = None
            local.hook_uuids = {}

    def mutate(self, action: str, **params: Any) -> dict[str, Any]:
        # A /_sandbox/mutate call is its own originating request for X-Gitlab-Event-UUID purposes.
        local = self._local
        previous = getattr(local, "hook_uuids", None)
        local.hook_uuids = {}
        try:
            return super().mutate(action, **params)
        finally:
            local.hook_uuids = previous if previous is not None else {}

    def authenticate(self, request: SandboxRequest) -> Principal:
        presented = self._credential(request)
        if presented is None:
            self._local.authenticated = False
            return Principal(
                key=f"ip:{request.remote_addr}",
                login="",
                authenticated=False,
                rate_limit=self.anonymous_rate_limit,
                grants=frozenset(),
            )
        candidate = presented.encode()
        if hmac.compare_digest(candidate, self.token.encode()):
            return Principal(key="user:sandbox-bot", login=BOT_USERNAME)
        if hmac.compare_digest(candidate, self.outsider_token.encode()):
            return Principal(key="user:outsider", login=OUTSIDER_USERNAME, grants=frozenset())
        raise unauthorized()

    def _credential(self, request: SandboxRequest) -> str | None:
        private = request.headers.get("PRIVATE-TOKEN")
        if private is not None:
            return private.strip()
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, credential = header.strip().partition(" ")
            # Only Bearer is accepted; anything else is a bad credential, not an anonymous call.
            return credential.strip() if scheme.lower() == "bearer" else "\x00invalid"
        for name in ("private_token", "access_token"):
            value = request.args.get(name)
            if value is not None:
                return value.strip()
        return None

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        headers = dict(error.headers)
        text = error.details.get("text")
        if text is not None:
            return Reply(text.encode(), error.status, headers, content_type="text/plain")
        body = error.details.get("body")
        if body is None:
            if error.status == 404:
                body = {"error": "404 Not Found"}
            elif error.status == 405:
                body = {"error": "405 Not Allowed"}
            elif error.status in (400, 413):
                body = {"error": error.message}
            else:
                body = {"message": f"{error.status} {phrase(error.status)}"}
        return Reply(body, error.status, headers, content_type=JSON_TYPE)

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        authenticated = getattr(self._local, "authenticated", True)
        return {
            "RateLimit-Name": "throttle_authenticated_api"
            if authenticated
            else "throttle_unauthenticated_api",
            # The quota normalised to a 60 s window; Observed and Remaining stay in the configured window
            # (Gitlab::RackAttack.throttled_response_headers does exactly this).
            "RateLimit-Limit": str(math.ceil(bucket.limit * 60 / self.rate_limit_window_s)),
            "RateLimit-Observed": str(bucket.used),
            "RateLimit-Remaining": str(bucket.remaining),
            "RateLimit-Reset": str(bucket.reset),
        }

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        retry_after = max(bucket.reset - int(time.time()), 1)
        headers = {
            "RateLimit-ResetTime": formatdate(bucket.reset, usegmt=True),
            "Retry-After": str(retry_after),
        }
        # Gitlab::Throttle.rate_limiting_response_text: "Retry later" plus a newline, as text/plain.
        return ApiError(429, "Retry later", headers=headers, text="Retry later\n")

    def rate_limit_fault(self, request: SandboxRequest, rule: FaultRule, bucket: RateBucket) -> ApiError:
        error = super().rate_limit_fault(request, rule, bucket)
        if rule.message:
            error.details["text"] = rule.message + "\n"
        return error

    def fault_error(self, request: SandboxRequest, rule: FaultRule) -> ApiError:
        # A 429 rule with rate_limit_reset_s never gets here: it is the throttle's answer (rate_limit_fault).
        status = rule.status or 500
        if status == 429:
            retry_after = rule.retry_after_s if rule.retry_after_s is not None else 60
            reset = int(time.time()) + retry_after
            headers = {
                "Retry-After": str(retry_after),
                "RateLimit-Reset": str(reset),
                "RateLimit-ResetTime": formatdate(reset, usegmt=True),
            }
            return ApiError(429, "Retry later", headers=headers, text=(rule.message or "Retry later") + "\n")
        headers = {"Retry-After": str(rule.retry_after_s)} if rule.retry_after_s is not None else {}
        return message_with(status, rule.message or f"{status} {phrase(status)}", headers)

    def response_headers(self, request: SandboxRequest, reply: Reply) -> dict[str, str]:
        request_id = self._request_id(request)
        return {
            "Cache-Control": "max-age=0, private, must-revalidate",
            "Vary": "Origin, Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "SAMEORIGIN",
            "X-Request-Id": request_id,
            "X-Gitlab-Meta": json.dumps(
                {"correlation_id": request_id, "version": "1"}, separators=(",", ":")
            ),
        }

    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        flag = TRIGGER_FLAGS.get(event)
        if flag is None:
            return []
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        requests: list[WebhookRequest] = []
        for hook in self.state.hooks.values():
            if not hook.events.get(flag) or self._hook_status(hook)[0] != "executable":
                continue
            # WebHookService generates one Idempotency-Key per hook execution and keeps it on resends.
            requests.append(self._signed(hook, event, body, str(uuid.uuid4()), self._event_uuid(hook)))
        return requests

    # ------------------------------------------------------------------ for tests, benchmarks and the demo

    def issue_counts(self) -> tuple[int, int, int]:
        # User notes only: system notes are not comments.
        comments = sum(1 for note in self.state.notes.values() if not note.system)
        issues = len(self.state.live_issues())
        return issues, issues, comments

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        # No project-wide notes listing: a first sync asks each issue's notes once (100 per page).
        return math.ceil(listed / 100) + listed

    def read_with_client_library(self) -> None:
        import gitlab as pygitlab

        project = pygitlab.Gitlab(self.url, private_token=self.token).projects.get(self.state.full_path)
        for issue in project.issues.list(iterator=True, state="all"):
            issue.notes.list(get_all=True)

    # ------------------------------------------------------------------ /_sandbox/mutate

    def _mutation_issue(self, iid: Any, number: Any) -> Issue:
        value = iid if iid is not None else number
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("iid must be an integer")
        issue = self.state.issue(value)
        if issue is None:
            raise KeyError(f"issue {value}")
        return issue

    def _mutation_actor(self, actor: str | None) -> str:
        name = actor or BOT_USERNAME
        if name not in self.state.users:
            raise ValueError(f"unknown actor {name!r}")
        return name

    def _mutation_params(self, fields: dict[str, Any] | None) -> Params:
        if fields is not None and not isinstance(fields, dict):
            raise ValueError("fields must be an object")
        values = dict(fields or {})
        # Field names a script shared with the GitHub sandbox uses.
        wanted = values.pop("state", None)
        if wanted is not None:
            events = {
                "closed": "close",
                "close": "close",
                "open": "reopen",
                "opened": "reopen",
                "reopened": "reopen",
            }
            if wanted not in events:
                raise ValueError("state must be opened or closed")
            values["state_event"] = events[wanted]
        if "body" in values:
            values.setdefault("description", values.pop("body"))
        if "assignees" in values:
            names = values.pop("assignees") or []
            users = self.state.users
            unknown = [name for name in names if name not in users]
            if unknown:
                raise ValueError(f"unknown assignees: {', '.join(map(str, unknown))}")
            values["assignee_ids"] = [users[name].id for name in names]
        return Params(values)

    @staticmethod
    def _as_value_error(exc: ApiError) -> ValueError:
        return ValueError(json.dumps(exc.details.get("body", exc.message)))

    @mutation("create")
    def mutate_create(self, fields: dict[str, Any] | None = None, actor: str | None = None) -> dict[str, Any]:
        params = self._mutation_params(fields)
        params.values.setdefault("title", f"Sandbox issue created at {iso_ms(self._now_ms())}")
        try:
            issue = self._create_issue(params, self._mutation_actor(actor))
        except ApiError as exc:
            raise self._as_value_error(exc) from exc
        return {"iid": issue.iid, "number": issue.iid, "id": issue.id, "updated_at": iso_ms(issue.updated_at)}

    @mutation("push")
    def mutate_push(
        self, message: Any = None, actor: str | None = None, branch: Any = "main"
    ) -> dict[str, Any]:
        if not isinstance(message, str) or not message.strip():
            raise ValueError("message must be a non-empty string")
        if not isinstance(branch, str) or not branch.strip():
            raise ValueError("branch must be a non-empty string")
        commit = self._push(message, self._mutation_actor(actor), branch)
        return {"sha": commit.sha, "date": iso_ms(commit.date), "branch": branch}

    @mutation("merge_request")
    def mutate_merge_request(
        self,
        title: Any = None,
        description: Any = None,
        source_branch: Any = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        for name, value in (("title", title), ("source_branch", source_branch)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        if description is not None and not isinstance(description, str):
            raise ValueError("description must be a string")
        mr = self._open_merge_request(title, description, source_branch, self._mutation_actor(actor))
        return {"iid": mr.iid, "id": mr.id, "updated_at": iso_ms(mr.updated_at)}

    @mutation("update")
    def mutate_update(
        self,
        iid: Any = None,
        number: Any = None,
        fields: dict[str, Any] | None = None,
        actor: str | None = None,
        touch_only: bool = False,
    ) -> dict[str, Any]:
        issue = self._mutation_issue(iid, number)
        who = self._mutation_actor(actor)
        if touch_only or not fields:
            # "Something changed" without a visible field change: updated_at moves, an update hook fires.
            previous = issue.updated_at
            self.state.set_updated(issue, max(self._now_ms(), issue.updated_at + 1))
            self.touch()
            changes = {
                "updated_at": {"previous": hook_time(previous), "current": hook_time(issue.updated_at)}
            }
            self._emit_issue(issue, "update", who, changes)
        else:
            try:
                self._update_issue(issue, self._mutation_params(fields), who)
            except ApiError as exc:
                raise self._as_value_error(exc) from exc
        return {
            "iid": issue.iid,
            "number": issue.iid,
            "updated_at": iso_ms(issue.updated_at),
            "state": issue.state,
        }

    @mutation("comment")
    def mutate_comment(
        self,
        iid: Any = None,
        number: Any = None,
        body: str | None = None,
        actor: str | None = None,
        internal: bool = False,
    ) -> dict[str, Any]:
        issue = self._mutation_issue(iid, number)
        text = body or f"Sandbox note at {iso_ms(self._now_ms())}"
        try:
            note = self._add_note(
                issue, Params({"body": text, "internal": internal}), self._mutation_actor(actor)
            )
        except ApiError as exc:
            raise self._as_value_error(exc) from exc
        return {
            "iid": issue.iid,
            "note_id": note.id,
            "comment_id": note.id,
            "updated_at": iso_ms(issue.updated_at),
        }

    @mutation("note")
    def mutate_note(
        self,
        iid: Any = None,
        number: Any = None,
        body: str | None = None,
        actor: str | None = None,
        internal: bool = False,
    ) -> dict[str, Any]:
        return self.mutate_comment(iid=iid, number=number, body=body, actor=actor, internal=internal)

    def _mutation_note(self, note_id: Any, comment_id: Any) -> tuple[Issue, Note]:
        value = note_id if note_id is not None else comment_id
        note = self.state.notes.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
        issue = self.state.issue(note.iid) if note is not None else None
        if note is None or issue is None:
            raise KeyError(f"note {value}")
        return issue, note

    @mutation("edit_comment")
    def mutate_edit_comment(
        self, note_id: Any = None, comment_id: Any = None, body: str | None = None, actor: str | None = None
    ) -> dict[str, Any]:
        issue, note = self._mutation_note(note_id, comment_id)
        try:
            self._edit_note(issue, note, body, self._mutation_actor(actor))
        except ApiError as exc:
            raise self._as_value_error(exc) from exc
        return {"note_id": note.id, "updated_at": iso_ms(note.updated_at)}

    @mutation("delete_comment")
    def mutate_delete_comment(
        self, note_id: Any = None, comment_id: Any = None, actor: str | None = None
    ) -> dict[str, Any]:
        issue, note = self._mutation_note(note_id, comment_id)
        self._drop_note(issue, note)
        return {"note_id": note.id, "deleted": True}

    @mutation("delete")
    def mutate_delete(self, iid: Any = None, number: Any = None, actor: str | None = None) -> dict[str, Any]:
        issue = self._mutation_issue(iid, number)
        self.state.remove_issue(issue)
        self.touch()
        return {"iid": issue.iid, "deleted": True}
