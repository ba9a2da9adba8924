"""``trackbridge test-runs upload`` and ``trackbridge coverage`` from a local.json, through the local API
Gateway over HTTP (which hands an XML body on as API Gateway does), against issues in the synced copy."""

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
from tests.integration.api.test_test_runs_api import FIXTURES, T0
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.runtime.api_keys import issue_api_key
from trackbridge.storage.issues import IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("test-runs-cli")]


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
def local_json(gateway: LocalApiGateway, tmp_path: Path) -> Path:
    """A tenant with a GitHub connection named ``web`` whose issues #45 and #46 are synced and open."""
    tenant = f"cli-{uuid.uuid4().hex[:12]}"
    key = issue_api_key(tenant)
    body = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION), "name": "web"}
    web = container.connection_repository().create(tenant, Connection.model_validate(body))
    for number in (45, 46):
        issue = Issue(
            ref=f"{web.id}.{number}", external_id=web.external_id(number), connection_id=web.id,
            provider="github", key=f"#{number}", title=f"issue {number}", body="", status="open",
            status_category="todo", created_at=T0, updated_at=T0,
        ).with_hash()  # fmt: skip
        IssueRepository(container.table()).put_if_newer(tenant, issue)
    path = tmp_path / "local.json"
    path.write_text(json.dumps({"api_url": gateway.api_url, "api_key": key}), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_upload_then_coverage(local_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = ("--local-state", str(local_json))
    report = str(FIXTURES / "pytest.xml")

    # When: the pytest report is uploaded for suite web-unit, #N keys naming the "web" connection
    upload = (
        "test-runs",
        "upload",
        report,
        "--suite",
        "web-unit",
        "--commit",
        "c0ffee1",
        "--connection",
        "web",
    )
    code, out, err = _run(capsys, *upload, *state)

    # Then: the counts, the link made for #45, and the Jira keys no connection holds
    assert (code, err) == (0, "")
    assert "3 passed, 1 failed, 1 error, 1 skipped, 0 flaky; 1 links created" in out
    assert "unresolved PROJ-12: no Jira connection of that project (1 tests)" in out
    assert "failing test_case:web-unit/tests.test_checkout/test_PROJ_12_empty_cart_is_refused" in out

    # When: coverage is asked for; Then: #46 has no test, the two failing tests are listed
    code, out, err = _run(capsys, "coverage", "--suite", "web-unit", *state)
    assert (code, err) == (0, "")
    assert "1 of 2 open issues covered" in out
    gaps = out.split("issues without tests\n", 1)[1].split("\n\n", 1)[0]
    assert "#46" in gaps
    assert "#45" not in gaps

    # And: --json prints the API's answers
    code, out, _ = _run(capsys, "coverage", "--suite", "web-unit", "--json", *state)
    assert code == 0
    assert json.loads(out)["counts"]["failing_tests"] == 2


def test_bad_input_exits_2_and_a_refusal_exits_1(
    local_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ("--local-state", str(local_json))

    code, _, err = _run(capsys, "test-runs", "upload", str(tmp_path / "nope.xml"), "--suite", "s", *state)
    assert (code, "no such file" in err) == (2, True)

    not_xml = tmp_path / "report.xml"
    not_xml.write_text("PASSED 12 tests", encoding="utf-8")
    code, _, err = _run(capsys, "test-runs", "upload", str(not_xml), "--suite", "s", *state)
    assert code == 1
    assert "400 INVALID_BODY" in err

    code, _, err = _run(capsys, "coverage", "--suite", "never-uploaded", *state)
    assert code == 1
    assert "404 NOT_FOUND" in err
