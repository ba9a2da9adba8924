"""The suite's per-test timeout: a hung test fails with "Timeout" instead of eating CI's time budget.

The project's pytest configuration (``[tool.pytest.ini_options]``) sets a generous default ``timeout`` and the
``signal`` method, which works under xdist (workers run tests on their main thread) and fails only the hung
test, where ``thread`` would kill the whole worker. Checked in a scratch directory with the project's config
and a tiny timeout on the hung test alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFIG_PROBE = """
import json, os

def test_reports_the_timeout_settings(request):
    settings = {name: request.config.getini(name) for name in ("timeout", "timeout_method")}
    with open(os.environ["PROBE_OUT"], "w") as handle:
        json.dump(settings, handle)
"""

HUNG = """
import time

import pytest

@pytest.mark.timeout(2)  # only the hung test has a short timeout: a loaded machine may run the others late
def test_hangs():
    time.sleep(120)

def test_after_the_hung_one_still_runs(tmp_path):
    marker = tmp_path / "ran"
    marker.write_text("after the hung test")
    assert marker.read_text() == "after the hung test"
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTEST_XDIST"))}
    env["PROBE_OUT"] = str(tmp_path / "probe.json")
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path)]
    command += ["-p", "no:cacheprovider", "-q", *args]
    # the subprocess timeout is only a safety net for this test itself, never an assertion
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_the_project_config_sets_a_generous_signal_timeout(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(CONFIG_PROBE)

    run = _pytest(tmp_path, "-n", "0", "test_probe.py")

    assert run.returncode == 0, run.stdout + run.stderr
    settings = json.loads((tmp_path / "probe.json").read_text())
    assert settings["timeout_method"] == "signal"
    assert 60 <= float(settings["timeout"]) <= 3600  # generous, yet far below CI's 90 minutes


def test_a_hung_test_fails_with_timeout_under_xdist(tmp_path: Path) -> None:
    (tmp_path / "test_hung.py").write_text(HUNG)
    (tmp_path / "test_probe.py").write_text(CONFIG_PROBE)

    run = _pytest(tmp_path, "-n", "1", "test_hung.py", "test_probe.py")

    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    # the method is the project's (the marker only shortens the hung test's timeout)
    assert json.loads((tmp_path / "probe.json").read_text())["timeout_method"] == "signal"
    assert "Failed: Timeout" in output
    assert "FAILED test_hung.py::test_hangs" in output
    assert "crashed" not in output  # the signal method fails the test, not the worker
    assert "1 failed, 2 passed" in output
