"""Repository activity benchmark: requests of the ``activity`` entity against its floor, per forge.

``make bench`` (or ``python -m benchmarks.activity_requests [--issues N]``) syncs the ``activity`` entity
of the GitHub and GitLab sandboxes through the real engine into moto's DynamoDB, three times each:

1. **full**: the latest pages of commits, pull/merge requests and releases, and the languages; its floor is
   one request per page of each listing (``ceil(n / 100)``, at least one) plus one for the languages, and
   the catch-up pass every full sync ends with (DESIGN section 10), one request per listing;
2. **idle**: an incremental sync with nothing new at the tracker: its floor is one request per listing
   (``ACTIVITY_FLOOR``: commits since, requests updated since, the newest releases, the languages with their
   ETag), and it must write nothing;
3. **changed**: three commits pushed, then an incremental sync: the same four requests, three records
   written.

Printed: one line per forge and run, ``requests / floor`` and the records written. Exit status non-zero
when a run is not Completed, a run costs more than its floor, or the idle run writes anything.
"""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from typing import Any

from benchmarks._floor_rows import FloorRow
from benchmarks.sync_requests import _allow, _connection, _fresh_table, _sandbox, _start_aws, run_operation

FORGES = ("github", "gitlab")
PAGE = 100


def _full_floor(provider: str, tracker: Any) -> int:
    """One request per page of each listing the full pass reads, one for the languages, and the catch-up
    pass (``ACTIVITY_FLOOR``: one request per listing)."""
    from infra.local.trackers.gitlab._releases import seeded_releases
    from trackbridge.providers.forge import ACTIVITY_FULL_PAGES
    from trackbridge.runtime.sync.activity_syncers import ACTIVITY_FLOOR

    state = tracker.state
    if provider == "github":
        sizes = [len(state.commits), sum(1 for i in state.issues if i and i.pull), len(state.releases)]
    else:
        sizes = [len(state.commits), len(state.merge_requests), len(seeded_releases(state))]
    return sum(min(max(1, math.ceil(n / PAGE)), ACTIVITY_FULL_PAGES) for n in sizes) + 1 + ACTIVITY_FLOOR


def run_forge(provider: str, issues: int) -> list[FloorRow]:
    from trackbridge.domain.sync_plan import SyncRequest
    from trackbridge.runtime import container
    from trackbridge.runtime.sync.activity_syncers import ACTIVITY_FLOOR

    tracker = _sandbox(provider, issues, 0)
    rows: list[FloorRow] = []
    try:
        _allow(tracker)
        tenant = f"bench-activity-{uuid.uuid4().hex[:8]}"
        connection = _connection(provider, tracker, tenant)

        def sync(run: str, mode: str, floor: int) -> None:
            tracker.reset_requests()
            request = SyncRequest.model_validate({"mode": mode, "entities": ["activity"]})
            op = run_operation(container.table(), connection, tenant, request)
            if op.status != "Completed":
                raise RuntimeError(
                    f"the {provider} activity {run} sync ended {op.status}: {op.results.errors}"
                )
            counted = op.results.by_entity.get("activity")
            written = (counted.created + counted.updated) if counted else 0
            rows.append(FloorRow("activity", provider, run, op.requests, floor, written))

        sync("full", "full", _full_floor(provider, tracker))
        sync("idle", "incremental", ACTIVITY_FLOOR)
        for n in range(3):
            tracker.mutate("push", message=f"Benchmark commit {n}")
        sync("changed", "incremental", ACTIVITY_FLOOR)
        return rows
    finally:
        tracker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.activity_requests", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--issues", type=int, default=700, help="issues seeded (GitHub: every 7th a PR)")
    args = parser.parse_args(argv)
    server = _start_aws()
    try:
        _fresh_table(f"benchactivity{uuid.uuid4().hex[:6]}")
        rows = [row for provider in FORGES for row in run_forge(provider, args.issues)]
    finally:
        server.stop()
    print("repository activity (entity activity): requests / floor")
    for row in rows:
        print(row.line())
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
