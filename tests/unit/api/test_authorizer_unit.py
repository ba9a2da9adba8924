"""The authorizer's event handling with a fake key service; the moto round trip is an integration test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.authorizer import handler
from tests.unit.api.support import FakeLambdaContext, captured_logs
from trackbridge.domain.api_keys import ApiKey
from trackbridge.domain.errors import Unauthorized
from trackbridge.runtime import container

TOKEN = "tb_abcdefghijklmnopqrst_" + "s" * 43
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/GET/v1/connections"


class FakeKeys:
    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def authenticate(self, token: str | None) -> ApiKey:
        self.seen.append(token)
        if token != TOKEN:
            raise Unauthorized(
                "unknown API key", details={"reason": "unknown", "key_id": "abcdefghijklmnopqrst"}
            )
        return ApiKey(
            key_id="abcdefghijklmnopqrst",
            tenant="acme",
            scopes=("connections:read", "audit:read"),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> FakeKeys:
    fake = FakeKeys()
    monkeypatch.setattr(container, "api_key_service", lambda: fake)
    return fake


def token_event(authorization: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": authorization, "methodArn": METHOD_ARN}


def test_valid_key_allows_the_whole_stage(keys: FakeKeys) -> None:
    with captured_logs() as logs:
        response = handler(token_event(f"Bearer {TOKEN}"), FakeLambdaContext())
    assert response == {
        "principalId": "abcdefghijklmnopqrst",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abc123/v1/*",
                }
            ],
        },
        "context": {
            "tenant": "acme",
            "key_id": "abcdefghijklmnopqrst",
            "scopes": "connections:read,audit:read",
        },
    }
    assert keys.seen == [TOKEN]
    assert TOKEN not in logs.text
    assert "s" * 43 not in logs.text


def test_request_events_read_the_authorization_header(keys: FakeKeys) -> None:
    event = {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": {"authorization": f"Bearer {TOKEN}"}}
    assert handler(event, FakeLambdaContext())["context"]["tenant"] == "acme"


@pytest.mark.parametrize(
    "event",
    [
        token_event("Bearer tb_wrong"),
        token_event(TOKEN),  # no scheme
        token_event(""),
        {"type": "TOKEN", "methodArn": METHOD_ARN},
        {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": {}},
        {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": None},
        {"type": "TOKEN", "authorizationToken": f"Bearer {TOKEN}", "methodArn": "not-an-arn"},
        {"type": "TOKEN", "authorizationToken": f"Bearer {TOKEN}"},
    ],
)
def test_anything_else_is_unauthorized_by_api_gateway_convention(
    keys: FakeKeys, event: dict[str, Any]
) -> None:
    with captured_logs() as logs, pytest.raises(Exception, match=r"^Unauthorized$") as caught:
        handler(event, FakeLambdaContext())
    assert type(caught.value) is Exception
    assert TOKEN not in logs.text
