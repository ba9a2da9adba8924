"""The ``trackbridge`` command (DESIGN section 9).

Each subcommand lives in its own module and is imported only when it runs, so ``trackbridge --help`` stays
fast and a command never pays for another's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand path -> "module:function"; the function takes the parsed Namespace and returns an exit code.
_COMMANDS: dict[tuple[str, ...], str] = {
    ("local", "up"): "infra.local.up:main",
    ("sandbox", "serve"): "infra.local.trackers.serve:main",
    ("keys", "create"): "infra.commands.keys:create",
    ("keys", "list"): "infra.commands.keys:list_keys",
    ("keys", "revoke"): "infra.commands.keys:revoke",
    ("keys", "rate-limit"): "infra.commands.keys:rate_limit",
    **{("dlq", action): "infra.commands.dlq:run" for action in ("list", "redrive", "discard")},
    **{("alerts", action): "infra.commands.alerts:run" for action in ("list", "test")},
    ("sync", ""): "infra.commands.sync:sync",
    ("status", ""): "infra.commands.sync:status",
    ("verify", ""): "infra.commands.verify:verify",
    ("maintenance", "run"): "infra.commands.maintenance:run",
    ("link", ""): "infra.commands.links:link",
    ("links", ""): "infra.commands.links:links",
    ("activity", ""): "infra.commands.activity:activity",
    ("test-runs", "upload"): "infra.commands.test_runs:upload",
    ("coverage", ""): "infra.commands.test_runs:coverage",
    **{
        ("schedule", action): "infra.commands.schedule:schedule"
        for action in ("show", "set", "pause", "resume", "trigger")
    },
}


def package_version() -> str:
    """The installed trackbridge distribution's version (``unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trackbridge")
    except PackageNotFoundError:
        return "unknown"


def _int_port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be between 0 and 65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trackbridge", description="trackbridge: issue trackers <-> your systems"
    )
    parser.add_argument("--version", action="version", version=f"trackbridge {package_version()}")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    local = groups.add_parser("local", help="the embedded stack (moto + sandbox trackers), no AWS account")
    local_cmds = local.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    up = local_cmds.add_parser("up", help="start the embedded stack in the foreground (Ctrl-C stops it)")
    up.add_argument(
        "--port", type=_int_port, default=8000, help="API port; 0 picks free ports (default 8000)"
    )
    up.add_argument("--seed", default="demo", help="seed data set for the sandbox trackers (default: demo)")
    up.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox trackers")
    up.add_argument("--state-dir", default=".trackbridge", help="where local.json is written")

    sandbox = groups.add_parser("sandbox", help="only the sandbox trackers")
    sandbox_cmds = sandbox.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    serve = sandbox_cmds.add_parser("serve", help="run the sandbox trackers in the foreground")
    serve.add_argument("--port", type=_int_port, default=0, help="first port; 0 picks free ports (default)")
    serve.add_argument("--issues", type=int, default=50, help="issues seeded per tracker")
    serve.add_argument("--comments-per-issue", type=int, default=3)
    serve.add_argument("--seed", default="demo")
    serve.add_argument("--state-file", default=".trackbridge/sandbox.json")

    keys = groups.add_parser("keys", help="tenant API keys")
    keys_cmds = keys.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    create = keys_cmds.add_parser("create", help="create an API key for a tenant and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--scopes", default="*", help="comma-separated scopes (default: all)")
    create.add_argument(
        "--local-state",
        default=".trackbridge/local.json",
        help="use the embedded stack described by this file when it exists (else the AWS environment)",
    )
    _add_key_commands(keys_cmds)

    _add_sync_commands(groups)
    _add_maintenance_commands(groups)
    _add_link_commands(groups)
    _add_activity_commands(groups)
    _add_test_run_commands(groups)
    _add_schedule_commands(groups)
    _add_dlq_commands(groups)
    _add_alert_commands(groups)
    return parser


def _add_key_commands(keys_cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.sync import add_api_arguments
    from infra.definition import AUTHORIZER_CACHE_TTL_S

    operator = (
        "act as the operator on this tenant, straight on the table (local.json's stack, else the AWS "
        "environment), instead of through the API as the API key's tenant"
    )
    listing = keys_cmds.add_parser("list", help="list a tenant's API keys (never their secrets)")
    listing.add_argument("--tenant", help=operator)
    listing.add_argument("--json", action="store_true", help='print {"items": [...]} as JSON')
    add_api_arguments(listing)

    revoke = keys_cmds.add_parser(
        "revoke",
        help=f"revoke an API key (API Gateway may accept it for up to {AUTHORIZER_CACHE_TTL_S} s more)",
    )
    revoke.add_argument("key_id", metavar="id", help="the <key_id> of tb_<key_id>_<secret>")
    revoke.add_argument("--tenant", help=operator)
    add_api_arguments(revoke)

    from infra.commands.keys import add_rate_limit_command

    add_rate_limit_command(keys_cmds)


def _add_sync_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.sync import add_api_arguments

    sync = groups.add_parser("sync", help="start a sync of a connection through the API")
    sync.set_defaults(command="")
    sync.add_argument("connection", help="a connection id (conn_...) or name")
    sync.add_argument("--full", action="store_true", help="a full sync (default: incremental)")
    sync.add_argument("--wait", action="store_true", help="follow it with a progress bar until it ends")
    sync.add_argument("--timeout", type=float, default=3600.0, help="how long --wait waits (seconds)")
    sync.add_argument(
        "--json",
        action="store_true",
        help="print the operation as the API returns it (the final one with --wait)",
    )
    add_api_arguments(sync)

    status = groups.add_parser(
        "status", help="a sync operation, or the latest sync of one connection or of every connection"
    )
    status.set_defaults(command="")
    status.add_argument(
        "target",
        nargs="?",
        metavar="operation|connection",
        help="an operation id (op_...), or a connection id or name",
    )
    status.add_argument(
        "--json",
        action="store_true",
        help='print the operation as the API returns it; for connections {"items": [latest operation, ...]}',
    )
    add_api_arguments(status)

    verify = groups.add_parser("verify", help="compare a connection's stored data with the live tracker")
    verify.set_defaults(command="")
    verify.add_argument("connection", help="a connection id (conn_...) or name")
    verify.add_argument("--tenant", default="demo", help="the connection's tenant (default: demo)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument(
        "--strict",
        action="store_true",
        help="also fail on stored live items the tracker no longer has (use right after a full sync)",
    )
    verify.add_argument(
        "--local-state", default=".trackbridge/local.json", help="local.json of the embedded stack"
    )


def _add_link_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.links import add_link_commands

    add_link_commands(groups)


def _add_activity_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.activity import add_activity_commands

    add_activity_commands(groups)


def _add_test_run_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.test_runs import add_test_run_commands

    add_test_run_commands(groups)


def _add_schedule_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.schedule import add_schedule_commands

    add_schedule_commands(groups)


def _add_dlq_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.dlq import add_dlq_commands

    add_dlq_commands(groups)


def _add_alert_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.alerts import add_alert_commands

    add_alert_commands(groups)


def _add_maintenance_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.commands.maintenance import add_maintenance_commands

    add_maintenance_commands(groups)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    target = _COMMANDS[(args.group, args.command)]
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
