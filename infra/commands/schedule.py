"""``trackbridge schedule show|set|pause|resume|trigger <connection>``: a connection's sync schedule.

Each talks to the REST API only (``/v1/connections/{id}/schedule``), found as ``trackbridge sync`` finds it
(``--api-url``/``--api-key``, ``TRACKBRIDGE_API_URL``/``KEY``, else ``.trackbridge/local.json``);
``<connection>`` is an id or a name. ``show`` (and every change) prints the schedule state: the expression as
set, what Scheduler runs now (``effective``: a slower rung of the back-off ladder), the pause and its
reason, the rung and the failures behind it; ``--json`` prints the API's answer instead. ``trigger`` starts
an incremental sync now (paused or not) and prints its operation id. Exit codes: 0 done, 1 refused by the
API (a bad expression, a sync already running: the message says why), 2 bad input or no API.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from infra.commands.sync import (
    ApiRefused,
    CliError,
    add_api_arguments,
    api_answer,
    api_client,
    resolve_connection,
)

if TYPE_CHECKING:
    import httpx

ACTIONS = ("show", "set", "pause", "resume", "trigger")


def add_schedule_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``schedule show|set|pause|resume|trigger`` on the ``trackbridge`` parser."""
    schedule = groups.add_parser(
        "schedule", help="show, set, pause, resume or trigger a connection's schedule"
    )
    actions = schedule.add_subparsers(dest="command", required=True)
    helps = {
        "show": "the schedule and its back-off ladder state",
        "set": "set the expression (rate(...) or cron(...)) and time zone",
        "pause": "stop scheduled syncs until resumed",
        "resume": "resume a paused schedule (an admin's pause or the ladder's)",
        "trigger": "run an incremental sync now",
    }
    for action in ACTIONS:
        parser = actions.add_parser(action, help=helps[action])
        parser.add_argument("connection", help="a connection id (conn_...) or name")
        if action == "set":
            parser.add_argument("expression", help="e.g. 'rate(30 minutes)' or 'cron(0 8 ? * MON-FRI *)'")
            parser.add_argument("--timezone", default="UTC", help="an IANA time zone (default: UTC)")
        if action == "pause":
            parser.add_argument("--reason", help="why, for whoever reads the schedule later")
        parser.add_argument("--json", action="store_true", help="print the API's answer as JSON")
        add_api_arguments(parser)


def _request(api: httpx.Client, args: argparse.Namespace, path: str) -> Any:
    action = args.command
    if action == "show":
        return api_answer(api.get(path))
    if action == "set":
        return api_answer(api.put(path, json={"expression": args.expression, "timezone": args.timezone}))
    body = {"reason": args.reason} if action == "pause" and args.reason else None
    return api_answer(api.post(f"{path}/{action}", json=body))


def state_lines(state: dict[str, Any]) -> list[str]:
    """A schedule state for people, one fact a line."""
    paused = f"paused ({state.get('paused_reason')})" if state.get("paused") else "active"
    lines = [
        f"expression: {state.get('expression')} ({state.get('timezone')})",
        f"effective:  {state.get('effective_expression')}",
        f"state:      {paused}",
        f"ladder:     step {state.get('ladder_step')}, {state.get('consecutive_failures')} failure(s)"
        + (f" in a row, last {state['last_code']}" if state.get("last_code") else ""),
    ]
    if state.get("slowed_until"):
        lines.append(f"slowed:     until {state['slowed_until']} (the tracker's quota is nearly spent)")
    return lines


def schedule(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    import httpx

    try:
        with client or api_client(args) as api:
            connection_id = resolve_connection(api, args.connection)
            answer = _request(api, args, f"/v1/connections/{connection_id}/schedule")
    except ApiRefused as exc:
        sys.stderr.write(f"refused: {exc}\n")
        return 1
    except (CliError, httpx.HTTPError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(answer, indent=2) + "\n")
    elif args.command == "trigger":
        sys.stdout.write(f"started {answer['id']} (incremental)\n")
    else:
        sys.stdout.write("\n".join(state_lines(answer)) + "\n")
    return 0


__all__ = ["ACTIONS", "add_schedule_commands", "schedule", "state_lines"]
