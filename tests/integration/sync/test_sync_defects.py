"""Issue 13's sync defects, each against a loopback sandbox: the declared overlap, a repeat full sync that
changed nothing, and a cancel that lands in the middle of a page."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from tests.integration.sync.conftest import PROVIDER_COMMENTS, PROVIDER_ISSUES, Provider
from tests.integration.sync.support import PATIENT_TIMEOUT, TEST_CONFIG, Harness
from tests.support.sandboxes import fresh
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.domain.times import from_iso
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.runtime import container
from trackbridge.storage.sync import SyncStateRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]


@pytest.fixture
def sent() -> Iterator[tuple[httpx.Client, list[httpx.Request]]]:
    """A client whose every outgoing request is recorded (what the sandbox receives, in order)."""
    seen: list[httpx.Request] = []
    client = httpx.Client(timeout=PATIENT_TIMEOUT, event_hooks={"request": [seen.append]})
    try:
        yield client, seen
    finally:
        client.close()


def _run(harness: Harness, tenant: str, connection_id: str, mode: str) -> SyncOperation:
    return harness.run(tenant, connection_id, SyncRequest(mode=mode))


def test_incremental_pass_reaches_back_by_the_adapters_declared_overlap(
    aws: Any,
    tenant: str,
    gitlab_sandbox: GitLabSandbox,
    harness_factory: Callable[..., Harness],
    sent: tuple[httpx.Client, list[httpx.Request]],
) -> None:
    client, seen = sent
    provider = Provider("gitlab", fresh(gitlab_sandbox))
    connection = provider.connection(tenant)
    harness = harness_factory(adapter_options={"client": client})
    _run(harness, tenant, connection.id, "full")
    state = SyncStateRepository(container.table()).find(tenant, connection.id, "issues")
    assert state is not None
    assert state.high_water is not None

    seen.clear()
    _run(harness, tenant, connection.id, "incremental")

    since = [
        r.url.params["updated_after"]
        for r in seen
        if r.url.path.endswith("/issues") and "updated_after" in r.url.params
    ]
    assert since, [str(r.url) for r in seen]
    # The first request of the pass asks from the high-water mark minus GitLab's declared overlap (2 min,
    # past GitLab's 60 s throttle of note-driven updated_at bumps), to the second.
    expected = state.high_water - GitLabAdapter.incremental_overlap
    assert from_iso(since[0]) == expected.replace(microsecond=0), (since[0], expected)


@pytest.mark.parametrize("name", ["github", "gitlab"])
def test_repeat_full_sync_with_nothing_changed_costs_the_listing_pages_only(
    name: str,
    aws: Any,
    tenant: str,
    github_tracker: GitHubSandbox,
    gitlab_sandbox: GitLabSandbox,
    harness_factory: Callable[..., Harness],
) -> None:
    if name == "github":
        github_tracker.reset(issues=PROVIDER_ISSUES, comments_per_issue=PROVIDER_COMMENTS)
        provider = Provider("github", github_tracker)
    else:
        provider = Provider("gitlab", fresh(gitlab_sandbox))
    connection = provider.connection(tenant)
    harness = harness_factory()
    first = _run(harness, tenant, connection.id, "full")
    assert first.results.created > 0

    retries_before = harness.retries()
    provider.tracker.reset_requests()
    again = _run(harness, tenant, connection.id, "full")
    counts = provider.tracker.requests()
    retries = harness.retries() - retries_before

    assert again.results.deleted == 0, again.results
    assert again.results.created == again.results.updated == 0, again.results
    assert again.results.unchanged == first.results.created, again.results
    # The full pass reads every page (a full pass sees every item, so nothing is left to the sweep); the
    # catch-up pass after it asks one page of what changed since the full pass began.
    if name == "github":
        state = github_tracker.state
        listed = sum(1 for i in state.issues if i is not None)  # pull requests are listed too
        repo = "GET /repos/{owner}/{repo}"
        expected = {
            f"{repo}/issues": math.ceil(listed / 100) + 1,
            f"{repo}/issues/comments": math.ceil(len(state.comments) / 100) + 1,
        }
    else:
        project = "GET /api/v4/projects/{id}"
        # GitLab's full pass also reads every issue's notes once (its complete comment list).
        expected = {
            f"{project}/issues": math.ceil(PROVIDER_ISSUES / 100) + 1,
            f"{project}/issues/{{issue_iid}}/notes": PROVIDER_ISSUES,
        }
    # Retries (a slow answer timed out and was asked again) are counted apart from pages: what the adapter
    # sent, less its retries, is exactly one request a page, so a page asked twice for any other reason
    # fails here. Without a retry this is the exact count on both sides.
    pages = sum(expected.values())
    assert again.requests - retries == pages, (again.requests, retries, counts)
    # The tracker saw every page at least once, each route no more than the retries more (a retry whose
    # first attempt never reached it is not seen), and nothing else.
    assert set(counts["by_route"]) == set(expected), counts
    assert all(counts["by_route"][route] >= floor for route, floor in expected.items()), counts
    assert pages <= counts["total"] <= pages + retries, (counts, retries)
    assert counts["total"] == sum(counts["by_route"].values()), counts


def test_cancel_mid_page_stops_at_the_next_request_and_counts_every_request(
    aws: Any,
    tenant: str,
    gitlab_sandbox: GitLabSandbox,
    harness_factory: Callable[..., Harness],
) -> None:
    tracker = fresh(gitlab_sandbox)
    provider = Provider("gitlab", tracker)
    connection = provider.connection(tenant)
    at_cancel: list[int] = []
    made = 0
    operation: list[str] = []
    harness: Harness

    def cancel_mid_page(request: httpx.Request) -> None:
        # The full page's listing and five issues' notes have gone out; cancel before the sixth.
        nonlocal made
        made += 1
        if made == 7 and not at_cancel:
            at_cancel.append(tracker.requests()["total"])
            harness.service.cancel(tenant, operation[0])

    client = httpx.Client(timeout=PATIENT_TIMEOUT, event_hooks={"request": [cancel_mid_page]})
    try:
        # Every request checks for the cancel here (production checks at most once a second).
        config = dataclasses.replace(TEST_CONFIG, cancel_check_interval_s=0)
        harness = harness_factory(adapter_options={"client": client}, config=config)
        tracker.reset_requests()
        op = harness.service.start(tenant, connection.id, SyncRequest(mode="full"), triggered_by="tests")
        operation.append(op.id)
        harness.drain(pages_per_slice=3)
    finally:
        client.close()

    final = harness.service.get(tenant, op.id)
    counts = tracker.requests()
    assert final.status == "Cancelled", final
    assert at_cancel == [6], at_cancel
    # At most one request follows the cancel, and the operation counts every request the tracker saw.
    assert counts["total"] - at_cancel[0] <= 1, counts
    assert final.requests == counts["total"], (final.requests, counts)
