"""Sprints and users through the engine (entities ``sprints`` and ``users``): listed whole each pass, written
only where the content hash moved, a person who left kept with ``active`` false, a deleted sprint confirmed by
a 404 and tombstoned, and the issue <-> sprint relation read with the issues themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from infra.local.trackers.core import SandboxTracker
from infra.local.trackers.jira import JiraSandbox
from tests.integration.sync.conftest import connection_fields, create_connection
from tests.integration.sync.support import TEST_CONFIG, Harness, assert_counters_add_up
from tests.support.sandboxes import fresh
from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Sprint, User
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.issues import IssueRepository, SprintRepository, UserRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

AGILE_ROUTES = {"GET /rest/agile/1.0/board", "GET /rest/agile/1.0/board/{boardId}/sprint"}


def _run(harness: Harness, tenant: str, connection: Connection, mode: str, *entities: str) -> SyncOperation:
    op = harness.run(
        tenant, connection.id, SyncRequest.model_validate({"mode": mode, "entities": list(entities)})
    )
    assert_counters_add_up(op)
    return op


def _counts(op: SyncOperation, entity: str) -> dict[str, int]:
    return op.results.by_entity[entity].model_dump()


def _users(tenant: str, connection: Connection) -> dict[str, User]:
    return {u.id: u for u in UserRepository(container.table()).list_all(tenant, connection.id)}


def _sprints(tenant: str, connection: Connection) -> dict[str, Sprint]:
    return {s.id: s for s in SprintRepository(container.table()).list_all(tenant, connection.id)}


def _sprint_of_issues(tenant: str, connection: Connection) -> dict[str, list[str]]:
    issues = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=1000).items
    return {issue.key: issue.sprint_ids for issue in issues if issue.deleted_at is None}


def _verified(
    verify: Callable[..., VerifyReport], connection: Connection, *, users: bool = False, sprints: bool = False
) -> VerifyReport:
    """``trackbridge verify`` of the catalogs alone (strict: each is listed whole on every pass)."""
    report = verify(connection, with_issues=False, with_users=users, with_sprints=sprints, strict=True)
    assert report.by_entity() == {}, report.to_dict()
    assert report.ok
    return report


@pytest.fixture
def jira(jira_sandbox: JiraSandbox) -> JiraSandbox:
    return fresh(jira_sandbox)


@pytest.fixture
def jira_connection(aws: Any, tenant: str, jira: JiraSandbox) -> Connection:
    return create_connection(tenant, **connection_fields(jira))


def test_jira_sprints_sync_whole_then_only_what_changed(
    jira: JiraSandbox,
    jira_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    harness = harness_factory()
    seeded = {str(s.id): s for s in jira.state.sprints.values()}
    # Given a first full sync of the issues and the sprints
    jira.reset_requests()
    op = _run(harness, tenant, jira_connection, "full", "issues", "sprints")
    # Then every sprint of the project's board is stored, counted once as created
    stored = _sprints(tenant, jira_connection)
    assert sorted(stored) == sorted(seeded)
    assert _counts(op, "sprints")["created"] == len(seeded)
    assert {s.id: (s.name, s.state) for s in stored.values()} == {
        k: (v.name, v.state) for k, v in seeded.items()
    }
    # And each issue carries its sprint, read with the issue: no request per issue, two for the catalog
    assert _sprint_of_issues(tenant, jira_connection) == {
        jira.state.key(i): [str(i.sprint_id)] if i.sprint_id else []
        for i in jira.state.issues
        if i is not None
    }
    by_route = jira.requests()["by_route"]
    assert {r: n for r, n in by_route.items() if r in AGILE_ROUTES} == dict.fromkeys(AGILE_ROUTES, 1)
    # And verify finds every sprint stored as the tracker lists it
    assert _verified(verify, jira_connection, sprints=True).sprints_checked == len(seeded)

    # When nothing changed, an incremental sync lists the catalog again and writes nothing
    op = _run(harness, tenant, jira_connection, "incremental", "sprints")
    assert _counts(op, "sprints") | {"processed": 0} == {
        "created": 0,
        "updated": 0,
        "unchanged": len(seeded),
        "deleted": 0,
        "failed": 0,
        "processed": 0,
    }
    assert _sprints(tenant, jira_connection) == stored

    # When a sprint is renamed, one is created, and one holding issues is deleted at the tracker
    renamed, doomed = sorted((s for s in seeded.values() if s.state != "closed"), key=lambda s: s.id)[:2]
    moved = [jira.state.key(i) for i in jira.state.issues if i is not None and i.sprint_id == doomed.id]
    jira.mutate("update_sprint", sprint_id=renamed.id, name="Renamed sprint")
    created = jira.mutate("create_sprint", name="Brand new sprint", state="active")["id"]
    jira.mutate("delete_sprint", sprint_id=doomed.id)
    target = next(i for i in jira.state.issues if i is not None and i.sprint_id is None)
    jira.mutate("move_to_sprint", sprint_id=created, keys=[jira.state.key(target)])
    op = _run(harness, tenant, jira_connection, "incremental", "issues", "sprints")
    # Then exactly those are written: the new one created, the renamed one updated, the deleted one tombstoned
    counts = _counts(op, "sprints")
    assert (counts["created"], counts["updated"], counts["deleted"]) == (1, 1, 1)
    after = _sprints(tenant, jira_connection)
    assert after[str(renamed.id)].name == "Renamed sprint"
    assert after[str(renamed.id)].updated_at > stored[str(renamed.id)].updated_at
    assert after[str(doomed.id)].deleted_at is not None
    assert after[str(created)].state == "active"
    untouched = [k for k in stored if k not in (str(renamed.id), str(doomed.id))]
    assert all(after[k] == stored[k] for k in untouched)
    # And the issues follow: the moved one names its new sprint, the deleted sprint's issues name none
    relation = _sprint_of_issues(tenant, jira_connection)
    assert relation[jira.state.key(target)] == [str(created)]
    assert all(relation[key] == [] for key in moved)
    # And verify finds the catalog as the tracker lists it (the tombstoned sprint is listed no more)
    assert _verified(verify, jira_connection, sprints=True).sprints_checked == len(seeded)


def test_a_vanished_sprint_that_still_answers_is_not_tombstoned(
    jira: JiraSandbox,
    jira_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    harness = harness_factory()
    _run(harness, tenant, jira_connection, "full", "sprints")
    # Given the board's sprint listing leaves one sprint out (a board moved away), while GET finds it
    sprint = next(iter(jira.state.sprints.values()))
    jira.state.sprints[sprint.id].board_id = 999
    op = _run(harness, tenant, jira_connection, "incremental", "sprints")
    # Then the sync asked for it by id and kept it live: never a tombstone on absence alone
    assert _counts(op, "sprints")["deleted"] == 0
    stored = _sprints(tenant, jira_connection)[str(sprint.id)]
    assert stored.deleted_at is None
    assert stored.board_id == "999"  # written as the tracker answers now
    # And verify reports it as extra (stored live, no longer listed): not a failure unless strict
    report = verify(jira_connection, with_issues=False, with_sprints=True)
    assert (report.extra, report.lost, report.stale) == ([f"sprint {sprint.id}"], [], [])
    assert report.ok
    assert not verify(jira_connection, with_issues=False, with_sprints=True, strict=True).ok


def _leave(tracker: SandboxTracker[Any], user: User) -> None:
    if tracker.kind == "jira":
        tracker.mutate("deactivate_user", account_id=user.id)
    elif tracker.kind == "github":
        tracker.mutate("remove_user", login=user.login)
    else:
        tracker.mutate("remove_user", username=user.login)


def _join(tracker: SandboxTracker[Any]) -> None:
    if tracker.kind == "jira":
        tracker.mutate("add_user", display_name="New Comer", email="newcomer@example.com")
    elif tracker.kind == "github":
        tracker.mutate("add_user", login="newcomer", name="New Comer")
    else:
        tracker.mutate("add_user", username="newcomer", name="New Comer")


@pytest.mark.parametrize("provider", ["github", "gitlab", "jira"])
def test_users_sync_whole_keep_who_left_and_add_who_joined(
    provider: str,
    small_sandboxes: dict[str, SandboxTracker[Any]],
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    tracker = fresh(small_sandboxes[provider])
    connection = create_connection(tenant, **connection_fields(tracker))
    harness = harness_factory()
    # Given a first sync of the users
    op = _run(harness, tenant, connection, "incremental", "users")
    first = _users(tenant, connection)
    assert first
    assert _counts(op, "users")["created"] == len(first)
    assert all(u.active and u.content_hash for u in first.values())
    assert _verified(verify, connection, users=True).users_checked == len(first)
    # When nothing changed: no write (every stored copy is the same, update time included)
    op = _run(harness, tenant, connection, "full", "users")
    assert (_counts(op, "users")["unchanged"], _counts(op, "users")["updated"]) == (len(first), 0)
    assert _users(tenant, connection) == first
    # When one person leaves and one joins
    leaver = sorted(first.values(), key=lambda u: u.id)[-1]
    _leave(tracker, leaver)
    _join(tracker)
    op = _run(harness, tenant, connection, "incremental", "users")
    after = _users(tenant, connection)
    # Then the leaver stays, inactive, counted as deleted; the newcomer is created; nobody else is written
    assert after[leaver.id].active is False
    assert (_counts(op, "users")["created"], _counts(op, "users")["deleted"]) == (1, 1)
    assert len(after) == len(first) + 1
    assert all(after[k] == first[k] for k in first if k != leaver.id)
    # And verify finds every listed person stored as the tracker has them, the leaver not counted as extra
    _verified(verify, connection, users=True)


def test_a_failing_listing_writes_nothing_and_retries(
    jira: JiraSandbox,
    jira_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    harness = harness_factory()
    _run(harness, tenant, jira_connection, "full", "users", "sprints")
    before = (_users(tenant, jira_connection), _sprints(tenant, jira_connection))
    # Given the tracker fails the sprint listing twice, and the user listing once, with 500s
    jira.add_faults(
        [
            {"route": "GET /rest/agile/1.0/board/{boardId}/sprint", "times": 2, "status": 500},
            {"route": "GET /rest/api/3/user/assignable/search", "times": 1, "status": 503},
        ]
    )
    op = _run(harness, tenant, jira_connection, "incremental", "users", "sprints")
    # Then the retries outlast the faults and nothing is lost, deactivated or tombstoned
    assert (_users(tenant, jira_connection), _sprints(tenant, jira_connection)) == before
    assert op.results.deleted == 0
    _verified(verify, jira_connection, users=True, sprints=True)
    # And when the listing keeps failing, the operation fails without touching what is stored
    jira.add_faults([{"route": "GET /rest/api/3/user/assignable/search", "times": 100, "status": 500}])
    impatient = harness_factory(config=replace(TEST_CONFIG, max_transient_retries=1))
    failing = impatient.service.start(
        tenant, jira_connection.id, SyncRequest(mode="full", entities=["users"]), triggered_by="tests"
    )
    impatient.drain(pages_per_slice=3)
    final = impatient.service.get(tenant, failing.id)
    assert final.status == "Failed"
    assert final.results.errors[-1]["entity"] == "users"
    assert _users(tenant, jira_connection) == before[0]
    jira.clear_faults()
    _verified(verify, jira_connection, users=True, sprints=True)


def test_verify_finds_a_lost_a_stale_and_a_wrongly_deleted_catalog_item(
    jira: JiraSandbox,
    jira_connection: Connection,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[..., VerifyReport],
) -> None:
    _run(harness_factory(), tenant, jira_connection, "full", "users", "sprints")
    users = sorted(_users(tenant, jira_connection).values(), key=lambda u: u.id)
    sprint = sorted(_sprints(tenant, jira_connection).values(), key=lambda s: s.id)[0]
    # Given, behind the sync's back: one person lost, one stored as gone while active, one sprint edited
    table = container.table()
    table.delete(*UserRepository.key(tenant, users[0]))
    UserRepository(table).put(tenant, users[1].model_copy(update={"active": False}).with_hash())
    SprintRepository(table).put(tenant, sprint.model_copy(update={"name": "Edited"}).with_hash())
    # Then verify reports exactly those, each under its entity, and fails
    report = verify(jira_connection, with_issues=False, with_users=True, with_sprints=True)
    assert (report.lost, report.wrongly_deleted, report.stale) == (
        [f"user {users[0].id}"],
        [f"user {users[1].id}"],
        [f"sprint {sprint.id}"],
    )
    found = {entity: {k: n for k, n in counts.items() if n} for entity, counts in report.by_entity().items()}
    assert found == {
        "user": {"lost": 1, "wrongly_deleted": 1},
        "sprint": {"stale": 1},
    }
    assert not report.ok
