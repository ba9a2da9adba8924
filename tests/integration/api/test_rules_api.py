"""``CRUD /v1/rules``, ``POST /v1/rules/{name}/test``, ``CRUD /v1/templates`` and the preview, on moto
through ``functions.api.handler``: what is validated on save (syntax, unknown variables, sandbox violations,
missing template or connection: 422 naming the field and line), optimistic locking, and SSTI payloads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.conftest import ApiClient
from tests.integration.api.test_events_api import mount_automation_routes
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES

pytestmark = pytest.mark.integration

ALARM_FIXTURE = "eventbridge.cloudwatch_alarm_state_change.single_metric.ALARM.json"


@pytest.fixture(autouse=True)
def _mounted(stack: Any) -> None:
    mount_automation_routes()


@pytest.fixture
def connection_id(api: ApiClient, tenant: str) -> str:
    connection = Connection.model_validate(
        {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)}
    )
    return container.connection_repository().create(tenant, connection).id


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"k": value}
    return value


def rule_body(connection_id: str, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "cpu-high",
        "event_type": "cloudwatch.alarm",
        "condition": "alarm.state == 'ALARM'",
        "connection_id": connection_id,
        "template": "cloudwatch-alarm",
        "labels": ["ops"],
        "dedup": {"key": "{{ event.data.alarmName }}", "reopen_window": 3600},
        "on_resolve": "close",
    }
    body.update(changes)
    return body


def error_of(answer: Any) -> dict[str, Any]:
    errors = answer.body["error"]["details"]["errors"]
    assert len(errors) >= 1
    return dict(errors[0])


def test_a_rule_is_created_read_listed_replaced_and_deleted(api: ApiClient, connection_id: str) -> None:
    created = api.call("POST", "/v1/rules", body=rule_body(connection_id))
    assert created.status == 201, created.body
    assert created.body["version"] == 1
    assert created.body["settle_s"] == 300
    assert api.call("GET", "/v1/rules/cpu-high").body["condition"] == "alarm.state == 'ALARM'"
    assert [r["name"] for r in api.call("GET", "/v1/rules").body["items"]] == ["cpu-high"]
    # A second create of the same name is a 409
    assert api.call("POST", "/v1/rules", body=rule_body(connection_id)).status == 409
    # Replace with the version read; a stale version is a 409
    replaced = api.call("PUT", "/v1/rules/cpu-high", body=rule_body(connection_id, priority=5, version=1))
    assert replaced.status == 200, replaced.body
    assert replaced.body["version"] == 2
    assert replaced.body["priority"] == 5
    stale = api.call("PUT", "/v1/rules/cpu-high", body=rule_body(connection_id, version=1))
    assert stale.status == 409
    assert stale.body["error"]["code"] == "VERSION_CONFLICT"
    assert api.call("DELETE", "/v1/rules/cpu-high").status == 204
    assert api.call("GET", "/v1/rules/cpu-high").status == 404


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"customfield_1": 1e-200}, "customfield_1: at most 38 significant digits"),
        ({"customfield_1": 1.7976931348623157e308}, "at most 38 significant digits"),
        ({"customfield_1": {"": {}}}, "customfield_1 has an empty key"),
        ({"customfield_1": _nested(40)}, "nests deeper than 30 levels"),
    ],
)
def test_native_fields_dynamodb_cannot_hold_are_refused_and_nothing_is_stored(
    api: ApiClient, connection_id: str, fields: dict[str, Any], says: str
) -> None:
    # Given: a built-in rule whose tracker-native fields hold what DynamoDB cannot store
    body = {
        "from_builtin": "performance-regression",
        "connection_id": connection_id,
        "issue": {"fields": fields},
    }

    # When: it is saved
    answer = api.call("POST", "/v1/rules:from-builtin", body=body)

    # Then: a 422 names the field and what is wrong, and reading the rule finds nothing (not a 500)
    assert answer.status == 422, answer.body
    assert error_of(answer)["path"].startswith("body.issue.fields")
    assert says in answer.body["error"]["message"]
    assert api.call("GET", "/v1/rules/performance-regression").status == 404


def test_an_unpaired_surrogate_in_a_body_is_a_400(api: ApiClient, connection_id: str) -> None:
    answer = api.call("POST", "/v1/rules", body=rule_body(connection_id, labels=["\ud800"]))
    assert answer.status == 400, answer.body
    assert "surrogate" in answer.body["error"]["message"]
    assert api.call("GET", "/v1/rules/cpu-high").status == 404


def test_another_tenants_rules_are_invisible(
    api: ApiClient, other_api: ApiClient, connection_id: str
) -> None:
    assert api.call("POST", "/v1/rules", body=rule_body(connection_id)).status == 201
    assert other_api.call("GET", "/v1/rules/cpu-high").status == 404
    assert other_api.call("GET", "/v1/rules").body["items"] == []


@pytest.mark.parametrize(
    ("changes", "path", "fragment", "line"),
    [
        ({"condition": "alarm.state =="}, "body.condition", "syntax error", 1),
        ({"condition": "regression.percentage > 20"}, "body.condition", "unknown variable 'regression'", 1),
        ({"condition": "''.__class__.__mro__"}, "body.condition", "not allowed in the sandbox", 1),
        ({"condition": "cycler.__init__.__globals__"}, "body.condition", "not allowed", 1),
        (
            {"dedup": {"key": "{{ event.data.alarmName }}\n{% for x in %}"}},
            "body.dedup.key",
            "(line 2)",
            None,
        ),
        ({"dedup": {"key": "{{ event['__class__'] }}"}}, "body.dedup.key", "not allowed in the sandbox", 1),
        ({"template": "no-such-template"}, "body.template", "no template", None),
        ({"connection_id": "conn_aaaaaaaaaaaaaaaaaaaa"}, "body.connection_id", "no connection", None),
    ],
)
def test_a_rule_that_would_fail_at_night_is_refused_on_save(
    api: ApiClient, connection_id: str, changes: dict[str, Any], path: str, fragment: str, line: int | None
) -> None:
    answer = api.call("POST", "/v1/rules", body=rule_body(connection_id, **changes))
    assert answer.status == 422, answer.body
    error = error_of(answer)
    assert error["path"] == path
    assert fragment in error["message"]
    assert error.get("line") == line
    assert api.call("GET", "/v1/rules").body["items"] == []


def test_a_regression_rule_may_use_its_data_keys(api: ApiClient, connection_id: str) -> None:
    body = rule_body(
        connection_id,
        name="slow",
        event_type="performance.regression",
        condition="regression.percentage > 20",
        template="performance-regression",
        dedup={"key": "{{ event.subject.name }}"},
    )
    assert api.call("POST", "/v1/rules", body=body).status == 201


def test_the_dry_run_renders_the_issue_and_says_whether_it_matches(
    api: ApiClient, connection_id: str, shared_dir: Path
) -> None:
    # No labels or assignee: nothing to ask this GitHub connection (tracker checks: test_rules_tracker_checks)
    assert api.call("POST", "/v1/rules", body=rule_body(connection_id, labels=[])).status == 201
    alarm = json.loads((shared_dir / "fixtures" / "aws" / ALARM_FIXTURE).read_text())
    answer = api.call("POST", "/v1/rules/cpu-high/test", body=alarm)
    assert answer.status == 200, answer.body
    rendered = answer.body["rendered"]
    assert rendered["matches"] is True
    assert (answer.body["tracker_checks"], answer.body["would_create"]) == ([], True)
    assert len(rendered["fingerprint"]) == 32
    assert rendered["title"] == "[ALARM] ServerCpuTooHigh"
    assert "Threshold:** 50.0" in rendered["body"]
    alarm["detail"]["state"]["value"] = "OK"
    assert api.call("POST", "/v1/rules/cpu-high/test", body=alarm).body["rendered"]["matches"] is False


def test_templates_crud_and_preview(api: ApiClient, shared_dir: Path) -> None:
    listed = api.call("GET", "/v1/templates").body["items"]
    assert {"cloudwatch-alarm", "performance-regression", "generic-event"} <= {t["name"] for t in listed}
    body = {
        "name": "mine",
        "title": "{{ event.type }} on {{ event.subject.name }}",
        "body": "{{ data_json }}",
    }
    assert api.call("POST", "/v1/templates", body=body).status == 201
    event = {
        "type": "backup.failed",
        "source": "backup-bot",
        "subject": {"kind": "table", "database": "sales", "schema": "public", "name": "orders"},
        "data": {"error": "disk full", "password": "pa55word!", "owner": "dba@example.com"},
    }
    preview = api.call("POST", "/v1/templates/mine/preview", body=event)
    assert preview.status == 200, preview.body
    assert preview.body["title"] == "backup.failed on orders"
    assert "disk full" in preview.body["body"]
    assert "pa55word!" not in preview.body["body"]
    assert "dba@example.com" not in preview.body["body"]
    replaced = api.call("PUT", "/v1/templates/mine", body={**body, "title": "changed", "version": 1})
    assert replaced.status == 200
    assert replaced.body["version"] == 2
    assert api.call("DELETE", "/v1/templates/mine").status == 204
    assert api.call("GET", "/v1/templates/mine").status == 404
    alarm = json.loads((shared_dir / "fixtures" / "aws" / ALARM_FIXTURE).read_text())
    builtin = api.call("POST", "/v1/templates/cloudwatch-alarm/preview", body=alarm)
    assert builtin.status == 200
    assert "CloudWatch console" in builtin.body["body"]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not allowed"),
        ("{{ cycler.__init__.__globals__.os }}", "not allowed"),
        ("{{ lipsum.__globals__ }}", "not allowed"),
        ("{{ self._TemplateReference__context }}", "not allowed"),
        ("{{ request.application }}", "unknown variable 'request'"),
        ("{% for x in %}", "syntax error"),
    ],
)
def test_ssti_payloads_in_a_template_are_refused_on_save(api: ApiClient, source: str, fragment: str) -> None:
    answer = api.call("POST", "/v1/templates", body={"name": "evil", "title": "t", "body": source})
    assert answer.status == 422, answer.body
    assert fragment in error_of(answer)["message"]


@pytest.mark.parametrize(
    "payload",
    [
        "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
        "{{ 'x' * 1000000000 }}",
        "{{ '%999999999d' % 1 }}",
        "{{ event.type|center(999999999) }}",
    ],
)
def test_huge_loops_and_outputs_are_refused_when_rendered(api: ApiClient, payload: str) -> None:
    assert (
        api.call("POST", "/v1/templates", body={"name": "big", "title": "t", "body": payload}).status == 201
    )
    event = {"type": "a.b", "source": "s"}
    answer = api.call("POST", "/v1/templates/big/preview", body=event)
    assert answer.status == 422
    assert "does not render" in answer.body["error"]["message"]


def test_every_builtin_template_previews_with_its_own_sample(api: ApiClient) -> None:
    from trackbridge.runtime.automation.builtins import BUILTIN_TEMPLATES

    for name in sorted(BUILTIN_TEMPLATES):
        answer = api.call("POST", f"/v1/templates/{name}/preview")
        assert answer.status == 200, (name, answer.body)
        assert answer.body["title"].strip()
        assert answer.body["body"].strip()
