"""Tracked users through the engine against the Jira sandbox: backfills, narrowed syncs, kept history.

The sandbox's JQL engine evaluates ``assignee in (...) OR reporter in (...) OR worklogAuthor in (...)``
itself, so what gets stored is what Jira would have answered; the expected sets are computed here from the
sandbox's own state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from infra.local.trackers.jira import JiraSandbox
from tests.integration.sync.support import Harness
from tests.support.sandboxes import fresh
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.domain.tracked_users import TrackedUsers
from trackbridge.runtime import container
from trackbridge.runtime.sync.tracked_users import TrackedUsersScoping, TrackedUsersService
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.issues import IssueRepository
from trackbridge.storage.sync import SyncOperationRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]


def _stored(tenant: str, connection: Connection) -> dict[str, str]:
    """native id -> title of every stored live issue."""
    page = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=1000)
    assert page.next_cursor is None
    return {i.native_id: i.title for i in page.items if i.deleted_at is None}


def _involving(tracker: JiraSandbox, *users: str) -> set[str]:
    """Ids of the sandbox's issues where one of ``users`` is assignee, reporter or worklog author."""
    state = tracker.state
    wanted = set(users)
    found = set()
    for issue in state.live_issues():
        authors = {state.worklogs[w].author for w in issue.worklogs if w in state.worklogs}
        if {issue.assignee, issue.reporter} & wanted or authors & wanted:
            found.add(str(issue.id))
    return found


class Tracking:
    """A harness whose engine narrows adapters as production's does, and the PUT's service over it."""

    def __init__(self, harness: Harness, tenant: str, connection: Connection) -> None:
        table = container.table()
        harness.engine.adapter_factory = TrackedUsersScoping(
            harness.engine.adapter_factory, SyncOperationRepository(table)
        )
        self.harness, self.tenant, self.connection = harness, tenant, connection
        self.service = TrackedUsersService(
            ConnectionRepository(table), AuditRepository(table), harness.service
        )

    def put(self, *users: str) -> SyncOperation | None:
        """Replace the list; returns the backfill it started, run to its end (None when none started)."""
        before = self.service.get(self.tenant, self.connection.id).backfill_operation_id
        view = self.service.put(
            self.tenant, self.connection.id, TrackedUsers(users=list(users)), Actor(id="t")
        )
        if view.backfill_operation_id in (None, before):
            return None
        self.harness.drain(pages_per_slice=3)
        op = self.harness.service.get(self.tenant, view.backfill_operation_id)
        assert op.status == "Completed", (op.results.errors, self.harness.outcomes)
        return op

    def incremental(self) -> SyncOperation:
        return self.harness.run(self.tenant, self.connection.id, SyncRequest(mode="incremental"))


@pytest.fixture
def tracker(jira_sandbox: JiraSandbox) -> JiraSandbox:
    return fresh(jira_sandbox)


def _people(tracker: JiraSandbox) -> tuple[str, str]:
    """Two seeded people who are assignees of some issues, the busiest first."""
    counts = Counter(i.assignee for i in tracker.state.live_issues() if i.assignee is not None)
    (first, _), (second, _) = counts.most_common(2)
    return first, second


def test_a_backfill_reads_one_user_and_later_syncs_follow_the_list(
    tracker: JiraSandbox,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
) -> None:
    from tests.integration.sync.conftest import connection_fields, create_connection

    # Given: a Jira connection, two people, and an issue where the second person only logged work
    connection = create_connection(tenant, **connection_fields(tracker))
    alice, bob = _people(tracker)
    only_worklog = next(
        i for i in tracker.state.live_issues() if bob not in (i.assignee, i.reporter) and alice != i.assignee
    )
    tracker.mutate("worklog", key=tracker.state.key(only_worklog), seconds=600, actor=bob)
    tracking = Tracking(harness_factory(page_size=10), tenant, connection)

    # When: the first person is tracked
    first = tracking.put(alice)

    # Then: their backfill stored exactly their issues, each counted once as created
    assert first is not None
    assert first.mode == "full"
    expected_alice = _involving(tracker, alice)
    assert set(_stored(tenant, connection)) == expected_alice
    assert first.results.created == len(expected_alice)

    # When: the second person is added
    second = tracking.put(alice, bob)

    # Then: the backfill's full pass named the new person alone, and stored their issues (the worklog-only
    # one included); the first person's issues are still there, none written again
    assert second is not None
    backfill_adapter = tracking.harness.adapters[-1]
    assert backfill_adapter.backfill_users == (bob,)  # type: ignore[attr-defined]
    assert backfill_adapter.tracked_users == (alice, bob)  # type: ignore[attr-defined]
    expected_bob = _involving(tracker, bob)
    assert str(only_worklog.id) in expected_bob
    assert set(_stored(tenant, connection)) == expected_alice | expected_bob
    assert second.results.created == len(expected_bob - expected_alice)
    assert second.results.updated == 0

    # When: the first person is removed (no backfill), and an issue of each person alone changes
    assert tracking.put(bob) is None
    alice_only = sorted(expected_alice - expected_bob)[0]
    bob_only = sorted(expected_bob - expected_alice)[0]
    tracker.retitle_issue(tracker.state.key(tracker.state.find(alice_only)), "changed after removal")  # type: ignore[arg-type]
    tracker.retitle_issue(tracker.state.key(tracker.state.find(bob_only)), "changed while tracked")  # type: ignore[arg-type]
    later = tracking.incremental()

    # Then: the tracked person's change is ingested, the removed person's is not, and their history stays
    stored = _stored(tenant, connection)
    assert stored[bob_only] == "changed while tracked"
    assert alice_only in stored
    assert stored[alice_only] != "changed after removal"
    assert set(stored) == expected_alice | expected_bob
    assert later.results.updated == 1
    # The later adapters are narrowed to the list, with no backfill (its operation ended)
    assert tracking.harness.adapters[-1].backfill_users == ()  # type: ignore[attr-defined]
    assert tracking.harness.adapters[-1].tracked_users == (bob,)  # type: ignore[attr-defined]


def test_a_connection_tracking_nobody_syncs_its_whole_scope(
    tracker: JiraSandbox, aws: Any, tenant: str, harness_factory: Callable[..., Harness]
) -> None:
    from tests.integration.sync.conftest import connection_fields, create_connection

    # Given: a Jira connection whose list was set and then emptied (no backfill for an empty list)
    connection = create_connection(tenant, **connection_fields(tracker))
    tracking = Tracking(harness_factory(page_size=25), tenant, connection)
    alice, _ = _people(tracker)
    assert tracking.put(alice) is not None
    assert tracking.put() is None

    # When: a full sync runs
    tracking.harness.run(tenant, connection.id, SyncRequest(mode="full"))

    # Then: every issue of the scope is stored
    assert set(_stored(tenant, connection)) == {str(i.id) for i in tracker.state.live_issues()}
