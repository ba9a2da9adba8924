"""The YouTrack sandbox: YouTrack's REST API (``/api``) for one project, ``ACME``, at ``http://127.0.0.1:PORT``.

Checked against JetBrains' published API description (developer portal: "REST API Reference", "Fields
Syntax", "Pagination", "Issues" and "Issue comments" operations, "Commands", "Search Query Reference",
"Permanent Token Authorization"; https://www.jetbrains.com/help/youtrack/devportal/api-reference.html) and
shared/research/tracker-apis.md section 6. What it reproduces:

- Auth: ``Authorization: Bearer <permanent token>``; anything else is ``401 {"error": "Unauthorized",
  "error_description": ...}``. Errors are ``{"error", "error_description"}`` with the HTTP status.
- ``fields=`` selection on every read and write answer (only ``id`` and ``$type`` without it); ``$skip`` and
  ``$top`` paging over bare arrays (``$top`` defaults to 42); no ETags (YouTrack documents none), so no 304.
- ``GET /api/issues?query=``: the search subset of ``_query`` (project, ``#Unresolved``, ``updated:`` and
  ``created:`` ranges at minute or second precision, ``sort by:``, words); a page is a slice of a view that
  is recomputed when data changes, so writes between pages shift later pages (page drift) as on YouTrack.
- ``POST /api/issues`` creates (project by ``id``), ``POST /api/issues/{id}`` updates summary and
  description, ``DELETE`` removes; ``POST /api/commands`` applies ``tag``/``untag``/``State``/``Priority``/
  ``Type``/``Assignee``; issues are addressed by ``ACME-12`` or their entity id ``2-1012``.
- Comments per issue, ``deleted: true`` for one in the recycle bin; ``updated`` is null until edited.
- No rate-limit headers are documented: the limit answers ``429`` with ``Retry-After`` only.
- ``GET /api/activitiesPage`` ("Issue Activities Page", "ActivityCursorPage", "Pagination for
  Activities"; https://www.jetbrains.com/help/youtrack/devportal/operations-api-activitiesPage.html,
  https://www.jetbrains.com/help/youtrack/devportal/api-entity-ActivityCursorPage.html): ``categories``
  (required), ``start``/``end``, ``cursor``, ``reverse``, ``$top``; answers ``afterCursor``/``beforeCursor``,
  ``hasAfter``/``hasBefore`` and ``activities`` (``id``, ``timestamp``, ``category(id)``, ``target``,
  ``added``/``removed``). The stream records ``IssueCreatedCategory`` (an issue created, or deleted: the
  issue in ``removed``) and ``CommentsCategory`` (a comment added, deleted or binned, or restored) from the
  sandbox's start; seeded records have no activities.
- Webhooks as trackbridge's YouTrack app sends them (YouTrack has no native signed webhooks): its HTTP
  handler ``/api/extensionEndpoints/trackbridge/hooks`` stores a delivery URL and secret; its workflow rules
  post ``{"event", "project", "timestamp", "issue", "comment"}`` with ``X-Trackbridge-Token`` (the secret),
  ``X-Trackbridge-Delivery`` and ``X-Trackbridge-Event``, without retries (the workflow ``http`` module
  does not retry).

``/_sandbox/mutate`` actions: ``create`` (``fields``: summary, description, tags, assignee), ``update``
(``key``, ``fields``: summary, description, state, tags, assignee; ``touch_only``), ``comment`` (``key``,
``body``), ``edit_comment`` and ``delete_comment`` (``comment_id``), ``delete`` (``key``). Each fires the
webhook the API write would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from ._routes import IssueRoutes
from ._state import PROJECT_KEY

__all__ = ["YouTrackSandbox"]


class YouTrackSandbox(IssueRoutes):
    """YouTrack REST for project ``ACME``; see the module docstring for the behaviour reproduced."""

    kind = "youtrack"
    scope_key = "project"
    listing_route = "GET */issues"
    issue_ref_key = "key"
    title_field = "summary"
    close_fields: ClassVar[Mapping[str, Any]] = {"state": "Fixed"}

    # ------------------------------------------------------------------ for tests, benchmarks and the demo

    def issue_ref(self, issue: int | str) -> dict[str, Any]:
        text = str(issue)
        return {
            "key": text if text.startswith(f"{PROJECT_KEY}-") else f"{PROJECT_KEY}-{int(text.lstrip('#'))}"
        }

    def remove_comment(self, comment_id: int | str) -> None:
        self.mutate("delete_comment", comment_id=str(comment_id))

    def issue_counts(self) -> tuple[int, int, int]:
        issues = len(self.state.issues)
        return issues, issues, self.state.live_comments()

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        # Comments are per issue: a first sync asks each issue's comments once (100 per page).
        return math.ceil(listed / 100) + listed

    def read_with_client_library(self) -> None:
        # The naive loop people write against the REST API (the PyPI clients are unmaintained since 2021):
        # list the project's issues 42 at a time (the default page), then each issue and its comments.
        import httpx

        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        with httpx.Client(base_url=f"{self.url}/api", headers=headers, timeout=60.0) as client:
            skip = 0
            for _ in range(100_000):
                page = client.get(
                    "issues",
                    params={"query": f"project: {PROJECT_KEY}", "fields": "idReadable", "$skip": skip},
                ).json()
                for item in page:
                    client.get(
                        f"issues/{item['idReadable']}",
                        params={"fields": "summary,description,customFields(name,value(name))"},
                    )
                    client.get(
                        f"issues/{item['idReadable']}/comments", params={"fields": "text,author(login)"}
                    )
                if len(page) < 42:
                    return
                skip += len(page)
