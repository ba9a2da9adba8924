"""The local alarm path end to end: ``set_alarm_state`` on moto -> the alarm bridge -> moto's EventBridge rule
-> the auto-issue queue (the body as AWS delivers it) -> ``functions.auto_issue.handler`` -> one issue in
the GitLab sandbox; OK closes it (settle time 0), and a recurrence reopens it.

The alarms live in a stage and region of their own, so no other test's queue sees them; the handler runs
against the session's ``local`` stage (its table, connections and secrets), as the embedded stack does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from functions.auto_issue import handler as auto_issue_handler
from infra.local.alarms import AlarmBridge
from infra.local.provision import LocalResources, provision
from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.integration.api.test_events_api import sqs_record
from tests.support.sandboxes import egress_allowed
from tests.unit.api.support import FakeLambdaContext
from trackbridge.domain.automation import Dedup, Rule
from trackbridge.runtime import container
from trackbridge.runtime.automation.consumer import ALARM_TENANT_ENV
from trackbridge.runtime.settings import get_settings
from trackbridge.storage.automation import RuleRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("auto-issue-alarms")]

REGION = "ap-southeast-2"


@pytest.fixture(scope="module")
def alarms(moto_endpoint: str, local_resources: LocalResources) -> LocalResources:
    return provision(endpoint_url=moto_endpoint, stage="autoissuealarms", region=REGION)


@pytest.fixture(scope="module")
def gitlab(local_resources: LocalResources) -> Iterator[SandboxTracker[Any]]:
    sandbox = SANDBOXES["gitlab"](seed="alarms", issues=1, comments_per_issue=0).start()
    try:
        with egress_allowed(*sandbox.urls()):
            container.reset()
            yield sandbox
    finally:
        sandbox.stop()
        container.reset()
        container.reset()


def delivered(alarms: LocalResources) -> list[dict[str, Any]]:
    sqs = alarms.client("sqs")
    url = alarms.queue_urls["auto_issue"]
    records = []
    for _ in range(10):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            records.append(sqs_record(message["Body"], message["MessageId"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return records


def test_a_moto_alarm_becomes_an_issue_that_closes_and_reopens(
    alarms: LocalResources,
    gitlab: SandboxTracker[Any],
    api: ApiClient,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    # Given a GitLab connection, a rule for CPU alarms, and an alarm the bridge watches
    answer = api.call("POST", "/v1/connections", body=gitlab.connection_request(name="gl alarms"))
    assert answer.status == 201, answer.body
    RuleRepository(container.table()).create(
        tenant,
        Rule(
            name="cpu",
            event_type="cloudwatch.alarm",
            condition="alarm.state == 'ALARM'",
            connection_id=answer.body["id"],
            template="cloudwatch-alarm",
            labels=["alarm"],
            dedup=Dedup(key="{{ alarm.name }}"),
            on_resolve="close",
            settle_s=0,
        ),
    )
    monkeypatch.setenv(ALARM_TENANT_ENV, tenant)
    get_settings.cache_clear()  # settings are read once per process: read them again, with the tenant
    request.addfinalizer(get_settings.cache_clear)
    name = f"cpu-{uuid.uuid4().hex[:8]}"
    cloudwatch = alarms.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmDescription="CPU too high",
    )
    bridge = AlarmBridge(cloudwatch=cloudwatch, events=alarms.client("events"), alarm_name_prefix=name)
    bridge.baseline()
    delivered(alarms)
    before = gitlab.issue_counts()[0]

    def change(state: str, reason: str) -> dict[str, Any]:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
        assert len(bridge.poll_once()) == 1
        records = delivered(alarms)
        assert len(records) == 1
        assert json.loads(records[0]["body"])["detail-type"] == "CloudWatch Alarm State Change"
        result = auto_issue_handler({"Records": records}, FakeLambdaContext(function_name="auto_issue"))
        assert result == {"batchItemFailures": []}
        return records[0]

    # When it goes into ALARM: one issue with the rendered template
    change("ALARM", "Threshold Crossed: 1 datapoint [97.0] was greater than the threshold (50.0)")
    assert gitlab.issue_counts()[0] == before + 1
    listed = api.call("GET", "/v1/issues", query={"connection": answer.body["id"]})
    assert listed.status == 200, listed.body
    (listed_issue,) = [i for i in listed.body["items"] if name in i["title"]]
    issue = api.call("GET", f"/v1/issues/{listed_issue['ref']}").body
    assert issue["title"] == f"[ALARM] {name}"
    assert "CPU too high" in issue["body"]
    assert "AWS/EC2/CPUUtilization" in issue["body"]
    assert "alarm" in issue["labels"]

    # When it recovers: closed; when it fires again: the same issue reopens
    change("OK", "Threshold Crossed: back under")
    closed = api.call("GET", f"/v1/issues/{issue['ref']}")
    assert closed.body["status_category"] == "done"
    change("ALARM", "Threshold Crossed again")
    reopened = api.call("GET", f"/v1/issues/{issue['ref']}")
    assert reopened.body["status_category"] != "done"
    assert gitlab.issue_counts()[0] == before + 1
