"""Shared ground of the GitLab sandbox's route modules: constants, GitLab's error helpers, and what every
handler uses (the project and issue lookups the caller may see, Grape-style parameters, offset paging
with GitLab's ``x-*`` headers and ``Link``, hook signing, delivery logs and events).

``GitLabSandbox`` (``sandbox.py``) is assembled from route mixins that all derive from :class:`GitLabBase`:
``_instance`` (version, user, project, labels, members, uploads), ``_issues`` (issue lists with offset and
keyset pagination, issue writes), ``_notes`` and ``_hooks`` (project hooks and their event log). The core
collects the ``@route`` handlers of every base class.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import unquote, urlencode, urlsplit

from ..core import (
    ApiError,
    Reply,
    SandboxRequest,
    SandboxTracker,
    WebhookRequest,
    last_page,
    link_header,
)
from ._query import (
    Params,
    api_message,
    grape_error,
    unauthorized,
)
from ._render import GITLAB_VERSION, DevelopmentRenderer
from ._state import (
    HOOK_EVENT_FLAGS,
    PROJECT_ID,
    GitLabState,
    Hook,
    HookLog,
    Issue,
    Note,
)

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
    "push_hooks": "push_events",
    "merge_request_hooks": "merge_requests_events",
    "issue_hooks": "issues_events",
    "confidential_issue_hooks": "confidential_issues_events",
    "note_hooks": "note_events",
    "confidential_note_hooks": "confidential_note_events",
}
ALL_HOOK_PARAMS = (*HOOK_EVENT_FLAGS, "enable_ssl_verification")


def second(key: tuple[int, int]) -> int:
    return key[1]


def keep_encoded_project_path(environ: dict[str, Any]) -> None:
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


def event_header(trigger: str) -> str:
    """``issue_hooks`` -> ``Issue Hook`` (``WebHookService.hook_to_event``)."""
    return trigger.removesuffix("s").replace("_", " ").title()


def signing_key(token: str) -> bytes:
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


class GitLabBase(SandboxTracker[GitLabState]):
    """What every GitLab route module shares; the sandbox class fills in the core hooks."""

    anonymous_rate_limit: ClassVar[int] = 3600
    auto_disable_hooks: ClassVar[bool] = True

    def __init__(self, **kwargs: Any) -> None:
        self._renderer: DevelopmentRenderer | None = None
        self._local = threading.local()
        super().__init__(**kwargs)

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
    def render(self) -> DevelopmentRenderer:
        renderer = self._renderer
        if renderer is None or renderer.state is not self.state or renderer.base != self.url:
            renderer = self._renderer = DevelopmentRenderer(self.url, self.state)
        return renderer

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
            "X-Gitlab-Event": event_header(event),
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Instance": self.url,
            "X-Gitlab-Event-UUID": event_uuid,
        }
        if hook.token:
            headers["X-Gitlab-Token"] = hook.token.replace("\r", "").replace("\n", "")
        if hook.signing_token:
            timestamp = str(int(time.time()))
            signed = f"{key}.{timestamp}.".encode() + body
            digest = hmac.new(signing_key(hook.signing_token), signed, hashlib.sha256).digest()
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


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def message_with(status: int, text: str, headers: dict[str, str]) -> ApiError:
    return ApiError(status, text, headers=headers, body={"message": text})
