"""``trackbridge sandbox serve`` in a subprocess: state file, live trackers, clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_serve_writes_state_and_stops_cleanly(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    command = [
        sys.executable, "-m", "infra.cli", "sandbox", "serve",
        "--port", "0", "--issues", "12", "--comments-per-issue", "1", "--seed", "ci",
        "--state-file", str(state_file),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state_file.exists(), (
            process.stderr.read().decode() if process.poll() is not None else "timeout"
        )
        trackers = json.loads(state_file.read_text())["trackers"]
        github = trackers["github"]
        assert github["token"] == "sandbox-github-token-ci"
        assert github["repo"] == "acme/widgets"

        issues = httpx.get(
            f"{github['url']}/repos/{github['repo']}/issues",
            params={"state": "all", "per_page": "100"},
            headers={"Authorization": f"Bearer {github['token']}"},
            trust_env=False,
            timeout=60,
        )
        assert issues.status_code == 200
        assert len(issues.json()) == 12

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not state_file.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)


def test_serve_rejects_bad_sizes(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "infra.cli", "sandbox", "serve", "--issues", "-5"]

    result = subprocess.run(
        [*command, "--state-file", str(tmp_path / "s")],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert b"issues must be between" in result.stderr
