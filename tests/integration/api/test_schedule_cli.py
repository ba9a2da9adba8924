"""``trackbridge schedule show|set|pause|resume|trigger`` from a local.json, through the local API Gateway
over HTTP: by connection name, as text and as JSON, with the API's refusals as exit code 1."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.local.apigw import LocalApiGateway
from infra.local.invoke import LocalFunctions
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("schedule-cli")]

DISCARD = "http://127.0.0.1:9"  # nothing here calls the tracker


@pytest.fixture(scope="module")
def gateway(local_resources: Any) -> Iterator[LocalApiGateway]:
    container.reset()
    gateway = LocalApiGateway(LocalFunctions(), throttle_rate=10_000, throttle_burst=10_000)
    try:
        gateway.start()
        with egress_allowed(DISCARD):
            yield gateway
    finally:
        gateway.stop()
        container.reset()


@pytest.fixture
def local_json(gateway: LocalApiGateway, tmp_path: Path) -> Path:
    import httpx

    key = issue_api_key(f"cli-{uuid.uuid4().hex[:12]}")
    connection = {
        "name": "web",
        "provider": "github",
        "base_url": DISCARD,
        "scope": {"repo": "acme/web"},
        "credentials": {"token": "-".join(("fake", "cli", "token"))},
        "schedule": {"expression": "rate(15 minutes)"},
    }
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        answer = http.post("/v1/connections", json=connection)
        assert answer.status_code == 201, answer.text
    path = tmp_path / "local.json"
    path.write_text(json.dumps({"api_url": gateway.api_url, "api_key": key}), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_set_pause_resume_trigger_by_name(local_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = ("--local-state", str(local_json))

    code, out, err = _run(capsys, "schedule", "show", "web", *state)
    assert code == 0, err
    assert "expression: rate(15 minutes) (UTC)" in out
    assert "state:      active" in out

    code, out, err = _run(
        capsys, "schedule", "set", "web", "rate(30 minutes)", "--timezone", "Europe/Berlin", *state
    )
    assert code == 0, err
    assert "expression: rate(30 minutes) (Europe/Berlin)" in out

    code, out, err = _run(capsys, "schedule", "pause", "web", "--reason", "maintenance", "--json", *state)
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["paused"], shown["paused_reason"]) == (True, "maintenance")

    code, out, err = _run(capsys, "schedule", "trigger", "web", *state)
    assert code == 0, err
    assert out.startswith("started op_")

    code, out, err = _run(capsys, "schedule", "trigger", "web", *state)
    assert code == 1  # a sync is already running: the API's 409, said in words
    assert "409 SYNC_RUNNING" in err

    code, out, err = _run(capsys, "schedule", "resume", "web", *state)
    assert code == 0, err
    assert "state:      active" in out


def test_a_bad_expression_is_refused_and_an_unknown_connection_is_bad_input(
    local_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ("--local-state", str(local_json))
    code, _, err = _run(capsys, "schedule", "set", "web", "rate(5 minute)", *state)
    assert code == 1
    assert "422" in err
    assert "rate(5 minutes)" in err
    code, _, err = _run(capsys, "schedule", "show", "nosuch", *state)
    assert code == 2
    assert "no connection named 'nosuch'" in err
