"""``POST /rest/api/3/changelog/bulkfetch`` for the Jira sandbox: many issues' complete histories at once.

Since the search embeds at most 40 changelog entries per issue (``expand=changelog``), a complete history
comes from here (or ``GET /issue/{key}/changelog``, one issue a call). As Atlassian documents it: up to
1,000 issues a request, optionally filtered by up to 10 field ids; entries are sorted by date, then issue
id, oldest first; a page holds ``maxResults`` entries (default 1,000, at most 10,000) grouped into one
``IssueChangeLog`` per run of the same issue; ``nextPageToken`` continues the same request. An unknown or
invisible issue is left out, as Jira does, rather than failing the whole batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from ..core import Reply, SandboxRequest, route
from ._base import API, BAD_TOKEN, JiraBase, b64, jira_error, unb64
from ._state import History

MAX_ISSUES = 1000
MAX_FIELD_IDS = 10
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
_BODY_KEYS = {"issueIdsOrKeys": list, "fieldIds": list, "maxResults": int, "nextPageToken": str}


class ChangelogRoutes(JiraBase):
    @route("POST", API + "/changelog/bulkfetch")
    def bulkfetch_changelogs(self, request: SandboxRequest) -> Reply:
        body = self._object_body(request)
        for key, value in body.items():
            kind = _BODY_KEYS.get(key)
            if kind is None:
                message = f'Unrecognized field "{key}" (class BulkChangelogRequestBean)'
                raise jira_error(400, f"{message}, not marked as ignorable")
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise jira_error(400, f'Cannot deserialize value for field "{key}".')
        wanted = body.get("issueIdsOrKeys") or []
        fields = body.get("fieldIds") or []
        if not all(isinstance(v, str) for v in [*wanted, *fields]):
            raise jira_error(400, 'Cannot deserialize value for field "issueIdsOrKeys".')
        if not 1 <= len(wanted) <= MAX_ISSUES:
            raise jira_error(400, f"issueIdsOrKeys must hold between 1 and {MAX_ISSUES} issue ids or keys.")
        if len(fields) > MAX_FIELD_IDS:
            raise jira_error(400, f"fieldIds can hold at most {MAX_FIELD_IDS} field ids.")
        limit = body.get("maxResults")
        limit = DEFAULT_PAGE if limit is None else limit
        if not 1 <= limit <= MAX_PAGE:
            raise jira_error(400, f"maxResults must be between 1 and {MAX_PAGE}.")
        entries = self._entries(request, wanted, frozenset(fields))
        fingerprint = hashlib.sha256(json.dumps([wanted, sorted(fields)]).encode()).hexdigest()[:16]
        token = body.get("nextPageToken")
        start = self._bulk_offset(token, fingerprint) if token else 0
        page = entries[start : start + limit]
        groups: list[dict[str, Any]] = []
        render = self._render(request)
        for issue_id, history, items in page:
            if not groups or groups[-1]["issueId"] != str(issue_id):
                groups.append({"issueId": str(issue_id), "changeHistories": []})
            rendered = render.history(history)
            rendered["items"] = [render.change_item(item) for item in items]
            groups[-1]["changeHistories"].append(rendered)
        reply: dict[str, Any] = {"issueChangeLogs": groups}
        if start + limit < len(entries):
            reply["nextPageToken"] = self._bulk_token(start + limit, fingerprint)
        return Reply(reply)

    def _entries(
        self, request: SandboxRequest, wanted: list[str], fields: frozenset[str]
    ) -> list[tuple[int, History, list[Any]]]:
        """Every (issue id, entry, its items) of the visible issues asked for, oldest first, then by issue
        id; with ``fields``, only entries that changed one of them, holding those items alone."""
        issues = {}
        if self._sees_all(request):
            for value in wanted:
                issue = self.state.find(value)
                if issue is not None:
                    issues[issue.id] = issue
        entries: list[tuple[int, History, list[Any]]] = []
        for issue in issues.values():
            for history in issue.histories or []:
                items = [item for item in history.items if not fields or item[1] in fields]
                if items:
                    entries.append((issue.id, history, items))
        entries.sort(key=lambda entry: (entry[1].created, entry[0], entry[1].id))
        return entries

    def _bulk_token(self, offset: int, fingerprint: str) -> str:
        data = b64(json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode())
        signature = b64(hmac.new(self._token_key, data.encode(), hashlib.sha256).digest()[:18])
        return f"{data}.{signature}"

    def _bulk_offset(self, token: str, fingerprint: str) -> int:
        """The offset a token of this same request carries; a forged, foreign or garbled one is a 400."""
        data, _, signature = token.partition(".")
        expected = b64(hmac.new(self._token_key, data.encode(), hashlib.sha256).digest()[:18])
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise jira_error(400, BAD_TOKEN)
        try:
            payload = json.loads(unb64(data))
        except (ValueError, UnicodeDecodeError):
            raise jira_error(400, BAD_TOKEN) from None
        offset = payload.get("o") if isinstance(payload, dict) else None
        if payload.get("q") != fingerprint or not isinstance(offset, int) or offset < 0:
            raise jira_error(400, BAD_TOKEN)
        return offset
