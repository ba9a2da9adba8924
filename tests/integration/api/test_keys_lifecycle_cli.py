"""``trackbridge keys create|list|revoke`` with nothing but a local-state file, against moto and the gateway.

The commands run as real processes, because what must hold is what a shell sees on their stdout
(``KEY=$(trackbridge keys create ...)``): in-process capture would miss a log handler bound to the original
stdout, and would mix in what the handlers behind the in-process gateway print.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from infra.cli import main
from infra.definition import AUTHORIZER_CACHE_TTL_S
from infra.local.apigw import LocalApiGateway
from infra.local.invoke import LocalFunctions
from trackbridge.domain.api_keys import parse_token
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
KEY_LINE = re.compile(r"tb_[a-z2-7]{20}_[A-Za-z0-9_-]{43}\n")


def key_id(token: str) -> str:
    parsed = parse_token(token)
    assert parsed is not None
    return parsed[0]


@pytest.fixture
def tenant() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def gateway(local_resources: LocalResources) -> Iterator[LocalApiGateway]:
    container.reset()
    gw = LocalApiGateway(LocalFunctions()).start()
    yield gw
    gw.stop()


@pytest.fixture
def admin_key(local_resources: LocalResources, tenant: str) -> str:
    return issue_api_key(tenant)


@pytest.fixture
def state_file(
    local_resources: LocalResources, gateway: LocalApiGateway, admin_key: str, tmp_path: Path
) -> Path:
    """local.json as `trackbridge local up` writes it."""
    path = tmp_path / "local.json"
    path.write_text(
        json.dumps(
            {
                "api_url": gateway.api_url,
                "api_key": admin_key,
                "aws_endpoint_url": local_resources.endpoint_url,
                "region": local_resources.region,
                "table": local_resources.table_name,
            }
        )
    )
    return path


def cli(state_file: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a shell runs it, in an environment that points nowhere useful: only the file can help."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKBRIDGE_", "AWS_ENDPOINT_URL"))}
    env["TB_TABLE_NAME"] = "not-the-table"
    env["POWERTOOLS_LOG_LEVEL"] = "INFO"  # the runtime logs what it does: none of it may reach stdout
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *argv, "--local-state", str(state_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def listed(state_file: Path, *extra: str) -> dict[str, dict[str, Any]]:
    done = cli(state_file, "keys", "list", "--json", *extra)
    assert done.returncode == 0, done.stderr
    return {item["id"]: item for item in json.loads(done.stdout)["items"]}


def test_create_prints_exactly_one_key_line_on_stdout(state_file: Path, tenant: str) -> None:
    done = cli(state_file, "keys", "create", "--tenant", tenant, "--scopes", "admin")

    assert done.returncode == 0, done.stderr
    assert KEY_LINE.fullmatch(done.stdout), done.stdout
    stored = container.api_key_repository().get(tenant, key_id(done.stdout.strip()))
    assert stored.scopes == ("admin",)


def test_list_and_revoke_through_the_api(state_file: Path, admin_key: str, tenant: str) -> None:
    reader = issue_api_key(tenant, ("connections:read",))
    doomed = issue_api_key(tenant, ("connections:read",))
    foreign = issue_api_key(f"other-{uuid.uuid4().hex[:12]}")

    keys = listed(state_file)
    table = cli(state_file, "keys", "list")
    revoked = cli(state_file, "keys", "revoke", key_id(reader))
    by_whole_key = cli(state_file, "keys", "revoke", doomed)  # a whole key names its id
    after = listed(state_file)

    assert set(keys) == {key_id(admin_key), key_id(reader), key_id(doomed)}
    assert keys[key_id(reader)]["scopes"] == ["connections:read"]
    assert keys[key_id(reader)]["revoked_at"] is None
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "TENANT", "SCOPES", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT"]
    assert {line.split()[0] for line in lines[1:]} == set(keys)
    assert (revoked.returncode, revoked.stdout) == (0, f"revoked {key_id(reader)}\n")
    assert f"{AUTHORIZER_CACHE_TTL_S} s" in revoked.stderr
    assert (by_whole_key.returncode, by_whole_key.stdout) == (0, f"revoked {key_id(doomed)}\n")
    assert after[key_id(reader)]["revoked_at"] is not None
    assert after[key_id(doomed)]["revoked_at"] is not None
    assert after[key_id(admin_key)]["revoked_at"] is None
    assert container.api_key_repository().lookup(key_id(reader)) is None
    everything = json.dumps([keys, after]) + "".join(
        done.stdout + done.stderr for done in (table, revoked, by_whole_key)
    )
    for token in (admin_key, reader, doomed, foreign):
        assert token.split("_", 2)[2] not in everything
    assert key_id(foreign) not in everything


def test_refusals_are_reported_on_stderr_with_nothing_on_stdout(
    state_file: Path, admin_key: str, tenant: str
) -> None:
    reader = issue_api_key(tenant, ("connections:read",))
    as_reader = ("--api-key", reader)
    unknown_key = "tb_" + "a" * 20 + "_" + "b" * 43
    cases = [
        (cli(state_file, "keys", "revoke", "abcdefghijklmnopqrst"), 1, "404"),
        (cli(state_file, "keys", "revoke", "no-such-id"), 2, "not a key id"),
        (cli(state_file, "keys", "list", "--api-key", unknown_key), 1, "401"),
        (cli(state_file, "keys", "list", *as_reader), 1, "403"),
        (cli(state_file, "keys", "revoke", key_id(admin_key), *as_reader), 1, "403"),
    ]

    for done, code, message in cases:
        assert (done.returncode, done.stdout) == (code, "")
        assert done.stderr.startswith("error:")
        assert message in done.stderr
    assert container.api_key_repository().lookup(key_id(admin_key)) is not None


def test_the_operator_lists_and_revokes_any_tenants_keys_on_the_table(
    state_file: Path, admin_key: str
) -> None:
    other = f"other-{uuid.uuid4().hex[:12]}"
    foreign = issue_api_key(other, ("audit:read",))

    keys = listed(state_file, "--tenant", other)
    revoked = cli(state_file, "keys", "revoke", key_id(foreign), "--tenant", other)
    wrong_tenant = cli(state_file, "keys", "revoke", key_id(admin_key), "--tenant", other)

    assert set(keys) == {key_id(foreign)}
    assert (revoked.returncode, revoked.stdout) == (0, f"revoked {key_id(foreign)}\n")
    assert container.api_key_repository().get(other, key_id(foreign)).revoked_at is not None
    assert (wrong_tenant.returncode, wrong_tenant.stdout) == (1, "")
    assert container.api_key_repository().lookup(key_id(admin_key)) is not None


def test_without_an_api_or_state_file_list_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKBRIDGE_API_URL", raising=False)
    monkeypatch.delenv("TRACKBRIDGE_API_KEY", raising=False)

    code = main(["keys", "list", "--local-state", str(tmp_path / "missing.json")])

    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert "no API" in captured.err
