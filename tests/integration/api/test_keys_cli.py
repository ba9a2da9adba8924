"""``trackbridge keys create`` against an embedded stack described by a local-state file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from infra.cli import main
from tests.integration.api.conftest import METHOD_ARN
from tests.unit.api.support import FakeLambdaContext
from trackbridge.runtime import container

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

TOUCHED = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "TB_TABLE_NAME",
)


@pytest.fixture
def state_file(stack: LocalResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The command points the process at the file's stack; remember the environment so the test restores it.
    for name in TOUCHED:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    # Prove the file, not the environment, decides where the key goes
    monkeypatch.setenv("TB_TABLE_NAME", "not-the-table")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    path = tmp_path / "local.json"
    path.write_text(
        json.dumps(
            {"aws_endpoint_url": stack.endpoint_url, "region": stack.region, "table": stack.table_name}
        )
    )
    return path


def test_prints_only_the_key_and_the_key_works(
    state_file: Path, capsys: pytest.CaptureFixture[str], stack: LocalResources
) -> None:
    try:
        code = main(
            [
                "keys",
                "create",
                "--tenant",
                "cli-tenant",
                "--scopes",
                "connections:read,audit:read",
                "--local-state",
                str(state_file),
            ]
        )
        out = capsys.readouterr().out
        assert code == 0
        assert re.fullmatch(r"tb_[a-z2-7]{20}_[A-Za-z0-9_-]{43}\n", out)
        from functions.authorizer import handler

        event = {"type": "TOKEN", "authorizationToken": f"Bearer {out.strip()}", "methodArn": METHOD_ARN}
        allowed = handler(event, FakeLambdaContext(function_name="authorizer"))
        assert allowed["context"]["tenant"] == "cli-tenant"
        assert allowed["context"]["scopes"] == "connections:read,audit:read"
    finally:
        container.reset()


@pytest.mark.parametrize(
    ("args", "code"), [(["--tenant", "Bad Tenant"], 2), (["--tenant", "ok", "--scopes", "root"], 2)]
)
def test_bad_input_is_exit_2_with_nothing_on_stdout(
    state_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int
) -> None:
    try:
        assert main(["keys", "create", *args, "--local-state", str(state_file)]) == code
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("error:")
    finally:
        container.reset()
