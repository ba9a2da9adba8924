"""The whole embedded stack in this process: local.json, the API with a real key, queues, schedules, alarms.

The real authorizer, API-key issuance and sandbox trackers run; the other functions are small recorders,
so each path (HTTP, SQS, Scheduler, CloudWatch -> EventBridge -> SQS) can be observed at its end.
The stack uses its own stage and region: moto's state is process-wide, and the `local` stage in
us-east-1 belongs to other tests.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local.stack import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local-stack")]

REGION = "eu-west-2"
STAGE = "stacktest"


class Recorders:
    def __init__(self) -> None:
        self.events: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def handler(self, key: str) -> Callable[[Any, Any], Any]:
        def record(event: Any, context: Any) -> Any:
            with self._lock:
                self.events.setdefault(key, []).append(event)
            if key == "api":
                return {"statusCode": 200, "body": json.dumps({"path": event["path"]})}
            return {"batchItemFailures": []}

        return record

    def functions(self) -> dict[str, Callable[[Any, Any], Any]]:
        keys = ("api", "webhook", "apply", "sync", "auto_issue", "scheduler_maintenance")
        return {key: self.handler(key) for key in keys}

    def wait_for(self, key: str, predicate: Callable[[Any], bool], timeout_s: float = 120) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                found = [e for e in self.events.get(key, []) if predicate(e)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"{key} never received the expected event: {self.events.get(key)}")


@pytest.fixture(scope="module")
def recorders() -> Recorders:
    return Recorders()


@pytest.fixture(scope="module")
def stack(recorders: Recorders, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = LocalStack(
        port=0,
        state_dir=tmp_path_factory.mktemp("state"),
        functions=recorders.functions(),
        stage=STAGE,
        region=REGION,
    ).start()
    yield running
    running.stop()


def test_the_stack_allowlists_exactly_its_sandboxes(stack: LocalStack) -> None:
    """The embedded API may reach the sandbox trackers on loopback, and nothing else there: not moto, not
    the gateway itself."""
    state = stack.describe()
    ports = {
        int(url.rsplit(":", 1)[1].split("/", 1)[0])
        for tracker in state["trackers"].values()
        for key, url in tracker.items()
        if key.endswith("url")
    }
    allowlist = os.environ.get("TB_ALLOWED_PRIVATE_NETWORKS", "")

    assert allowlist == stack.egress_allowlist
    assert sorted(allowlist.split(",")) == sorted(f"127.0.0.1/32:{port}" for port in ports)
    for other in (state["aws_endpoint_url"], state["api_url"]):
        assert f":{other.rsplit(':', 1)[1].split('/', 1)[0]}" not in allowlist
    # Its demo connections point at the sandboxes, so creating them passed the same check.
    assert set(stack.demo_connections) == set(state["trackers"])


def records_bodies(event: dict[str, Any]) -> list[str]:
    return [record["body"] for record in event["Records"]]


def test_local_json_describes_the_running_stack(stack: LocalStack) -> None:
    state = json.loads(stack.state_file.read_text())

    assert stat.S_IMODE(stack.state_file.stat().st_mode) == 0o600
    assert set(state) == {
        "api_url",
        "api_key",
        "aws_endpoint_url",
        "region",
        "table",
        "stage",
        "secrets_prefix",
        "allowed_private_networks",
        "trackers",
        "connections",
    }
    assert state["stage"] == STAGE
    assert state["secrets_prefix"] == f"trackbridge/{STAGE}/"
    assert state["api_url"] == stack.api_url
    assert state["api_url"].startswith("http://127.0.0.1:")
    assert state["api_url"].endswith("/v1")
    assert state["api_key"].startswith("tb_")
    assert state["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert state["region"] == REGION
    assert state["table"] == f"trackbridge-{STAGE}"
    assert state["trackers"]
    assert all(tracker["url"].startswith("http://127.0.0.1:") for tracker in state["trackers"].values())
    assert stack.startup_s is not None


def test_demo_key_passes_the_real_authorizer(stack: LocalStack, recorders: Recorders) -> None:
    assert stack.api_key is not None
    with httpx.Client(timeout=60) as client:
        allowed = client.get(
            f"{stack.api_url}/connections", headers={"Authorization": f"Bearer {stack.api_key}"}
        )
        missing = client.get(f"{stack.api_url}/connections")
        wrong = client.get(
            f"{stack.api_url}/connections", headers={"Authorization": "Bearer tb_nokey_nosecret"}
        )

    assert allowed.status_code == 200
    assert allowed.json() == {"path": "/v1/connections"}
    authorizer = recorders.events["api"][-1]["requestContext"]["authorizer"]
    assert authorizer["tenant"] == "demo"
    assert (missing.status_code, wrong.status_code) == (401, 401)


def test_queue_messages_reach_their_consumers(stack: LocalStack, recorders: Recorders) -> None:
    assert stack.resources is not None
    sqs = stack.resources.client("sqs")

    sqs.send_message(
        QueueUrl=stack.resources.queue_url("inbound"),
        MessageBody="change-1",
        MessageGroupId="issue-1",
        MessageDeduplicationId="change-1",
    )

    event = recorders.wait_for("apply", lambda e: "change-1" in records_bodies(e))
    assert event["Records"][0]["eventSourceARN"] == stack.resources.queue_arns["inbound"]


def test_schedules_in_moto_fire_into_the_sync_queue(stack: LocalStack, recorders: Recorders) -> None:
    assert stack.resources is not None
    stack.resources.client("scheduler").create_schedule(
        Name="stack-sync",
        GroupName=stack.resources.schedule_group,
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": stack.resources.queue_arns["sync"],
            "RoleArn": stack.resources.scheduler_role_arn,
            "Input": json.dumps({"connection_id": "c-sched"}),
        },
    )

    recorders.wait_for("sync", lambda e: '{"connection_id": "c-sched"}' in records_bodies(e))


def test_alarm_state_change_reaches_the_auto_issue_function(stack: LocalStack, recorders: Recorders) -> None:
    assert stack.resources is not None
    cloudwatch = stack.resources.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="StackTestCpu",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=90.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="StackTestCpu", StateValue="ALARM", StateReason="CPU on fire")

    def is_alarm(event: dict[str, Any]) -> bool:
        return any(
            json.loads(body).get("detail", {}).get("alarmName") == "StackTestCpu"
            for body in records_bodies(event)
        )

    event = recorders.wait_for("auto_issue", is_alarm)
    delivered = json.loads(event["Records"][0]["body"])
    assert delivered["detail-type"] == "CloudWatch Alarm State Change"
    assert delivered["detail"]["state"]["value"] == "ALARM"
    # OK when the bridge saw the new alarm before the change, INSUFFICIENT_DATA (as AWS reports a new
    # alarm's first transition) when the change came first.
    assert delivered["detail"]["previousState"]["value"] in {"OK", "INSUFFICIENT_DATA"}
    assert delivered["resources"] == [
        cloudwatch.describe_alarms(AlarmNames=["StackTestCpu"])["MetricAlarms"][0]["AlarmArn"]
    ]


def _refuses(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return False
    except OSError:
        return True


def test_stop_leaves_no_thread_port_file_or_environment_behind(tmp_path: Path) -> None:
    before_threads = {t.ident for t in threading.enumerate()}
    before_env = os.environ.get("TB_TABLE_NAME")
    before_allowlist = os.environ.get("TB_ALLOWED_PRIVATE_NETWORKS")
    stack = LocalStack(
        port=0,
        state_dir=tmp_path,
        functions=Recorders().functions(),
        stage="stackstop",
        region="eu-west-3",
    ).start()
    urls = [stack.api_url, stack.describe()["aws_endpoint_url"]]
    urls += [tracker["url"] for tracker in stack.describe()["trackers"].values()]
    during_env = os.environ.get("TB_TABLE_NAME")
    during_allowlist = os.environ.get("TB_ALLOWED_PRIVATE_NETWORKS")

    stack.stop()
    stack.stop()  # idempotent
    deadline = time.monotonic() + 60
    leftover = [t for t in threading.enumerate() if t.ident not in before_threads and t.is_alive()]
    while leftover and time.monotonic() < deadline:
        time.sleep(0.05)
        leftover = [t for t in leftover if t.is_alive()]

    assert during_env == "trackbridge-stackstop"
    assert during_allowlist
    assert os.environ.get("TB_ALLOWED_PRIVATE_NETWORKS") == before_allowlist
    assert leftover == []
    assert all(_refuses(url) for url in urls)
    assert not (tmp_path / "local.json").exists()
    assert os.environ.get("TB_TABLE_NAME") == before_env


def test_a_failed_start_cleans_up_and_keeps_another_stacks_state_file(tmp_path: Path) -> None:
    other = tmp_path / "local.json"
    other.write_text('{"api_url": "http://127.0.0.1:1/v1"}')

    def broken_sandboxes(seed: str) -> Any:
        raise RuntimeError("sandbox port taken")

    stack = LocalStack(
        port=0,
        state_dir=tmp_path,
        functions=Recorders().functions(),
        stage="stackfail",
        region="eu-north-1",
        start_sandboxes=broken_sandboxes,
    )
    before_env = os.environ.get("TB_TABLE_NAME")

    with pytest.raises(RuntimeError, match="sandbox port taken"):
        stack.start()

    assert other.read_text() == '{"api_url": "http://127.0.0.1:1/v1"}'
    assert stack.gateway is None
    assert stack.moto is None
    assert os.environ.get("TB_TABLE_NAME") == before_env
