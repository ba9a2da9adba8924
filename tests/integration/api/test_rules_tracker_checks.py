"""Rules checked against the tracker, through ``functions.api.handler`` on moto and the sandboxes on loopback.

On save, a Jira rule is checked against the create screen of its issue type (the sandbox's ``OPS`` project:
Task has no priority, Bug requires *Affected service*): a field off the screen or a required one left out is
a 422 naming the rule's field, nothing is stored, and a tracker that fails makes the save fail with its
status. The dry run asks each tracker what it can check without creating anything and returns its words.
The default rule comes from a preset; templates see the issues already linked to the event's object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.support.sandboxes import egress_allowed
from trackbridge.runtime import container

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("rules-tracker-checks")]

ALARM_FIXTURE = "eventbridge.cloudwatch_alarm_state_change.single_metric.ALARM.json"
CREATEMETA = "GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes"


@pytest.fixture(scope="module")
def sandboxes(local_resources: Any) -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in ("github", "gitlab", "jira"):
            started[name] = SANDBOXES[name](seed="rules-checks", issues=1, comments_per_issue=0).start()
        with egress_allowed(*[url for sandbox in started.values() for url in sandbox.urls()]):
            yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


def connect(api: ApiClient, sandbox: SandboxTracker[Any], **scope: str) -> str:
    sandbox.clear_faults()
    body = sandbox.connection_request(name=f"{sandbox.kind} rules")
    body["scope"].update(scope)
    answer = api.call("POST", "/v1/connections", body=body)
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


@pytest.fixture
def ops(api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]]) -> str:
    """A connection to the Jira sandbox's OPS project, whose create screens are restrictive."""
    return connect(api, sandboxes["jira"], project="OPS")


def rule(connection_id: str, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "cpu-high",
        "event_type": "cloudwatch.alarm",
        "condition": "alarm.state == 'ALARM'",
        "connection_id": connection_id,
        "template": "cloudwatch-alarm",
        "labels": ["ops"],
        "dedup": {"key": "{{ event.data.alarmName }}"},
    }
    body.update(changes)
    return body


def errors_of(answer: Any) -> list[dict[str, Any]]:
    assert answer.status == 422, answer.body
    return list(answer.body["error"]["details"]["errors"])


def alarm(shared_dir: Path) -> dict[str, Any]:
    return dict(json.loads((shared_dir / "fixtures" / "aws" / ALARM_FIXTURE).read_text()))


# ---- validation on save (Jira create screens) -------------------------------------------------------------


def test_a_field_off_the_create_screen_is_refused_on_save_and_nothing_is_stored(
    api: ApiClient, ops: str
) -> None:
    # OPS's Task screen has no priority
    answer = api.call("POST", "/v1/rules", body=rule(ops, issue={"priority": "High"}))

    errors = errors_of(answer)
    assert [e["path"] for e in errors] == ["body.issue.priority"]
    assert "Field 'priority' cannot be set. It is not on the appropriate screen" in errors[0]["message"]
    assert "Task in OPS" in errors[0]["message"]
    assert api.call("GET", "/v1/rules/cpu-high").status == 404


def test_a_required_field_left_out_is_refused_and_filling_it_saves(api: ApiClient, ops: str) -> None:
    # OPS's Bug screen requires the select field "Affected service"
    missing = api.call("POST", "/v1/rules", body=rule(ops, issue={"type": "Bug"}))

    errors = errors_of(missing)
    assert errors[0]["path"] == "body.issue.fields"
    assert "Affected service is required." in errors[0]["message"]
    assert "customfield_10050" in errors[0]["message"]

    filled = rule(ops, issue={"type": "Bug", "fields": {"customfield_10050": {"value": "api"}}})
    saved = api.call("POST", "/v1/rules", body=filled)
    assert saved.status == 201, saved.body
    assert saved.body["issue"]["fields"] == {"customfield_10050": {"value": "api"}}
    # a replace is checked the same way
    again = api.call("PUT", "/v1/rules/cpu-high", body=rule(ops, issue={"type": "Bug"}, version=1))
    assert errors_of(again)[0]["path"] == "body.issue.fields"


def test_an_issue_type_the_project_lacks_is_refused(api: ApiClient, ops: str) -> None:
    answer = api.call("POST", "/v1/rules", body=rule(ops, issue={"type": "Incident"}))

    assert errors_of(answer) == [
        {"path": "body.issue.type", "message": "project OPS has no issue type 'Incident'"}
    ]


def test_a_project_whose_screen_takes_everything_saves_and_the_screen_is_read_once(
    api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    jira = sandboxes["jira"]
    acme = connect(api, jira)
    jira.reset_requests()

    first = api.call("POST", "/v1/rules", body=rule(acme, issue={"priority": "High"}, assignee=None))
    second = api.call("POST", "/v1/rules", body=rule(acme, name="cpu-low", issue={"priority": "Low"}))

    assert (first.status, second.status) == (201, 201), (first.body, second.body)
    by_route = jira.requests()["by_route"]
    # one page of issue types and one of fields: the second save reads the adapter's cached screen
    assert by_route.get(CREATEMETA) == 1
    assert by_route.get(CREATEMETA + "/{issueTypeId}") == 1


def test_a_priority_jira_does_not_know_is_refused(
    api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    acme = connect(api, sandboxes["jira"])

    answer = api.call("POST", "/v1/rules", body=rule(acme, issue={"priority": "Urgent!"}))

    assert errors_of(answer)[0]["path"] == "body.issue.priority"
    assert "Highest, High, Medium, Low, Lowest" in errors_of(answer)[0]["message"]


def test_a_failing_tracker_fails_the_save_with_its_status(
    api: ApiClient, ops: str, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    sandboxes["jira"].add_faults([{"route": "GET */issuetypes", "status": 500, "times": 10}])
    try:
        answer = api.call("POST", "/v1/rules", body=rule(ops))
    finally:
        sandboxes["jira"].clear_faults()

    assert answer.status in (502, 503, 504), answer.body
    assert api.call("GET", "/v1/rules/cpu-high").status == 404


def test_github_and_gitlab_rules_are_saved_without_asking_the_tracker(
    api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    for kind in ("github", "gitlab"):
        sandbox = sandboxes[kind]
        connection_id = connect(api, sandbox)
        sandbox.reset_requests()
        body = rule(connection_id, name=f"r-{kind}", labels=["no-such-label"], assignee="nobody-at-all")

        assert api.call("POST", "/v1/rules", body=body).status == 201
        assert sandbox.requests()["total"] == 0


# ---- the dry run ------------------------------------------------------------------------------------------


def checks_of(answer: Any) -> dict[str, dict[str, Any]]:
    assert answer.status == 200, answer.body
    assert set(answer.body) == {"rendered", "tracker_checks", "would_create"}
    return {c["check"]: c for c in answer.body["tracker_checks"]}


def test_the_jira_dry_run_reports_the_screen_and_an_unassignable_assignee(
    api: ApiClient, ops: str, sandboxes: dict[str, SandboxTracker[Any]], shared_dir: Path
) -> None:
    jira = sandboxes["jira"]
    outsider = jira.state.outsider
    assert api.call("POST", "/v1/rules", body=rule(ops, assignee=outsider)).status == 201
    before = jira.issue_counts()

    answer = api.call("POST", "/v1/rules/cpu-high/test", body=alarm(shared_dir))

    checks = checks_of(answer)
    assert checks["create_screen"]["ok"] is True
    assert checks["assignee"] == {
        "check": "assignee",
        "ok": False,
        "detail": f"User '{outsider}' cannot be assigned issues.",
        "blocking": True,
    }
    assert answer.body["would_create"] is False
    assert answer.body["rendered"]["matches"] is True
    assert answer.body["rendered"]["title"] == "[ALARM] ServerCpuTooHigh"
    assert jira.issue_counts() == before  # nothing was created

    bot = jira.state.api_user
    replaced = api.call("PUT", "/v1/rules/cpu-high", body=rule(ops, assignee=bot, version=1))
    assert replaced.status == 200, replaced.body
    fine = api.call("POST", "/v1/rules/cpu-high/test", body=alarm(shared_dir))
    assert checks_of(fine)["assignee"]["ok"] is True
    assert fine.body["would_create"] is True


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_the_forge_dry_run_reports_what_the_tracker_would_drop_or_create(
    kind: str, api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]], shared_dir: Path
) -> None:
    sandbox = sandboxes[kind]
    connection_id = connect(api, sandbox)
    body = rule(connection_id, labels=["bug", "tb-not-there"], assignee="outsider")
    assert api.call("POST", "/v1/rules", body=body).status == 201

    answer = api.call("POST", "/v1/rules/cpu-high/test", body=alarm(shared_dir))

    checks = checks_of(answer)
    assert (checks["assignee"]["ok"], checks["assignee"]["blocking"]) == (False, False)
    assert (checks["labels"]["ok"], checks["labels"]["blocking"]) == (False, False)
    assert "tb-not-there" in checks["labels"]["detail"]
    assert "/labels/bug:" not in checks["labels"]["detail"]
    assert "'bug'" not in checks["labels"]["detail"]
    if kind == "github":
        assert "assignees/outsider: 404" in checks["assignee"]["detail"]
    else:
        assert "not a member of the project" in checks["assignee"]["detail"]
    assert answer.body["would_create"] is True  # the tracker would open it, without those

    bot = "sandbox-bot"
    fine = rule(connection_id, name="cpu-bot", labels=["bug"], assignee=bot)
    assert api.call("POST", "/v1/rules", body=fine).status == 201
    ok = checks_of(api.call("POST", "/v1/rules/cpu-bot/test", body=alarm(shared_dir)))
    assert ok["assignee"]["ok"] is True
    assert ok["labels"]["ok"] is True


def test_a_gitlab_user_that_does_not_exist_blocks_the_dry_run(
    api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]], shared_dir: Path
) -> None:
    connection_id = connect(api, sandboxes["gitlab"])
    assert api.call("POST", "/v1/rules", body=rule(connection_id, assignee="no-such-person")).status == 201

    answer = api.call("POST", "/v1/rules/cpu-high/test", body=alarm(shared_dir))

    assert checks_of(answer)["assignee"] == {
        "check": "assignee",
        "ok": False,
        "detail": "GitLab has no user 'no-such-person'",
        "blocking": True,
    }
    assert answer.body["would_create"] is False


# ---- the default rule -------------------------------------------------------------------------------------


def test_the_default_regression_rule_fires_above_twenty_percent(
    api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    connection_id = connect(api, sandboxes["github"])
    created = api.call(
        "POST",
        "/v1/rules:from-builtin",
        body={"from_builtin": "performance-regression", "connection_id": connection_id},
    )
    assert created.status == 201, created.body
    assert created.body["condition"] == "regression.percentage > 20"
    assert created.body["template"] == "performance-regression"

    def dry_run(percentage: int) -> Any:
        event = {
            "type": "performance.regression",
            "source": "bench",
            "subject": {"kind": "procedure", "database": "sales", "schema": "public", "name": "totals"},
            "data": {"regression": {"metric": "p95", "percentage": percentage, "before": "1", "after": "2"}},
        }
        return api.call("POST", "/v1/rules/performance-regression/test", body=event)

    above, at = dry_run(21), dry_run(20)
    assert (above.body["rendered"]["matches"], above.body["would_create"]) == (True, True)
    assert (at.body["rendered"]["matches"], at.body["would_create"]) == (False, False)
    assert "+21%" in above.body["rendered"]["title"]


def test_a_preset_takes_overrides_and_refuses_bad_ones(
    api: ApiClient, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    connection_id = connect(api, sandboxes["github"])
    body = {
        "from_builtin": "performance-regression",
        "connection_id": connection_id,
        "name": "slow-queries",
        "condition": "regression.percentage > 50",
        "labels": ["db"],
    }
    created = api.call("POST", "/v1/rules:from-builtin", body=body)
    assert created.status == 201, created.body
    assert (created.body["name"], created.body["condition"], created.body["labels"]) == (
        "slow-queries",
        "regression.percentage > 50",
        ["db"],
    )
    unknown = api.call("POST", "/v1/rules:from-builtin", body={**body, "from_builtin": "nope"})
    assert unknown.status == 422
    bad = api.call("POST", "/v1/rules:from-builtin", body={**body, "name": "x2", "condition": "mro.x"})
    assert bad.status == 422
    assert api.call("GET", "/v1/rules/x2").status == 404
