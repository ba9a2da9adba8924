"""``trackbridge sandbox serve``: only the sandbox trackers, in the foreground, until Ctrl-C or SIGTERM.

The state file (default ``.trackbridge/sandbox.json``) is written once every tracker answers, as
``{"trackers": <SandboxCluster.describe()>, "pid": n}`` -- the same ``trackers`` object as the DESIGN
local.json -- so scripts can wait for the file and read URLs, tokens and webhook secrets from it. It is
removed again on a clean stop, because it describes servers that no longer exist.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from . import start_sandboxes


def write_state_file(path: Path, content: dict[str, Any]) -> None:
    """Write atomically (temp file + rename), readable by the owner only: it holds (fake) tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


def main(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        cluster = start_sandboxes(
            port=args.port, seed=args.seed, issues=args.issues, comments_per_issue=args.comments_per_issue
        )
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"trackbridge sandbox serve: {exc}\n")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        return 2
    state_file = Path(args.state_file)
    try:
        write_state_file(state_file, {"trackers": cluster.describe(), "pid": os.getpid()})
        for name, tracker in cluster.trackers.items():
            sys.stdout.write(f"{name:8} {tracker.url}\n")
        sys.stdout.write(f"state    {state_file}\nCtrl-C stops the sandbox trackers.\n")
        sys.stdout.flush()
        stop.wait()
    finally:
        cluster.stop()
        state_file.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
