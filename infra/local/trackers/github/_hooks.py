"""The GitHub sandbox's repository webhooks: registration routes, ``ping`` and the signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any
from urllib.parse import urlencode

from ..core import (
    ApiError,
    Reply,
    SandboxRequest,
    WebhookRequest,
    is_loopback_url,
    route,
)
from ._base import (
    HOOKSHOT,
    REPO,
    GitHubBase,
    invalid,
)
from ._state import (
    BOT_LOGIN,
    REPO_ID,
    Hook,
)


class HookRoutes(GitHubBase):
    """``/repos/{owner}/{repo}/hooks``; every delivery is signed as GitHub signs it."""

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
            raise invalid("Hook", "content_type", content_type)
        secret = config.get("secret", current.secret if current else None)
        if secret is not None and not isinstance(secret, str):
            raise invalid("Hook", "secret")
        insecure = str(config.get("insecure_ssl", current.insecure_ssl if current else "0"))
        return url, content_type, secret or None, insecure

    def _events(self, value: Any, default: list[str]) -> list[str]:
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or not value:
            raise invalid("Hook", "events")
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
            raise invalid("Hook", "name", body.get("name"))
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
            raise invalid("Hook", "active")
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
                raise invalid("Hook", "active")
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
