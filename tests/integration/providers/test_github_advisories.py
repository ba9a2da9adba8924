"""GitHub repository security advisories as issues, over loopback HTTP against the sandbox: type Bug,
priority from severity, a key and external id of their own, the listing's cursor pages, and an advisory
changed at the tracker read again by the next pass from its ``updated_at``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from tests.integration.providers.conftest import RecordedSleeps, build_adapter
from trackbridge.providers.github import GitHubAdapter

pytestmark = pytest.mark.integration

SEVERITY_TO_PRIORITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[GitHubSandbox]:
    with GitHubSandbox(seed="advisories", issues=20, comments_per_issue=0) as tracker:
        yield tracker


@pytest.fixture
def adapter(sandbox: GitHubSandbox) -> Iterator[GitHubAdapter]:
    sandbox.reset()
    sandbox.reset_requests()
    made = build_adapter("github", sandbox.describe(), timeout=httpx.Timeout(60.0), sleep=RecordedSleeps())
    assert isinstance(made, GitHubAdapter)
    try:
        yield made
    finally:
        made.close()


def test_every_advisory_becomes_a_bug_with_its_severity_as_priority(
    sandbox: GitHubSandbox, adapter: GitHubAdapter
) -> None:
    issues = [issue for page in adapter.iter_advisory_issues() for issue in page]
    seeded = {a.ghsa_id: a for a in sandbox.state.advisories}
    assert sorted(i.key for i in issues) == sorted(seeded)
    for issue in issues:
        advisory = seeded[issue.key]
        assert issue.issue_type == "Bug"
        assert issue.priority == SEVERITY_TO_PRIORITY[advisory.severity]
        assert issue.title == advisory.summary
        assert issue.status == advisory.state
        assert issue.status_category == ("done" if advisory.state == "closed" else "todo")
        assert issue.ref == f"{adapter.connection_id}.{advisory.ghsa_id}"
        # Linked to the advisory, never equal to an issue's external id.
        assert issue.external_id.endswith(f"/security-advisories:{advisory.ghsa_id}")
    # Newest update first: one listing request holds the seeded advisories.
    assert [i.updated_at for i in issues] == sorted((i.updated_at for i in issues), reverse=True)
    assert sandbox.requests()["total"] == 1


def test_pages_follow_the_cursor_links(sandbox: GitHubSandbox, adapter: GitHubAdapter) -> None:
    adapter.page_size = 2  # the instance's own page size: four pages for seven advisories
    pages = list(adapter.iter_advisory_issues())
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert len({issue.key for page in pages for issue in page}) == len(sandbox.state.advisories)
    assert sandbox.requests()["total"] == 4


def test_a_changed_advisory_is_read_again_after_the_last_pass(
    sandbox: GitHubSandbox, adapter: GitHubAdapter
) -> None:
    before = {i.key: i for page in adapter.iter_advisory_issues() for i in page}
    high_water = max(i.updated_at for i in before.values())
    target = min(before.values(), key=lambda i: i.updated_at)  # the oldest: not in the last pass's tail
    sandbox.mutate("update_advisory", ghsa_id=target.key, fields={"severity": "critical", "state": "closed"})
    sandbox.reset_requests()
    changed = [
        i for page in adapter.iter_advisory_issues(since=high_water + timedelta(seconds=1)) for i in page
    ]
    assert [i.key for i in changed] == [target.key]
    [now] = changed
    assert (now.priority, now.status_category) == ("Critical", "done")
    assert now.content_hash != target.content_hash
    # The pass stopped at the first advisory older than its since: one request, not the whole listing.
    assert sandbox.requests()["total"] == 1
