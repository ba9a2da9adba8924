"""``/v1/connections`` and ``/v1/audit`` end to end on moto: every status the contract names."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.api.conftest import ApiClient
from trackbridge.runtime import container
from trackbridge.runtime.api.app import app
from trackbridge.runtime.connections import ConnectionService
from trackbridge.storage.connections import ConnectionRepository

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration


def github(name: str = "web", **overrides: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "provider": "github",
        "base_url": "https://api.github.com",
        "scope": {"repo": "acme/web"},
        "credentials": {"token": "fake-token-one"},
        "schedule": {"expression": "rate(15 minutes)"},
    }
    body.update(overrides)
    return body


def secret_value(stack: LocalResources, name: str) -> Any:
    client = stack.client("secretsmanager")
    return json.loads(client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])


def test_connection_lifecycle(api: ApiClient, stack: LocalResources, tenant: str) -> None:
    created = api.call("POST", "/v1/connections", body=github(webhook_secret="fake-webhook-one"))
    assert created.status == 201
    connection = created.body
    cid = connection["id"]
    assert cid.startswith("conn_")
    assert connection["has_credentials"] is True
    assert connection["has_webhook_secret"] is True
    assert "credentials" not in connection
    assert "webhook_secret" not in connection
    secrets = container.connection_secrets()
    assert secret_value(stack, f"trackbridge/local/{tenant}/connections/{cid}") == {"token": "fake-token-one"}
    assert secret_value(stack, secrets.webhook_name(tenant, cid)) == ["fake-webhook-one"]

    assert api.call("GET", f"/v1/connections/{cid}").body == connection
    assert [c["id"] for c in api.call("GET", "/v1/connections").body["items"]] == [cid]

    # Rename and rotate both secrets; the previous webhook secret stays valid
    patched = api.call(
        "PATCH",
        f"/v1/connections/{cid}",
        body={
            "name": "renamed",
            "credentials": {"token": "fake-token-two"},
            "webhook_secret": "fake-webhook-two",
        },
    )
    assert patched.status == 200
    assert (patched.body["name"], patched.body["version"], patched.body["has_credentials"]) == (
        "renamed",
        2,
        True,
    )
    assert secret_value(stack, secrets.credentials_name(tenant, cid)) == {"token": "fake-token-two"}
    assert secret_value(stack, secrets.webhook_name(tenant, cid)) == ["fake-webhook-two", "fake-webhook-one"]
    assert secrets.credentials(tenant, cid) == {"token": "fake-token-two"}
    assert secrets.webhook_secrets(tenant, cid) == ["fake-webhook-two", "fake-webhook-one"]

    # A patch that changes nothing writes nothing
    same = api.call("PATCH", f"/v1/connections/{cid}", body={"name": "renamed"})
    assert same.body["version"] == 2
    # Removing the schedule with an explicit null
    assert api.call("PATCH", f"/v1/connections/{cid}", body={"schedule": None}).body["schedule"] is None

    deleted = api.call("DELETE", f"/v1/connections/{cid}")
    assert deleted.status == 204
    assert deleted.body is None
    assert api.call("GET", f"/v1/connections/{cid}").status == 404
    assert api.call("DELETE", f"/v1/connections/{cid}").status == 404
    for name in (secrets.credentials_name(tenant, cid), secrets.webhook_name(tenant, cid)):
        with pytest.raises(ClientError) as gone:
            stack.client("secretsmanager").get_secret_value(SecretId=name)
        assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"

    # Every change is audited, newest first, with the request it came in and no secret value
    audit = api.call("GET", "/v1/audit").body["items"]
    assert [e["action"] for e in audit] == [
        "connection.delete",
        "connection.update",
        "connection.update",
        "connection.create",
        "api_key.create",
    ]
    update = audit[2]
    assert update["changes"]["name"] == {"old": "web", "new": "renamed"}
    assert update["changes"]["credentials"] == {"old": None, "new": "(changed)"}
    assert update["actor"] == api.authorize()["key_id"]  # type: ignore[index]
    assert update["request_id"].startswith("req-")
    assert "fake-token" not in json.dumps(audit)
    assert "fake-webhook" not in json.dumps(audit)


def test_listing_pages_through_cursors(api: ApiClient) -> None:
    ids = {api.call("POST", "/v1/connections", body=github(f"c{n}")).body["id"] for n in range(3)}
    first = api.call("GET", "/v1/connections", query={"limit": "2"}).body
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = api.call("GET", "/v1/connections", query={"limit": "2", "cursor": first["next_cursor"]}).body
    assert second["next_cursor"] is None
    assert {c["id"] for c in first["items"] + second["items"]} == ids
    tampered = api.call("GET", "/v1/connections", query={"cursor": first["next_cursor"][:-4] + "AAAA"})
    assert tampered.status == 400
    assert tampered.body["error"]["code"] == "INVALID_CURSOR"


def test_another_tenant_gets_404_for_everything(api: ApiClient, other_api: ApiClient) -> None:
    cid = api.call("POST", "/v1/connections", body=github()).body["id"]
    cursor = api.call("GET", "/v1/connections", query={"limit": "1"}).body
    assert other_api.call("GET", f"/v1/connections/{cid}").status == 404
    assert other_api.call("PATCH", f"/v1/connections/{cid}", body={"name": "mine"}).status == 404
    assert other_api.call("DELETE", f"/v1/connections/{cid}").status == 404
    assert other_api.call("GET", "/v1/connections").body["items"] == []
    assert all(e["target"] != cid for e in other_api.call("GET", "/v1/audit").body["items"])
    if cursor["next_cursor"]:
        assert other_api.call("GET", "/v1/connections", query={"cursor": cursor["next_cursor"]}).status == 400
    # Still the owner's, unchanged
    assert api.call("GET", f"/v1/connections/{cid}").body["name"] == "web"


@pytest.mark.parametrize(
    "bad_id", ["nope", "conn_short", "conn_ABCDEFGHIJKLMNOPQRST", "conn_abcdefghijklmnopqrst%23x"]
)
def test_malformed_ids_are_404(api: ApiClient, bad_id: str) -> None:
    for method in ("GET", "DELETE"):
        assert api.call(method, f"/v1/connections/{bad_id}").status == 404
    assert api.call("PATCH", f"/v1/connections/{bad_id}", body={"name": "x"}).status == 404


def test_patch_validates_against_the_provider(api: ApiClient) -> None:
    cid = api.call("POST", "/v1/connections", body=github()).body["id"]
    wrong_shape = api.call(
        "PATCH", f"/v1/connections/{cid}", body={"credentials": {"email": "a@b.c", "api_token": "x"}}
    )
    assert wrong_shape.status == 422
    assert wrong_shape.body["error"]["details"]["errors"][0]["path"] == "body.credentials"
    fixed = api.call("PATCH", f"/v1/connections/{cid}", body={"provider": "jira"})
    assert fixed.status == 422
    assert fixed.body["error"]["details"]["errors"][0]["path"] == "body.provider"
    bad_schedule = api.call(
        "PATCH", f"/v1/connections/{cid}", body={"schedule": {"expression": "cron(61 * * * ? *)"}}
    )
    assert bad_schedule.status == 422


class RacingRepository(ConnectionRepository):
    """Lets a concurrent writer win between the service's read and its conditional write."""

    def replace(self, tenant: str, model: Any, *, expected_version: int, also: Any = ()) -> Any:
        rival = model.model_copy(update={"name": "rival", "version": expected_version + 1})
        super().replace(tenant, rival, expected_version=expected_version)
        return super().replace(tenant, model, expected_version=expected_version, also=also)


def test_a_lost_race_is_a_409_and_changes_nothing(api: ApiClient, tenant: str) -> None:
    cid = api.call("POST", "/v1/connections", body=github()).body["id"]
    racing = ConnectionService(
        RacingRepository(container.table()), container.audit_repository(), container.connection_secrets()
    )
    app.dependency_overrides[container.connection_service] = lambda: racing
    try:
        lost = api.call(
            "PATCH", f"/v1/connections/{cid}", body={"name": "mine", "credentials": {"token": "fake-t3"}}
        )
    finally:
        app.dependency_overrides.pop(container.connection_service)
    assert lost.status == 409
    assert lost.body["error"]["code"] == "VERSION_CONFLICT"
    current = api.call("GET", f"/v1/connections/{cid}").body
    assert (current["name"], current["version"]) == ("rival", 2)
    # The losing request neither rotated the secret nor wrote an audit entry
    assert container.connection_secrets().credentials(tenant, cid) == {"token": "fake-token-one"}
    assert [e["action"] for e in api.call("GET", "/v1/audit").body["items"]][:1] == ["connection.create"]


class FailingRepository(ConnectionRepository):
    def create(self, tenant: str, model: Any, *, also: Any = ()) -> Any:
        from trackbridge.domain.errors import DependencyFailure

        raise DependencyFailure("DynamoDB is unavailable; retry")


def test_a_failed_create_leaves_no_secret_behind(api: ApiClient, stack: LocalResources, tenant: str) -> None:
    failing = ConnectionService(
        FailingRepository(container.table()), container.audit_repository(), container.connection_secrets()
    )
    app.dependency_overrides[container.connection_service] = lambda: failing
    try:
        answer = api.call("POST", "/v1/connections", body=github(webhook_secret="fake-webhook-x"))
    finally:
        app.dependency_overrides.pop(container.connection_service)
    assert answer.status == 503
    assert answer.body["error"]["code"] == "DEPENDENCY_FAILURE"

    def secret_names() -> list[str]:
        listed = stack.client("secretsmanager").list_secrets(
            Filters=[{"Key": "name", "Values": [f"trackbridge/local/{tenant}/"]}]
        )
        return [s["Name"] for s in listed["SecretList"]]

    assert secret_names() == []
    assert api.call("GET", "/v1/connections").body["items"] == []
    # Positive control: the same listing does see the secrets of a create that succeeds
    created = api.call("POST", "/v1/connections", body=github(webhook_secret="fake-webhook-x")).body["id"]
    assert len(secret_names()) == 2
    assert all(created in name for name in secret_names())
