"""The listing benchmark runs from one command: a small run checks every answer and prints the ratio."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("list-issues-bench")]

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_smoke() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.list_issues", "--issues", "30", "--rounds", "3", "--limit", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Exit 0: every answer was a 200 with the bare query's 10 issues, in its order, without bodies
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    out = completed.stdout
    assert "error:" not in out
    assert re.search(r"^ratio api / bare: \d+\.\d\dx \(target <= 2x\)$", out, re.MULTILINE), out
    assert re.search(r"^api   GET /v1/issues\?limit=10 .* median +\d+\.\d\d ms", out, re.MULTILINE), out
    assert "what trackbridge adds per page" in out
