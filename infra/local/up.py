"""``trackbridge local up``: run the embedded stack in the foreground until Ctrl-C (or SIGTERM).

Prints what a person needs to start using it (API URL, Swagger UI, the demo key, the state file and an
example request) and how long startup took, then waits. A signal only sets an event; the main thread
then stops every part in order, so the process exits 0 with nothing left listening.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from infra.local.stack import LocalStack

logger = logging.getLogger(__name__)


def _banner(stack: LocalStack, started_s: float) -> str:
    api_url = stack.api_url
    key = stack.api_key
    lines = [
        f"trackbridge is running locally (started in {started_s:.1f} s)",
        f"  API:        {api_url}",
        f"  Swagger UI: {api_url}/docs",
        f"  API key:    {key}   (tenant 'demo')",
        f"  AWS (moto): {stack.describe()['aws_endpoint_url']}",
        f"  State file: {stack.state_file.resolve()}",
        f"  Outbound:   public addresses, and the sandboxes at {stack.egress_allowlist or '(none)'}"
        " (TB_ALLOWED_PRIVATE_NETWORKS)",
        "",
        "Try:",
        f"  curl -s -H 'Authorization: Bearer {key}' {api_url}/connections",
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # botocore and werkzeug talk a lot at INFO; the stack logs what matters itself.
    for noisy in ("botocore", "werkzeug", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(
        port=args.port,
        with_sandbox=not args.no_sandbox,
        seed=args.seed,
        state_dir=Path(args.state_dir),
    )
    try:
        started = time.perf_counter()
        try:
            stack.start()
        except Exception:
            logger.exception("local.start_failed")
            sys.stderr.write("trackbridge local up: the embedded stack could not start (see the log above)\n")
            return 1
        sys.stdout.write(_banner(stack, time.perf_counter() - started))
        sys.stdout.flush()
        # Wake up once a second: signal handlers run on the main thread between waits.
        while not stop.wait(1.0):
            continue
        sys.stdout.write("stopping...\n")
        sys.stdout.flush()
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


__all__ = ["main"]
