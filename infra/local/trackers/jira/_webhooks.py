"""Jira's webhook deliveries: admin hooks signed with ``X-Hub-Signature``, app hooks with a JWT.

What goes on the wire (research/tracker-apis.md 1.7, and jira.js ``src/webhooks/headers.ts``):

- Body: ``{"timestamp", "webhookEvent", "issue_event_type_name"?, "user", "issue", "changelog"?, "comment"?,
  "worklog"?}`` in the REST v2 shape (rich text as plain strings); app hooks add ``matchedWebhookIds``.
  An admin hook with ``excludeBody`` gets an empty POST.
- ``X-Atlassian-Webhook-Identifier``: one per delivery, the same on every retry (the dedup key);
  ``X-Atlassian-Webhook-Retry``: the retry number, absent on the first attempt (the core adds it per
  attempt); ``X-Atlassian-Webhook-Flow``: ``Primary``, or ``Secondary`` for cascades such as the
  ``comment_deleted`` events that follow an issue deletion.
- Admin hook with a secret: ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` (no ``-256``).
- App hook (``POST /rest/api/3/webhook``): ``Authorization: JWT <HS256 token>`` signed with the app's
  client secret; claims ``iss`` (``jira:<cloudId>``), ``aud`` (the client id), ``sub`` (the account that
  registered the hook), ``iat``, ``exp`` (+3 minutes), ``qsh`` (``context-qsh``).

Retries: Jira retries a delivery when the receiver answers 408, 409, 425, 429 or 5xx, or the connection
fails or times out, over up to about 30 minutes, with ``X-Atlassian-Webhook-Retry`` carrying the retry
count (developer.atlassian.com/cloud/jira/platform/webhooks/#retry-policy, announced as "New Jira Cloud
webhook retry policy" on the Atlassian developer community). The sandbox retries the same cases 5 times,
with delays compressed to fractions of a second (``webhook_retry_delays_s`` on the tracker) so tests can
watch them; any other 4xx is final.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from .._webhooks import WebhookRequest
from ._state import AdminHook, AppHook, Issue, JiraState

USER_AGENT = "Atlassian Webhook HTTP Client"
RETRY_HEADER = "X-Atlassian-Webhook-Retry"
RETRY_STATUSES: frozenset[int] = frozenset({408, 409, 425, 429, *range(500, 600)})
APP_EVENTS = frozenset(
    {
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
        "issue_property_set",
        "issue_property_deleted",
    }
)
JWT_TTL_S = 180
_URL_VARIABLE = re.compile(r"\$\{(issue\.key|issue\.id|project\.key|project\.id)\}")


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwt_hs256(claims: dict[str, Any], secret: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def expand_url(url: str, state: JiraState, issue: Issue | None) -> str:
    """Admin hook URLs may carry ``${issue.key}``, ``${issue.id}``, ``${project.key}``, ``${project.id}``."""
    if issue is None:
        return url
    project = state.projects[issue.project_id]
    values = {
        "issue.key": state.key(issue),
        "issue.id": str(issue.id),
        "project.key": project.key,
        "project.id": str(project.id),
    }
    return _URL_VARIABLE.sub(lambda match: values[match[1]], url)


def _headers(identifier: str, flow: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Atlassian-Webhook-Identifier": identifier,
        "X-Atlassian-Webhook-Flow": flow,
    }


def admin_request(
    hook: AdminHook, event: str, body: dict[str, Any], *, state: JiraState, issue: Issue | None, flow: str
) -> WebhookRequest:
    raw = b"" if hook.exclude_body else json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    identifier = str(uuid.uuid4())
    headers = _headers(identifier, flow)
    if hook.secret:
        headers["X-Hub-Signature"] = hub_signature(hook.secret, raw)
    return WebhookRequest(
        expand_url(hook.url, state, issue),
        headers,
        raw,
        event,
        identifier,
        f"admin:{hook.id}",
        retry_header=RETRY_HEADER,
        retry_statuses=RETRY_STATUSES,
    )


def app_requests(
    hooks: Iterable[AppHook],
    event: str,
    body: dict[str, Any],
    *,
    cloud_id: str,
    client_secrets: dict[str, str],
    now_s: int,
    flow: str,
) -> list[WebhookRequest]:
    """One request per (app, URL): Jira sends an app one delivery listing every hook that matched."""
    grouped: dict[tuple[str, str, str], list[int]] = {}
    for hook in hooks:
        grouped.setdefault((hook.client_id, hook.url, hook.account_id), []).append(hook.id)
    requests = []
    for (client_id, url, account_id), ids in grouped.items():
        secret = client_secrets.get(client_id)
        if secret is None:
            continue
        payload = {**body, "matchedWebhookIds": sorted(ids)}
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        identifier = str(uuid.uuid4())
        claims = {
            "iss": f"jira:{cloud_id}",
            "aud": client_id,
            "sub": account_id,
            "iat": now_s,
            "exp": now_s + JWT_TTL_S,
            "qsh": "context-qsh",
        }
        headers = _headers(identifier, flow)
        headers["Authorization"] = f"JWT {jwt_hs256(claims, secret)}"
        requests.append(
            WebhookRequest(
                url,
                headers,
                raw,
                event,
                identifier,
                "app:" + ",".join(str(i) for i in sorted(ids)),
                retry_header=RETRY_HEADER,
                retry_statuses=RETRY_STATUSES,
            )
        )
    return requests
