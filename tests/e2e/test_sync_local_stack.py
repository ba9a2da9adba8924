"""Sync end to end on the embedded stack: HTTP API -> SQS (moto) -> poller -> sync handler -> DynamoDB.

``LocalStack`` starts exactly what ``trackbridge local up`` starts (sandbox trackers and demo connections
included); the test drives it only from the outside: the REST API over HTTP, and the CLI commands
``trackbridge sync --wait``, ``trackbridge status`` and ``trackbridge verify``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.cli import main as cli
from infra.local.stack import DEMO_TENANT, LocalStack
from trackbridge.domain.trackers import TRACKERS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("sync-e2e")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = LocalStack(port=0, state_dir=tmp_path_factory.mktemp("state"), stage="synce2e").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30, trust_env=False) as client:
        yield client


def wait_for(api: httpx.Client, op_id: str, timeout_s: float = 300) -> dict[str, Any]:
    # Bounded generously (a loaded machine runs the stack's worker threads late); three of these fit in
    # the per-test timeout.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        op: dict[str, Any] = api.get(f"/sync-operations/{op_id}").json()
        if op["status"] in ("Completed", "Failed", "Cancelled"):
            return op
        time.sleep(0.2)
    raise AssertionError(f"operation {op_id} did not end in {timeout_s} s")


def test_every_provider_syncs_through_the_stack(stack: LocalStack, api: httpx.Client) -> None:
    assert set(stack.demo_connections) == set(TRACKERS)
    for provider, connection_id in stack.demo_connections.items():
        started = api.post(f"/connections/{connection_id}/syncs", json={"mode": "full"})
        assert started.status_code == 202, started.text
        op = wait_for(api, started.json()["id"])
        assert op["status"] == "Completed", (provider, op)
        assert op["results"]["created"] > 0
        assert op["results"]["failed"] == 0
        states = api.get(f"/connections/{connection_id}/sync-states").json()["items"]
        assert {s["status"] for s in states} == {"ok"}, (provider, states)


def test_cli_sync_status_and_verify(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    # Self-contained: it syncs what it verifies, assuming nothing another test did on this stack.
    state = str(stack.state_file)
    for name in (f"{provider}-sandbox" for provider in TRACKERS):
        assert cli(["sync", name, "--wait", "--local-state", state]) == 0
        out = capsys.readouterr().out
        assert "Completed" in out, (name, out)
    assert cli(["status", "--local-state", state]) == 0
    assert "github-sandbox" in capsys.readouterr().out
    for connection_id in stack.demo_connections.values():
        assert cli(["verify", connection_id, "--tenant", DEMO_TENANT, "--local-state", state]) == 0
        line = capsys.readouterr().out
        assert "lost=0 duplicated=0 stale=0 wrongly_deleted=0" in line, line

    # A comment deleted on GitHub since: the plain check reports it as extra, --strict fails on it, and a
    # full sync (which sweeps comments) makes the strict check pass again.
    github = stack.demo_connections["github"]
    assert stack.sandboxes is not None
    tracker = stack.sandboxes.trackers["github"]
    state_now = tracker.state
    comment_id = next(
        c.id
        for c in state_now.comments.values()
        if (issue := state_now.issue(c.issue_number)) is not None and not issue.pull
    )
    tracker.mutate("delete_comment", comment_id=comment_id)
    verify = ["verify", github, "--tenant", DEMO_TENANT, "--local-state", state]
    assert cli(verify) == 0
    assert f"comment {comment_id}" in capsys.readouterr().out
    assert cli([*verify, "--strict"]) == 1
    capsys.readouterr()
    assert cli(["sync", "github-sandbox", "--full", "--wait", "--local-state", state]) == 0
    capsys.readouterr()
    assert cli([*verify, "--strict"]) == 0


def test_cli_json_prints_operations_as_the_api_returns_them(
    stack: LocalStack, api: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: the stack; When: a sync runs to its end with --json
    state = str(stack.state_file)
    assert cli(["sync", "gitlab-sandbox", "--full", "--wait", "--json", "--local-state", state]) == 0
    synced = json.loads(capsys.readouterr().out)

    # Then: stdout is the final operation, exactly as the API answers it, and its counters add up
    assert synced == api.get(f"/sync-operations/{synced['id']}").json()
    results, progress = synced["results"], synced["progress"]
    counted = ("created", "updated", "unchanged", "failed")
    assert progress["processed"] == sum(results[c] for c in counted)
    assert set(results["by_entity"]) == {"issues", "comments"}
    for counter in (*counted, "deleted"):
        assert sum(e[counter] for e in results["by_entity"].values()) == results[counter]

    # status takes an operation, a connection name or id, or nothing, and prints what the API answers
    assert cli(["status", synced["id"], "--json", "--local-state", state]) == 0
    assert json.loads(capsys.readouterr().out) == synced
    gitlab = stack.demo_connections["gitlab"]
    for target in ("gitlab-sandbox", gitlab):
        assert cli(["status", target, "--json", "--local-state", state]) == 0
        assert json.loads(capsys.readouterr().out) == {"items": [synced]}
    assert cli(["status", "--json", "--local-state", state]) == 0
    latest = json.loads(capsys.readouterr().out)["items"]
    assert synced in latest
    assert {op["connection_id"] for op in latest} <= set(stack.demo_connections.values())


def test_cli_refuses_an_unknown_connection(stack: LocalStack, tmp_path: Path) -> None:
    assert cli(["sync", "no-such-connection", "--local-state", str(stack.state_file)]) == 2
    assert cli(["sync", "x", "--local-state", str(tmp_path / "missing.json")]) == 2
