"""``GET /v1/issues/{connection}.{key}`` on moto: a Jira issue found by its key through its key pointer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.api.conftest import ApiClient
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.storage.issues import IssueRepository

pytestmark = pytest.mark.integration

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def jira_issue(api: ApiClient, tenant: str) -> Issue:
    example = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}
    connection = container.connection_repository().create(tenant, Connection.model_validate(example))
    issue = Issue(
        ref=f"{connection.id}.10042",
        external_id=connection.external_id("10042"),
        connection_id=connection.id,
        provider="jira",
        key="ACME-42",
        title="checkout fails",
        body="the whole body",
        status="To Do",
        status_category="todo",
        created_at=T0,
        updated_at=T0,
    ).with_hash()
    assert IssueRepository(container.table()).put_if_newer(tenant, issue) == "created"
    return issue


def test_an_issue_is_found_by_its_key_as_by_its_ref(api: ApiClient, jira_issue: Issue) -> None:
    by_ref = api.call("GET", f"/v1/issues/{jira_issue.ref}")
    by_key = api.call("GET", f"/v1/issues/{jira_issue.connection_id}.ACME-42")

    assert by_ref.status == 200
    assert by_key.status == 200
    assert by_key.body == by_ref.body
    assert by_key.body["body"] == "the whole body"


def test_an_unknown_key_and_another_tenants_key_are_a_404(
    api: ApiClient, other_api: ApiClient, jira_issue: Issue
) -> None:
    assert api.call("GET", f"/v1/issues/{jira_issue.connection_id}.ACME-43").status == 404
    assert other_api.call("GET", f"/v1/issues/{jira_issue.connection_id}.ACME-42").status == 404
