"""The adapter contract: every operation of every registered tracker, against its sandbox, over HTTP.

One suite, parametrized over the registry (STYLE habit 10): a new tracker passes it or is not done. The
fault cases drive the sandbox's ``/_sandbox/faults`` rules and check that the adapter retries what can
succeed, waits out short limits, parks long ones with a reset time, and classifies the rest.
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import UnsupportedCapability
from trackbridge.providers.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TrackerError,
    TransientError,
)
from trackbridge.providers.etags import ETagCache
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import DeliveryKind, IssueChanges, IssueDraft, WebhookEntity

from .conftest import FAULT_TIMEOUT_S, TIMEOUT_FAULT_DELAY_S, HookReceiver, Tracker, build_adapter

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("providers-contract")]

# Fault-rule route of each provider's issue listing (shell pattern over "METHOD /template").
# Operations a sandbox does not serve yet; each entry is a known gap, reported, never silently skipped.
# Remove an entry as soon as the sandbox serves the route: the test then fails until it is removed.
SANDBOX_GAPS: dict[str, set[str]] = {}


def _gap(tracker: Tracker, operation: str) -> bool:
    return operation in SANDBOX_GAPS.get(tracker.name, set())


def _all_issue_pages(tracker: Tracker, **kwargs: Any) -> list[Any]:
    return list(tracker.adapter.iter_issue_pages(**kwargs))


def _first_issue_key(tracker: Tracker) -> str:
    page = next(tracker.adapter.iter_issue_pages())
    return page.items[0].key


# ---- reads ------------------------------------------------------------------------------------------


def test_connection_checks_pass_with_the_seeded_token(tracker: Tracker) -> None:
    report = tracker.adapter.test_connection()
    assert report.checks[0].name == "auth"
    assert report.identity
    if _gap(tracker, "permissions"):
        # The sandbox cannot answer the permission check: it must fail as a check with guidance, not crash.
        failed = [c for c in report.checks if not c.ok]
        assert [c.name for c in failed] == ["permissions"]
        assert all(c.guidance for c in failed)
        return
    assert report.ok, report.to_dict()


def test_connection_check_fails_with_a_bad_token(tracker: Tracker) -> None:
    with build_adapter(tracker.name, {**tracker.info, "token": "not-a-real-token"}) as adapter:
        report = adapter.test_connection()
    assert not report.ok
    assert report.checks[0].code in (ErrorCode.AUTH_INVALID, ErrorCode.AUTH_EXPIRED)
    assert report.checks[0].guidance
    assert all(c.message == "skipped: authentication failed" for c in report.checks[1:])


def test_full_pass_meets_the_request_floor(tracker: Tracker) -> None:
    pages = _all_issue_pages(tracker, include_closed=True)
    raw_total = sum(p.raw_count for p in pages)
    items = [i for p in pages for i in p.items]
    assert raw_total == sum(len(p.items) + p.skipped for p in pages)
    assert len(items) > 0
    # One request per page, every page but the last as full as the tracker serves them: nothing wasted.
    # (The page size is the tracker's to cap: Jira may serve fewer than asked.)
    # A retry (a transient failure the adapter repeated) is counted apart from the pages: it is not waste
    # of the paging, and a loaded machine may cause one. The sandbox counts a retried request when the
    # first attempt reached it, so its total lies between the pages and the pages plus the retries.
    # A tracker whose listing first asks for the ids (Azure DevOps' WIQL) declares that request.
    stats = tracker.adapter.stats
    floor = len(pages) + tracker.adapter.listing_setup_requests
    assert stats.requests - stats.retries == floor, stats
    assert floor <= tracker.sandbox.requests()["total"] <= floor + stats.retries
    largest = max(p.raw_count for p in pages)
    assert largest <= tracker.adapter.page_size
    assert all(p.raw_count == largest for p in pages[:-1])
    keys = [i.key for i in items]
    assert len(keys) == len(set(keys))
    assert {i.status_category for i in items} <= {"todo", "in_progress", "done"}
    assert all(i.content_hash == i.compute_hash() for i in items)
    assert [i.created_at for i in items] == sorted(
        i.created_at for i in items
    )  # an order updates cannot change


def test_open_only_is_a_subset(tracker: Tracker) -> None:
    everything = {i.key for p in _all_issue_pages(tracker, include_closed=True) for i in p.items}
    open_items = [i for p in _all_issue_pages(tracker, include_closed=False) for i in p.items]
    assert open_items
    assert {i.key for i in open_items} < everything
    assert all(i.status_category != "done" for i in open_items)


def test_resume_from_a_serialized_cursor(tracker: Tracker) -> None:
    full = [i.key for p in _all_issue_pages(tracker) for i in p.items]
    first = next(tracker.adapter.iter_issue_pages())
    assert first.next_cursor is not None, "the seed must span more than one page"
    stored = json.loads(json.dumps(first.next_cursor.to_dict()))
    with tracker.new_adapter() as resumed:
        rest = [i.key for p in resumed.iter_issue_pages(cursor=PageCursor.from_dict(stored)) for i in p.items]
    assert [i.key for i in first.items] + rest == full


def test_get_issue_matches_the_listing(tracker: Tracker) -> None:
    listed = next(tracker.adapter.iter_issue_pages()).items[0]
    fetched = tracker.adapter.get_issue(listed.key)
    assert fetched == listed
    with pytest.raises(NotFoundError):
        tracker.adapter.get_issue("999999")


def test_comments(tracker: Tracker) -> None:
    adapter = tracker.adapter
    key = _first_issue_key(tracker)
    issue_comments = adapter.list_issue_comments(key)
    assert issue_comments, "the seed gives every issue comments"
    assert all(c.issue_ref == adapter.get_issue(key).ref for c in issue_comments)
    if not adapter.capabilities.repo_wide_comments:
        with pytest.raises(UnsupportedCapability):
            adapter.iter_comment_pages()
        return
    pages = list(adapter.iter_comment_pages())
    everything = {c.id for p in pages for c in p.items}
    assert {c.id for c in issue_comments} <= everything
    assert sum(p.raw_count for p in pages) == len(everything) + sum(p.skipped for p in pages)


def test_users(tracker: Tracker) -> None:
    if _gap(tracker, "users"):
        # The sandbox lacks the route: the adapter must still fail cleanly, as a tracker error.
        with pytest.raises(TrackerError):
            tracker.adapter.list_users()
        return
    users = tracker.adapter.list_users()
    assert users
    assert len({u.id for u in users}) == len(users)
    assert all(u.connection_id == tracker.adapter.connection_id for u in users)


def test_search(tracker: Tracker) -> None:
    if _gap(tracker, "search"):
        # The sandbox lacks the search route: the adapter must still fail cleanly, as a tracker error.
        with pytest.raises(TrackerError):
            tracker.adapter.search_issues("widgets", limit=5)
        return
    created = tracker.adapter.create_issue(IssueDraft("Searchable tb-contract-marker"))
    found = tracker.adapter.search_issues(tracker.search_query("tb-contract-marker"), limit=5)
    assert created.key in {i.key for i in found}


def test_security_advisories_or_a_clear_refusal(tracker: Tracker) -> None:
    if not tracker.adapter.capabilities.security_advisories:
        with pytest.raises(UnsupportedCapability):
            tracker.adapter.list_security_advisories()
        return
    advisories = tracker.adapter.list_security_advisories()
    assert advisories
    assert all(a["id"] and "state" in a for a in advisories)


# ---- incremental and conditional --------------------------------------------------------------------


def test_incremental_pass_sees_an_update_made_after_the_full_pass(tracker: Tracker) -> None:
    items = [i for p in _all_issue_pages(tracker) for i in p.items]
    high_water = max(i.updated_at for i in items)
    target = items[0]
    tracker.adapter.update_issue(target.key, IssueChanges(title=f"{target.title} (edited)"))
    changed = [i for p in _all_issue_pages(tracker, since=high_water - timedelta(seconds=1)) for i in p.items]
    assert target.key in {i.key for i in changed}
    assert all(i.updated_at >= high_water - timedelta(seconds=1) for i in changed)
    assert [i.updated_at for i in changed] == sorted(i.updated_at for i in changed)


def test_idle_pass_costs_only_not_modified_answers(tracker: Tracker) -> None:
    cache = ETagCache()
    if not tracker.adapter.capabilities.conditional_requests:
        # A tracker without conditional requests never sends validators, even with a cache at hand.
        with tracker.new_adapter(etag_cache=cache) as adapter:
            list(adapter.iter_issue_pages())
            assert adapter.stats.not_modified == 0
        assert len(cache) == 0
        return
    with tracker.new_adapter(etag_cache=cache) as first:
        pages = list(first.iter_issue_pages())
    stored = cache.to_dict()
    tracker.sandbox.reset_requests()
    with tracker.new_adapter(etag_cache=ETagCache.from_dict(stored)) as second:
        again = list(second.iter_issue_pages())
        assert second.stats.not_modified == len(pages)
    assert [p.not_modified for p in again] == [True] * len(pages)
    assert tracker.sandbox.requests()["not_modified"] == len(pages)


# ---- writes -----------------------------------------------------------------------------------------


def test_create_update_transition_comment(tracker: Tracker) -> None:
    adapter = tracker.adapter
    created = adapter.create_issue(IssueDraft("Disk full on db1", "**95 %** used", labels=("bug",)))
    assert created.title == "Disk full on db1"
    assert "bug" in created.labels
    assert created.status_category == "todo"
    assert adapter.get_issue(created.key) == created

    updated = adapter.update_issue(
        created.key, IssueChanges(title="Disk full on db1 (again)", add_labels=("ops",))
    )
    assert updated.title == "Disk full on db1 (again)"
    assert {"bug", "ops"} <= set(updated.labels)
    assert updated.content_hash != created.content_hash

    transitions = adapter.list_transitions(created.key)
    assert any(t.to_category == "done" for t in transitions)
    assert adapter.transition_issue(created.key, "done").status_category == "done"
    assert any(t.to_category == "todo" for t in adapter.list_transitions(created.key))
    assert adapter.transition_issue(created.key, "todo").status_category == "todo"

    comment = adapter.add_comment(created.key, "Seen again at 03:00")
    assert comment.issue_ref == created.ref
    assert comment.id in {c.id for c in adapter.list_issue_comments(created.key)}


def test_webhooks_are_delivered_signed(tracker: Tracker, hooks: HookReceiver) -> None:
    adapter = tracker.adapter
    secret = "contract-hook-secret"
    hook = adapter.register_webhook(hooks.url, secret)
    assert hook.id
    adapter.create_issue(IssueDraft("Webhook probe"))
    deliveries = hooks.wait_for(1)
    for delivery in deliveries:
        assert type(adapter).verify_webhook(delivery.headers, delivery.body, [secret])
        assert not type(adapter).verify_webhook(delivery.headers, delivery.body, ["wrong secret"])
    adapter.unregister_webhook(hook.id)
    adapter.unregister_webhook(hook.id)  # gone already: still fine


def test_webhook_deliveries_parse_into_changes(tracker: Tracker, hooks: HookReceiver) -> None:
    # Given: a registered hook, then an issue created, commented on and edited at the tracker
    adapter = tracker.adapter
    secret = "contract-parse-secret"
    hook = adapter.register_webhook(hooks.url, secret)
    created = adapter.create_issue(IssueDraft("Webhook parse probe"))
    comment = adapter.add_comment(created.key, "parsed from a webhook")
    edited = adapter.update_issue(created.key, IssueChanges(title="Webhook parse probe (edited)"))
    assert tracker.sandbox.wait_for_deliveries(30.0)
    adapter.unregister_webhook(hook.id)

    # When: every delivery is verified and parsed, as the webhook Lambda and the apply step will
    deliveries = []
    for received in hooks.received:
        assert type(adapter).verify_webhook(received.headers, received.body, ["old secret", secret])
        deliveries.append(adapter.parse_webhook(received.headers, received.body))

    # Then: each has a delivery id, and the changes name the issue and the comment by their records' keys
    assert all(d.delivery_id for d in deliveries)
    assert len({d.delivery_id for d in deliveries}) == len(deliveries)
    changes = [c for d in deliveries if d.kind is DeliveryKind.CHANGES for c in d.changes]
    about_issue = [c for c in changes if c.entity is WebhookEntity.ISSUE and c.issue_ref == created.ref]
    assert about_issue, [d.event for d in deliveries]
    assert all(c.issue_key == created.key for c in about_issue)
    # A tracker whose comment event names no comment (Azure DevOps) asks for the issue's comments instead.
    comment_changes = [c for c in changes if c.entity is WebhookEntity.COMMENT]
    named = {c.comment_id for c in comment_changes}
    assert comment.id in named or any(
        c.comment_id is None and c.issue_ref == created.ref for c in comment_changes
    ), [d.event for d in deliveries]
    # A change that carries its record (the payload had every field) carries the very record a read of the
    # tracker gives, content hash included; the last one is the edit. Others ask for a fetch.
    complete = [c.issue for c in about_issue if c.issue is not None]
    if complete:
        assert complete[-1] == adapter.get_issue(created.key) == edited
    assert all(c.needs_fetch for c in about_issue if c.issue is None)


def test_attachments_or_a_clear_refusal(tracker: Tracker) -> None:
    key = _first_issue_key(tracker)
    if not tracker.adapter.capabilities.attachments:
        with pytest.raises(UnsupportedCapability):
            tracker.adapter.attach_file(key, "report.txt", b"disk usage: 95%", "text/plain")
        return
    if _gap(tracker, "attachments"):
        with pytest.raises(TrackerError):
            tracker.adapter.attach_file(key, "report.txt", b"disk usage: 95%", "text/plain")
        return
    attachment = tracker.adapter.attach_file(key, "report.txt", b"disk usage: 95%", "text/plain")
    assert attachment.filename == "report.txt"
    assert attachment.size == len(b"disk usage: 95%")


# ---- faults -------------------------------------------------------------------------------------------

RECOVERS = [
    ("500-once", {"status": 500, "times": 1}),
    ("502-once", {"status": 502, "times": 1}),
    ("503-once", {"status": 503, "times": 1}),
    ("reset-once", {"reset_connection": True, "times": 1}),
    ("timeout-once", {"delay_s": TIMEOUT_FAULT_DELAY_S, "times": 1}),
]


def _adapter_for(tracker: Tracker, rule: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
    """The tracker's adapter, or for a timeout fault (``delay_s``) one whose timeout the delay passes."""
    if not rule.get("delay_s"):
        return contextlib.nullcontext(tracker.adapter)
    assert rule["delay_s"] > FAULT_TIMEOUT_S
    return tracker.new_adapter(timeout=httpx.Timeout(FAULT_TIMEOUT_S), sleep=tracker.sleeps)


@pytest.mark.parametrize(("case", "rule"), RECOVERS, ids=[c for c, _ in RECOVERS])
def test_transient_faults_are_retried(tracker: Tracker, case: str, rule: dict[str, Any]) -> None:
    tracker.sandbox.add_faults([{"route": tracker.listing_route, **rule}])
    with _adapter_for(tracker, rule) as adapter:
        page = next(adapter.iter_issue_pages())
    assert page.items
    assert adapter.stats.retries == 1
    assert adapter.stats.requests == 2 + adapter.listing_setup_requests


PERSISTENT = [
    ("503-always", {"status": 503}, TransientError, ErrorCode.PROVIDER_UNAVAILABLE),
    ("reset-always", {"reset_connection": True}, TransientError, ErrorCode.NETWORK_GLITCH),
    ("timeout-always", {"delay_s": TIMEOUT_FAULT_DELAY_S}, TransientError, ErrorCode.TIMEOUT),
]


@pytest.mark.parametrize(("case", "rule", "error_class", "code"), PERSISTENT, ids=[c[0] for c in PERSISTENT])
def test_persistent_faults_spend_the_attempts_then_raise(
    tracker: Tracker, case: str, rule: dict[str, Any], error_class: type[TrackerError], code: ErrorCode
) -> None:
    tracker.sandbox.add_faults([{"route": tracker.listing_route, "times": 3, **rule}])
    with _adapter_for(tracker, rule) as adapter, pytest.raises(error_class) as caught:
        next(adapter.iter_issue_pages())
    assert caught.value.code is code
    assert caught.value.retryable
    assert adapter.stats.requests == adapter.retry.max_attempts


def test_a_slow_answer_is_not_a_timeout(tracker: Tracker) -> None:
    # What a loaded CI machine does to an ordinary answer: it comes, late. It must cost no retry, or
    # request counts (the floor above, the sync engine's figures) come out one high on a busy machine.
    tracker.sandbox.add_faults([{"route": tracker.listing_route, "delay_s": 0.75, "times": 1}])
    page = next(tracker.adapter.iter_issue_pages())
    assert page.items
    assert tracker.adapter.stats.retries == 0
    assert tracker.adapter.stats.requests == 1 + tracker.adapter.listing_setup_requests


REFUSED = [
    ("401", {"status": 401}, AuthenticationError, ErrorCode.AUTH_INVALID),
    ("403", {"status": 403}, PermissionDeniedError, ErrorCode.PERMISSION_DENIED),
    ("404", {"status": 404}, NotFoundError, ErrorCode.NOT_FOUND),
    ("malformed-json", {"malformed_body": True}, MalformedResponseError, ErrorCode.MALFORMED_RESPONSE),
]


@pytest.mark.parametrize(("case", "rule", "error_class", "code"), REFUSED, ids=[c[0] for c in REFUSED])
def test_client_errors_and_garbage_are_never_retried(
    tracker: Tracker, case: str, rule: dict[str, Any], error_class: type[TrackerError], code: ErrorCode
) -> None:
    tracker.sandbox.add_faults([{"route": tracker.listing_route, "times": 1, **rule}])
    with pytest.raises(error_class) as caught:
        next(tracker.adapter.iter_issue_pages())
    assert caught.value.code is code
    assert caught.value.guidance
    assert tracker.adapter.stats.requests == 1
    assert tracker.sleeps.calls == []


def test_short_rate_limit_is_waited_out(tracker: Tracker) -> None:
    tracker.sandbox.add_faults(
        [{"route": tracker.listing_route, "status": 429, "retry_after_s": 2, "times": 1}]
    )
    page = next(tracker.adapter.iter_issue_pages())
    assert page.items
    assert len(tracker.sleeps.calls) == 1
    assert 2.0 <= tracker.sleeps.calls[0] <= 2.2


def test_rate_limit_with_a_far_reset_raises_for_parking(tracker: Tracker) -> None:
    # The sandbox spends the token's budget for 10 minutes: each tracker answers it its own way
    # (GitHub 403 + x-ratelimit-reset, GitLab 429 + Retry-After), the adapter the same way.
    tracker.sandbox.add_faults([{"route": tracker.listing_route, "rate_limit_reset_s": 600, "times": 1}])
    before = tracker.adapter.now()
    with pytest.raises(RateLimitedError) as caught:
        next(tracker.adapter.iter_issue_pages())
    error = caught.value
    assert error.reset_at is not None
    assert error.reset_at >= before + timedelta(seconds=500)
    assert error.retryable
    # Nothing was slept through: the sync engine parks the slice until reset_at instead
    assert tracker.sleeps.calls == []
    assert tracker.adapter.stats.requests == 1


@pytest.mark.parametrize("tracker", ["github"], indirect=True)
def test_github_secondary_limit(tracker: Tracker) -> None:
    tracker.sandbox.add_faults([{"route": tracker.listing_route, "status": 403, "retry_after_s": 90}])
    with pytest.raises(RateLimitedError) as caught:
        next(tracker.adapter.iter_issue_pages())
    assert caught.value.secondary is True
    assert caught.value.retry_after_s == 90
    assert tracker.sleeps.calls == []
