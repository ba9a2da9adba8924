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
``delete`` (``iid``). ``number`` is accepted for ``iid``. Each fires the webhook the API write would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import unquote, urlencode, urlsplit

from ._gitlab_query import (
    IssueQuery,
    Params,
    api_message,
    bad_value,
    first_after,
    grape_error,
    invalid,
    missing,
    ordered_iids,
    parse_time_ms,
    sort_key,
    unauthorized,
    validation_error,
)
from ._gitlab_render import GITLAB_VERSION, STATE_IDS, GitLabRenderer, hook_time, iso_ms
from ._gitlab_state import (
    BOT_USERNAME,
    HOOK_EVENT_FLAGS,
    ISSUE_ID_BASE,
    OUTSIDER_USERNAME,
    PROJECT_ID,
    GitLabState,
    Hook,
    HookLog,
    Issue,
    Note,
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
    last_page,
    link_header,
    mutation,
    route,
)

__all__ = ["GitLabSandbox"]

API = "/api/v4"
PROJECT = API + "/projects/{id}"
ISSUE = PROJECT + "/issues/{issue_iid:int}"
HOOK = PROJECT + "/hooks/{hook_id:int}"
JSON_TYPE = "application/json"
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# GitLab stops counting past 10,000 matches: no x-total, x-total-pages or rel="last" then.
COUNT_LIMIT = 10_000
# ThrottledTouch::TOUCH_INTERVAL: a note moves its issue's updated_at only if that is older than this.
NOTE_TOUCH_INTERVAL_MS = 60_000
TITLE_MAX = 255
TEXT_MAX = 1_048_576
NOTE_MAX = 1_000_000
HOOK_FAILURES_TO_BACK_OFF = 4
HOOK_FAILURES_TO_DISABLE = 40
HOOK_MAX_BACKOFF_S = 86_400
HOOK_LOG_LIMIT = 10_000
SECRET_PARAMS = frozenset({"private_token", "access_token"})
ISSUE_ORDERS = (
    "created_at",
    "updated_at",
    "id",
    "title",
    "due_date",
    "popularity",
    "relative_position",
    "weight",
)
KEYSET_ORDERS = ("created_at", "updated_at", "id", "title")
UPDATE_PARAMS = (
    "assignee_id",
    "assignee_ids",
    "confidential",
    "created_at",
    "description",
    "discussion_locked",
    "due_date",
    "labels",
    "add_labels",
    "remove_labels",
    "milestone_id",
    "state_event",
    "title",
    "issue_type",
    "weight",
    "epic_id",
    "epic_iid",
)
# Hook trigger (GitLab's hook scope name) -> the hook's event flag.
TRIGGER_FLAGS = {
    "issue_hooks": "issues_events",
    "confidential_issue_hooks": "confidential_issues_events",
    "note_hooks": "note_events",
    "confidential_note_hooks": "confidential_note_events",
}
_ALL_HOOK_PARAMS = (*HOOK_EVENT_FLAGS, "enable_ssl_verification")


def _second(key: tuple[int, int]) -> int:
    return key[1]


def _keep_encoded_project_path(environ: dict[str, Any]) -> None:
    """Route ``/api/v4/projects/acme%2Fwidgets/...`` as GitLab does, with the project path as one segment.

    The WSGI server decodes ``%2F`` into ``/`` before routing; GitLab matches ``:id`` against the raw path
    (``NAMESPACE_OR_PROJECT_REQUIREMENTS = { id: /[^\\/]+/ }``), so the encoded slash is put back from the raw
    request URI for the project segment only.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        return
    path = str(raw).split("?", 1)[0]
    if "://" in path:
        path = urlsplit(path).path
    prefix = API + "/projects/"
    if not path.startswith(prefix):
        return
    segment, separator, tail = path[len(prefix) :].partition("/")
    if "%2f" not in segment.lower():
        return
    decoded = unquote(segment.encode("latin-1").decode("utf-8", "replace"))
    rebuilt = prefix + decoded.replace("/", "%2F") + separator + unquote(tail)
    environ["PATH_INFO"] = rebuilt.encode("utf-8").decode("latin-1")


def _event_header(trigger: str) -> str:
    """``issue_hooks`` -> ``Issue Hook`` (``WebHookService.hook_to_event``)."""
    return trigger.removesuffix("s").replace("_", " ").title()


def _signing_key(token: str) -> bytes:
    """The raw key of a ``whsec_<base64>`` Standard Webhooks secret; ``ValueError`` when malformed."""
    if not token.startswith("whsec_"):
        raise ValueError("signing_token must start with whsec_")
    try:
        key = base64.b64decode(token.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("signing_token is not base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("signing_token must hold 24 to 64 bytes")
    return key


# --------------------------------------------------------------------------------------------- sandbox


class GitLabSandbox(SandboxTracker[GitLabState]):
    """GitLab REST v4 for ``acme/widgets``; see the module docstring for the behaviour reproduced."""

    kind = "gitlab"
    # Self-managed defaults when the authenticated API limit is enabled: 7,200 requests per 3,600 s.
    default_rate_limit = 7200
    rate_limit_window_s = 3600
    anonymous_rate_limit: ClassVar[int] = 3600
    # Gitlab.config.gitlab.webhook_timeout defaults to 10 s; failed deliveries are not retried.
    webhook_timeout_s = 10.0
    webhook_retry_delays_s = ()
    unknown_method_status = 405
    # Grape's InvalidMessageBody problem text for a body that is not the declared JSON.
    bad_json_message = "message body does not match declared format"
    not_modified_is_free = False
    auto_disable_hooks: ClassVar[bool] = True

    def __init__(self, **kwargs: Any) -> None:
        self._renderer: GitLabRenderer | None = None
        self._local = threading.local()
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ core hooks

    def build_state(self, sizes: Sizes, rng: random.Random) -> GitLabState:
        return seed_state(
            rng,
            issues=sizes.issues,
            comments_per_issue=sizes.comments_per_issue,
            closed_ratio=sizes.closed_ratio,
            users=sizes.users,
        )

    def describe_extra(self) -> dict[str, Any]:
        return {
            "project": self.state.full_path,
            "project_id": PROJECT_ID,
            "api_url": f"{self.url}{API}",
            "signing_token": self.signing_token,
        }

    @property
    def outsider_token(self) -> str:
        """A valid token whose user is no member of the private project (GitLab answers 404)."""
        return f"{self.token}-outsider"

    @property
    def signing_token(self) -> str:
        """A deterministic Standard Webhooks secret (``whsec_`` + base64 of 32 bytes) for demo hooks."""
        digest = hashlib.sha256(f"sandbox-gitlab-signing-{self.sizes.seed}".encode()).digest()
        return "whsec_" + base64.b64encode(digest).decode()

    @property
    def render(self) -> GitLabRenderer:
        renderer = self._renderer
        if renderer is None or renderer.state is not self.state or renderer.base != self.url:
            renderer = self._renderer = GitLabRenderer(self.url, self.state)
        return renderer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        _keep_encoded_project_path(environ)
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
                body = {"message": f"{error.status} {_phrase(error.status)}"}
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
        return _message_with(status, rule.message or f"{status} {_phrase(status)}", headers)

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

    # ------------------------------------------------------------------ helpers

    def _request_id(self, request: SandboxRequest) -> str:
        cached = request.environ.get("sandbox.request_id")
        if cached is None:
            cached = request.environ["sandbox.request_id"] = uuid.uuid4().hex[:26].upper()
        return str(cached)

    def _recycled_uuid(self, value: str | None) -> str | None:
        # A request made by a webhook consumer carries the UUID it received; GitLab reuses it so a loop of
        # hooks can be detected (Gitlab::WebHooks::RecursionDetection::UUID#uuid_for_hook).
        if not value:
            return None
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            return None

    def _event_uuid(self, hook: Hook) -> str:
        local = self._local
        recycled = getattr(local, "event_uuid", None)
        if recycled:
            return str(recycled)
        per_hook = getattr(local, "hook_uuids", None)
        if per_hook is None:
            per_hook = local.hook_uuids = {}
        return str(per_hook.setdefault(hook.id, str(uuid.uuid4())))

    def _signed(self, hook: Hook, event: str, body: bytes, key: str, event_uuid: str) -> WebhookRequest:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"GitLab/{GITLAB_VERSION}",
            "Idempotency-Key": key,
            "X-Gitlab-Event": _event_header(event),
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Instance": self.url,
            "X-Gitlab-Event-UUID": event_uuid,
        }
        if hook.token:
            headers["X-Gitlab-Token"] = hook.token.replace("\r", "").replace("\n", "")
        if hook.signing_token:
            timestamp = str(int(time.time()))
            signed = f"{key}.{timestamp}.".encode() + body
            digest = hmac.new(_signing_key(hook.signing_token), signed, hashlib.sha256).digest()
            headers["webhook-id"] = key
            headers["webhook-timestamp"] = timestamp
            headers["webhook-signature"] = "v1," + base64.b64encode(digest).decode()
        return WebhookRequest(hook.url, headers, body, event, key, str(hook.id))

    def _hook_status(self, hook: Hook) -> tuple[str, int | None]:
        """``alert_status`` and ``disabled_until`` (epoch ms) from the hook's recent executions."""
        if not self.auto_disable_hooks:
            return "executable", None
        failures = 0
        last_failure: float | None = None
        for log in reversed(self.state.hook_logs):
            if log.hook_id != hook.id or not log.delivery.done:
                continue
            if log.delivery.ok:
                break
            failures += 1
            if last_failure is None and log.delivery.attempts:
                last_failure = log.delivery.attempts[-1].at
            if failures >= HOOK_FAILURES_TO_DISABLE:
                return "disabled", None
        if failures >= HOOK_FAILURES_TO_BACK_OFF and last_failure is not None:
            backoff = min(60 * 2 ** (failures - HOOK_FAILURES_TO_BACK_OFF), HOOK_MAX_BACKOFF_S)
            until = last_failure + backoff
            if time.time() < until:
                return "temporarily_disabled", int(until * 1000)
        return "executable", None

    def _subscribed(self, flag: str) -> bool:
        return any(hook.events.get(flag) for hook in self.state.hooks.values())

    def _fire(self, trigger: str, payload: Any) -> None:
        state = self.state
        for delivery in self.emit(trigger, payload):
            state.hook_logs.append(
                HookLog(state.next_hook_log_id, int(delivery.request.hook_id), trigger, payload, delivery)
            )
            state.next_hook_log_id += 1
        if len(state.hook_logs) > HOOK_LOG_LIMIT:
            del state.hook_logs[: len(state.hook_logs) - HOOK_LOG_LIMIT]

    def _emit_issue(self, issue: Issue, action: str, actor: str, changes: dict[str, Any]) -> None:
        trigger = "confidential_issue_hooks" if issue.confidential else "issue_hooks"
        if not self._subscribed(TRIGGER_FLAGS[trigger]):
            return
        payload = self.render.issue_hook(issue, action, actor, changes, confidential=issue.confidential)
        self._fire(trigger, payload)

    def _emit_note(self, note: Note, issue: Issue, actor: str, action: str) -> None:
        if note.system:
            return  # Notes::PostProcessService skips hooks for system notes
        confidential = note.internal or issue.confidential
        trigger = "confidential_note_hooks" if confidential else "note_hooks"
        if not self._subscribed(TRIGGER_FLAGS[trigger]):
            return
        self._fire(trigger, self.render.note_hook(note, issue, actor, action, confidential=confidential))

    def _now_ms(self) -> int:
        return self.now() * 1000

    def _params(self, request: SandboxRequest) -> Params:
        values: dict[str, Any] = {}

        def merge(pairs: Iterable[tuple[str, str]]) -> None:
            for key, value in pairs:
                if key.endswith("[]"):
                    values.setdefault(key[:-2], [])
                    if isinstance(values[key[:-2]], list):
                        values[key[:-2]].append(value)
                else:
                    values[key] = value

        merge((key, value) for key, value in request.args.items(multi=True) if key not in SECRET_PARAMS)
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            mimetype = request.mimetype
            if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                merge(request.form.items(multi=True))
            elif request.get_data(cache=True).strip():
                body = self.read_json(request)
                if not isinstance(body, dict):
                    raise grape_error(400, self.bad_json_message)
                values.update(body)
        return Params(values)

    def _project(self, request: SandboxRequest, project_id: str) -> GitLabState:
        state = self.state
        wanted = unquote(project_id)
        same = wanted == str(PROJECT_ID) or wanted.lower() == state.full_path
        principal = request.principal
        if not same or principal is None or not principal.may(state.full_path):
            raise api_message(404, "404 Project Not Found")
        return state

    def _issue(
        self, request: SandboxRequest, project_id: str, iid: int, *, missing: str = "404 Not found"
    ) -> Issue:
        issue = self._project(request, project_id).issue(iid)
        if issue is None:
            raise api_message(404, missing)
        return issue

    def _require_user(self, request: SandboxRequest) -> str:
        principal = request.principal
        if principal is None or not principal.authenticated:
            raise unauthorized()
        return principal.login

    def _page_params(self, params: Params) -> tuple[int, int]:
        per_page = params.integer("per_page", DEFAULT_PER_PAGE) or DEFAULT_PER_PAGE
        # Kaminari's max_paginates_per clamps large values; nonsense small ones fall back to the default.
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        page = params.integer("page", 1) or 1
        return max(page, 1), per_page

    def _link(self, request: SandboxRequest, **changes: Any) -> str:
        pairs = [
            (k, v) for k, v in request.args.items(multi=True) if k not in SECRET_PARAMS and k not in changes
        ]
        pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
        return f"{self.url}{request.path}?{urlencode(pairs)}"

    def _offset_reply(
        self, request: SandboxRequest, params: Params, keys: Sequence[Any], render: Callable[[Any], Any]
    ) -> Reply:
        page, per_page = self._page_params(params)
        total = len(keys)
        start = (page - 1) * per_page
        chunk = keys[start : start + per_page]
        last = last_page(total, per_page)
        has_next = start + per_page < total
        has_prev = 1 < page <= last
        counted = total <= COUNT_LIMIT
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if has_next else "",
            "X-Prev-Page": str(page - 1) if has_prev else "",
        }
        links: list[tuple[str, str]] = []
        if has_prev:
            links.append(("prev", self._link(request, page=page - 1, per_page=per_page)))
        if has_next:
            links.append(("next", self._link(request, page=page + 1, per_page=per_page)))
        links.append(("first", self._link(request, page=1, per_page=per_page)))
        if counted:
            headers["X-Total"] = str(total)
            headers["X-Total-Pages"] = str(last)
            links.append(("last", self._link(request, page=last, per_page=per_page)))
        headers["Link"] = link_header(links) or ""
        return Reply([render(key) for key in chunk], 200, headers, content_type=JSON_TYPE)

    # ------------------------------------------------------------------ instance

    @route("GET", API + "/version")
    def get_version(self, request: SandboxRequest) -> Reply:
        self._require_user(request)
        return Reply(self.render.version(), content_type=JSON_TYPE)

    @route("GET", API + "/user")
    def get_current_user(self, request: SandboxRequest) -> Reply:
        return Reply(self.render.current_user(self._require_user(request)), content_type=JSON_TYPE)

    @route("GET", PROJECT)
    def get_project(self, request: SandboxRequest, id: str) -> Reply:
        self._project(request, id)
        return Reply(self.render.project(), content_type=JSON_TYPE)

    @route("GET", PROJECT + "/labels")
    def list_labels(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        params = self._params(request)
        render = self.render.label_with_counts if params.boolean("with_counts", False) else self.render.label
        return self._offset_reply(request, params, list(state.labels.values()), render)

    @route("GET", PROJECT + "/members/all")
    def list_members(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        people = [user for user in state.users.values() if user.username != OUTSIDER_USERNAME]
        return self._offset_reply(request, self._params(request), people, self.render.member)

    @route("POST", PROJECT + "/uploads")
    def upload_file(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        self._require_user(request)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise missing("file")
        size = len(upload.read())
        if size == 0:
            raise validation_error("file", "can't be blank")
        secret = uuid.uuid4().hex
        state.uploads.append((secret, upload.filename, size))
        self.touch()
        return Reply(
            self.render.upload(len(state.uploads), secret, upload.filename), 201, content_type=JSON_TYPE
        )

    # ------------------------------------------------------------------ issues

    def _issue_query(self, request: SandboxRequest, params: Params, scope: str) -> IssueQuery:
        labels_raw = params.names("labels") or []
        labels_mode = ""
        if len(labels_raw) == 1 and labels_raw[0].lower() in ("none", "any", "no+label", "no label"):
            labels_mode = "any" if labels_raw[0].lower() == "any" else "none"
            labels_raw = []
        milestone = params.string("milestone")
        if milestone is not None and milestone.lower() in ("none", "any"):
            milestone = milestone.lower()
        author = params.string("author_username")
        author_id = params.integer("author_id")
        if author_id is not None:
            user = self.state.user_by_id(author_id)
            author = user.username if user else f"\x00{author_id}"
        assignee: str | None = None
        assignee_raw = params.values.get("assignee_id")
        if assignee_raw is not None and str(assignee_raw).lower() in ("none", "any"):
            assignee = str(assignee_raw).lower()
        elif assignee_raw is not None:
            assignee_id = params.integer("assignee_id")
            user = self.state.user_by_id(assignee_id) if assignee_id is not None else None
            assignee = user.username if user else f"\x00{assignee_id}"
        usernames = params.values.get("assignee_username")
        if usernames is not None:
            names = usernames if isinstance(usernames, list) else [usernames]
            assignee = str(names[0]) if names else None
        search_in = tuple(sorted(params.names("in") or ["title", "description"]))
        if not set(search_in) <= {"title", "description"}:
            raise bad_value("in")
        principal = request.principal
        return IssueQuery(
            state=params.choice("state", ("opened", "closed", "all"), "all"),
            order_by=params.choice("order_by", ISSUE_ORDERS, "created_at"),
            descending=params.choice("sort", ("asc", "desc"), "desc") == "desc",
            labels=tuple(sorted(labels_raw)),
            labels_mode=labels_mode,
            milestone=milestone,
            author=author,
            assignee=assignee,
            iids=tuple(sorted(params.integers("iids") or [])),
            search=params.string("search") or None,
            search_in=search_in,
            created_after=params.time_ms("created_after"),
            created_before=params.time_ms("created_before"),
            updated_after=params.time_ms("updated_after"),
            updated_before=params.time_ms("updated_before"),
            confidential=params.boolean("confidential"),
            scope=scope,
            actor=principal.login if principal else "",
        )

    def _issue_keys(self, query: IssueQuery) -> Sequence[int]:
        state = self.state
        if not query.filtered and query.state == "all" and query.order_by == "updated_at":
            # The incremental-sync walk: straight off the (updated_at, iid) index, nothing copied.
            index = state.by_updated
            start = (
                index.index_at_or_after((query.updated_after, 0)) if query.updated_after is not None else 0
            )
            stop = (
                index.index_at_or_after((query.updated_before + 1, 0))
                if query.updated_before is not None
                else None
            )
            return ListWindow(index.keys(), start, stop, reverse=query.descending, project=_second)
        if (
            not query.filtered
            and query.state == "all"
            and query.order_by in ("created_at", "id", "relative_position")
            and query.updated_after is None
            and query.updated_before is None
            and not state.deleted_count
            and state.created_in_iid_order
        ):
            # iids are dense and in creation order: a page is arithmetic on a range.
            count = len(state.issues)
            return range(count, 0, -1) if query.descending else range(1, count + 1)
        return self.view(("issues", query), lambda: ordered_iids(state, query))

    def _issues_reply(
        self, request: SandboxRequest, params: Params, query: IssueQuery, visible: bool
    ) -> Reply:
        state = self.state
        keys: Sequence[int] = self._issue_keys(query) if visible else []
        details = bool(params.boolean("with_labels_details", False))
        issues, render = state.issues, self.render.issue

        def render_iid(iid: int) -> dict[str, Any]:
            issue = issues[iid - 1]
            assert issue is not None
            return render(issue, label_details=details)

        if params.string("pagination") == "keyset":
            return self._keyset_reply(request, params, keys, query, render_iid)
        return self._offset_reply(request, params, keys, render_iid)

    def _keyset_reply(
        self,
        request: SandboxRequest,
        params: Params,
        keys: Sequence[int],
        query: IssueQuery,
        render: Callable[[int], Any],
    ) -> Reply:
        if query.order_by not in KEYSET_ORDERS:
            raise grape_error(405, "Keyset pagination is not yet available for this type of request")
        _, per_page = self._page_params(params)
        issues = self.state.issues
        issue_key = sort_key(query.order_by)

        def key_of(iid: int) -> tuple[Any, ...]:
            issue = issues[iid - 1]
            assert issue is not None
            return issue_key(issue)

        start = 0
        cursor = params.string("cursor")
        if cursor:
            start = first_after(keys, key_of, self._decode_cursor(cursor, query.order_by), query.descending)
        chunk = list(keys[start : start + per_page + 1])
        headers: dict[str, str] = {}
        if len(chunk) > per_page:
            chunk = chunk[:per_page]
            token = self._encode_cursor(chunk[-1], query.order_by)
            headers["Link"] = f'<{self._link(request, cursor=token)}>; rel="next"'
        return Reply([render(iid) for iid in chunk], 200, headers, content_type=JSON_TYPE)

    def _encode_cursor(self, iid: int, order_by: str) -> str:
        issue = self.state.issues[iid - 1]
        assert issue is not None
        fields: dict[str, str] = {}
        if order_by in ("created_at", "updated_at"):
            fields[order_by] = iso_ms(getattr(issue, order_by)) or ""
        elif order_by == "title":
            fields["title"] = issue.title
        fields["id"] = str(issue.id)
        fields["_kd"] = "n"
        return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode()

    def _decode_cursor(self, cursor: str, order_by: str) -> tuple[Any, ...]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            fields = json.loads(base64.urlsafe_b64decode(padded.encode()))
            iid = int(fields["id"]) - ISSUE_ID_BASE
            if order_by == "id":
                return (iid,)
            if order_by == "title":
                return (str(fields["title"]), iid)
            return (parse_time_ms(str(fields[order_by])), iid)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise invalid("cursor") from None

    @route("GET", PROJECT + "/issues")
    def list_project_issues(self, request: SandboxRequest, id: str) -> Reply:
        self._project(request, id)
        params = self._params(request)
        return self._issues_reply(request, params, self._issue_query(request, params, "all"), True)

    @route("GET", API + "/issues")
    def list_issues(self, request: SandboxRequest) -> Reply:
        params = self._params(request)
        scope = params.choice("scope", ("created_by_me", "assigned_to_me", "all"), "created_by_me")
        principal = request.principal
        if (principal is None or not principal.authenticated) and scope != "all":
            raise unauthorized()
        visible = principal is not None and principal.may(self.state.full_path)
        return self._issues_reply(request, params, self._issue_query(request, params, scope), visible)

    @route("POST", PROJECT + "/issues")
    def create_issue(self, request: SandboxRequest, id: str) -> Reply:
        self._project(request, id)
        actor = self._require_user(request)
        issue = self._create_issue(self._params(request), actor)
        return Reply(self.render.issue(issue), 201, content_type=JSON_TYPE)

    @route("GET", ISSUE)
    def get_issue(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid)
        details = bool(self._params(request).boolean("with_labels_details", False))
        return Reply(self.render.issue(issue, label_details=details), content_type=JSON_TYPE)

    @route("PUT", ISSUE)
    def update_issue(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid)
        actor = self._require_user(request)
        params = self._params(request)
        if not any(params.has(name) for name in UPDATE_PARAMS):
            raise grape_error(
                400, ", ".join(UPDATE_PARAMS) + " are missing, at least one parameter must be provided"
            )
        self._update_issue(issue, params, actor)
        return Reply(self.render.issue(issue), content_type=JSON_TYPE)

    @route("DELETE", ISSUE)
    def delete_issue(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid)
        self._require_user(request)
        self.state.remove_issue(issue)
        self.touch()
        return Reply(None, 204)

    @route("GET", ISSUE + "/resource_state_events")
    def list_state_events(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        events = self.state.state_events.get(issue.iid, [])
        return self._offset_reply(request, self._params(request), events, self.render.state_event)

    def _validated_text(self, name: str, value: str | None, *, maximum: int, required: bool) -> str | None:
        if value is None:
            return None
        text = value.strip() if name == "title" else value
        if required and not text.strip():
            raise validation_error(name, "can't be blank")
        if len(text) > maximum:
            raise validation_error(name, f"is too long (maximum is {maximum} characters)")
        return text

    def _assignees(self, params: Params) -> list[str] | None:
        ids = params.integers("assignee_ids")
        if ids is None and params.has("assignee_id"):
            single = params.integer("assignee_id")
            ids = [single] if single else []
        if ids is None:
            return None
        names: list[str] = []
        for user_id in ids:
            user = self.state.user_by_id(user_id)
            # GitLab drops people who cannot be assigned rather than failing the request.
            if user is not None and user.username != OUTSIDER_USERNAME:
                names.append(user.username)
        return list(dict.fromkeys(names))

    def _create_issue(self, params: Params, actor: str) -> Issue:
        state = self.state
        title = params.string("title")
        if title is None:
            raise missing("title")
        description = params.string("description")
        labels = params.names("labels") or []
        assignees = self._assignees(params) or []
        confidential = bool(params.boolean("confidential", False))
        due_date = params.date("due_date")
        milestone_id = params.integer("milestone_id")
        title = self._validated_text("title", title, maximum=TITLE_MAX, required=True)
        description = self._validated_text("description", description, maximum=TEXT_MAX, required=False)
        assert title is not None
        now = self._now_ms()
        issue = Issue(
            len(state.issues) + 1,
            title,
            description,
            actor,
            "opened",
            [state.label(name).name for name in labels],
            assignees,
            now,
            now,
            confidential=confidential,
            milestone_id=milestone_id if milestone_id in state.milestones else None,
            due_date=due_date,
            updated_by=None,
        )
        state.add_issue(issue)
        self.touch()
        changes: dict[str, Any] = {
            name: {"previous": None, "current": value}
            for name, value in (
                ("author_id", state.users[actor].id if actor in state.users else None),
                ("created_at", hook_time(now)),
                ("description", description),
                ("id", issue.id),
                ("iid", issue.iid),
                ("project_id", PROJECT_ID),
                ("title", title),
                ("updated_at", hook_time(now)),
            )
        }
        if issue.labels:
            changes["labels"] = {"previous": [], "current": [self.render.hook_label(n) for n in issue.labels]}
        if issue.assignees:
            changes["assignees"] = {
                "previous": [],
                "current": [self.render.hook_user(n) for n in issue.assignees],
            }
        self._emit_issue(issue, "open", actor, changes)
        return issue

    def _update_issue(self, issue: Issue, params: Params, actor: str) -> None:
        """Apply a PUT; everything is validated first, so a 400 changes nothing."""
        state = self.state
        render = self.render
        title = self._validated_text("title", params.string("title"), maximum=TITLE_MAX, required=True)
        description = self._validated_text(
            "description", params.string("description"), maximum=TEXT_MAX, required=False
        )
        state_event = params.string("state_event")
        if state_event is not None and state_event not in ("close", "reopen"):
            raise bad_value("state_event")
        labels = params.names("labels")
        add_labels = params.names("add_labels") or []
        remove_labels = params.names("remove_labels") or []
        assignees = self._assignees(params)
        confidential = params.boolean("confidential")
        due_date = params.date("due_date") if params.has("due_date") else None
        milestone_id = params.integer("milestone_id") if params.has("milestone_id") else None
        discussion_locked = params.boolean("discussion_locked")
        if params.has("issue_type") and params.string("issue_type") not in (
            "issue",
            "incident",
            "test_case",
            "task",
        ):
            raise bad_value("issue_type")

        now = self._now_ms()
        changes: dict[str, Any] = {}
        system_notes: list[str] = []
        if title is not None and title != issue.title:
            changes["title"] = {"previous": issue.title, "current": title}
            system_notes.append(f"changed title from **{issue.title}** to **{title}**")
            issue.title = title
        if params.has("description") and description != issue.description:
            changes["description"] = {"previous": issue.description, "current": description}
            system_notes.append("changed the description")
            issue.description = description
        if "title" in changes or "description" in changes:
            edited_by = state.users[actor].id if actor in state.users else None
            changes["last_edited_at"] = {
                "previous": hook_time(issue.last_edited_at),
                "current": hook_time(now),
            }
            changes["last_edited_by_id"] = {
                "previous": state.users[issue.last_edited_by].id
                if issue.last_edited_by in state.users
                else None,
                "current": edited_by,
            }
            issue.last_edited_at, issue.last_edited_by = now, actor
        new_labels = list(issue.labels) if labels is None else [state.label(name).name for name in labels]
        new_labels += [state.label(name).name for name in add_labels if name not in new_labels]
        new_labels = [name for name in new_labels if name not in remove_labels]
        if new_labels != issue.labels:
            # Label changes are resource label events in GitLab, not notes; the hook still reports them.
            changes["labels"] = {
                "previous": [render.hook_label(n) for n in issue.labels],
                "current": [render.hook_label(n) for n in new_labels],
            }
            issue.labels = new_labels
        if assignees is not None and assignees != issue.assignees:
            added = [name for name in assignees if name not in issue.assignees]
            removed = [name for name in issue.assignees if name not in assignees]
            parts = []
            if added:
                parts.append("assigned to " + " and ".join(f"@{name}" for name in added))
            if removed:
                parts.append("unassigned " + " and ".join(f"@{name}" for name in removed))
            system_notes.append(" and ".join(parts))
            changes["assignees"] = {
                "previous": [render.hook_user(n) for n in issue.assignees],
                "current": [render.hook_user(n) for n in assignees],
            }
            issue.assignees = assignees
        if confidential is not None and confidential != issue.confidential:
            changes["confidential"] = {"previous": issue.confidential, "current": confidential}
            system_notes.append(
                "made the issue confidential" if confidential else "made the issue visible to everyone"
            )
            issue.confidential = confidential
        if params.has("due_date") and due_date != issue.due_date:
            changes["due_date"] = {"previous": issue.due_date, "current": due_date}
            system_notes.append(render.due_date_note(due_date))
            issue.due_date = due_date
        if params.has("milestone_id"):
            wanted = milestone_id if milestone_id in state.milestones else None
            if wanted != issue.milestone_id:
                changes["milestone_id"] = {"previous": issue.milestone_id, "current": wanted}
                issue.milestone_id = wanted
        if discussion_locked is not None and discussion_locked != issue.discussion_locked:
            changes["discussion_locked"] = {"previous": issue.discussion_locked, "current": discussion_locked}
            issue.discussion_locked = discussion_locked

        state_action: str | None = None
        state_changes: dict[str, Any] = {}
        if state_event == "close" and issue.state == "opened":
            state_action = "close"
            state_changes["closed_at"] = {"previous": None, "current": hook_time(now)}
            state_changes["state_id"] = {"previous": STATE_IDS["opened"], "current": STATE_IDS["closed"]}
            issue.state, issue.closed_at, issue.closed_by = "closed", now, actor
            state.add_state_event(issue.iid, actor, now, "closed")
        elif state_event == "reopen" and issue.state == "closed":
            state_action = "reopen"
            state_changes["closed_at"] = {"previous": hook_time(issue.closed_at), "current": None}
            state_changes["state_id"] = {"previous": STATE_IDS["closed"], "current": STATE_IDS["opened"]}
            issue.state, issue.closed_at, issue.closed_by = "opened", None, None
            state.add_state_event(issue.iid, actor, now, "reopened")
        if not changes and state_action is None:
            return
        previous_updated = issue.updated_at
        previous_updater = state.users[issue.updated_by].id if issue.updated_by in state.users else None
        state.set_updated(issue, max(now, issue.updated_at))
        issue.updated_by = actor
        stamp = {
            "updated_at": {"previous": hook_time(previous_updated), "current": hook_time(issue.updated_at)},
            "updated_by_id": {"previous": previous_updater, "current": state.users[actor].id},
        }
        for text in system_notes:
            self._append_note(issue, text, actor, now, system=True)
        self.touch()
        if changes:
            self._emit_issue(issue, "update", actor, {**changes, **stamp})
        if state_action is not None:
            self._emit_issue(issue, state_action, actor, {**state_changes, **stamp})

    # ------------------------------------------------------------------ notes

    def _append_note(
        self, issue: Issue, body: str, actor: str, now: int, *, system: bool, internal: bool = False
    ) -> Note:
        state = self.state
        note = Note(state.next_note_id, issue.iid, actor, body, now, now, system=system, internal=internal)
        state.next_note_id += 1
        state.add_note(note)
        if not system:
            issue.user_notes_count += 1
        self._touch_for_note(issue, now)
        return note

    def _touch_for_note(self, issue: Issue, now: int) -> None:
        # Note#touch_noteable runs after every save, throttled by Issue's ThrottledTouch (TOUCH_INTERVAL = 1
        # minute): a note within a minute of the issue's last update leaves updated_at where it was.
        if now - issue.updated_at > NOTE_TOUCH_INTERVAL_MS:
            self.state.set_updated(issue, now)

    def _note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> tuple[Issue, Note]:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        note = self.state.notes.get(note_id)
        if note is None or note.iid != issue.iid:
            raise api_message(404, "404 Note Not Found")
        return issue, note

    @route("GET", ISSUE + "/notes")
    def list_notes(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        params = self._params(request)
        order_by = params.choice("order_by", ("created_at", "updated_at"), "created_at")
        descending = params.choice("sort", ("asc", "desc"), "desc") == "desc"
        activity = params.choice(
            "activity_filter", ("all_notes", "only_comments", "only_activity"), "all_notes"
        )
        state = self.state
        notes = [state.notes[note_id] for note_id in state.notes_by_issue.get(issue.iid, [])]
        if activity == "only_comments":
            notes = [note for note in notes if not note.system]
        elif activity == "only_activity":
            notes = [note for note in notes if note.system]
        notes.sort(key=lambda note: (getattr(note, order_by), note.id), reverse=descending)
        return self._offset_reply(request, params, notes, self.render.note)

    @route("POST", ISSUE + "/notes")
    def create_note(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        actor = self._require_user(request)
        params = self._params(request)
        note = self._add_note(issue, params, actor)
        return Reply(self.render.note(note), 201, content_type=JSON_TYPE)

    def _add_note(self, issue: Issue, params: Params, actor: str) -> Note:
        body = params.string("body")
        if body is None:
            raise missing("body")
        internal = bool(params.boolean("internal", False) or params.boolean("confidential", False))
        if not body.strip():
            raise validation_error("note", "can't be blank")
        if len(body) > NOTE_MAX:
            raise validation_error("note", f"is too long (maximum is {NOTE_MAX} characters)")
        note = self._append_note(issue, body, actor, self._now_ms(), system=False, internal=internal)
        self.touch()
        self._emit_note(note, issue, actor, "create")
        return note

    @route("GET", ISSUE + "/notes/{note_id:int}")
    def get_note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> Reply:
        return Reply(self.render.note(self._note(request, id, issue_iid, note_id)[1]), content_type=JSON_TYPE)

    @route("PUT", ISSUE + "/notes/{note_id:int}")
    def update_note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> Reply:
        issue, note = self._note(request, id, issue_iid, note_id)
        actor = self._require_user(request)
        self._edit_note(issue, note, self._params(request).string("body"), actor)
        return Reply(self.render.note(note), content_type=JSON_TYPE)

    def _edit_note(self, issue: Issue, note: Note, body: str | None, actor: str) -> None:
        if body is None:
            raise missing("body")
        if note.system:
            raise api_message(403, "403 Forbidden")
        if not body.strip():
            raise validation_error("note", "can't be blank")
        if body == note.body:
            return
        now = self._now_ms()
        note.body, note.updated_at, note.updated_by = body, now, actor
        self._touch_for_note(issue, now)
        self.touch()
        self._emit_note(note, issue, actor, "update")

    @route("DELETE", ISSUE + "/notes/{note_id:int}")
    def delete_note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> Reply:
        issue, note = self._note(request, id, issue_iid, note_id)
        self._require_user(request)
        self._drop_note(issue, note)
        return Reply(None, 204)

    def _drop_note(self, issue: Issue, note: Note) -> None:
        self.state.drop_note(note)
        if not note.system:
            issue.user_notes_count = max(issue.user_notes_count - 1, 0)
        self.touch()

    # ------------------------------------------------------------------ hooks

    def _hook(self, request: SandboxRequest, id: str, hook_id: int) -> Hook:
        self._require_user(request)
        hook = self._project(request, id).hooks.get(hook_id)
        if hook is None:
            raise api_message(404, "404 Not found")
        return hook

    def _render_hook(self, hook: Hook) -> dict[str, Any]:
        status, until = self._hook_status(hook)
        return self.render.hook(hook, status, until)

    def _apply_hook_params(self, hook: Hook, params: Params) -> None:
        """Validate first, then apply, so a 400/422 leaves the hook as it was."""
        url = params.string("url")
        if url is not None and (not url or not is_loopback_url(url)):
            # GitLab answers this for a URL its validators reject; the sandbox only delivers to loopback.
            raise grape_error(422, "Invalid url given")
        flags = {name: params.boolean(name) for name in _ALL_HOOK_PARAMS if params.has(name)}
        token = params.string("token")
        signing_token = params.string("signing_token")
        if signing_token:
            try:
                _signing_key(signing_token)
            except ValueError:
                raise validation_error("signing_token", "must be whsec_ followed by a base64 key") from None
        name = params.string("name")
        description = params.string("description")
        branch_filter = params.string("push_events_branch_filter")
        if url is not None:
            hook.url = url
        for flag, value in flags.items():
            if flag == "enable_ssl_verification":
                hook.enable_ssl_verification = bool(value)
            else:
                hook.events[flag] = bool(value)
        if params.has("token"):
            hook.token = token or None
        if params.has("signing_token"):
            hook.signing_token = signing_token or None
        if params.has("name"):
            hook.name = name
        if params.has("description"):
            hook.description = description
        if params.has("push_events_branch_filter"):
            hook.push_events_branch_filter = branch_filter

    @route("GET", PROJECT + "/hooks")
    def list_hooks(self, request: SandboxRequest, id: str) -> Reply:
        self._require_user(request)
        state = self._project(request, id)
        return self._offset_reply(
            request, self._params(request), list(state.hooks.values()), self._render_hook
        )

    @route("POST", PROJECT + "/hooks")
    def create_hook(self, request: SandboxRequest, id: str) -> Reply:
        self._require_user(request)
        state = self._project(request, id)
        params = self._params(request)
        if params.string("url") is None:
            raise missing("url")
        hook = Hook(state.next_hook_id, "", self._now_ms())
        self._apply_hook_params(hook, params)
        state.next_hook_id += 1
        state.hooks[hook.id] = hook
        self.touch()
        return Reply(self._render_hook(hook), 201, content_type=JSON_TYPE)

    @route("GET", HOOK)
    def get_hook(self, request: SandboxRequest, id: str, hook_id: int) -> Reply:
        return Reply(self._render_hook(self._hook(request, id, hook_id)), content_type=JSON_TYPE)

    @route("PUT", HOOK)
    def update_hook(self, request: SandboxRequest, id: str, hook_id: int) -> Reply:
        hook = self._hook(request, id, hook_id)
        self._apply_hook_params(hook, self._params(request))
        self.touch()
        return Reply(self._render_hook(hook), content_type=JSON_TYPE)

    @route("DELETE", HOOK)
    def delete_hook(self, request: SandboxRequest, id: str, hook_id: int) -> Reply:
        hook = self._hook(request, id, hook_id)
        del self.state.hooks[hook.id]
        self.touch()
        return Reply(None, 204)

    def _log_entry(self, log: HookLog) -> dict[str, Any]:
        delivery = log.delivery
        attempt = delivery.attempts[-1] if delivery.attempts else None
        headers = dict(delivery.request.headers)
        if "X-Gitlab-Token" in headers:
            headers["X-Gitlab-Token"] = "[REDACTED]"  # the secret never leaves the sandbox
        status: int | str | None = None
        if attempt is not None:
            status = attempt.status if attempt.status is not None else "internal error"
        return {
            "id": log.id,
            "url": delivery.request.url,
            "trigger": log.trigger,
            "request_headers": headers,
            "request_data": log.payload,
            "response_headers": {},
            "response_body": "",
            "execution_duration": round(attempt.duration_ms / 1000, 3) if attempt else None,
            "response_status": status,
            "idempotency_key": delivery.request.delivery_id,
            "created_at": iso_ms(int(attempt.at * 1000)) if attempt else None,
        }

    @route("GET", HOOK + "/events")
    def list_hook_events(self, request: SandboxRequest, id: str, hook_id: int) -> Reply:
        hook = self._hook(request, id, hook_id)
        logs = [log for log in reversed(self.state.hook_logs) if log.hook_id == hook.id]
        return self._offset_reply(request, self._params(request), logs, self._log_entry)

    @route("POST", HOOK + "/events/{hook_event_id:int}/resend")
    def resend_hook_event(self, request: SandboxRequest, id: str, hook_id: int, hook_event_id: int) -> Reply:
        hook = self._hook(request, id, hook_id)
        log = next(
            (item for item in self.state.hook_logs if item.id == hook_event_id and item.hook_id == hook.id),
            None,
        )
        if log is None:
            raise api_message(404, "404 Not found")
        # A resend is a new request with the original body and Idempotency-Key (ResendService passes the
        # logged key back to WebHookService), delivered even if the hook is disabled (force: true).
        resent = self._signed(
            hook, log.trigger, log.delivery.request.body, log.delivery.request.delivery_id, str(uuid.uuid4())
        )
        delivery = self.send_webhooks([resent])[0]
        state = self.state
        state.hook_logs.append(HookLog(state.next_hook_log_id, hook.id, log.trigger, log.payload, delivery))
        state.next_hook_log_id += 1
        deadline = time.monotonic() + self.webhook_timeout_s + 1
        while not delivery.done and time.monotonic() < deadline:
            time.sleep(0.01)
        attempt = delivery.attempts[-1] if delivery.attempts else None
        status: int | str | None = None
        if attempt is not None:
            status = attempt.status if attempt.status is not None else "internal error"
        return Reply({"response_status": status}, 201, content_type=JSON_TYPE)

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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _message_with(status: int, text: str, headers: dict[str, str]) -> ApiError:
    return ApiError(status, text, headers=headers, body={"message": text})
