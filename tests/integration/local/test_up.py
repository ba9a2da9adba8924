"""`trackbridge local up` as a user runs it: a subprocess writes local.json and stops cleanly on Ctrl-C.

A user of `make up` has only the runtime set (requirements/local.lock), so the child runs with every
module of the dev set's own packages made unimportable: the stack, a request through each kind of route
and a sync all work without them. Its terminal shows the banner with the demo connections, then one
readable line per request and function run, and no EMF metric or JSON log line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import httpx
import pytest

from trackbridge.domain.trackers import TRACKERS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

ROOT = Path(__file__).resolve().parents[3]

# Runs `trackbridge` with the modules in argv[1] (a JSON list) unimportable, as in a runtime-set venv.
_RUNTIME_SET_ONLY = """
import importlib.abc, json, runpy, sys
blocked = frozenset(json.loads(sys.argv[1]))

class DevSetOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            sys.stderr.write(f"dev-set-only import: {name}\\n")
            raise ModuleNotFoundError(f"No module named {name!r} (not in requirements/local.lock)", name=name)
        return None

sys.meta_path.insert(0, DevSetOnly())
sys.argv = ["trackbridge", *sys.argv[2:]]
runpy.run_module("infra.cli", run_name="__main__")
"""


def _pins(lock: str) -> set[str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {re.sub(r"[-_.]+", "-", name).lower() for name in re.findall(r"^(\S+)==", text, re.MULTILINE)}


def dev_set_only_modules() -> list[str]:
    """Top-level modules whose every distribution is in the dev lock but not in the runtime lock."""
    dev_only = _pins("dev.lock") - _pins("local.lock")
    modules = []
    for module, distributions in packages_distributions().items():
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions}
        if names and names <= dev_only:
            modules.append(module)
    return sorted(modules)


def child_env() -> dict[str, str]:
    # A clean environment for the child: whatever this test process points at must not leak into it.
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("TB_", "AWS_ENDPOINT_URL", "POWERTOOLS_"))
    }


def wait_for_operation(client: httpx.Client, api_url: str, key: str, operation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    operation: dict[str, Any] = {}
    while time.monotonic() < deadline:
        operation = client.get(
            f"{api_url}/sync-operations/{operation_id}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        if operation.get("status") in ("Completed", "Failed", "Cancelled"):
            return operation
        time.sleep(0.5)
    raise AssertionError(f"the sync did not finish: {operation}")


def test_local_up_serves_until_ctrl_c_then_cleans_up(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_file = state_dir / "local.json"
    blocked = dev_set_only_modules()
    assert {"pytest", "mypy", "aws_cdk"} <= set(blocked)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _RUNTIME_SET_ONLY,
            json.dumps(blocked),
            *("local", "up", "--port", "0", "--state-dir", str(state_dir)),
        ],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state_file.exists(), "local.json never appeared"
        state = json.loads(state_file.read_text())
        mode = stat.S_IMODE(state_file.stat().st_mode)
        api_url, key = state["api_url"], state["api_key"]
        authorized = {"Authorization": f"Bearer {key}"}
        with httpx.Client(timeout=30) as client:
            unknown = client.get(api_url.removesuffix("/v1") + "/nowhere")
            no_key = client.get(f"{api_url}/connections")
            with_key = client.get(f"{api_url}/connections", headers=authorized)
            github = state["connections"]["github-sandbox"]
            started = client.post(
                f"{api_url}/connections/{github}/syncs", json={"mode": "full"}, headers=authorized
            )
            assert started.status_code == 202, started.text
            operation = wait_for_operation(client, api_url, key, started.json()["id"])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=120)
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
    assert operation["status"] == "Completed", (operation, stderr[-3000:])
    assert "stopping" in stdout
    assert not state_file.exists()

    # The banner: where things are, and the demo connections by name and id.
    assert state["api_url"] in stdout
    assert state["api_key"] in stdout
    assert f"{state['api_url']}/docs" in stdout
    assert state["secrets_prefix"] in stdout
    assert set(state["connections"]) == {f"{provider}-sandbox" for provider in TRACKERS}
    for name, connection_id in state["connections"].items():
        assert re.search(rf"^\s+{name}\s+{connection_id}\s", stdout, re.MULTILINE), stdout

    # The terminal: one labelled line per request and per function run; no EMF, no JSON blobs.
    lines = stderr.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("{") or "CloudWatchMetrics" in line]

    def logged(label: str, text: str) -> bool:
        pattern = re.compile(rf"^\d\d:\d\d:\d\d  {label} +{re.escape(text)}")
        return any(pattern.match(line) for line in lines)

    assert logged("gateway", "GET /nowhere -> 404"), stderr[-3000:]
    assert logged("gateway", "GET /v1/connections -> 401"), stderr[-3000:]
    assert logged("api", "GET /v1/connections -> 200"), stderr[-3000:]
    assert logged("api", f"POST /v1/connections/{github}/syncs -> 202"), stderr[-3000:]
    assert logged("sync", "SQS trackbridge-local-sync"), stderr[-3000:]
    assert logged("sync", "sync.completed"), stderr[-3000:]


def test_a_taken_port_is_named_with_how_to_pick_another(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "infra.cli",
                "local",
                "up",
                "--port",
                str(port),
                "--state-dir",
                str(state),
            ],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 2, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert not state.exists()
