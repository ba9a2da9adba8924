"""Deletion check benchmark: what one check costs at each tracker, measured on its sandbox.

``python -m benchmarks.deletion_check [--provider NAME|all] [--issues N] [--deleted D]`` seeds each
registered sandbox (``infra.local.trackers.SANDBOXES``) with N issues (30 % closed), runs a full sync
through the real engine, deletes D issues at the tracker and runs a ``deletions`` operation, twice
(``include_closed`` on, then off: D more deleted), and prints the tracker's own request counts
(``/_sandbox/requests``) for each: the id listing's pages and the confirming GETs, and the same per 1,000
issues. Not part of the test suite (the integration tests assert exact counts at a small size).
"""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from typing import Any

from benchmarks.sync_requests import (
    _allow,
    _connection,
    _counts,
    _fresh_table,
    _registered,
    _sandbox,
    _start_aws,
    run_operation,
)
from trackbridge.domain.sync import SyncMode


def _run(connection: Any, tenant: str, mode: SyncMode, *, include_closed: bool | None = None) -> Any:
    from trackbridge.domain.sync_plan import SyncRequest
    from trackbridge.runtime import container

    request = SyncRequest(mode=mode, include_closed=include_closed)
    final = run_operation(container.table(), connection, tenant, request)
    if final.status != "Completed":
        raise RuntimeError(f"{mode} sync ended {final.status}: {final.results.errors}")
    return final


def _victims(tracker: Any, tenant: str, connection: Any, count: int) -> list[dict[str, Any]]:
    """``count`` stored open issues to delete at the tracker (none whose deletion takes others along, as a
    Jira issue's does its sub-tasks), as ``mutate("delete")`` parameters."""
    from trackbridge.runtime import container
    from trackbridge.storage.issues import IssueRepository

    found: list[dict[str, Any]] = []
    cursor: str | None = None
    repo = IssueRepository(container.table())
    while len(found) < count:
        page = repo.list_for_connection(tenant, connection.id, limit=100, cursor=cursor)
        for issue in page.items:
            if issue.deleted_at is not None or issue.status_category == "done" or len(found) == count:
                continue
            if tracker.removable_alone(issue.key):
                found.append(tracker.issue_ref(issue.key))
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def measure(provider: str, issues: int, deleted: int) -> list[dict[str, Any]]:
    _fresh_table(f"del{provider}{issues}")
    tracker = _sandbox(provider, issues, 1)
    try:
        _allow(tracker)
        tenant = f"bench-del-{uuid.uuid4().hex[:8]}"
        connection = _connection(provider, tracker, tenant)
        _run(connection, tenant, "full")
        rows = []
        for include_closed in (True, False):
            for victim in _victims(tracker, tenant, connection, deleted):
                tracker.mutate("delete", **victim)
            plain, listed, _ = _counts(tracker)
            tracker.reset_requests()
            op = _run(connection, tenant, "deletions", include_closed=include_closed)
            seen = tracker.requests()
            rows.append(
                {
                    "provider": provider,
                    "issues": plain,
                    "listed": listed,
                    "include_closed": include_closed,
                    "requests": int(seen["total"]),
                    "by_route": seen["by_route"],
                    "deleted": op.results.deleted,
                    "op_requests": op.requests,
                }
            )
        return rows
    finally:
        tracker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.deletion_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--provider", default="all", help="a registered sandbox tracker, or all (default)")
    parser.add_argument("--issues", type=int, default=1_000)
    parser.add_argument("--deleted", type=int, default=1)
    args = parser.parse_args(argv)
    registered = _registered()
    if args.provider != "all" and args.provider not in registered:
        parser.error(f"unknown tracker {args.provider!r}; registered: {', '.join(registered)}")

    import logging

    logging.disable(logging.WARNING)
    server = _start_aws()
    rows: list[dict[str, Any]] = []
    try:
        for provider in registered if args.provider == "all" else [args.provider]:
            rows.extend(measure(provider, args.issues, args.deleted))
    finally:
        server.stop()
    sys.stdout.write(
        "| tracker | issues (listed) | include_closed | requests | per 1,000 issues | by route |\n"
        "|---|---|---|---|---|---|\n"
    )
    for row in rows:
        per_thousand = math.ceil(row["requests"] * 1000 / max(row["issues"], 1) * 10) / 10
        routes = ", ".join(f"`{route}` {n}" for route, n in sorted(row["by_route"].items()))
        sys.stdout.write(
            f"| {row['provider']} | {row['issues']} ({row['listed']}) | {row['include_closed']} | "
            f"{row['requests']} (op: {row['op_requests']}, deleted {row['deleted']}) | {per_thousand} | "
            f"{routes} |\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
