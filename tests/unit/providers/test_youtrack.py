"""The YouTrack adapter's own rules, without a server (queries, commands, keys, states, webhook bodies),
and the sandbox's readers of YouTrack's ``fields=``, query and command languages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from infra.local.trackers.youtrack._query import QueryError, parse_command, parse_fields, parse_query, project
from trackbridge.domain.errors import InvalidInput
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.types import DeliveryKind, TrackerConfig, WebhookAction, WebhookEntity
from trackbridge.providers.youtrack import YouTrackAdapter, command_value, query_minute

CONNECTION = "conn_youtrackyoutrackyout"


@pytest.fixture
def adapter() -> YouTrackAdapter:
    config = TrackerConfig("https://acme.youtrack.cloud/api", {"project": "ACME"}, CONNECTION)
    return YouTrackAdapter(config, httpx.BasicAuth("unused", "unused"), client=httpx.Client())


def test_the_base_url_works_with_or_without_api(adapter: YouTrackAdapter) -> None:
    assert adapter.api_base == "https://acme.youtrack.cloud/api"
    assert adapter.site_url == "https://acme.youtrack.cloud"


def test_sync_queries_bound_the_project_and_order_the_pass(adapter: YouTrackAdapter) -> None:
    since = datetime(2026, 1, 2, 3, 4, 59, tzinfo=UTC)
    assert adapter.sync_query() == "project: ACME sort by: created asc"
    assert adapter.sync_query(since=since, include_closed=False) == (
        "project: ACME #Unresolved updated: 2026-01-02T03:04 .. * sort by: updated asc"
    )
    assert query_minute(since) == "2026-01-02T03:04"  # floored: the query can only list more


def test_command_values_are_braced_or_refused() -> None:
    assert command_value("Fixed") == "Fixed"
    assert command_value("In Progress") == "{In Progress}"
    for bad in ("", "a{b", "x}", "two\nlines"):
        with pytest.raises(InvalidInput):
            command_value(bad)


def test_keys_stay_in_the_connections_project(adapter: YouTrackAdapter) -> None:
    assert adapter.check_key("#12") == "ACME-12"
    assert adapter.check_key("ACME-12") == "ACME-12"
    assert adapter.check_key("2-1012") == "2-1012"
    with pytest.raises(NotFoundError):
        adapter.check_key("OTHER-12")
    for bad in ("../admin", "ACME-0", "ACME-12/comments"):
        with pytest.raises(InvalidInput):
            adapter.check_key(bad)


def test_done_is_the_state_values_resolved_flag(adapter: YouTrackAdapter) -> None:
    assert adapter.status_category({"name": "Shipped", "isResolved": True}) == "done"
    assert adapter.status_category({"name": "Fixed", "isResolved": False}) == "todo"
    assert adapter.status_category({"name": "In Progress", "isResolved": False}) == "in_progress"
    assert adapter.status_category(None, resolved=1_700_000_000_000) == "done"


def _delivery(adapter: YouTrackAdapter, body: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    return json.dumps(body).encode(), {"X-Trackbridge-Delivery": "d-1", "X-Trackbridge-Token": "s" * 3}


def test_a_removed_issue_is_a_tombstone_and_other_projects_are_ignored(adapter: YouTrackAdapter) -> None:
    issue = {"id": "2-1012", "idReadable": "ACME-12", "updated": 1_767_225_600_000}
    raw, headers = _delivery(adapter, {"event": "issue.removed", "project": "ACME", "issue": issue})
    delivery = adapter.parse_webhook(headers, raw)
    (change,) = delivery.changes
    assert (delivery.delivery_id, change.entity, change.action) == (
        "d-1",
        WebhookEntity.ISSUE,
        WebhookAction.DELETE,
    )
    assert change.issue_ref == f"{CONNECTION}.2-1012"
    comment = {"id": "4-7", "updated": None}
    raw, headers = _delivery(
        adapter, {"event": "comment.added", "project": "ACME", "issue": issue, "comment": comment}
    )
    (added,) = adapter.parse_webhook(headers, raw).changes
    assert (added.comment_id, added.needs_fetch) == ("4-7", True)
    raw, headers = _delivery(adapter, {"event": "issue.updated", "project": "OTHER", "issue": issue})
    assert adapter.parse_webhook(headers, raw).kind is DeliveryKind.IGNORED


def test_the_app_token_is_compared_with_every_secret() -> None:
    body, headers = b"{}", {"X-Trackbridge-Token": "-".join(("fake", "hook", "secret"))}
    assert YouTrackAdapter.verify_webhook(headers, body, ["old", "-".join(("fake", "hook", "secret"))])
    assert not YouTrackAdapter.verify_webhook(headers, body, ["old"])
    assert not YouTrackAdapter.verify_webhook({}, body, ["old"])


def test_the_sandbox_reads_fields_queries_and_commands() -> None:
    selection = parse_fields("id,customFields(name,value(name)),tags(name)")
    assert selection == {"id": {}, "customFields": {"name": {}, "value": {"name": {}}}, "tags": {"name": {}}}
    rendered = {
        "id": "2-1",
        "summary": "s",
        "$type": "Issue",
        "tags": [{"name": "a", "id": "6-1", "$type": "Tag"}],
    }
    assert project(rendered, parse_fields("tags(name)")) == {
        "tags": [{"name": "a", "$type": "Tag"}],
        "$type": "Issue",
    }
    assert project(rendered, {}) == {"id": "2-1", "$type": "Issue"}  # no fields: the id alone
    with pytest.raises(ValueError, match="unbalanced"):
        parse_fields("a(b")
    query = parse_query("project: ACME #Unresolved updated: 2026-01-02T03:04 .. * sort by: updated asc disk")
    assert (query.project, query.resolved, query.sort, query.words) == (
        "ACME",
        False,
        ("updated", False),
        ("disk",),
    )
    assert query.ranges["updated"] == (1_767_323_040_000, None)
    with pytest.raises(QueryError):
        parse_query("priority: Critical")
    assert parse_command("tag ops State {In Progress}") == [("tag", "ops"), ("state", "In Progress")]
    with pytest.raises(QueryError):
        parse_command("delete everything")
