"""The auto-issue storm benchmark runs from one command: a tiny storm prints its three tables and passes its
own correctness checks. No timing is asserted: only that each figure is there and adds up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("auto-issue-bench"), pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 20  # 18 posted, 2 duplicates


@pytest.fixture(scope="module")
def output() -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.auto_issue_storm", "--events", str(EVENTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def row(output: str, title: str) -> list[dict[str, str]]:
    """The rows of the table whose title starts with ``title``, as {column: cell}."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(title))
    header = [cell.strip() for cell in lines[start + 1].split(" | ")]
    rows = []
    for line in lines[start + 3 :]:
        if not line.strip() or line.startswith("ratio:"):
            break
        rows.append(dict(zip(header, (cell.strip() for cell in line.split(" | ")), strict=True)))
    return rows


def test_the_header_names_the_date_and_the_machine(output: str) -> None:
    assert re.search(
        r"auto-issue storm benchmark \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00, \d+ cores", output
    )
    assert "FAILED" not in output


def test_events_in_counts_every_post_and_duplicate(output: str) -> None:
    (sent,) = row(output, "events in:")
    assert sent["posted"] == sent["accepted"] == str(EVENTS - 2)
    assert sent["duplicates"] == "2"
    assert float(sent["seconds"]) > 0


def test_both_consumers_drained_every_delivery_and_the_ratio_is_theirs(output: str) -> None:
    drained = {r["consumer"]: r for r in row(output, "through the queue:")}
    assert set(drained) == {"bare", "trackbridge"}
    for each in drained.values():
        assert each["deliveries"] == str(EVENTS)
        assert each["failed"] == "0"
        # seconds are printed to the millisecond: the rate lies between the printed bounds' rates
        seconds, rate = float(each["seconds"]), float(each["deliveries/s"])
        assert EVENTS / (seconds + 0.0005) - 0.05 <= rate <= EVENTS / max(seconds - 0.0005, 1e-6) + 0.05
    printed = re.search(r"ratio: the bare consumer is ([0-9.]+)x", output)
    assert printed is not None, output
    ratio = float(printed[1])
    expected = float(drained["bare"]["deliveries/s"]) / float(drained["trackbridge"]["deliveries/s"])
    assert ratio == pytest.approx(expected, rel=0.05, abs=0.1)


def test_one_issue_no_comment_and_every_event_counted(output: str) -> None:
    (outcome,) = row(output, "outcome at the tracker")
    assert outcome["issues created"] == "1"
    assert outcome["comments"] == "0"
    assert outcome["events counted"] == str(EVENTS - 2)
    assert int(outcome["tracker requests"]) >= 1
