"""The sync benchmark runs from one command: a tiny run (50 issues, GitHub, a latency-model row of 30) prints
its tables, its DynamoDB cost figures and passes. No timing is asserted: only that each figure is there."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.sync_requests import HEADERS

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync-bench")]

ROOT = Path(__file__).resolve().parents[3]
MONEY = r"\$([0-9][0-9,]*\.[0-9]+)"


@pytest.fixture(scope="module")
def output() -> str:
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
            "--ddb-latency-ms",
            "5",
            "--latency-issues",
            "30",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def _table(output: str, title: str) -> list[dict[str, str]]:
    """The rows of the table under ``title``, as {column: cell}."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(title))
    header = [cell.strip() for cell in lines[start + 1].split(" | ")]
    rows = []
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        rows.append(dict(zip(header, (cell.strip() for cell in line.split(" | ")), strict=True)))
    return rows


def test_both_tables_have_every_column_and_a_completed_github_row(output: str) -> None:
    assert re.search(r"\d+ cores, Python 3\.\d+", output)
    for title in ("plain", "latency model: each DynamoDB call of the sync and bare runs waits 5 ms"):
        (row,) = _table(output, title)
        assert list(row) == HEADERS
        assert row["provider"] == "github"
        assert row["full"] == "Completed"
        # The idle incremental: two conditional requests, both 304, for the sync and both bare runs.
        assert row["idle requests (304s) / floor"] == "2 (2; bare 2/2) / 2"
        assert row["idle writes"] == "0"
        # The repeat full sync writes no item and deletes nothing.
        beyond_floor, writes, deleted = (cell.strip() for cell in row[HEADERS[9]].split(","))
        assert (writes, deleted) == ("0", "0")
        assert int(beyond_floor) >= 0
        for column in ("wall: sync / bare (best of 2)", "idle wall: sync / bare (best of 2)"):
            assert re.fullmatch(r"[0-9.]+ s / [0-9.]+ s \([0-9.]+x\)", row[column]), row[column]
        sync_wru, sync_rru = (float(v) for v in row["WRU / RRU per item: sync"].split(" / "))
        bare_wru, bare_rru = (float(v) for v in row["WRU / RRU per item: bare"].split(" / "))
        # Every item costs at least one write unit, and the bare run reads nothing.
        assert sync_wru >= 1
        assert bare_wru >= 1
        assert sync_rru > 0
        assert bare_rru == 0


def test_cost_figures_are_positive_numbers(output: str) -> None:
    cost = next(line for line in output.splitlines() if line.startswith("cost github: full sync"))
    per_item = re.search(r"full sync ([0-9.]+) WRU .* \+ ([0-9.]+) RRU per synced item", cost)
    assert per_item is not None, cost
    assert float(per_item.group(1)) > 0
    assert float(per_item.group(2)) > 0
    per_million = re.search(MONEY + " per million items", cost)
    assert per_million is not None
    assert float(per_million.group(1).replace(",", "")) > 0

    monthly = next(line for line in output.splitlines() if line.startswith("monthly github: "))
    amounts = [float(m.replace(",", "")) for m in re.findall(MONEY, monthly)]
    # The total, the two prices, the idle part and the changed part: all positive.
    assert len(amounts) == 5, monthly
    assert all(a > 0 for a in amounts), monthly
    total, _wru_price, _rru_price, idle, changed = amounts
    assert total == pytest.approx(idle + changed, abs=0.01)
    assert "every 15 minutes" in monthly
    assert "1% of the issues" in monthly
