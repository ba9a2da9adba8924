"""``/rest/api/3/search/jql`` and friends for the Jira sandbox (see ``sandbox.py`` for the behaviour).

A search is computed, not copied: the JQL compiles to a filter and a sort key (``_jql``), the sorted
``(sort key, issue id)`` list is built once per data version and cached (``SandboxTracker.view``), and a
page is a ``bisect`` into it after the previous page's last sort key, which the page token carries.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from ..core import ApiError, Reply, SandboxRequest, route
from ._base import (
    API,
    BAD_TOKEN,
    PAGE_TOKEN_TTL_S,
    REMOVED_SEARCH,
    SEARCH_BODY_KEYS,
    JiraBase,
    b64,
    csv_values,
    jira_error,
    unb64,
)
from ._render import FIELD_NAMES, FIELD_SCHEMAS, FieldSelection


class SearchRoutes(JiraBase):
    # ------------------------------------------------------------------ search

    @route("GET", API + "/search/jql")
    def search_get(self, request: SandboxRequest) -> Reply:
        args = request.args
        max_results: int | None = None
        if args.get("maxResults"):
            max_results = self._int_arg(request, "maxResults", 50)
        reconcile = self._reconcile(csv_values(args.getlist("reconcileIssues")))
        return self._search(
            request,
            jql=args.get("jql", ""),
            token=args.get("nextPageToken") or None,
            max_results=max_results,
            fields=args.getlist("fields"),
            expand=csv_values(args.getlist("expand")),
            properties=csv_values(args.getlist("properties")),
            reconcile=reconcile,
        )

    @route("POST", API + "/search/jql")
    def search_post(self, request: SandboxRequest) -> Reply:
        body = self._object_body(request)
        for key, value in body.items():
            kind = SEARCH_BODY_KEYS.get(key)
            if kind is None:
                raise jira_error(
                    400,
                    f'Unrecognized field "{key}" (class SearchAndReconcileRequestBean), '
                    "not marked as ignorable",
                )
            if value is not None and (
                not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            ):
                raise jira_error(400, f'Cannot deserialize value for field "{key}".')
        fields = body.get("fields") or []
        properties = body.get("properties") or []
        if not all(isinstance(item, str) for item in [*fields, *properties]):
            raise jira_error(400, 'Cannot deserialize value for field "fields".')
        return self._search(
            request,
            jql=body.get("jql") or "",
            token=body.get("nextPageToken") or None,
            max_results=body.get("maxResults"),
            fields=fields,
            expand=csv_values([body.get("expand") or ""]),
            properties=csv_values(properties),
            reconcile=self._reconcile(body.get("reconcileIssues") or []),
        )

    def _reconcile(self, values: Sequence[Any]) -> list[int]:
        ids: list[int] = []
        for value in values:
            try:
                ids.append(int(value))
            except (TypeError, ValueError):
                raise jira_error(400, f"The issue id '{value}' in reconcileIssues is not a number.") from None
        if len(ids) > 50:
            raise jira_error(400, "reconcileIssues accepts at most 50 issue ids.")
        return ids

    def _encode_token(self, jql: str, account: str, raw_key: list[Any]) -> str:
        payload = {
            "q": hashlib.sha256(jql.encode()).hexdigest()[:16],
            "a": account,
            "k": raw_key,
            "e": self.now() + PAGE_TOKEN_TTL_S,
        }
        data = b64(json.dumps(payload, separators=(",", ":")).encode())
        signature = b64(hmac.new(self._token_key, data.encode(), hashlib.sha256).digest()[:18])
        return f"{data}.{signature}"

    def _decode_token(self, token: str, jql: str, account: str) -> list[Any]:
        data, _, signature = token.partition(".")
        expected = b64(hmac.new(self._token_key, data.encode(), hashlib.sha256).digest()[:18])
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise jira_error(400, BAD_TOKEN)
        try:
            payload = json.loads(unb64(data))
        except (ValueError, UnicodeDecodeError):
            raise jira_error(400, BAD_TOKEN) from None
        fresh = isinstance(payload, dict) and isinstance(payload.get("e"), int) and payload["e"] > self.now()
        same_query = fresh and payload.get("q") == hashlib.sha256(jql.encode()).hexdigest()[:16]
        if not same_query or payload.get("a") != account or not isinstance(payload.get("k"), list):
            raise jira_error(400, BAD_TOKEN)
        return list(payload["k"])

    def _search(
        self,
        request: SandboxRequest,
        *,
        jql: str,
        token: str | None,
        max_results: int | None,
        fields: Sequence[str],
        expand: Sequence[str],
        properties: Sequence[str],
        reconcile: Sequence[int],
    ) -> Reply:
        if len(properties) > 5:
            raise jira_error(400, "The maximum number of properties that can be requested is 5.")
        compiled, ctx = self._compile(request, jql)
        selection = FieldSelection(fields, "id")
        cap = 5000 if selection.id_or_key_only else 50 if selection.heavy else 100
        limit = max(1, min(50 if max_results is None else max_results, cap))
        keys, ids = self._search_view(jql, ctx, compiled)
        start = 0
        if token is not None:
            start = bisect.bisect_right(
                keys, compiled.comparable(self._decode_token(token, jql, ctx.account_id))
            )
        chunk = ids[start : start + limit]
        render = self._render(request)
        state = self.state
        issues = []
        for issue_id in chunk:
            issue = state.issue(issue_id)
            if issue is not None:
                issues.append(
                    render.issue(
                        issue, selection, expand=expand, properties=properties, names_and_schema_inline=False
                    )
                )
        body: dict[str, Any] = {"issues": issues}
        last = start + limit >= len(ids)
        if not last:
            last_issue = state.issue(chunk[-1])
            assert last_issue is not None
            body["nextPageToken"] = self._encode_token(jql, ctx.account_id, compiled.raw_key(last_issue))
        body["isLast"] = last
        if "names" in expand and not selection.ids_only:
            body["names"] = {field_id: FIELD_NAMES[field_id] for field_id in selection.fields}
        if "schema" in expand and not selection.ids_only:
            body["schema"] = {field_id: FIELD_SCHEMAS[field_id] for field_id in selection.fields}
        return Reply(body)

    @route("POST", API + "/search/approximate-count")
    def approximate_count(self, request: SandboxRequest) -> Reply:
        body = self._object_body(request)
        unknown = [key for key in body if key != "jql"]
        if unknown:
            raise jira_error(
                400, f'Unrecognized field "{unknown[0]}" (class JQLCountRequestBean), not marked as ignorable'
            )
        jql = body.get("jql") or ""
        if not isinstance(jql, str):
            raise jira_error(400, 'Cannot deserialize value for field "jql".')
        compiled, ctx = self._compile(request, jql)
        _, ids = self._search_view(jql, ctx, compiled)
        return Reply({"count": len(ids)})

    @route("GET", API + "/search")
    @route("POST", API + "/search")
    @route("GET", "/rest/api/2/search")
    @route("POST", "/rest/api/2/search")
    @route("POST", API + "/search/id")
    def removed_search(self, request: SandboxRequest) -> Reply:
        raise ApiError(410, REMOVED_SEARCH, body={"errorMessages": [REMOVED_SEARCH]})
