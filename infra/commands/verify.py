"""``trackbridge verify <connection> [--tenant T] [--strict]``: compare a live tracker with DynamoDB.

Reads the connection and its credentials where the stack keeps them (DynamoDB and Secrets Manager: the
embedded stack's when ``.trackbridge/local.json`` exists, else the ambient AWS environment), lists the
tracker through the connection's adapter, and prints lost / duplicated / stale / wrongly-deleted counts
(exit 1 if any, 2 for bad input), each with a line per entity that has findings (issue, comment, worklog,
transition, user, sprint, activity, advisory: all but issues and comments are checked when the connection's
``entities`` name them).
``--strict`` also fails on stored live items the tracker no longer has:
right after a full sync there must be none; between full syncs some are expected (a GitHub comment deleted
since), so they are only reported. Credentials are used in memory only and never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.commands.keys import _logs_on_stderr, _use_local_state

if TYPE_CHECKING:
    from trackbridge.runtime.connections import ConnectionService


def _connection_id(service: ConnectionService, tenant: str, ref: str) -> str:
    """``ref`` as an id: ids pass through, a name is looked up among the tenant's connections."""
    if ref.startswith("conn_"):
        return ref
    cursor: str | None = None
    for _ in range(1000):  # bounded: 1000 pages of connections
        page = service.list(tenant, limit=100, cursor=cursor)
        for connection in page.items:
            if connection.name == ref:
                return connection.id
        cursor = page.next_cursor
        if cursor is None:
            break
    return ref  # the service's lookup answers with the same 404 as for an unknown id


@_logs_on_stderr
def verify(args: argparse.Namespace) -> int:
    from trackbridge.domain.errors import TrackbridgeError
    from trackbridge.runtime import container
    from trackbridge.runtime.verify import verify_connection

    state_file = Path(args.local_state) if args.local_state else None
    if state_file is not None and state_file.is_file():
        _use_local_state(state_file)
    container.reset()
    try:
        service = container.connection_service()
        connection = service.get(args.tenant, _connection_id(service, args.tenant, args.connection))
        credentials = container.connection_secrets().credentials(args.tenant, connection.id)
        if credentials is None:
            sys.stderr.write("error: the connection has no stored credentials\n")
            return 2
        with container.adapter_factory()(connection, credentials) as adapter:
            report = verify_connection(
                container.table(),
                args.tenant,
                connection.id,
                adapter,
                include_closed=connection.include_closed,
                with_issues="issues" in connection.entities,
                with_comments="comments" in connection.entities,
                with_worklogs="worklogs" in connection.entities,
                with_changelogs="changelogs" in connection.entities,
                with_users="users" in connection.entities,
                with_sprints="sprints" in connection.entities,
                with_activity="activity" in connection.entities,
                with_advisories="advisories" in connection.entities,
                strict=args.strict,
            )
    except TrackbridgeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        counts = report.counts()
        sys.stdout.write(" ".join(f"{name}={value}" for name, value in counts.items()) + "\n")
        for entity, found in report.by_entity().items():
            sys.stdout.write(f"  {entity}: " + " ".join(f"{k}={v}" for k, v in found.items()) + "\n")
        for name, examples in report.to_dict()["examples"].items():
            sys.stdout.write(f"  {name}: {', '.join(examples[:10])}\n")
    return 0 if report.ok else 1


__all__ = ["verify"]
