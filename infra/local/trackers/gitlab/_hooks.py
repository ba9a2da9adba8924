"""The GitLab sandbox's project hooks: registration routes, the hook event log and resending an event."""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..core import (
    Reply,
    SandboxRequest,
    is_loopback_url,
    route,
)
from ._base import (
    ALL_HOOK_PARAMS,
    HOOK,
    JSON_TYPE,
    PROJECT,
    GitLabBase,
    signing_key,
)
from ._query import (
    Params,
    api_message,
    grape_error,
    missing,
    validation_error,
)
from ._render import iso_ms
from ._state import (
    Hook,
    HookLog,
)


class HookRoutes(GitLabBase):
    """``/projects/:id/hooks`` and ``/hooks/:hook_id/events``."""

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
        flags = {name: params.boolean(name) for name in ALL_HOOK_PARAMS if params.has(name)}
        token = params.string("token")
        signing_token = params.string("signing_token")
        if signing_token:
            try:
                signing_key(signing_token)
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
