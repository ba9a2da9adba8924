"""The pure parts of the embedded stack: policy evaluation, routing, response mapping, batch results."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from infra.definition import FUNCTIONS, ROUTES
from infra.local.alarms import AlarmState, alarm_configuration, state_change_entry
from infra.local.apigw import (
    AuthorizerFailure,
    MalformedProxyResponse,
    _resources,
    build_proxy_event,
    policy_allows,
    proxy_response,
)
from infra.local.context import make_context
from infra.local.invoke import LocalFunctions, UnknownFunction
from infra.local.pollers import failed_ids, sqs_record

ARN = "arn:aws:execute-api:us-east-1:123456789012:local/v1/GET/v1/connections"


def statement(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/*")], True),
        ([statement("Allow", ARN)], True),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local/v1/POST/*")], False),
        ([statement("Allow", ["arn:other", "arn:aws:execute-api:*:*:local/*/GET/*"])], True),
        ([statement("Allow", "*"), statement("Deny", "*/GET/v1/connections")], False),
        ([statement("Allow", "*", action="execute-api:*")], True),
        ([statement("Allow", "*", action="s3:GetObject")], False),
        ([statement("Deny", "*")], False),
        ([], False),
    ],
)
def test_policy_evaluation(statements: list[dict[str, Any]], allowed: bool) -> None:
    assert policy_allows({"Version": "2012-10-17", "Statement": statements}, ARN) is allowed


@pytest.mark.parametrize("policy", [None, {}, {"Statement": ["not an object"]}])
def test_malformed_policies_are_authorizer_failures(policy: Any) -> None:
    with pytest.raises(AuthorizerFailure):
        policy_allows(policy, ARN)


@pytest.mark.parametrize(
    ("path", "resource", "params"),
    [
        ("/v1/health", "/v1/health", {}),
        ("/v1/healthz", "/v1/{proxy+}", {"proxy": "healthz"}),
        (
            "/v1/webhooks/gitlab/c9",
            "/v1/webhooks/{provider}/{connection_id}",
            {"provider": "gitlab", "connection_id": "c9"},
        ),
        ("/v1/webhooks/gitlab/c9/extra", "/v1/{proxy+}", {"proxy": "webhooks/gitlab/c9/extra"}),
        ("/v1/oauth/jira/callback", "/v1/oauth/jira/callback", {}),
    ],
)
def test_the_most_specific_resource_wins(path: str, resource: str, params: dict[str, str]) -> None:
    parts = path.split("/")[1:]
    matched = next((r, p) for r in _resources(ROUTES) if (p := r.match(parts)) is not None)

    assert matched[0].path == resource
    assert matched[1] == params


def test_proxy_response_rejects_non_objects() -> None:
    with pytest.raises(MalformedProxyResponse):
        proxy_response("ok", request_id="r")
    with pytest.raises(MalformedProxyResponse):
        proxy_response({"statusCode": 700}, request_id="r")
    with pytest.raises(MalformedProxyResponse):
        proxy_response({"statusCode": 200, "body": "%%%", "isBase64Encoded": True}, request_id="r")


def test_proxy_response_defaults_to_json_200() -> None:
    response = proxy_response({"body": "{}"}, request_id="r1")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-amzn-RequestId"] == "r1"


def test_text_bodies_that_are_not_utf8_travel_as_base64() -> None:
    raw = b"\xff\xfe"
    request = Request(
        EnvironBuilder(path="/v1/x", method="POST", data=raw, content_type="text/plain").get_environ()
    )
    resource = _resources([ROUTES[0]])[0]

    event = build_proxy_event(
        request,
        resource=resource,
        path_parameters={"proxy": "x"},
        body=raw,
        request_id="r",
        api_id="local",
        stage="v1",
        authorizer=None,
    )

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    assert event["queryStringParameters"] is None
    assert "authorizer" not in event["requestContext"]


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, {"a"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": "a"}, None),
        ({"batchItemFailures": ["a"]}, None),
    ],
)
def test_failed_ids_follow_lambda_rules(result: Any, expected: set[str] | None) -> None:
    assert failed_ids(result, {"a", "b"}) == expected


def test_sqs_record_encodes_binary_attributes() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "h",
        "Body": "b",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
    }

    record = sqs_record(message, queue_arn="arn:q", region="eu-west-1")

    assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    assert record["md5OfBody"] == "92eb5ffee6ae2fec3ad71c777531578f"
    assert record["awsRegion"] == "eu-west-1"


def test_context_counts_down_from_the_function_timeout() -> None:
    now = [100.0]
    spec = next(s for s in FUNCTIONS if s.key == "sync")

    context = make_context(spec, stage="local", region="us-east-1", clock=lambda: now[0])
    full = context.get_remaining_time_in_millis()
    now[0] += 899.5
    nearly_done = context.get_remaining_time_in_millis()
    now[0] += 10
    over = context.get_remaining_time_in_millis()

    assert full == 900_000
    assert nearly_done == 500
    assert over == 0
    assert context.function_name == "trackbridge-local-sync"
    assert context.memory_limit_in_mb == 1024
    assert (
        context.invoked_function_arn
        == "arn:aws:lambda:us-east-1:123456789012:function:trackbridge-local-sync"
    )
    assert context.log_group_name == "/aws/lambda/trackbridge-local-sync"


def test_function_table_rejects_unknown_keys_and_maps_names() -> None:
    with pytest.raises(UnknownFunction):
        LocalFunctions({"nope": lambda event, context: None})
    functions = LocalFunctions({"sync": lambda event, context: context.function_name}, stage="dev")

    assert functions.invoke("sync", {}) == "trackbridge-dev-sync"
    assert functions.key_for_name("trackbridge-dev-auto-issue") == "auto_issue"
    assert functions.key_for_name("someone-else") is None
    with pytest.raises(UnknownFunction):
        functions.invoke("missing", {})


def test_one_invocation_at_a_time_per_function_but_functions_run_side_by_side() -> None:
    # Given: two functions whose handlers record how many of their own invocations overlap
    lock = threading.Lock()
    running: dict[str, int] = {"api": 0, "sync": 0}
    most: dict[str, int] = {"api": 0, "sync": 0}
    both_at_once = threading.Event()

    def recorder(key: str) -> Any:
        def handle(event: Any, context: Any) -> str:
            with lock:
                running[key] += 1
                most[key] = max(most[key], running[key])
                if running["api"] and running["sync"]:
                    both_at_once.set()
            time.sleep(0.005)  # give another thread the chance to overlap
            with lock:
                running[key] -= 1
            return key

        return handle

    functions = LocalFunctions({"api": recorder("api"), "sync": recorder("sync")})

    # When: 16 threads invoke both functions 64 times in all
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: functions.invoke("api" if i % 2 else "sync", {}), range(64)))

    # Then: every call answered, no function ever ran twice at once, yet the two did overlap
    assert sorted(set(results)) == ["api", "sync"]
    assert most == {"api": 1, "sync": 1}
    assert both_at_once.is_set()


def test_composite_alarm_configuration_and_entry() -> None:
    alarm = {
        "AlarmName": "Service",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Service",
        "AlarmRule": "ALARM(A) OR ALARM(B)",
        "AlarmDescription": "d",
    }
    previous = AlarmState("OK", "fine", "{}", "2022-07-22T15:56:14.552+0000")
    current = AlarmState("ALARM", "A fired", '{"triggeringAlarms": []}', "2022-07-22T15:57:45.394+0000")

    entry = state_change_entry(alarm, previous, current, composite=True)

    assert alarm_configuration(alarm, composite=True) == {
        "description": "d",
        "alarmRule": "ALARM(A) OR ALARM(B)",
    }
    assert entry["Source"] == "aws.cloudwatch"
    assert entry["Resources"] == [alarm["AlarmArn"]]
    detail = json.loads(entry["Detail"])
    assert detail["previousState"] == {"value": "OK", "reason": "fine", "timestamp": previous.timestamp}
    assert detail["state"]["reasonData"] == '{"triggeringAlarms": []}'
