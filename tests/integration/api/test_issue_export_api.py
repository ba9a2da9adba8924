"""``GET /v1/issues?format=ndjson&connection=`` on moto: a whole connection, one issue a line, in answers that
stay under API Gateway's limits and continue through a sealed cursor on their last line."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.api import handler as api_handler
from tests.integration.api.conftest import ApiClient
from tests.unit.api.support import FakeLambdaContext, rest_event
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.runtime import container
from trackbridge.runtime import issues as synced
from trackbridge.runtime.api.cursors import cursor_sealer
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.storage.issues import IssueRepository

pytestmark = pytest.mark.integration

T0 = datetime(2026, 8, 1, 8, 0, tzinfo=UTC)
COUNT = 130


def _connection(tenant: str) -> Connection:
    example = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}
    return container.connection_repository().create(tenant, Connection.model_validate(example))


def _issue(connection: Connection, n: int) -> Issue:
    return Issue(
        ref=f"{connection.id}.{n}",
        external_id=connection.external_id(str(n)),
        connection_id=connection.id,
        provider="github",
        key=f"#{n}",
        title=f"issue {n} \u2013 caf\u00e9",
        body=f"body {n}\n" + "y" * 500,
        status="open",
        status_category="todo",
        labels=["bug"],
        created_at=T0,
        updated_at=T0 + timedelta(minutes=n),
        deleted_at=T0 + timedelta(minutes=n) if n == 3 else None,
    ).with_hash()


@pytest.fixture
def exported(api: ApiClient, tenant: str) -> tuple[Connection, list[Issue]]:
    connection, other = _connection(tenant), _connection(tenant)
    issues = [_issue(connection, n) for n in range(1, COUNT + 1)]
    table = container.table()
    table.batch_put([IssueRepository.item(tenant, issue) for issue in [*issues, _issue(other, 1)]])
    return connection, sorted(issues, key=lambda i: i.updated_at, reverse=True)


def export(api: ApiClient, query: dict[str, str]) -> dict[str, Any]:
    """The raw proxy answer (``ApiClient.call`` reads a body as one JSON document)."""
    event = rest_event(
        api.shared_dir,
        "GET",
        "/v1/issues",
        query={"format": "ndjson", **query},
        tenant=None,
        authorizer=api.authorize(),
        request_id=f"req-{uuid.uuid4().hex[:8]}",
    )
    answer: dict[str, Any] = api_handler(event, FakeLambdaContext())
    return answer


def walk(api: ApiClient, connection: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every exported issue, and every answer, following the continuation lines."""
    issues: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(COUNT + 2):
        answer = export(api, {"connection": connection, **({"cursor": cursor} if cursor else {})})
        assert answer["statusCode"] == 200, answer["body"]
        headers = {
            **answer.get("headers", {}),
            **{k: v[0] for k, v in answer.get("multiValueHeaders", {}).items()},
        }
        assert headers["Content-Type"] == "application/x-ndjson"
        answers.append(answer)
        *lines, last = answer["body"].split("\n")
        issues.extend(json.loads(line) for line in lines)
        cursor = json.loads(last)["next_cursor"]
        if cursor is None:
            return issues, answers
    raise AssertionError("the export never ended")


def test_a_connection_exports_whole_in_one_answer_with_bodies_and_tombstones(
    api: ApiClient, exported: tuple[Connection, list[Issue]]
) -> None:
    connection, issues = exported

    lines, answers = walk(api, connection.id)

    assert len(answers) == 1
    assert [line["ref"] for line in lines] == [issue.ref for issue in issues]
    assert [line["body"] for line in lines] == [issue.body for issue in issues]
    assert [line["ref"] for line in lines if line["deleted_at"]] == [f"{connection.id}.3"]
    assert "\\u2013" in answers[0]["body"]  # ASCII JSON, as the rest of the API writes


def test_an_export_past_its_size_budget_continues_without_a_gap_or_a_repeat(
    api: ApiClient, exported: tuple[Connection, list[Issue]], monkeypatch: pytest.MonkeyPatch, tenant: str
) -> None:
    connection, issues = exported
    line = len(synced.IssueView.of(issues[0]).model_dump_json(ensure_ascii=True)) + 1
    monkeypatch.setattr(synced, "EXPORT_BYTES", line * 7 + line // 2)  # 7 lines an answer

    lines, answers = walk(api, connection.id)

    assert [item["ref"] for item in lines] == [issue.ref for issue in issues]
    assert len(answers) == -(-COUNT // 7)
    assert all(len(a["body"].split("\n")) - 1 == 7 for a in answers[:-1])
    # The continuation is sealed like every cursor: it opens for this tenant and listing only
    cursor = json.loads(answers[0]["body"].rsplit("\n", 1)[1])["next_cursor"]
    assert cursor_sealer().open(cursor, tenant=tenant, path="/v1/issues")
    with pytest.raises(InvalidInput):
        cursor_sealer().open(cursor, tenant=f"{tenant}-other", path="/v1/issues")


def test_an_export_past_its_time_budget_ends_at_a_page_boundary(
    api: ApiClient, exported: tuple[Connection, list[Issue]], monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, issues = exported
    monkeypatch.setattr(synced, "EXPORT_SECONDS", 0.0)  # every answer: one page of 100

    lines, answers = walk(api, connection.id)

    assert [len(a["body"].split("\n")) - 1 for a in answers] == [100, COUNT - 100]
    assert [item["ref"] for item in lines] == [issue.ref for issue in issues]


@pytest.mark.parametrize(
    "query",
    [{}, {"assignee": "octocat"}, {"status": "todo"}, {"format": "xml"}],
    ids=["no connection", "a value filter", "a status", "another format"],
)
def test_an_export_refuses_what_it_cannot_serve(
    api: ApiClient, exported: tuple[Connection, list[Issue]], query: dict[str, str]
) -> None:
    connection, _ = exported
    params = {**({"connection": connection.id} if query else {}), **query}

    answer = export(api, params)

    assert answer["statusCode"] == 422
    assert "format" in answer["body"] or "connection" in answer["body"]


def test_another_tenants_connection_is_a_404(
    other_api: ApiClient, exported: tuple[Connection, list[Issue]]
) -> None:
    connection, _ = exported
    assert export(other_api, {"connection": connection.id})["statusCode"] == 404
