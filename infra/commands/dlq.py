"""``trackbridge dlq list|redrive|discard <queue>``: the operator's dead-letter queue tools.

The operator acts with the deployment's AWS credentials (or on the embedded stack of ``--local-state``,
like ``keys create``), not with a tenant's API key, so these commands see every tenant's messages;
``--tenant T`` narrows them to one. Tenants use ``GET /v1/dlq/{queue}`` and ``POST .../redrive``, which see
only their own. Every redrive and discard is audited in the message's tenant's log (actor ``cli``).

``queue`` is ``sync``, ``inbound`` or ``auto_issue``. stdout carries the result (``--json`` for the models
as JSON); exit codes: 0 done, 1 refused or AWS failed (or ids not found), 2 bad input or no stack.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from infra.commands.keys import _logs_on_stderr, _use_local_state

QUEUE_CHOICES = ("sync", "inbound", "auto_issue")


def add_dlq_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = groups.add_parser("dlq", help="dead-letter queues: list, redrive, discard (operator, all tenants)")
    commands = dlq.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    listing = commands.add_parser("list", help="list a DLQ's messages with their failure (nothing consumed)")
    redrive = commands.add_parser("redrive", help="move messages back to their queue (all, or --id ...)")
    discard = commands.add_parser("discard", help="delete messages (--id ..., audited)")
    for parser in (listing, redrive, discard):
        parser.add_argument("queue", choices=QUEUE_CHOICES)
        parser.add_argument("--tenant", help="only this tenant's messages")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--local-state", default=".trackbridge/local.json", help="local.json of the embedded stack"
        )
    redrive.add_argument("--id", dest="ids", action="append", help="a message id (repeatable); default: all")
    discard.add_argument("--id", dest="ids", action="append", required=True, help="a message id (repeatable)")


def _use_stack(args: argparse.Namespace) -> bool:
    """Aim the runtime at local.json's stack (else the AWS environment) with every work queue's URL."""
    from infra.definition import ENV, QUEUES
    from trackbridge.runtime import aws, container

    state_file = Path(args.local_state) if args.local_state else None
    try:
        if state_file is not None and state_file.is_file():
            _use_local_state(state_file)
            container.reset()
            stage = os.environ.get("TB_STAGE", "local")
            variables = {"inbound": ENV.inbound_queue_url, "sync": ENV.sync_queue_url}
            variables["auto_issue"] = ENV.auto_issue_queue_url
            sqs = aws.client("sqs")
            for spec in QUEUES:
                os.environ[variables[spec.key]] = sqs.get_queue_url(QueueName=spec.name(stage))["QueueUrl"]
    except Exception as exc:  # a broken state file or a stack that is not running: reported, not raised
        sys.stderr.write(f"error: cannot use {state_file}: {type(exc).__name__}\n")
        return False
    container.reset()
    return True


@_logs_on_stderr
def run(args: argparse.Namespace) -> int:
    from trackbridge.domain.errors import TrackbridgeError
    from trackbridge.runtime import container

    if not _use_stack(args):
        return 2
    queues = container.dead_letter_queues()
    try:
        if args.command == "list":
            listing = queues.list(args.queue, tenant=args.tenant)
            if args.json:
                sys.stdout.write(listing.model_dump_json() + "\n")
                return 0
            for letter in listing.items:
                failure = letter.failure.code if letter.failure else "-"
                sys.stdout.write(f"{letter.id}\t{letter.tenant or '-'}\t{letter.receive_count}\t{failure}\n")
            note = "" if listing.complete else " (incomplete: other readers held some messages)"
            sys.stderr.write(f"{len(listing.items)} listed of ~{listing.approximate_depth}{note}\n")
            return 0
        if args.command == "redrive":
            moved = queues.redrive(args.queue, tenant=args.tenant, ids=args.ids)
        else:
            moved = queues.discard(args.queue, tenant=args.tenant, ids=args.ids)
    except TrackbridgeError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 1
    sys.stdout.write(moved.model_dump_json() + "\n" if args.json else "".join(f"{i}\n" for i in moved.moved))
    if moved.missing:
        sys.stderr.write(f"not found: {', '.join(moved.missing)}\n")
        return 1
    return 0


__all__ = ["QUEUE_CHOICES", "add_dlq_commands", "run"]
