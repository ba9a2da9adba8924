"""The Redmine sandbox: Redmine's REST API (JSON) for one private project, ``acme-widgets``.

Fidelity is checked with python-redmine 2.5 (``read_with_client_library`` and
``tests/integration/providers/test_redmine_client_library.py``) and against Redmine's REST API description
("Rest_api", "Rest_Issues"; the routes are listed in ``_api``). Beyond the routes:

- Auth (``Rest_api#Authentication``): the API key in ``X-Redmine-API-Key``, in ``?key=``, or as the user name
  of HTTP basic auth. A wrong or missing key is ``401`` with no body and ``WWW-Authenticate: Basic
  realm="Redmine API"``: the project is private, so an anonymous caller sees nothing.
- Errors: Rails' ``head`` answers (status, no body) for 401, 403, 404 and server errors; validation is
  ``422 {"errors": [...]}``; an unknown route is 404 whatever the method.
- Rate limits: Redmine has none. Instances sit behind a proxy that may answer ``429`` with
  ``Retry-After`` (nginx ``limit_req``, Rack::Attack): the sandbox's limit is that proxy (no rate-limit
  headers, a generous budget).
- Conditional GETs: Rails' ``Rack::ETag`` and ``Rack::ConditionalGet`` give every 200 a weak ETag and answer
  a matching ``If-None-Match`` with 304 (the request still reaches Redmine: it is not free).
- Webhooks: none of Redmine's own. The redmine_webhook plugin posts
  ``{"payload": {"action": "opened"|"updated", "issue", "journal", "url"}}`` after an issue is created or
  updated (from the UI or the REST API, which share ``IssuesController``), once, with no retry and no
  signature (``WebhookListener#post`` runs Faraday in a thread and logs failures). A hook URL's userinfo is
  sent as ``Authorization: Basic``, which is how trackbridge's per-connection secret travels.

``/_sandbox/mutate`` actions: ``create`` (``fields``: subject or title, description, status_id, tracker_id,
priority_id, assigned_to_id, labels), ``update`` (``number``/``id``, ``fields``: the same plus ``state``
open/closed and ``notes``), ``comment`` (``number``, ``body``, ``private``), ``edit_comment`` and
``delete_comment`` (``comment_id``: a journal's notes changed or emptied, as Redmine 5's journal edit does,
without touching the issue) and ``delete`` (``number``). Each fires the plugin's hook as the API write would.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

from ..core import ApiError, Principal, RateBucket, Reply, SandboxRequest, Sizes, WebhookRequest, mutation
from ._api import RedmineApi
from ._render import hook_payload
from ._state import (
    BOT_ID,
    BOT_LOGIN,
    LABELS_FIELD_ID,
    PROJECT_IDENTIFIER,
    Issue,
    Journal,
    RedmineState,
    seed_state,
)

__all__ = ["RedmineSandbox"]

JSON_TYPE = "application/json; charset=utf-8"
FARADAY_AGENT = "Faraday v2.9.0"


class RedmineSandbox(RedmineApi):
    """Redmine REST for ``acme-widgets``; see the module docstring for the behaviour reproduced."""

    kind = "redmine"
    # The proxy in front: Redmine itself has no limit.
    default_rate_limit = 100_000
    rate_limit_window_s = 3600
    # Faraday's default timeout is none; the plugin runs the post in a thread and never retries.
    webhook_timeout_s = 10.0
    webhook_retry_delays_s = ()
    unknown_method_status = 404
    bad_json_message = "Bad Request"
    not_modified_is_free = False
    # What callers need (see core).
    scope_key = "project"
    listing_route = "GET /issues.json"
    issue_ref_key = "number"
    title_field = "subject"
    close_fields: ClassVar[Mapping[str, Any]] = {"status_id": 5}

    def build_state(self, sizes: Sizes, rng: random.Random) -> RedmineState:
        return seed_state(rng, **sizes.seeding())

    def describe_extra(self) -> dict[str, Any]:
        return {"project": PROJECT_IDENTIFIER}

    # ---- auth, errors, limits ---------------------------------------------------------------------
    def authenticate(self, request: SandboxRequest) -> Principal:
        presented = self._credential(request)
        if presented is not None and hmac.compare_digest(presented.encode(), self.token.encode()):
            return Principal(key=f"user:{BOT_LOGIN}", login=BOT_LOGIN)
        raise ApiError(401, headers={"WWW-Authenticate": 'Basic realm="Redmine API"'})

    @staticmethod
    def _credential(request: SandboxRequest) -> str | None:
        header = request.headers.get("X-Redmine-API-Key")
        if header is not None:
            return header.strip()
        if request.args.get("key") is not None:
            return request.args["key"].strip()
        scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(encoded.strip()).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                return None
        return None

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        headers = dict(error.headers)
        if error.status == 422:
            errors = error.details.get("errors") or [error.message]
            return Reply({"errors": errors}, 422, headers, content_type=JSON_TYPE)
        return Reply(None, error.status, headers)

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        return {}

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        return ApiError(429, headers={"Retry-After": str(max(bucket.reset - int(time.time()), 1))})

    def response_headers(self, request: SandboxRequest, reply: Reply) -> dict[str, str]:
        return {
            "Cache-Control": "max-age=0, private, must-revalidate",
            "X-Request-Id": str(uuid.uuid4()),
            "X-Content-Type-Options": "nosniff",
        }

    # ---- the webhook plugin -----------------------------------------------------------------------
    def notify(self, issue: Issue, journal: Journal | None) -> None:
        self.emit("issue", hook_payload(self.state, self.url, issue, journal))

    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        requests: list[WebhookRequest] = []
        for hook in self.state.webhooks.values():
            parts = urlsplit(hook.url)
            headers = {"Content-Type": "application/json", "User-Agent": FARADAY_AGENT}
            if parts.username is not None:
                userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode("ascii")
            target = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))
            requests.append(
                WebhookRequest(target, headers, body, event, str(uuid.uuid4()), hook_id=str(hook.id))
            )
        return requests

    # ---- for tests, benchmarks and the demo -------------------------------------------------------
    def issue_counts(self) -> tuple[int, int, int]:
        issues = len(self.state.issues)
        return issues, issues, self.state.comment_count()

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        # No project-wide journal listing: a first sync reads each issue's journals once.
        return math.ceil(listed / 100) + listed

    def read_with_client_library(self) -> None:
        from redminelib import Redmine

        redmine = Redmine(self.url, key=self.token)
        for issue in redmine.issue.filter(project_id=PROJECT_IDENTIFIER, status_id="*"):
            list(redmine.issue.get(issue.id, include=["journals"]).journals)

    # ---- /_sandbox/mutate ---------------------------------------------------------------------------
    def _mutation_issue(self, number: Any, id: Any) -> Issue:
        value = number if number is not None else id
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("number must be an integer")
        issue = self.state.issues.get(value)
        if issue is None:
            raise KeyError(f"issue {value}")
        return issue

    @staticmethod
    def _fields(fields: Mapping[str, Any] | None) -> dict[str, Any]:
        if fields is not None and not isinstance(fields, Mapping):
            raise ValueError("fields must be an object")
        values = dict(fields or {})
        if "title" in values:
            values.setdefault("subject", values.pop("title"))
        if "body" in values:
            values.setdefault("description", values.pop("body"))
        state = values.pop("state", None)
        if state is not None:
            if state not in ("open", "opened", "closed"):
                raise ValueError("state must be open or closed")
            values["status_id"] = 5 if state == "closed" else 1
        if "labels" in values:
            values["custom_fields"] = [{"id": LABELS_FIELD_ID, "value": list(values.pop("labels") or [])}]
        return values

    @staticmethod
    def _as_value_error(exc: ApiError) -> ValueError:
        return ValueError(json.dumps(exc.details.get("errors", exc.message)))

    @mutation("create")
    def mutate_create(self, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
        values = self._fields(fields)
        values.setdefault("subject", f"Sandbox issue created at {self.now()}")
        try:
            issue = self.create_issue(values, BOT_ID)
        except ApiError as exc:
            raise self._as_value_error(exc) from exc
        return {"number": issue.id, "id": issue.id, "updated_on": issue.updated_on}

    @mutation("update")
    def mutate_update(
        self, number: Any = None, id: Any = None, fields: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        issue = self._mutation_issue(number, id)
        try:
            self.update_issue(issue, self._fields(fields) or {"notes": ""}, BOT_ID)
        except ApiError as exc:
            raise self._as_value_error(exc) from exc
        return {"number": issue.id, "updated_on": issue.updated_on, "status_id": issue.status_id}

    @mutation("comment")
    def mutate_comment(
        self, number: Any = None, id: Any = None, body: str | None = None, private: bool = False
    ) -> dict[str, Any]:
        issue = self._mutation_issue(number, id)
        text = body or f"Sandbox note at {self.now()}"
        journal = self.update_issue(issue, {"notes": text, "private_notes": private}, BOT_ID)
        assert journal is not None  # a note always makes a journal
        return {"number": issue.id, "comment_id": journal.id, "journal_id": journal.id}

    def _journal(self, comment_id: Any) -> Journal:
        journal = self.state.journals.get(comment_id) if isinstance(comment_id, int) else None
        if journal is None or not journal.notes:
            raise KeyError(f"comment {comment_id}")
        return journal

    @mutation("edit_comment")
    def mutate_edit_comment(self, comment_id: Any = None, body: str | None = None) -> dict[str, Any]:
        journal = self._journal(comment_id)
        if not isinstance(body, str) or not body:
            raise ValueError("body must be a non-empty string")
        journal.notes = body
        journal.updated_on = max(self.now(), journal.updated_on)
        self.touch()
        return {"comment_id": journal.id}

    @mutation("delete_comment")
    def mutate_delete_comment(self, comment_id: Any = None) -> dict[str, Any]:
        journal = self._journal(comment_id)
        # Redmine 5 deletes a journal whose notes are emptied and that has no details.
        if journal.details:
            journal.notes = ""
        else:
            self.state.journals.pop(journal.id)
        self.touch()
        return {"comment_id": journal.id, "deleted": True}

    @mutation("delete")
    def mutate_delete(self, number: Any = None, id: Any = None) -> dict[str, Any]:
        issue = self._mutation_issue(number, id)
        self.state.remove_issue(issue)
        self.touch()
        return {"number": issue.id, "deleted": True}
