"""``trackbridge alerts list [--closed] [--json]`` and ``trackbridge alerts test <channel> [--json]``.

``list`` shows the API key's tenant's incidents (open ones, or with ``--closed`` the closed ones) and every
alert channel with its health; ``test`` sends one test message to a channel now and says what its receiver
answered. Both talk to the REST API only (``GET /v1/alerts``, ``GET /v1/alert-channels``, ``POST
/v1/alert-channels/{name}/test``), found as ``trackbridge sync`` finds it. Exit codes: 0 done (``test``: the
message arrived), 1 the API refused or the message did not arrive, 2 bad input or no API.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from infra.commands.sync import ApiRefused, CliError, add_api_arguments, api_answer, api_client

if TYPE_CHECKING:
    import httpx

# More incidents than this are not listed (the API pages them; an operator wants the first screens).
MAX_PAGES = 20


def add_alert_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = groups.add_parser("alerts", help="operator alerts: incidents, channel health, test a channel")
    commands = alerts.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    listing = commands.add_parser("list", help="incidents (open, or --closed) and every channel's health")
    listing.add_argument("--closed", action="store_true", help="closed incidents, newest first")
    test = commands.add_parser("test", help="send one test message to a channel now")
    test.add_argument("channel", help="a channel name (email is built in)")
    for parser in (listing, test):
        parser.add_argument("--json", action="store_true", help="print the API's answers as JSON")
        add_api_arguments(parser)


def _incidents(api: httpx.Client, state: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"state": state, "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = api_answer(api.get("/v1/alerts", params=params))
        found.extend(page.get("items", []))
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return found


def incident_line(incident: dict[str, Any]) -> str:
    return (
        f"{incident['id']} {incident['state']:<6} {incident['code']:<18} {incident['provider']:<7} "
        f"{incident['connection_name']} ({incident['connection_id']}) count={incident['count']} "
        f"first={incident['first_seen']} last={incident['last_seen']} log={incident['sync_log']}"
    )


def channel_line(channel: dict[str, Any]) -> str:
    health = channel.get("health") or {}
    state = "ok" if health.get("ok", True) else "FAILING"
    line = f"{channel['name']:<20} {channel['kind']:<8} {state:<8} pending={health.get('pending_retries', 0)}"
    line += f" abandoned={health.get('abandoned', 0)}"
    if health.get("last_error_code"):
        line += f" last_error={health['last_error_code']} at {health.get('last_failure_at')}"
    return line


def _list(api: httpx.Client, args: argparse.Namespace) -> int:
    incidents = _incidents(api, "closed" if args.closed else "open")
    channels = api_answer(api.get("/v1/alert-channels")).get("items", [])
    if args.json:
        sys.stdout.write(json.dumps({"incidents": incidents, "channels": channels}, indent=2) + "\n")
        return 0
    what = "closed" if args.closed else "open"
    sys.stdout.write(f"{len(incidents)} {what} incident(s)\n")
    for incident in incidents:
        sys.stdout.write(incident_line(incident) + "\n")
    sys.stdout.write(f"{len(channels)} channel(s)\n")
    for channel in channels:
        sys.stdout.write(channel_line(channel) + "\n")
    return 0


def _test(api: httpx.Client, args: argparse.Namespace) -> int:
    result = api_answer(api.post(f"/v1/alert-channels/{args.channel}/test"))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    elif result.get("delivered"):
        sys.stdout.write(f"{args.channel}: delivered\n")
    else:
        sys.stdout.write(f"{args.channel}: not delivered: {result.get('error_code')} {result.get('error')}\n")
    return 0 if result.get("delivered") else 1


def run(args: argparse.Namespace) -> int:
    import httpx

    try:
        with api_client(args) as api:
            return _test(api, args) if args.command == "test" else _list(api, args)
    except (CliError, httpx.HTTPError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except ApiRefused as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


__all__ = ["add_alert_commands", "channel_line", "incident_line", "run"]
