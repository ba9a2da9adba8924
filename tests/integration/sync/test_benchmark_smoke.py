"""The sync benchmark runs from one command: a tiny run (50 issues, GitHub) prints its table and passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync-bench")]

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_smoke() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.sync_requests",
            "--provider",
            "github",
            "--issues",
            "50",
            "--no-naive",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    table = completed.stdout
    assert "floor (ratio)" in table
    row = next(line for line in table.splitlines() if line.startswith("github"))
    assert "Completed" in row
    assert "2 (2 x 304)" in row  # the idle incremental: two conditional requests, both 304
