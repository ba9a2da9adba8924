"""The Jira sandbox's points-based headers (``infra/local/trackers/jira/points.py``), read back by
trackbridge's own reader: the policy on every answer, the standing and NearLimit under a fifth, and the
reason's X-Beta twin on a 429."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from infra.local.trackers.jira import JiraSandbox
from trackbridge.providers.ratelimit import JiraRateLimits

pytestmark = [pytest.mark.integration]

MYSELF = "/rest/api/3/myself"


def test_the_policy_is_on_every_answer_and_the_standing_only_near_the_limit(
    jira: JiraSandbox, jira_http: httpx.Client
) -> None:
    jira.reset(rate_limit=10)

    answers = [jira_http.get(MYSELF) for _ in range(9)]

    assert all(a.headers["Beta-RateLimit-Policy"] == '"global-app-quota";q=10;w=3600' for a in answers)
    assert "Beta-RateLimit" not in answers[0].headers  # 9 of 10 left: not near
    assert "X-Beta-RateLimit-NearLimit" not in answers[0].headers
    last = answers[-1]  # 1 of 10 left
    assert last.headers["X-Beta-RateLimit-NearLimit"] == "true"
    assert last.headers["Beta-RateLimit"].startswith('"global-app-quota";r=1;t=')
    info = JiraRateLimits().read(last.headers, datetime.now(UTC))
    assert info.near_limit is True
    assert (info.limit, info.remaining) == (10, 1)


@pytest.mark.parametrize("reason", ["jira-per-issue-on-write", "jira-quota-tenant-based"])
def test_a_429_carries_its_reason_and_reset_in_the_x_beta_form(
    jira: JiraSandbox, jira_http: httpx.Client, reason: str
) -> None:
    jira.add_faults([{"route": f"GET {MYSELF}", "status": 429, "message": reason, "times": 1}])

    limited = jira_http.get(MYSELF)

    assert limited.status_code == 429
    assert limited.headers["X-Beta-RateLimit-Reason"] == limited.headers["RateLimit-Reason"] == reason
    assert limited.headers["X-Beta-RateLimit-Reset"] == limited.headers["X-RateLimit-Reset"]
    info = JiraRateLimits().read(limited.headers, datetime.now(UTC))
    assert info.scope == ("issue" if reason == "jira-per-issue-on-write" else "tenant")
