"""The tracker declarations: scope rules, locators, status vocabularies, overlaps, lookups."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.issues import status_category_of
from trackbridge.domain.trackers import GITHUB, GITLAB, JIRA, TRACKERS, TrackerSpec, tracker

NOW = "2026-01-02T03:04:05Z"


def test_lookup_by_name_and_unknown_names() -> None:
    assert tracker("jira") is JIRA
    with pytest.raises(ValidationFailed) as caught:
        tracker("bugzilla")
    assert caught.value.details == {
        "provider": "bugzilla",
        "supported": ["azure_devops", "github", "gitlab", "jira", "linear", "redmine", "youtrack"],
    }
    assert "supported: azure_devops, github, gitlab, jira, linear, redmine, youtrack" in caught.value.message


@pytest.mark.parametrize(
    ("spec", "scope", "problem"),
    [
        (GITHUB, {"repo": "acme/web"}, None),
        (GITHUB, {"project": "x"}, "github needs"),
        (GITHUB, {"repo": "a/b", "jql": "x"}, "github needs"),
        (GITLAB, {"project": "1234"}, None),
        (GITLAB, {"project": "group/sub/app"}, None),
        (GITLAB, {"project": "a b"}, "numeric id or a path"),
        (GITLAB, {}, "gitlab needs"),
        (JIRA, {"project": "OPS"}, None),
        (JIRA, {"jql": "labels = db"}, None),
        (JIRA, {"project": "ops"}, "project key such as OPS"),
        (JIRA, {"project": "OPS", "jql": "x"}, "either"),
        (JIRA, {"repo": "a/b"}, "either"),
    ],
)
def test_scope_rules(spec: TrackerSpec, scope: dict[str, str], problem: str | None) -> None:
    found = spec.scope.problem({"repo": None, "project": None, "jql": None, **scope})
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_locators_keep_external_ids_byte_identical() -> None:
    assert (
        GITHUB.locate("https://api.github.com", {"repo": "acme/web"})
        == "https://api.github.com/repos/acme/web"
    )
    assert GITLAB.locate("https://gitlab.com/api/v4", {"project": "g/app"}) == (
        "https://gitlab.com/api/v4/projects/g/app"
    )
    assert JIRA.locate("https://acme.atlassian.net", {"project": "OPS"}) == "https://acme.atlassian.net"
    # Under OAuth, base_url is Atlassian's gateway: ids keep the site, so switching auth duplicates nothing.
    gateway = "https://api.atlassian.com/ex/jira/cloud-1"
    assert JIRA.locate(gateway, {"jql": "x"}, "https://acme.atlassian.net") == "https://acme.atlassian.net"


def test_a_stored_jira_connection_under_oauth_keeps_its_site_in_ids() -> None:
    connection = Connection.model_validate(
        {
            "id": "conn_abcdefghijklmnopqrst",
            "name": "ops",
            "provider": "jira",
            "base_url": "https://api.atlassian.com/ex/jira/cloud-1",
            "scope": {"project": "OPS"},
            "auth": "oauth",
            "site_url": "https://acme.atlassian.net",
            "created_at": NOW,
            "updated_at": NOW,
        }
    )
    assert connection.external_id("10001") == "jira:https://acme.atlassian.net:10001"


def test_status_vocabularies() -> None:
    # Trackers sharing a raw value ("closed") agree on it, so one table serves callers that do not say which.
    raws = {raw for spec in TRACKERS.values() for raw in spec.status_categories}
    for raw in raws:
        categories = {s.status_categories[raw] for s in TRACKERS.values() if raw in s.status_categories}
        assert len(categories) == 1, f"trackers disagree on {raw!r}: {categories}"
    # The table every adapter has used, unchanged.
    assert {raw: status_category_of(raw) for raw in raws} == {
        "new": "todo",
        "undefined": "todo",
        "indeterminate": "in_progress",
        "done": "done",
        "open": "todo",
        "opened": "todo",
        "reopened": "todo",
        "closed": "done",
        # YouTrack's default State values
        "submitted": "todo",
        "unresolved": "todo",
        "in progress": "in_progress",
        "to be discussed": "in_progress",
        "fixed": "done",
        "verified": "done",
        "won't fix": "done",
        "can't reproduce": "done",
        "duplicate": "done",
        "obsolete": "done",
        "incomplete": "done",
        "resolved": "done",
        # Azure DevOps state categories
        "proposed": "todo",
        "inprogress": "in_progress",
        "completed": "done",
        "removed": "done",
        # Redmine's default status names ("Resolved" is open there, so it is left to the adapter)
        "feedback": "in_progress",
        "rejected": "done",
        # Linear's WorkflowState.type ("completed" is Azure DevOps' too, and agrees)
        "triage": "todo",
        "backlog": "todo",
        "unstarted": "todo",
        "started": "in_progress",
        "canceled": "done",
    }
    assert status_category_of(" Indeterminate ", "jira") == "in_progress"
    # By the tracker's own words: "done" is no GitLab state.
    assert status_category_of("done", "gitlab") == "todo"
    assert status_category_of("closed", "gitlab") == "done"


def test_overlaps_come_with_their_reasons() -> None:
    assert GITHUB.incremental_overlap == timedelta(seconds=10)
    assert GITLAB.incremental_overlap == timedelta(minutes=2)
    assert JIRA.incremental_overlap == timedelta(minutes=2)
    assert "ThrottledTouch" in GITLAB.overlap_reason
    for spec in TRACKERS.values():
        assert spec.incremental_overlap > timedelta(0)
        assert spec.overlap_reason


def test_auth_modes_and_bulk_concurrency() -> None:
    assert [name for name, spec in TRACKERS.items() if spec.allows_oauth] == ["jira"]
    assert {name: spec.bulk_concurrency for name, spec in TRACKERS.items()} == {
        "github": 1,
        "gitlab": 4,
        "jira": 4,
        "youtrack": 4,
        "azure_devops": 4,
        "redmine": 4,
        "linear": 4,
    }
