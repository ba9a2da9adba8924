"""``trackbridge link`` and ``trackbridge links`` from a local.json, through the local API Gateway over HTTP,
against the GitHub sandbox: link by connection name, list an object (a table) and an issue (``--json``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.commands.links import object_path, table
from infra.local.apigw import LocalApiGateway
from infra.local.invoke import LocalFunctions
from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("links-cli")]

OBJECT = "table:sales/public/orders"


@dataclass
class Stack:
    gateway: LocalApiGateway
    github: SandboxTracker[Any]


@pytest.fixture(scope="module")
def stack(local_resources: Any) -> Iterator[Stack]:
    container.reset()
    gateway = LocalApiGateway(LocalFunctions(), throttle_rate=10_000, throttle_burst=10_000)
    github = SANDBOXES["github"](seed="links-cli", issues=3, comments_per_issue=0).start()
    try:
        gateway.start()
        with egress_allowed(*github.urls()):
            yield Stack(gateway, github)
    finally:
        gateway.stop()
        github.stop()
        container.reset()


@pytest.fixture
def local_json(stack: Stack, tmp_path: Path) -> Path:
    import httpx

    key = issue_api_key(f"cli-{uuid.uuid4().hex[:12]}")
    connection = stack.github.connection_request(name="web")
    # Generous: the first request also loads the API handler, on a machine other work may load.
    with httpx.Client(
        base_url=stack.gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as http:
        answer = http.post("/v1/connections", json=connection)
        assert answer.status_code == 201, answer.text
    path = tmp_path / "local.json"
    path.write_text(json.dumps({"api_url": stack.gateway.api_url, "api_key": key}), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_link_and_list_both_ways(stack: Stack, local_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = ("--local-state", str(local_json))
    number = str(stack.github.open_issue("orders grow too fast"))

    # When: the table is linked to the issue by the connection's name
    code, out, err = _run(capsys, "link", OBJECT, f"web.{number}", *state)

    # Then: the issue was fetched and linked
    assert code == 0, err
    assert out.startswith(f"linked {OBJECT} -> conn_")
    assert f".{number} (link_" in out

    # And: the object lists it with the issue's live status, as a table and as JSON
    code, out, err = _run(capsys, "links", OBJECT, *state)
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split() == [
        "ID",
        "ISSUE_REF",
        "KEY",
        "STATUS",
        "STATUS_CATEGORY",
        "ASSIGNEES",
        "TYPE",
        "STATE",
    ]
    assert f"#{number}" in row.split()
    assert "open" in row.split()
    assert "active" in row.split()
    code, out, err = _run(capsys, "links", OBJECT, "--json", "--refresh", *state)
    assert code == 0, err
    listed = json.loads(out)
    (entry,) = listed["items"]
    assert (entry["status"], entry["refresh"]["outcome"], listed["next_cursor"]) == (
        "open",
        "unchanged",
        None,
    )

    # And: the issue lists the object
    code, out, err = _run(capsys, "links", entry["issue_ref"], "--json", *state)
    assert code == 0, err
    assert [x["object"]["name"] for x in json.loads(out)["items"]] == ["orders"]
    code, out, err = _run(capsys, "links", f"web.{number}", *state)
    assert code == 0
    assert OBJECT in out

    # When: it is linked again: the API's 409 names the existing link (exit 1)
    code, out, err = _run(capsys, "link", OBJECT, entry["issue_ref"], *state)
    assert code == 1
    assert f"existing link {entry['id']}" in err
    assert out == ""


def test_bad_arguments_exit_2_without_a_request(
    stack: Stack, local_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = ("--local-state", str(local_json))
    for argv in (
        ("link", "orders", "web.1"),
        ("link", "tabel:a/b/c", "web.1"),
        ("link", OBJECT, "nobody.1"),
        ("link", OBJECT, "just-a-word"),
        ("links", "table:a/b/c/d"),
    ):
        code, out, err = _run(capsys, *argv, *state)
        assert code == 2, (argv, err)
        assert err.startswith("error: ")
        assert out == ""


def test_an_issue_the_tracker_does_not_have_exits_1(
    stack: Stack, local_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "link", OBJECT, "web.99999", "--local-state", str(local_json))
    assert code == 1
    assert "422" in err
    assert "99999" in err


def test_object_paths_encode_each_part_and_tables_align() -> None:
    assert object_path("alarm://High CPU") == "/v1/objects/alarm/-/-/High%20CPU"
    assert object_path("custom:etl_job:db/s?/n%1") == "/v1/objects/custom:etl_job/db/s%3F/n%251"
    text = table(
        [{"id": "link_a", "object": {"kind": "view", "database": None, "schema": None, "name": "v"}}],
        ["id", "object"],
    )
    assert text.splitlines() == ["ID      OBJECT", "link_a  view://v"]
