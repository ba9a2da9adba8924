"""``trackbridge local up``: run the embedded stack in the foreground until Ctrl-C (or SIGTERM).

Prints what a person needs to start using it (API URL, Swagger UI, the demo key and connections, the state
file and example commands) and how long startup took, then logs one line per API request and per function
run until stopped (``infra.local.terminal_log``; the functions' EMF metrics are off, see ``provision``).
A signal only sets an event; the main thread then stops every part in order, so the process exits 0 with
nothing left listening.

A taken port is refused before anything starts, with the port and how to pick another, exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import logging
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from infra.local import terminal_log
from infra.local.stack import LocalStack

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"  # where the local API Gateway listens
EXIT_PORT_TAKEN = 2
# botocore and werkzeug talk a lot at INFO; the stack logs what matters itself.
_NOISY_LOGGERS = ("botocore", "werkzeug", "urllib3", "httpx")
# Quiet while the stack starts (the readiness probe's request, the demo key and connections): the banner
# says all of it. Warnings still show.
_STARTUP_LOGGERS = ("infra.local", "trackbridge")


def port_problem(port: int, host: str = HOST) -> OSError | None:
    """Why the gateway could not listen on ``host:port`` now (None if it could; always None for port 0)."""
    if port == 0:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the gateway's server does: a port whose last connection is in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def port_message(port: int, problem: OSError | None, host: str = HOST) -> str:
    """What to tell a person whose port is not available, and how to pick another."""
    if port == 0:
        reason = "a server of the embedded stack could not listen (see above)"
    elif problem is None or problem.errno == errno.EADDRINUSE:
        reason = (
            f"port {port} on {host} is already in use (another `trackbridge local up`, or another program)"
        )
    else:
        reason = f"cannot listen on port {port} on {host}: {problem.strerror or problem}"
    other = port + 1 if 0 < port < 65535 else 8001
    return (
        f"trackbridge local up: {reason}.\n"
        f"  Stop that program, or pick another port: --port {other}, or --port 0 for free ports\n"
        f"  (with make: make up PORT={other}, or make up PORT=0).\n"
    )


def _console_script() -> str:
    """The command that runs ``trackbridge`` here: the venv's script, relative to the working directory."""
    script = Path(sys.executable).parent / "trackbridge"
    if not script.exists():
        return "trackbridge"
    try:
        return shlex.quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(script))


def _connection_lines(state: Mapping[str, Any]) -> list[str]:
    connections = state.get("connections") or {}
    if not connections:
        return ["  Connections: none (started with --no-sandbox)"]
    trackers = state.get("trackers") or {}
    width = max(len(name) for name in connections)
    lines = ["  Connections (tenant 'demo'; the CLI takes the name or the id):"]
    for name, connection_id in connections.items():
        provider = name.removesuffix("-sandbox")
        tracker = trackers.get(provider) if isinstance(trackers, Mapping) else None
        scope = (
            str(tracker.get("repo") or tracker.get("project") or "") if isinstance(tracker, Mapping) else ""
        )
        detail = f"{provider}, {scope}" if scope else provider
        lines.append(f"    {name:<{width}}  {connection_id}  ({detail})")
    return lines


def banner(stack: LocalStack, started_s: float) -> str:
    state = stack.describe()
    api_url = state["api_url"]
    key = state["api_key"]
    connections = list(state.get("connections") or {})
    lines = [
        f"trackbridge is running locally (started in {started_s:.1f} s)",
        f"  API:        {api_url}",
        f"  Swagger UI: {api_url}/docs",
        f"  API key:    {key}   (tenant 'demo')",
        *_connection_lines(state),
        f"  AWS (moto): {state['aws_endpoint_url']}   (stage '{state['stage']}', secrets under "
        f"{state['secrets_prefix']})",
        f"  State file: {stack.state_file.resolve()}",
        f"  Outbound:   public addresses, and the sandboxes at {stack.egress_allowlist or '(none)'}"
        " (TB_ALLOWED_PRIVATE_NETWORKS)",
        "",
        "Try:",
        f"  curl -s -H 'Authorization: Bearer {key}' {api_url}/connections",
    ]
    if connections:
        lines.append(f"  {_console_script()} sync {connections[0]} --wait")
    lines += ["", "Each API request and function run is logged below, one line each. Press Ctrl-C to stop."]
    return "\n".join(lines) + "\n"


@contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)


def main(args: argparse.Namespace) -> int:
    problem = port_problem(args.port)
    if problem is not None:
        sys.stderr.write(port_message(args.port, problem))
        return EXIT_PORT_TAKEN

    undo_logging = terminal_log.install(sys.stderr)
    for noisy in _NOISY_LOGGERS:
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
        functions=terminal_log.labelled_functions(),
    )
    try:
        started = time.perf_counter()
        try:
            with _quiet(_STARTUP_LOGGERS):
                stack.start()
        except SystemExit:
            # werkzeug exits when a server cannot bind, after printing why: the port was taken after the
            # check above (a race), or an address is unusable.
            sys.stderr.write(port_message(args.port, port_problem(args.port)))
            return EXIT_PORT_TAKEN
        except Exception:
            logger.exception("local.start_failed")
            sys.stderr.write("trackbridge local up: the embedded stack could not start (see the log above)\n")
            return 1
        sys.stdout.write(banner(stack, time.perf_counter() - started))
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
        undo_logging()
    return 0


__all__ = ["EXIT_PORT_TAKEN", "banner", "main", "port_message", "port_problem"]
