"""`trackbridge local up` as a user runs it: a subprocess writes local.json and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

ROOT = Path(__file__).resolve().parents[3]


def test_local_up_serves_until_ctrl_c_then_cleans_up(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_file = state_dir / "local.json"
    # A clean environment for the child: whatever this test process points at must not leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TB_", "AWS_ENDPOINT_URL"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "local", "up", "--port", "0", "--state-dir", str(state_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state_file.exists(), "local.json never appeared"
        state = json.loads(state_file.read_text())
        mode = stat.S_IMODE(state_file.stat().st_mode)
        with httpx.Client(timeout=10) as client:
            unknown = client.get(state["api_url"].removesuffix("/v1") + "/nowhere")
            no_key = client.get(f"{state['api_url']}/connections")
            with_key = client.get(
                f"{state['api_url']}/connections", headers={"Authorization": f"Bearer {state['api_key']}"}
            )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()

    assert process.returncode == 0, stderr[-3000:]
    assert mode == 0o600
    assert state["region"] == "us-east-1"
    assert state["table"] == "trackbridge-local"
    assert state["trackers"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"
    assert no_key.status_code == 401
    # The demo key passes the real authorizer (whatever the API function then answers).
    assert with_key.status_code not in (401, 403)
    assert state["api_url"] in stdout
    assert state["api_key"] in stdout
    assert f"{state['api_url']}/docs" in stdout
    assert "stopping" in stdout
    assert not state_file.exists()
