"""``GET /v1/keys`` and ``DELETE /v1/keys/{id}`` end to end on moto, and revocation through the local gateway.

``ApiClient`` runs the real authorizer on every call (no cache), so a revocation shows at once there; the
local API Gateway caches decisions like API Gateway does, and a fake clock walks it past the TTL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from infra.definition import AUTHORIZER_CACHE_TTL_S, ROUTES
from infra.local.apigw import LocalApiGateway, _resources
from infra.local.invoke import LocalFunctions
from tests.integration.api.conftest import ApiClient
from trackbridge.domain.api_keys import parse_token
from trackbridge.runtime.api import keys as keys_routes
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration

VIEW_FIELDS = {"id", "tenant", "created_at", "last_used_at", "scopes", "revoked_at"}


def key_id(token: str | None) -> str:
    parsed = parse_token(token or "")
    assert parsed is not None
    return parsed[0]


def client_for(shared_dir: Path, tenant: str, scopes: tuple[str, ...]) -> ApiClient:
    return ApiClient(shared_dir, issue_api_key(tenant, scopes))


@pytest.fixture
def reader(stack: LocalResources, shared_dir: Path, tenant: str) -> ApiClient:
    """A second key of the tenant, without the admin scope."""
    return client_for(shared_dir, tenant, ("connections:read", "audit:read"))


def test_listing_shows_the_tenants_keys_only_and_never_a_secret(
    api: ApiClient, reader: ApiClient, other_api: ApiClient, tenant: str
) -> None:
    listed = api.call("GET", "/v1/keys")

    assert listed.status == 200
    assert set(listed.body) == {"items", "next_cursor"}
    items = {item["id"]: item for item in listed.body["items"]}
    assert set(items) == {key_id(api.token), key_id(reader.token)}
    assert all(set(item) == VIEW_FIELDS for item in items.values())
    assert {item["tenant"] for item in items.values()} == {tenant}
    assert items[key_id(reader.token)]["scopes"] == ["connections:read", "audit:read"]
    assert items[key_id(api.token)]["scopes"] == ["*"]
    assert items[key_id(reader.token)]["revoked_at"] is None
    # The listing call itself went through the authorizer, which recorded the use; the reader is unused.
    assert items[key_id(api.token)]["last_used_at"] is not None
    assert items[key_id(reader.token)]["last_used_at"] is None
    text = json.dumps(listed.body)
    for token in (api.token, reader.token, other_api.token):
        assert token
        assert token.split("_", 2)[2] not in text
    assert key_id(other_api.token) not in text
    assert "hash" not in text


def test_listing_pages(api: ApiClient, stack: LocalResources, tenant: str) -> None:
    ids = {key_id(api.token)} | {key_id(issue_api_key(tenant, ("audit:read",))) for _ in range(2)}
    first = api.call("GET", "/v1/keys", query={"limit": "2"}).body
    second = api.call("GET", "/v1/keys", query={"limit": "2", "cursor": first["next_cursor"]}).body

    assert len(first["items"]) == 2
    assert second["next_cursor"] is None
    assert {k["id"] for k in first["items"] + second["items"]} == ids


def test_a_revoked_key_is_refused_stays_listed_and_the_revocation_is_audited(
    api: ApiClient, reader: ApiClient
) -> None:
    assert reader.call("GET", "/v1/connections").status == 200
    revoked_id = key_id(reader.token)

    answer = api.call("DELETE", f"/v1/keys/{revoked_id}")

    assert answer.status == 204
    assert answer.body is None
    assert reader.authorize() is None
    assert reader.call("GET", "/v1/connections").status == 401
    listed = {k["id"]: k for k in api.call("GET", "/v1/keys").body["items"]}
    assert listed[revoked_id]["revoked_at"] is not None
    assert listed[key_id(api.token)]["revoked_at"] is None
    # Idempotent: a second revoke answers 204, keeps the first time and is not audited again
    assert api.call("DELETE", f"/v1/keys/{revoked_id}").status == 204
    again = {k["id"]: k for k in api.call("GET", "/v1/keys").body["items"]}
    assert again[revoked_id]["revoked_at"] == listed[revoked_id]["revoked_at"]
    revocations = [e for e in api.call("GET", "/v1/audit").body["items"] if e["action"] == "api_key.revoke"]
    assert len(revocations) == 1
    assert revocations[0]["target"] == revoked_id
    assert revocations[0]["actor"] == key_id(api.token)
    assert revocations[0]["changes"]["revoked_at"]["new"] == listed[revoked_id]["revoked_at"]


def test_an_admin_key_may_revoke_itself(api: ApiClient) -> None:
    assert api.call("DELETE", f"/v1/keys/{key_id(api.token)}").status == 204
    assert api.call("GET", "/v1/keys").status == 401


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/keys"), ("DELETE", "/v1/keys/{own}")])
def test_a_key_without_the_admin_scope_is_403(reader: ApiClient, method: str, path: str) -> None:
    answer = reader.call(method, path.format(own=key_id(reader.token)))

    assert answer.status == 403
    assert answer.body["error"]["details"] == {"required_scope": "admin"}
    assert reader.call("GET", "/v1/connections").status == 200  # not revoked


def test_an_explicit_admin_scope_is_enough(stack: LocalResources, shared_dir: Path, tenant: str) -> None:
    admin = client_for(shared_dir, tenant, ("admin",))
    assert admin.call("GET", "/v1/keys").status == 200
    assert admin.call("GET", "/v1/connections").status == 403  # admin is key management only


@pytest.mark.parametrize("unknown", ["abcdefghijklmnopqrst", "not-a-key-id", "tb_x"])
def test_another_tenants_key_and_unknown_ids_are_404(
    api: ApiClient, other_api: ApiClient, unknown: str
) -> None:
    foreign = api.call("DELETE", f"/v1/keys/{key_id(other_api.token)}")
    missing = api.call("DELETE", f"/v1/keys/{unknown}")

    assert (foreign.status, foreign.body["error"]["code"]) == (404, "NOT_FOUND")
    assert (missing.status, missing.body["error"]["code"]) == (404, "NOT_FOUND")
    assert other_api.call("GET", "/v1/keys").status == 200  # the other tenant's key still works
    assert all(e["action"] != "api_key.revoke" for e in api.call("GET", "/v1/audit").body["items"])


def test_the_delete_route_documents_the_authorizer_cache_ttl() -> None:
    operation = json.loads(app.get_openapi_json_schema())["paths"]["/v1/keys/{key_id}"]["delete"]

    assert keys_routes.AUTHORIZER_CACHE_TTL_S == AUTHORIZER_CACHE_TTL_S
    assert f"{AUTHORIZER_CACHE_TTL_S} s" in operation["description"]
    assert {"204", "403", "404"} <= set(operation["responses"])


@pytest.mark.parametrize("path", ["/v1/keys", "/v1/keys/abcdefghijklmnopqrst"])
def test_the_gateway_routes_keys_through_the_authorized_proxy(path: str) -> None:
    parts = path.strip("/").split("/")
    resource = next(r for r in _resources(ROUTES) if r.match(parts) is not None)
    route = resource.method("DELETE")

    assert resource.path == "/v1/{proxy+}"
    assert route is not None
    assert (route.function, route.authorized) == ("api", True)


# ------------------------------------------------------------------------------ through the local gateway


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(stack: LocalResources, clock: FakeClock) -> Iterator[LocalApiGateway]:
    """The real api and authorizer handlers behind the local gateway, with a clock the test moves."""
    gw = LocalApiGateway(LocalFunctions(), clock=clock, throttle_burst=10_000, throttle_rate=10_000).start()
    yield gw
    gw.stop()


def test_a_revoked_key_is_refused_by_the_gateway_once_its_cached_decision_expires(
    gateway: LocalApiGateway, clock: FakeClock, stack: LocalResources, tenant: str
) -> None:
    admin, doomed = issue_api_key(tenant), issue_api_key(tenant, ("connections:read",))

    def get(token: str, path: str = "/v1/connections") -> int:
        with httpx.Client(base_url=gateway.url, timeout=60) as http:
            return http.get(path, headers={"Authorization": f"Bearer {token}"}).status_code

    assert get(doomed) == 200  # the gateway now holds an Allow for this token
    with httpx.Client(base_url=gateway.url, timeout=60) as http:
        revoked = http.delete(f"/v1/keys/{key_id(doomed)}", headers={"Authorization": f"Bearer {admin}"})
    assert revoked.status_code == 204

    clock.now += AUTHORIZER_CACHE_TTL_S - 1
    assert get(doomed) == 200  # within the TTL: the documented window, answered from the cache
    clock.now += 2
    assert get(doomed) == 401
    assert get(admin, "/v1/keys") == 200
