"""The local API Gateway over real loopback HTTP: events, authorizer, gateway responses, response mapping."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.definition import AUTHORIZER_CACHE_TTL_S
from infra.local.apigw import MAX_BODY_BYTES, LocalApiGateway
from infra.local.invoke import LocalFunctions

pytestmark = pytest.mark.integration

GOOD_KEY = "tb_k1_secret"
DENIED_KEY = "tb_k2_denied"
CRASH_KEY = "tb_k3_crash"
JSON_HEADERS = {"Content-Type": "application/json"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    """Small handlers standing in for functions/: they record what they get and answer simply."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reply: dict[str, Any] | None = None
    fail: bool = False

    def _record(self, key: str, event: dict[str, Any], context: Any) -> None:
        assert context.get_remaining_time_in_millis() > 0
        self.events.setdefault(key, []).append(event)

    def api(self, event: dict[str, Any], context: Any) -> Any:
        self._record("api", event, context)
        if self.fail:
            raise RuntimeError("handler bug")
        if self.reply is not None:
            return self.reply
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"ok": 1}),
        }

    def webhook(self, event: dict[str, Any], context: Any) -> Any:
        self._record("webhook", event, context)
        return {"statusCode": 202, "body": ""}

    def authorizer(self, event: dict[str, Any], context: Any) -> Any:
        self._record("authorizer", event, context)
        token = event["authorizationToken"]
        if token == CRASH_KEY:
            raise KeyError("boom")
        if token not in (f"Bearer {GOOD_KEY}", f"Bearer {DENIED_KEY}"):
            raise Exception("Unauthorized")  # the exact exception API Gateway maps to 401
        effect = "Allow" if token == f"Bearer {GOOD_KEY}" else "Deny"
        arn_prefix = event["methodArn"].split("/", 1)[0]
        return {
            "principalId": "k1",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": f"{arn_prefix}/*"}
                ],
            },
            "context": {"tenant": "acme", "key_id": "k1", "scopes": "*", "admin": True, "quota": 5},
        }


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def gateway(recorder: Recorder, clock: FakeClock) -> Iterator[LocalApiGateway]:
    functions = LocalFunctions(
        {"api": recorder.api, "authorizer": recorder.authorizer, "webhook": recorder.webhook}
    )
    gw = LocalApiGateway(functions, port=0, clock=clock, throttle_burst=10_000, throttle_rate=10_000).start()
    yield gw
    gw.stop()


@pytest.fixture
def http(gateway: LocalApiGateway, recorder: Recorder) -> Iterator[httpx.Client]:
    recorder.events.clear()
    recorder.reply = None
    recorder.fail = False
    gateway.clear_authorizer_cache()
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        yield client


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert body["error"]["details"] is None
    assert body["error"]["message"]
    return str(body["error"]["code"])


def test_proxy_event_has_the_fixture_shape(http: httpx.Client, recorder: Recorder, shared_dir: Path) -> None:
    fixture = json.loads((shared_dir / "fixtures/aws/apigw.rest_proxy.event.powertools.json").read_text())

    response = http.post(
        "/v1/connections/c1/syncs?mode=full&x=1&x=2",
        headers={"Authorization": f"Bearer {GOOD_KEY}", "X-Trace": "a", **JSON_HEADERS},
        content=b'{"mode": "full"}',
    )

    assert response.status_code == 200
    assert response.json() == {"ok": 1}
    event = recorder.events["api"][0]
    assert set(fixture) <= set(event)
    context = event["requestContext"]
    assert {"accountId", "apiId", "resourcePath", "httpMethod", "requestId", "stage", "path"} <= set(context)
    assert set(fixture["requestContext"]["identity"]) - {"clientCert"} <= set(context["identity"])
    assert event["resource"] == "/v1/{proxy+}"
    assert event["path"] == "/v1/connections/c1/syncs"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "connections/c1/syncs"}
    assert event["queryStringParameters"] == {"mode": "full", "x": "2"}
    assert event["multiValueQueryStringParameters"] == {"mode": ["full"], "x": ["1", "2"]}
    assert event["headers"]["X-Trace"] == "a"
    assert event["multiValueHeaders"]["X-Trace"] == ["a"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["body"] == '{"mode": "full"}'
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    assert context["accountId"] == "123456789012"
    assert context["resourcePath"] == "/v1/{proxy+}"
    assert context["stage"] == "v1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(context["requestTimeEpoch"], int)
    assert response.headers["x-amzn-RequestId"] == context["requestId"]
    # Authorizer context values arrive stringified, next to the principal.
    assert context["authorizer"] == {
        "principalId": "k1",
        "tenant": "acme",
        "key_id": "k1",
        "scopes": "*",
        "admin": "true",
        "quota": "5",
    }
    method_arn = recorder.events["authorizer"][0]["methodArn"]
    assert method_arn == "arn:aws:execute-api:us-east-1:123456789012:local/v1/POST/v1/connections/c1/syncs"


def test_binary_bodies_are_base64(http: httpx.Client, recorder: Recorder) -> None:
    payload = bytes(range(256))

    http.put(
        "/v1/attachments/a1",
        headers={"Authorization": f"Bearer {GOOD_KEY}", "Content-Type": "application/octet-stream"},
        content=payload,
    )

    event = recorder.events["api"][0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_missing_key_is_401_without_calling_the_authorizer(http: httpx.Client, recorder: Recorder) -> None:
    response = http.get("/v1/connections")

    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"
    assert response.headers["content-type"] == "application/json"
    assert "authorizer" not in recorder.events
    assert "api" not in recorder.events


def test_invalid_key_is_401(http: httpx.Client, recorder: Recorder) -> None:
    response = http.get("/v1/connections", headers={"Authorization": "Bearer tb_nope_nope"})

    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"
    assert len(recorder.events["authorizer"]) == 1
    assert "api" not in recorder.events


def test_decisions_are_cached_per_token_for_the_ttl(
    http: httpx.Client, recorder: Recorder, clock: FakeClock
) -> None:
    headers = {"Authorization": f"Bearer {GOOD_KEY}"}

    first = http.get("/v1/connections", headers=headers)
    second = http.get("/v1/issues", headers=headers)
    calls_within_ttl = len(recorder.events["authorizer"])
    clock.now += AUTHORIZER_CACHE_TTL_S + 1
    third = http.get("/v1/issues", headers=headers)

    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 200]
    assert calls_within_ttl == 1
    assert len(recorder.events["authorizer"]) == 2
    assert len(recorder.events["api"]) == 3


def test_deny_policy_is_403(http: httpx.Client, recorder: Recorder) -> None:
    response = http.get("/v1/connections", headers={"Authorization": f"Bearer {DENIED_KEY}"})

    assert response.status_code == 403
    assert error_code(response) == "FORBIDDEN"
    assert "api" not in recorder.events


def test_authorizer_crash_is_500(http: httpx.Client, recorder: Recorder) -> None:
    response = http.get("/v1/connections", headers={"Authorization": CRASH_KEY})

    assert response.status_code == 500
    assert error_code(response) == "GATEWAY_ERROR"
    assert "api" not in recorder.events


@pytest.mark.parametrize(
    "path", ["/v1/health", "/v1/openapi.json", "/v1/docs", "/v1/oauth/jira/callback?code=c"]
)
def test_public_routes_bypass_the_authorizer(http: httpx.Client, recorder: Recorder, path: str) -> None:
    response = http.get(path)

    assert response.status_code == 200
    assert "authorizer" not in recorder.events
    event = recorder.events["api"][0]
    assert event["resource"] == path.split("?")[0]
    assert event["pathParameters"] is None
    assert "authorizer" not in event["requestContext"]


def test_webhooks_reach_their_function_with_path_parameters(http: httpx.Client, recorder: Recorder) -> None:
    raw = b'{"action":"opened"}'

    response = http.post("/v1/webhooks/github/conn-1", content=raw, headers=JSON_HEADERS)

    assert response.status_code == 202
    assert "authorizer" not in recorder.events
    event = recorder.events["webhook"][0]
    assert event["resource"] == "/v1/webhooks/{provider}/{connection_id}"
    assert event["pathParameters"] == {"provider": "github", "connection_id": "conn-1"}
    assert event["body"].encode() == raw


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v2/connections"),
        ("GET", "/v1/webhooks/github/c1"),
        ("GET", "/v1"),
    ],
)
def test_unknown_routes_are_404(http: httpx.Client, recorder: Recorder, method: str, path: str) -> None:
    response = http.request(method, path, headers={"Authorization": f"Bearer {GOOD_KEY}"})

    assert response.status_code == 404
    assert error_code(response) == "NOT_FOUND"
    assert recorder.events == {}


@pytest.mark.parametrize("method", ["POST", "DELETE", "TRACE", "PROPFIND"])
def test_other_methods_of_a_public_resource_reach_the_api_function(
    http: httpx.Client, recorder: Recorder, method: str
) -> None:
    # The api function answers them 405 with Allow (tests/unit/api); the gateway only routes, unauthorized.
    response = http.request(method, "/v1/health")

    assert response.status_code == 200
    (event,) = recorder.events["api"]
    assert event["httpMethod"] == method
    assert event["resource"] == "/v1/health"
    assert "authorizer" not in event["requestContext"]


def test_bodies_over_10_mb_are_413(http: httpx.Client, recorder: Recorder) -> None:
    too_big = http.post(
        "/v1/webhooks/github/c1", content=b"x" * (MAX_BODY_BYTES + 1), headers={"Content-Type": "text/plain"}
    )
    just_fits = http.post(
        "/v1/webhooks/github/c1", content=b"x" * MAX_BODY_BYTES, headers={"Content-Type": "text/plain"}
    )

    assert too_big.status_code == 413
    assert error_code(too_big) == "PAYLOAD_TOO_LARGE"
    assert just_fits.status_code == 202
    assert len(recorder.events["webhook"]) == 1


def test_handler_exception_is_502(http: httpx.Client, recorder: Recorder) -> None:
    recorder.fail = True

    response = http.get("/v1/health")

    assert response.status_code == 502
    assert error_code(response) == "GATEWAY_ERROR"


@pytest.mark.parametrize(
    "reply",
    [
        {"statusCode": "teapot"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": []},
    ],
)
def test_malformed_proxy_response_is_502(
    http: httpx.Client, recorder: Recorder, reply: dict[str, Any]
) -> None:
    recorder.reply = reply

    response = http.get("/v1/health")

    assert response.status_code == 502
    assert error_code(response) == "GATEWAY_ERROR"


def test_proxy_response_maps_status_headers_and_base64_body(http: httpx.Client, recorder: Recorder) -> None:
    recorder.reply = {
        "statusCode": 201,
        "headers": {"Content-Type": "image/png", "X-Single": "s", "X-Both": "from-headers"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-Both": ["from-multi"]},
        "body": base64.b64encode(b"\x89PNG\x00").decode(),
        "isBase64Encoded": True,
    }

    response = http.get("/v1/health")

    assert response.status_code == 201
    assert response.content == b"\x89PNG\x00"
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-single"] == "s"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers.get_list("x-both") == ["from-multi"]


def test_stage_throttling_answers_429() -> None:
    recorder = Recorder()
    functions = LocalFunctions({"api": recorder.api, "authorizer": recorder.authorizer})
    gateway = LocalApiGateway(functions, port=0, throttle_rate=0.001, throttle_burst=2).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=60) as client:
            statuses = [client.get("/v1/health").status_code for _ in range(3)]
            throttled = client.get("/v1/health")
    finally:
        gateway.stop()

    assert statuses == [200, 200, 429]
    assert error_code(throttled) == "RATE_LIMITED"
