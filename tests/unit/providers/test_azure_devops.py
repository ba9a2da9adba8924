"""The Azure DevOps adapter's own rules: credentials, rate-limit headers, cursors, service-hook deliveries."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from trackbridge.domain.errors import InvalidInput
from trackbridge.domain.trackers import AZURE_DEVOPS, azure_devops_scope
from trackbridge.providers.auth import BasicCredentialsAuth, BearerTokenAuth
from trackbridge.providers.azure_devops import (
    AzureDevOpsAdapter,
    AzureDevOpsRateLimits,
    PatOrEntraScheme,
)
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import DeliveryKind, TrackerConfig, WebhookAction
from trackbridge.providers.webhooks import WebhookPayloadError

CONNECTION_ID = "conn_abcdefghijklmnopqrst"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _adapter() -> AzureDevOpsAdapter:
    config = TrackerConfig("https://dev.azure.com", {"project": "acme/My Project"}, CONNECTION_ID)
    return AzureDevOpsAdapter(config, httpx.BasicAuth("", "x"), client=httpx.Client())


def _fake_pat() -> str:
    return "-".join(["fake", "ado", "pat", "for", "unit", "tests"])


def _fake_jwt() -> str:
    part = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    return f"eyJ{part}.eyJzdWIiOiJ0ZXN0In0.not-a-signature"


def _authorization(auth: httpx.Auth) -> str:
    request = httpx.Request("GET", "https://dev.azure.com/acme/_apis/connectionData")
    return next(auth.auth_flow(request)).headers["Authorization"]


def test_a_pat_is_basic_with_an_empty_user_and_an_entra_token_is_bearer() -> None:
    pat, jwt = _fake_pat(), _fake_jwt()
    pat_auth = PatOrEntraScheme().build({"token": pat}, provider="azure_devops")
    jwt_auth = PatOrEntraScheme().build({"token": jwt}, provider="azure_devops")
    assert isinstance(pat_auth, BasicCredentialsAuth)
    assert _authorization(pat_auth) == "Basic " + base64.b64encode(f":{pat}".encode()).decode()
    assert isinstance(jwt_auth, BearerTokenAuth)
    assert _authorization(jwt_auth) == f"Bearer {jwt}"
    assert pat not in repr(pat_auth)


def test_scope_values_name_an_organization_and_a_project() -> None:
    assert azure_devops_scope("acme/My Project") == ("acme", "My Project")
    for bad in ("acme", "acme/a/b", "-acme/p", "acme/_p", "acme/p.", "acme/p#1", "acme/p?x"):
        assert azure_devops_scope(bad) is None, bad
    assert AZURE_DEVOPS.scope.problem({"project": "acme/Widgets"}) is None
    assert AZURE_DEVOPS.scope.problem({"project": "Widgets"}) is not None


def test_paths_are_percent_encoded_under_the_organization_and_project() -> None:
    with _adapter() as adapter:
        assert adapter.api_base == "https://dev.azure.com/acme/My%20Project/_apis"
        assert adapter.project_api == "https://dev.azure.com/acme/_apis/projects/My%20Project"
        assert adapter.project_url == "https://dev.azure.com/acme/My Project"


def test_rate_limit_headers() -> None:
    reset = int((NOW + timedelta(seconds=40)).timestamp())
    headers = httpx.Headers(
        {
            "Retry-After": "12",
            "X-RateLimit-Resource": "ATCPU",
            "X-RateLimit-Delay": "0.250",
            "X-RateLimit-Limit": "1000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        }
    )
    info = AzureDevOpsRateLimits().read(headers, NOW)
    assert (info.limit, info.remaining, info.resource) == (1000, 0, "ATCPU")
    assert info.retry_after_s == 12.0
    assert info.reset_at == NOW + timedelta(seconds=40)
    assert info.near_limit
    assert not info.quota
    calm = AzureDevOpsRateLimits().read(httpx.Headers({"X-RateLimit-Delay": "junk"}), NOW)
    assert not calm.near_limit
    assert calm.limit is None


def test_work_item_keys_and_cursors_are_checked_before_any_request() -> None:
    assert AzureDevOpsAdapter.work_item_id("#12") == 12
    assert AzureDevOpsAdapter.work_item_id("12") == 12
    with pytest.raises(InvalidInput, match="not a work item id"):
        AzureDevOpsAdapter.work_item_id("12; DROP")
    with _adapter() as adapter:
        for token in ("id:1 OR 1=1", "changed:1", "changed:x:1", "id:"):
            with pytest.raises(ValueError, match="cursor"):
                next(adapter.iter_issue_pages(cursor=PageCursor(token=token)))


def _delivery(event: str, resource: dict[str, Any], **extra: Any) -> bytes:
    body = {
        "subscriptionId": "f0c5e1d2-0000-4000-8000-000000000001",
        "notificationId": 7,
        "id": "03c164c2-8912-4d5e-8009-3707d5f83734",
        "eventType": event,
        "publisherId": "tfs",
        "resource": resource,
        "resourceVersion": "1.0",
        "createdDate": "2026-03-01T12:00:01.250Z",
        **extra,
    }
    return json.dumps(body).encode()


def _item(number: int, state: str = "Active") -> dict[str, Any]:
    return {
        "id": number,
        "rev": 3,
        "fields": {
            "System.WorkItemType": "Bug",
            "System.Title": "Disk full",
            "System.State": state,
            "System.CreatedDate": "2026-03-01T10:00:00.000Z",
            "System.ChangedDate": "2026-03-01T12:00:00.500Z",
            "System.Tags": "ops; db",
        },
    }


def test_deliveries_parse_into_issue_changes() -> None:
    with _adapter() as adapter:
        created = adapter.parse_webhook({}, _delivery("workitem.created", _item(5)))
        updated = adapter.parse_webhook(
            {}, _delivery("workitem.updated", {"id": 9, "workItemId": 5, "rev": 4, "revision": _item(5)})
        )
        deleted = adapter.parse_webhook({}, _delivery("workitem.deleted", _item(5)))
        commented = adapter.parse_webhook({}, _delivery("workitem.commented", _item(5)))
        custom = adapter.parse_webhook({}, _delivery("workitem.created", _item(5, state="Triaged")))
        other = adapter.parse_webhook({}, _delivery("git.push", {"commits": []}))

    issue = created.changes[0].issue
    assert issue is not None
    assert (issue.key, issue.status_category, issue.labels) == ("#5", "in_progress", ["ops", "db"])
    assert issue.content_hash == issue.compute_hash()
    assert updated.changes[0].issue == issue
    assert created.delivery_id == "f0c5e1d2-0000-4000-8000-000000000001:7"
    assert deleted.changes[0].action is WebhookAction.DELETE
    # No comment id in the payload, and a state of a custom process needs the project's categories: fetch.
    assert commented.changes[0].needs_fetch
    assert custom.changes[0].needs_fetch
    assert other.kind is DeliveryKind.IGNORED


def test_a_delivery_without_its_documented_fields_is_a_payload_error() -> None:
    with _adapter() as adapter, pytest.raises(WebhookPayloadError):
        adapter.parse_webhook({}, _delivery("workitem.updated", {"id": 9, "revision": _item(5)}))


def test_deliveries_are_authenticated_by_the_basic_password() -> None:
    secret = "-".join(["hook", "secret", "for", "tests"])
    body = _delivery("workitem.created", _item(5))

    def basic(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    assert AzureDevOpsAdapter.verify_webhook(basic("trackbridge", secret), body, ["old", secret])
    assert not AzureDevOpsAdapter.verify_webhook(basic("trackbridge", "wrong"), body, [secret])
    assert not AzureDevOpsAdapter.verify_webhook({}, body, [secret])
    assert not AzureDevOpsAdapter.verify_webhook(basic("trackbridge", secret), body, [])
