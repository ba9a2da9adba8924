"""Recognisable fake credentials go in; they reach Secrets Manager and nothing else (DESIGN section 10)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from tests.integration.api.conftest import ApiClient
from tests.unit.api.support import captured_logs
from trackbridge.runtime import container

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

SENTINELS = {
    "github": "fake-gh-token-SENTINEL-5f1c",
    "jira": "fake-jira-token-SENTINEL-77a0",
    "webhook": "fake-webhook-SENTINEL-c3d2",
    "rotated": "fake-rotated-SENTINEL-9e41",
    "rejected": "fake-rejected-SENTINEL-0b7d",
}


def tenant_items(stack: LocalResources, tenant: str) -> list[dict[str, Any]]:
    client = stack.client("dynamodb")
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": stack.table_name,
        "FilterExpression": "begins_with(pk, :t)",
        "ExpressionAttributeValues": {":t": {"S": f"T#{tenant}"}},
    }
    for _ in range(100):  # bounded: the test table is small
        page = client.scan(**kwargs)
        items.extend({k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


def test_credentials_appear_in_no_log_response_or_item(
    api: ApiClient, stack: LocalResources, tenant: str
) -> None:
    responses: list[str] = []
    with captured_logs() as logs:

        def call(method: str, path: str, body: Any = None) -> Any:
            answer = api.call(method, path, body=body)
            responses.append(json.dumps(answer.raw))
            return answer

        gh = call(
            "POST",
            "/v1/connections",
            {
                "name": "gh",
                "provider": "github",
                "base_url": "https://api.github.com",
                "scope": {"repo": "acme/web"},
                "credentials": {"token": SENTINELS["github"]},
                "webhook_secret": SENTINELS["webhook"],
            },
        ).body["id"]
        call(
            "POST",
            "/v1/connections",
            {
                "name": "jira",
                "provider": "jira",
                "base_url": "https://acme.atlassian.net",
                "scope": {"project": "OPS"},
                "credentials": {"email": "ops@acme.test", "api_token": SENTINELS["jira"]},
            },
        )
        call("PATCH", f"/v1/connections/{gh}", {"credentials": {"token": SENTINELS["rotated"]}})
        # Rejected bodies must not echo what they carried either
        rejected = call(
            "PATCH", f"/v1/connections/{gh}", {"credentials": {"api_token": SENTINELS["rejected"]}}
        )
        assert rejected.status == 422
        invalid = call(
            "POST", "/v1/connections", {"provider": "github", "credentials": {"token": SENTINELS["rejected"]}}
        )
        assert invalid.status == 422
        call("GET", "/v1/connections")
        call("GET", f"/v1/connections/{gh}")
        call("GET", "/v1/audit")
        call("DELETE", f"/v1/connections/{gh}")

    # Positive control: the sentinels did reach the places they belong (so the searches below can find them)
    assert logs.lines, "nothing was logged: the capture is not working"
    secrets = container.connection_secrets()
    jira_id = next(i["id"] for i in tenant_items(stack, tenant) if i.get("entity") == "connection")
    assert secrets.credentials(tenant, jira_id) == {"email": "ops@acme.test", "api_token": SENTINELS["jira"]}

    haystacks = {
        "logs": logs.text,
        "responses": "\n".join(responses),
        "items": json.dumps(tenant_items(stack, tenant), default=str),
    }
    for where, text in haystacks.items():
        for name, sentinel in SENTINELS.items():
            assert sentinel not in text, f"the {name} secret leaked into {where}"
