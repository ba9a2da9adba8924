"""``trackbridge alerts list|test`` from a local.json, through the local API Gateway over HTTP on moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.local.apigw import LocalApiGateway
from infra.local.invoke import LocalFunctions
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.runtime.api_keys import issue_api_key

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("alerts-cli")]


@pytest.fixture(scope="module")
def gateway(local_resources: Any) -> Iterator[LocalApiGateway]:
    container.reset()
    gateway = LocalApiGateway(LocalFunctions(), throttle_rate=10_000, throttle_burst=10_000)
    try:
        gateway.start()
        yield gateway
    finally:
        gateway.stop()
        container.reset()


@pytest.fixture
def tenant() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def local_json(gateway: LocalApiGateway, tenant: str, tmp_path: Path) -> Path:
    path = tmp_path / "local.json"
    path.write_text(json.dumps({"api_url": gateway.url, "api_key": issue_api_key(tenant)}), encoding="utf-8")
    return path


def test_list_shows_open_incidents_and_channel_health(
    local_json: Path, tenant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = Connection.model_validate(
        {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}
    )
    container.operator_alerts().incident(
        tenant, connection, code="AUTH_INVALID", detail="401", operation_id=None, at=datetime.now(UTC)
    )

    assert main(["alerts", "list", "--local-state", str(local_json)]) == 0
    out = capsys.readouterr().out
    assert "1 open incident(s)" in out
    assert "AUTH_INVALID" in out
    assert connection.id in out
    assert "email" in out

    assert main(["alerts", "list", "--closed", "--json", "--local-state", str(local_json)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["incidents"] == []
    assert [c["name"] for c in listed["channels"]] == ["email"]


def test_test_sends_to_the_topic_and_an_unknown_channel_is_refused(
    local_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "test", "email", "--local-state", str(local_json)]) == 0
    assert "email: delivered" in capsys.readouterr().out

    assert main(["alerts", "test", "nowhere", "--local-state", str(local_json)]) == 1
    assert "404" in capsys.readouterr().err
