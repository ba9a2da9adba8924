"""The README's examples, run as written in a plain shell against a running embedded stack.

Each bash block after a ``<!-- readme-example: NAME -->`` marker runs with ``bash -euo pipefail`` in a
directory laid out like the repository's root (``.trackbridge/local.json`` of a real stack, ``.venv`` the
project's), with the virtualenv *not* on ``PATH``: what a new user's second terminal has. The one change
made to the text is the stack's address (``localhost:8000`` -> the port this test's stack got), so the
test can run beside a developer's own ``make up``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("readme-examples")]

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"<!-- readme-example: (?P<name>[\w-]+) -->\s*```bash\n(?P<body>.*?)```", re.S)


def readme_examples() -> dict[str, str]:
    return {m["name"]: m["body"] for m in _BLOCK.finditer((ROOT / "README.md").read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, LocalStack]]:
    root = tmp_path_factory.mktemp("checkout")
    (root / ".venv").symlink_to(Path(sys.prefix))
    stack = LocalStack(port=0, state_dir=root / ".trackbridge", stage="readme", region="ap-south-1").start()
    try:
        yield root, stack
    finally:
        stack.stop()


def test_the_readme_marks_its_runnable_examples() -> None:
    assert "quick-start" in readme_examples()


def run_example(name: str, root: Path, stack: LocalStack) -> str:
    """Run the README's block ``name`` in a plain shell at ``root``; its stdout, after asserting exit 0."""
    port = stack.api_url.split(":")[-1].split("/")[0]
    script = readme_examples()[name].replace("localhost:8000", f"localhost:{port}")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TB_", "TRACKBRIDGE_"))}
    env["PATH"] = os.pathsep.join(path)
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run.stdout


def test_api_key_examples_run_as_written(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir

    out = run_example("api-keys", root, stack)

    # The operator's listing shows acme's key, never a secret; the revoked key is refused at once
    assert '"tenant": "acme"' in out
    assert "tb_" not in out, "a key's secret was printed"
    assert "UNAUTHORIZED" in out


def test_quick_start_examples_run_as_written(workdir: tuple[Path, LocalStack]) -> None:
    # Given: the quick start's block, pointed at this test's stack; When: bash runs it
    root, stack = workdir
    out = run_example("quick-start", root, stack)

    # Then: every command succeeded and said what the README promises
    assert '"status":"ok"' in out.replace(" ", "")
    assert "github-sandbox" in out
    assert "Completed" in out
    assert re.search(r"lost=0 duplicated=0 stale=0", out), out
    assert (stack.api_key or "-") not in out, "a key's secret was printed"


def test_idempotency_example_creates_one_issue(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir

    out = run_example("idempotency", root, stack)

    # Both attempts answered 201 with the same body; the second was a replay
    statuses = [line for line in out.splitlines() if line.startswith("HTTP/")]
    assert len(statuses) == 2, out
    assert all(" 201" in line for line in statuses), out
    assert out.lower().count("idempotent-replayed: true") == 1, out
    bodies = [line for line in out.splitlines() if line.startswith("{")]
    assert len(bodies) == 2, out
    assert bodies[0] == bodies[1], out


def test_sync_cli_example_runs_as_written(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir

    out = run_example("sync-cli", root, stack)

    assert out.count("Completed") >= 2, out  # the sync's end, then status
    assert re.search(r"lost=0 duplicated=0 stale=0", out), out


def test_scan_links_example_links_a_seeded_commit(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir

    out = run_example("scan-links", root, stack)

    # The scan's answer, then the links of issue 4: a seeded commit says "Fixes #4"
    decoder, text, documents = json.JSONDecoder(), out.strip(), []
    assert '{"commits"' in text, text
    position = text.index('{"commits"')
    for _ in range(2):  # curl prints no newline: two JSON documents side by side
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    scanned, linked = documents
    assert scanned["commits"] > 0
    assert scanned["requests"] >= 2
    assert {"links_created", "unresolved"} <= set(scanned)
    assert any(x["type"] == "auto_detected" and x["object"]["schema"] == "commit" for x in linked["items"])


def test_junit_example_uploads_links_and_reports_coverage(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir

    out = run_example("test-runs", root, stack)

    # The curl upload: a 201 body that linked both tests naming synced GitHub issues
    first = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert (first["suite"], first["commit"], first["branch"]) == ("web-unit", "9fceb02", "main")
    assert first["counts"] == {"passed": 2, "failed": 1, "error": 0, "skipped": 0, "flaky": 0}
    assert first["links_created"] == 2
    assert [u["key"] for u in first["unresolved_keys"]] == ["PROJ-7"]
    # The CLI's upload of the same report links nothing twice; coverage prints its three lists
    assert "2 passed, 1 failed, 0 error, 0 skipped, 0 flaky; 0 links created" in out
    assert "failing test_case:web-unit/tests.test_checkout/test_empty_cart" in out
    for heading in ("issues without tests", "failing tests", "tests on closed issues"):
        assert f"\n{heading}\n" in out
    assert (stack.api_key or "-") not in out, "a key's secret was printed"


def test_tracked_users_example_runs_as_written(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir
    account = json.loads((root / ".trackbridge" / "local.json").read_text())["trackers"]["jira"]["account_id"]

    out = run_example("tracked-users", root, stack)

    # The first PUT tracks the account and names its backfill; the second tracks nobody again
    tracked, emptied = (json.loads(line) for line in out.splitlines() if line.startswith("{"))
    assert tracked["users"] == [account]
    assert tracked["backfill_users"] == [account]
    assert tracked["backfill_operation_id"].startswith("op_")
    assert emptied["users"] == []
    assert emptied["backfill_operation_id"] == tracked["backfill_operation_id"]


def test_repository_activity_example_summarises_the_synced_history(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir

    out = run_example("repository-activity", root, stack)

    # The CLI's last lines (open requests, releases, languages), then the API's summary of the 26 weeks
    # before 2025: the sandbox's seeded commits and languages, synced just now
    assert "open requests: " in out
    assert "languages: Python " in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert len(summary["weeks"]) == 26, summary
    assert summary["totals"]["commits"] > 0
    assert summary["languages"]
    assert summary["last_synced_at"] is not None
    assert summary["provider"] == "github"


def test_sprints_users_example_lists_the_synced_catalogs(workdir: tuple[Path, LocalStack]) -> None:
    root, stack = workdir

    out = run_example("sprints-users", root, stack)

    # Three JSON lines: active people, the active sprints, and the issues of the first of them
    users, sprints, issues = (json.loads(line) for line in out.splitlines() if line.startswith("{"))
    assert 0 < len(users["items"]) <= 3
    assert all(u["active"] for u in users["items"])
    assert sprints["items"]
    assert {s["state"] for s in sprints["items"]} == {"active"}
    sprint = sprints["items"][0]["id"]
    assert all(sprint in issue["sprint_ids"] for issue in issues["items"])
