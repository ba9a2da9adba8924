"""Per-tenant request rate limits on moto: the authorizer passes the tenant's limit, the API counts every
request in DynamoDB (shared by every instance) and answers 429 with ``Retry-After`` past it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from infra.cli import main as cli
from tests.integration.api.conftest import ApiClient
from trackbridge.domain.errors import RateLimited
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import CLI_ACTOR
from trackbridge.runtime.rate_limits import WINDOW_S, RateLimiter

if TYPE_CHECKING:
    from pathlib import Path

    from infra.local.provision import LocalResources

pytestmark = pytest.mark.integration


class FrozenClock:
    """Seconds since the epoch, fixed mid-window so a test's requests all fall in one minute."""

    def __init__(self) -> None:
        self.now = float(66_666_667 * WINDOW_S + WINDOW_S // 2)

    def __call__(self) -> float:
        return self.now


def test_a_tenant_over_its_limit_gets_429_with_retry_after_and_others_do_not(
    stack: LocalResources, api: ApiClient, other_api: ApiClient, tenant: str
) -> None:
    # Given: the tenant's own limit of 3 requests a minute, and a clock that stays in one minute
    clock = FrozenClock()
    limiter = RateLimiter(
        container.table(), default_per_minute=0, audit=container.audit_repository(), clock=clock
    )
    limiter.set_limit(tenant, 3, actor=CLI_ACTOR)
    from trackbridge.runtime.api.app import app

    app.dependency_overrides[container.rate_limiter] = lambda: limiter
    container.rate_limiter.cache_clear()
    try:
        # When: it makes four requests (the authorizer reads the limit through the same limiter)
        statuses = [api.call("GET", "/v1/connections").status for _ in range(3)]
        refused = api.call("GET", "/v1/connections")
        # Then: the fourth is a 429 naming when to come back; another tenant (no limit) is not affected
        assert statuses == [200, 200, 200]
        assert refused.status == 429, refused.body
        assert refused.body["error"]["code"] == "RATE_LIMITED"
        assert refused.raw["multiValueHeaders"]["Retry-After"] == [str(WINDOW_S // 2)]
        assert other_api.call("GET", "/v1/connections").status == 200
        # ...and the next minute starts a new count
        clock.now += WINDOW_S
        assert api.call("GET", "/v1/connections").status == 200
    finally:
        app.dependency_overrides.pop(container.rate_limiter, None)


def test_the_count_is_shared_by_every_instance(stack: LocalResources, tenant: str) -> None:
    # Given: two limiters (two Lambda instances) over the same table, the tenant limited to 2 a minute
    clock = FrozenClock()
    first, second = (RateLimiter(container.table(), default_per_minute=0, clock=clock) for _ in range(2))
    # When / Then: one request on each, and the third on either is refused
    first.check(tenant, 2)
    second.check(tenant, 2)
    with pytest.raises(RateLimited) as refused:
        first.check(tenant, 2)
    assert refused.value.retry_after_s == WINDOW_S // 2


def test_the_operator_sets_shows_and_resets_a_limit_audited(
    stack: LocalResources, tenant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_state = str(tmp_path / "absent.json")
    assert (
        cli(["keys", "rate-limit", "--tenant", tenant, "--per-minute", "120", "--local-state", no_state]) == 0
    )
    assert '"requests_per_minute":120' in capsys.readouterr().out
    assert cli(["keys", "rate-limit", "--tenant", tenant, "--default", "--local-state", no_state]) == 0
    assert '"default":true' in capsys.readouterr().out
    assert (
        cli(["keys", "rate-limit", "--tenant", tenant, "--per-minute", "-1", "--local-state", no_state]) == 1
    )
    actions = [e.action for e in container.audit_repository().list(tenant).items]
    assert actions.count("rate_limit.update") == 2


def test_without_a_limit_no_request_is_counted(stack: LocalResources, api: ApiClient, tenant: str) -> None:
    # The default (TB_TENANT_REQUESTS_PER_MINUTE unset) is no limit: the authorizer passes none, no count
    context = api.authorize()
    assert context is not None
    assert "rate_limit" not in context
    assert api.call("GET", "/v1/connections").status == 200
    assert container.table().get(f"T#{tenant}#RATE", "W#0") is None
