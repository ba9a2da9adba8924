"""The authorizer against real stored keys: accept, reject, revoke, and ``last_used`` bookkeeping."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from functions.authorizer import handler
from tests.integration.api.conftest import METHOD_ARN, ApiClient
from tests.unit.api.support import FakeLambdaContext, captured_logs
from trackbridge.domain.api_keys import parse_token
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration


def authorize(token: str) -> dict[str, object]:
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
    return handler(event, FakeLambdaContext(function_name="authorizer"))


def test_a_stored_key_is_accepted_and_its_use_recorded(stack: LocalResources, tenant: str) -> None:
    token = issue_api_key(tenant, ("connections:read",))
    key_id, _ = parse_token(token) or ("", "")
    with captured_logs() as logs:
        first = authorize(token)
        authorize(token)
    assert first["principalId"] == key_id
    assert first["context"] == {"tenant": tenant, "key_id": key_id, "scopes": "connections:read"}
    assert token not in logs.text
    stored = container.api_key_repository().lookup(key_id)
    assert stored is not None
    assert stored.last_used_at is not None
    # Only the hash is stored
    assert stored.secret_hash != token.split("_", 2)[2]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "tb_" + "a" * 20 + "_" + t.split("_", 2)[2][-43:],  # unknown key id
        lambda t: t.upper(),
        lambda t: t + "x",
    ],
)
def test_wrong_keys_are_unauthorized(stack: LocalResources, tenant: str, mangle: object) -> None:
    token = issue_api_key(tenant)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(mangle(token))  # type: ignore[operator]


def test_a_revoked_key_stops_working(stack: LocalResources, tenant: str) -> None:
    token = issue_api_key(tenant)
    key_id, _ = parse_token(token) or ("", "")
    authorize(token)
    container.api_key_service().revoke(tenant, key_id)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(token)


def test_issuing_validates_tenant_and_scopes(stack: LocalResources) -> None:
    from trackbridge.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        issue_api_key("Not A Tenant")
    with pytest.raises(ValidationFailed):
        issue_api_key("acme", ("root",))


def test_the_api_answers_401_when_the_authorizer_denies(stack: LocalResources, shared_dir: object) -> None:
    denied = ApiClient(shared_dir, "tb_" + "a" * 20 + "_" + "b" * 43)  # type: ignore[arg-type]
    assert denied.authorize() is None
    answer = denied.call("GET", "/v1/connections")
    assert answer.status == 401
    assert answer.body["error"]["code"] == "UNAUTHORIZED"
