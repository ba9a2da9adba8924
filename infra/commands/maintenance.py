"""``trackbridge maintenance run [--json] [--local-state F]``: run the scheduler-maintenance pass now.

Runs ``functions.scheduler_maintenance`` in this process against the stack ``.trackbridge/local.json``
describes (its moto, table, queues and sandboxes), else the ambient AWS environment, and checks every
registered webhook even if it was checked recently. Prints one line per hook (status, fallback, what was
done) or, with ``--json``, the report. Exit 1 when a hook could not be checked, 2 when the stack is unusable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from infra.commands.keys import _logs_on_stderr, _use_local_state


def add_maintenance_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    maintenance = groups.add_parser("maintenance", help="scheduler maintenance (webhook liveness)")
    commands = maintenance.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    run = commands.add_parser("run", help="run the maintenance pass now (checks every registered webhook)")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument(
        "--local-state", default=".trackbridge/local.json", help="local.json of the embedded stack"
    )


def _use_local_queues() -> None:
    """The queue URLs and the OAuth app's secret name of the stack ``_use_local_state`` aimed at (local.json
    names the table, not the queues; their names follow from the stage)."""
    from infra.definition import ENV, QUEUES, jira_oauth_app_secret_name
    from trackbridge.runtime import aws

    stage = os.environ.get("TB_STAGE", "local")
    sqs = aws.client("sqs")
    for spec in QUEUES:
        variable = {"inbound": ENV.inbound_queue_url, "sync": ENV.sync_queue_url}.get(spec.key)
        if variable:
            os.environ[variable] = sqs.get_queue_url(QueueName=spec.name(stage))["QueueUrl"]
    os.environ[ENV.jira_oauth_app_secret] = jira_oauth_app_secret_name(stage)


@_logs_on_stderr
def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from functions.scheduler_maintenance import run_maintenance
    from trackbridge.runtime import container

    state_file = Path(args.local_state) if args.local_state else None
    container.reset()
    if state_file is not None and state_file.is_file():
        _use_local_state(state_file)
        container.reset()
        try:
            _use_local_queues()
        except (ClientError, BotoCoreError) as exc:
            sys.stderr.write(f"error: the local stack does not answer ({type(exc).__name__})\n")
            return 2
    try:
        report = run_maintenance(force=True)
    finally:
        container.reset()
    if args.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        for hook in report.hooks:
            actions = ", ".join(hook.actions) or "-"
            fallback = str(hook.fallback).lower()
            line = f"{hook.connection_id} {hook.provider:<7} {hook.status:<8} fallback={fallback}"
            line += f" actions={actions}"
            if hook.reason:
                line += f" reason={hook.reason!r}"
            if hook.error:
                line += f" error={hook.error!r}"
            sys.stdout.write(line + "\n")
        counts = report.counts()
        sys.stdout.write(
            f"{counts['registered']} registered webhooks: {counts['active']} active, {counts['inactive']} "
            f"inactive, {counts['fallback']} on fallback, {counts['errors']} not checked\n"
        )
    return 1 if report.counts()["errors"] else 0


__all__ = ["add_maintenance_commands", "run"]
