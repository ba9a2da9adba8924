"""``JiraAdapter.create_screen``: the paginated createmeta endpoints, paged until ``total``, read once per
adapter, and the required fields a create would leave out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from trackbridge.domain.errors import ValidationFailed
from trackbridge.providers.auth import BasicCredentialsAuth
from trackbridge.providers.jira import JiraAdapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import TrackerConfig

from .conftest import CONNECTION_ID, NOW, FakeTracker, Sleeps, clock_at, json_response

SITE = "https://acme.atlassian.net"
TYPES = "/rest/api/3/issue/createmeta/OPS/issuetypes"


def adapter_for(fake: FakeTracker, sleeps: Sleeps, scope: dict[str, str]) -> JiraAdapter:
    return JiraAdapter(
        TrackerConfig(SITE, scope, CONNECTION_ID),
        BasicCredentialsAuth("bot@acme.example", "-".join(["not", "a", "token"])),
        client=fake.client(),
        clock=clock_at(NOW),
        sleep=sleeps,
        retry=RetryPolicy(max_attempts=1),
    )


@pytest.fixture
def jira(fake: FakeTracker, sleeps: Sleeps) -> Iterator[JiraAdapter]:
    adapter = adapter_for(fake, sleeps, {"project": "OPS"})
    yield adapter
    adapter.client.close()


def field(field_id: str, name: str, *, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "fieldId": field_id,
        "key": field_id,
        "name": name,
        "required": required,
        "operations": ["set"],
    } | extra


def test_the_screen_is_paged_found_by_type_name_and_kept(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        TYPES,
        json_response(
            200, {"startAt": 0, "maxResults": 1, "total": 2, "issueTypes": [{"id": "1", "name": "Task"}]}
        ),
        json_response(
            200, {"startAt": 1, "maxResults": 1, "total": 2, "issueTypes": [{"id": "2", "name": "Bug"}]}
        ),
    )
    fake.on(
        "GET",
        f"{TYPES}/2",
        json_response(
            200,
            {
                "startAt": 0,
                "maxResults": 2,
                "total": 3,
                "fields": [field("summary", "Summary", required=True), field("reporter", "Reporter")],
            },
        ),
        json_response(
            200,
            {
                "startAt": 2,
                "maxResults": 2,
                "total": 3,
                "fields": [
                    field(
                        "customfield_10050",
                        "Affected service",
                        required=True,
                        allowedValues=[{"id": "1", "value": "api"}],
                    )
                ],
            },
        ),
    )

    screen = jira.create_screen("bug")
    again = jira.create_screen("Bug")

    assert screen is again
    assert screen is not None
    assert (screen.issue_type_id, screen.issue_type) == ("2", "Bug")
    assert list(screen.fields) == ["summary", "reporter", "customfield_10050"]
    assert screen.fields["customfield_10050"].allowed == ("api",)
    assert [f.id for f in screen.missing_required(["labels"])] == ["customfield_10050"]
    assert [r.url.params.get("startAt") for r in fake.requests] == ["0", "1", "0", "2"]


def test_a_type_the_project_lacks_is_none(jira: JiraAdapter, fake: FakeTracker) -> None:
    fake.on(
        "GET",
        TYPES,
        json_response(
            200, {"startAt": 0, "maxResults": 50, "total": 1, "issueTypes": [{"id": "1", "name": "Task"}]}
        ),
    )

    assert jira.create_screen("Incident") is None
    assert len(fake.requests) == 1


def test_a_jql_scoped_connection_has_no_screen(fake: FakeTracker, sleeps: Sleeps) -> None:
    adapter = adapter_for(fake, sleeps, {"jql": "labels = ops"})
    try:
        with pytest.raises(ValidationFailed):
            adapter.create_screen()
    finally:
        adapter.client.close()
    assert fake.requests == []
