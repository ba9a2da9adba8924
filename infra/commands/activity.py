"""``trackbridge activity <connection> [--weeks N] [--as-of ISO] [--json]``: a repository's activity summary.

Asks ``GET /v1/repositories/{connection_id}/activity`` (the API found as ``trackbridge sync`` finds it)
and prints one line per ISO week (commits, requests opened, merged, closed), then the open requests'
ages, the release cadence and the languages; ``--json`` prints the API's answer. The summary is of what
the ``activity`` entity synced: sync it first (``"entities": [..., "activity"]``). Exit codes: 0 done,
1 refused by the API (a Jira connection, bad ``--weeks``), 2 bad input or no API.
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


def add_activity_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("activity", help="a GitHub or GitLab repository's activity per week")
    parser.set_defaults(command="")
    parser.add_argument("connection", help="the GitHub or GitLab connection (name or id)")
    parser.add_argument("--weeks", type=int, default=12, help="ISO weeks to count, 1 to 52 (default 12)")
    parser.add_argument("--as-of", help="the end of the window, ISO 8601 with a time zone (default now)")
    parser.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    add_api_arguments(parser)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"{summary['provider']} {summary['repository']}: last synced {summary['last_synced_at'] or 'never'}"
    ]
    row = "{week:<10} {commits:>7} {opened:>6} {merged:>6} {closed:>6}"
    lines.append(
        row.format(week="week", commits="commits", opened="opened", merged="merged", closed="closed")
    )
    for week in [*summary["weeks"], {**summary["totals"], "week": "total"}]:
        lines.append(row.format(**{k: week[k] for k in ("week", "commits", "opened", "merged", "closed")}))
    open_requests, releases = summary["open_requests"], summary["releases"]
    lines.append(
        f"open requests: {open_requests['count']} (median age {open_requests['median_age_days']} days, "
        f"oldest {open_requests['oldest_age_days']} days)"
    )
    last = releases["last_release"]
    lines.append(
        f"releases: {releases['releases']} in the window, "
        f"median {releases['median_days_between']} days apart; "
        f"last {last['tag'] + ' at ' + last['released_at'] if last else 'none'}"
    )
    languages = ", ".join(f"{name} {share}%" for name, share in summary["languages"].items())
    lines.append(f"languages: {languages or 'unknown'}")
    return lines


def activity(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    import httpx

    params: dict[str, Any] = {"weeks": args.weeks}
    if args.as_of:
        params["as_of"] = args.as_of
    try:
        with client or api_client(args) as api:
            connection_id = resolve_connection(api, args.connection)
            summary = api_answer(api.get(f"/v1/repositories/{connection_id}/activity", params=params))
    except ApiRefused as exc:
        sys.stderr.write(f"refused: {exc}\n")
        return 1
    except (CliError, httpx.HTTPError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(summary_lines(summary)) + "\n")
    return 0


__all__ = ["activity", "add_activity_commands", "summary_lines"]
