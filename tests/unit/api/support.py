"""Helpers for API tests: REST proxy events as API Gateway sends them, a Lambda context, captured logs.

Events are built from Powertools' own sample (``shared/fixtures/aws/apigw.rest_proxy.event.powertools.json``),
with the method, path, body, headers and the authorizer context replaced. The integration tests use these too.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SAMPLE = "fixtures/aws/apigw.rest_proxy.event.powertools.json"


@cache
def _sample(shared_dir: Path) -> dict[str, Any]:
    return json.loads((shared_dir / SAMPLE).read_text(encoding="utf-8"))


def rest_event(
    shared_dir: Path,
    method: str,
    path: str,
    *,
    body: Any = None,
    tenant: str | None = "acme",
    key_id: str = "testkey",
    scopes: str = "*",
    authorizer: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str = "req-0001",
) -> dict[str, Any]:
    event = copy.deepcopy(_sample(shared_dir))
    event["httpMethod"] = method
    event["path"] = path
    event["resource"] = path
    event["body"] = body if body is None or isinstance(body, str) else json.dumps(body)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    event["headers"] = all_headers
    event["multiValueHeaders"] = {name: [value] for name, value in all_headers.items()}
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["pathParameters"] = None
    context = event["requestContext"]
    context["httpMethod"] = method
    context["path"] = path
    context["resourcePath"] = path
    context["requestId"] = request_id
    if authorizer is not None:
        context["authorizer"] = authorizer
    elif tenant is None:
        context["authorizer"] = {"claims": None, "scopes": None}
    else:
        context["authorizer"] = {"tenant": tenant, "key_id": key_id, "scopes": scopes, "principalId": key_id}
    return event


@dataclass
class FakeLambdaContext:
    function_name: str = "trackbridge-test-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:trackbridge-test-api"
    aws_request_id: str = "lambda-req-0001"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def header(response: dict[str, Any], name: str) -> str | None:
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return values[0] if isinstance(values, list) else values
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


class LogCapture(logging.Handler):
    """Every log line any logger emits while installed, formatted as Powertools writes it to CloudWatch."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        from trackbridge.runtime.observability import logger

        self.setFormatter(logger.registered_handler.formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def captured_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
