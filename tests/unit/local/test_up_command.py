"""`trackbridge local up` without a stack: the banner, and a port taken before the start or during it."""

from __future__ import annotations

import argparse
import errno
import socket
from pathlib import Path
from typing import Any

import pytest

from infra.local import up


class FakeStack:
    """What the banner and main() use of LocalStack."""

    def __init__(self, state: dict[str, Any], *, start_error: BaseException | None = None, **_: Any) -> None:
        self.state = state
        self.state_file = Path("/tmp/x/.trackbridge/local.json")
        self.egress_allowlist = "127.0.0.1/32:1"
        self.start_error = start_error
        self.stopped = 0

    def describe(self) -> dict[str, Any]:
        return self.state

    def start(self) -> FakeStack:
        if self.start_error is not None:
            raise self.start_error
        return self

    def stop(self) -> None:
        self.stopped += 1


STATE = {
    "api_url": "http://127.0.0.1:8000/v1",
    "api_key": "tb_k_s",
    "aws_endpoint_url": "http://127.0.0.1:9000",
    "stage": "local",
    "secrets_prefix": "trackbridge/local/",
    "trackers": {"github": {"repo": "acme/widgets"}, "jira": {"project": "ACME"}},
    "connections": {"github-sandbox": "conn_aaa", "jira-sandbox": "conn_bbb"},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_banner_lists_the_demo_connections_by_name_and_id() -> None:
    text = up.banner(FakeStack(STATE), 2.5)

    assert "started in 2.5 s" in text
    assert "    github-sandbox  conn_aaa  (github, acme/widgets)\n" in text
    assert "    jira-sandbox    conn_bbb  (jira, ACME)\n" in text
    assert "stage 'local', secrets under trackbridge/local/" in text
    assert "sync github-sandbox --wait" in text


def test_without_sandboxes_the_banner_says_there_are_no_connections() -> None:
    text = up.banner(FakeStack({**STATE, "connections": {}, "trackers": {}}), 1.0)

    assert "Connections: none (started with --no-sandbox)" in text
    assert " sync " not in text


def test_a_taken_port_is_found_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = up.port_problem(port)

    assert problem is not None
    assert problem.errno == errno.EADDRINUSE
    assert up.port_problem(0) is None
    assert up.port_problem(free_port()) is None


def test_the_message_names_the_port_and_the_ways_to_pick_another() -> None:
    message = up.port_message(8000, OSError(errno.EADDRINUSE, "Address already in use"))

    assert message.startswith("trackbridge local up: port 8000 on 127.0.0.1 is already in use")
    assert "--port 8001, or --port 0" in message
    assert "make up PORT=8001" in message
    denied = up.port_message(80, OSError(errno.EACCES, "Permission denied"))
    assert "cannot listen on port 80 on 127.0.0.1: Permission denied" in denied


def test_a_port_taken_while_the_stack_starts_exits_2_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # werkzeug prints why and exits when a server cannot bind: the race between the check and the start.
    stacks: list[FakeStack] = []

    def make_stack(**kwargs: Any) -> FakeStack:
        stacks.append(FakeStack(STATE, start_error=SystemExit(1), **kwargs))
        return stacks[-1]

    monkeypatch.setattr(up, "LocalStack", make_stack)
    port = free_port()
    args = argparse.Namespace(port=port, no_sandbox=False, seed="demo", state_dir="/tmp/unused")

    code = up.main(args)

    captured = capsys.readouterr()
    assert code == up.EXIT_PORT_TAKEN == 2
    assert f"port {port} on 127.0.0.1" in captured.err
    assert "--port 0" in captured.err
    assert "Traceback" not in captured.err
    assert stacks[0].stopped >= 1
    assert captured.out == ""
