"""The webhook benchmark runs from one command: a tiny run prints its three tables with a row per tracker and
passes its own correctness checks. No timing is asserted: only that each figure is there and adds up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.webhooks import measurable
from infra.local.trackers import SANDBOXES

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("webhooks-bench"), pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?x?$")
MUTATIONS = 3
DELIVERIES = 6


@pytest.fixture(scope="module")
def output() -> str:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.webhooks",
            "--rounds",
            "5",
            "--latency-mutations",
            str(MUTATIONS),
            "--apply-deliveries",
            str(DELIVERIES),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def table(output: str, title: str) -> dict[str, dict[str, str]]:
    """The rows of the table whose title starts with ``title``, by provider, as {column: cell}."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(title))
    header = [cell.strip() for cell in lines[start + 1].split(" | ")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        row = dict(zip(header, (cell.strip() for cell in line.split(" | ")), strict=True))
        rows[row["provider"]] = row
    return rows


def test_the_header_names_the_date_and_the_machine(output: str) -> None:
    assert re.search(
        r"webhooks benchmark \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00, \d+ cores, Python 3\.", output
    )
    assert "FAILED" not in output


def test_acknowledgement_rows_carry_both_medians_and_their_ratio(output: str) -> None:
    rows = table(output, "acknowledgement:")
    assert set(rows) == {name for name in SANDBOXES if measurable(name)}
    for provider, row in rows.items():
        cells = [row["trackbridge ms"], row["bare ms"], row["ratio"], row["no-op ms"]]
        assert all(NUMBER.match(cell) for cell in cells), (provider, row)
        ratio = float(row["trackbridge ms"]) / float(row["bare ms"])
        assert float(row["ratio"].rstrip("x")) == pytest.approx(ratio, abs=0.01 + ratio * 0.01)
        # A note is printed exactly when the ratio is over the target
        noted = f"note: {provider} acknowledgement is" in output
        assert noted == (float(row["ratio"].rstrip("x")) > 2.0)


def test_latency_rows_count_every_mutation(output: str) -> None:
    rows = table(output, "webhook to visible:")
    assert set(rows) == {name for name in SANDBOXES if measurable(name)}
    for row in rows.values():
        assert row["mutations"] == str(MUTATIONS)
        median, p95, worst = float(row["median ms"]), float(row["p95 ms"]), float(row["max ms"])
        assert 0 < median <= p95 <= worst


def test_throughput_rows_applied_everything_queued(output: str) -> None:
    rows = table(output, "apply throughput:")
    assert set(rows) == {name for name in SANDBOXES if measurable(name)}
    for row in rows.values():
        assert int(row["queued"]) >= DELIVERIES
        assert row["applied"] == row["queued"]
        # every delivery here carries one change at least (an edit or a comment)
        assert int(row["changes"]) >= int(row["applied"])
        assert float(row["seconds"]) > 0
        assert float(row["changes/s"]) == pytest.approx(
            int(row["changes"]) / float(row["seconds"]), rel=0.05, abs=0.1
        )
