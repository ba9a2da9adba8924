"""Catalog benchmark: requests of the ``users`` and ``sprints`` entities against their floors, per tracker.

``make bench`` (or ``python -m benchmarks.catalog_requests``) syncs the catalogs of the three sandboxes
through the real engine into moto's DynamoDB, twice each:

1. **full**: the whole listing, once (a catalog's pass ends with it: no catch-up, no sweep);
2. **idle**: an incremental sync with nothing changed at the tracker: the same listing, and no write.

Floors: ``users`` is one request per page of the people listing (``ceil(n / page)``, at least one: 100 a
page on GitHub and GitLab, 1,000 on Jira); ``sprints`` (Jira) one request per page of the project's boards
(50) plus one per page of each board's sprints (50). Printed: one line per tracker, entity and run,
``requests / floor`` and the items written. Exit status non-zero when a run is not Completed, costs more
than its floor, or the idle run writes anything.
"""

from __future__ import annotations

import math
import sys
import uuid
from typing import Any

from benchmarks._floor_rows import FloorRow
from benchmarks.sync_requests import _allow, _connection, _fresh_table, _sandbox, _start_aws, run_operation

PLAN: dict[str, tuple[str, ...]] = {"github": ("users",), "gitlab": ("users",), "jira": ("users", "sprints")}
PEOPLE_PAGE = {"github": 100, "gitlab": 100, "jira": 1000}
AGILE_PAGE = 50


def _floor(provider: str, entity: str, tracker: Any, listed: int) -> int:
    if entity == "users":
        return max(1, math.ceil(listed / PEOPLE_PAGE[provider]))
    boards = list(tracker.state.boards.values())
    per_board = [sum(1 for s in tracker.state.sprints.values() if s.board_id == b.id) for b in boards]
    return max(1, math.ceil(len(boards) / AGILE_PAGE)) + sum(
        max(1, math.ceil(n / AGILE_PAGE)) for n in per_board
    )


def run_tracker(provider: str) -> list[FloorRow]:
    from trackbridge.domain.sync_plan import SyncRequest
    from trackbridge.runtime import container

    tracker = _sandbox(provider, 50, 0)
    rows: list[FloorRow] = []
    try:
        _allow(tracker)
        tenant = f"bench-catalog-{uuid.uuid4().hex[:8]}"
        connection = _connection(provider, tracker, tenant)
        for entity in PLAN[provider]:
            for run, mode in (("full", "full"), ("idle", "incremental")):
                tracker.reset_requests()
                request = SyncRequest.model_validate({"mode": mode, "entities": [entity]})
                op = run_operation(container.table(), connection, tenant, request)
                if op.status != "Completed":
                    raise RuntimeError(
                        f"the {provider} {entity} {run} sync ended {op.status}: {op.results.errors}"
                    )
                counted = op.results.by_entity[entity]
                floor = _floor(provider, entity, tracker, counted.processed)
                written = counted.created + counted.updated
                rows.append(FloorRow(entity, provider, run, op.requests, floor, written))
        return rows
    finally:
        tracker.stop()


def main(argv: list[str] | None = None) -> int:
    server = _start_aws()
    try:
        _fresh_table(f"benchcatalog{uuid.uuid4().hex[:6]}")
        rows = [row for provider in PLAN for row in run_tracker(provider)]
    finally:
        server.stop()
    print("catalogs (entities users, sprints): requests / floor")
    for row in rows:
        print(row.line())
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
