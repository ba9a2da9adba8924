"""Synced data: ordering by ``updated_at`` and content hash, the three issue indexes, tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.errors import InvalidInput, NotFound
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Comment, Issue, Sprint, User, Worklog
from trackbridge.storage.issues import (
    CommentRepository,
    IssueRepository,
    SprintRepository,
    UserRepository,
    WorklogRepository,
)
from trackbridge.storage.table import Table

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def make_issue(connection_id: str, n: int, *, updated: datetime = T0, **changes: object) -> Issue:
    data: dict[str, object] = {
        "ref": f"{connection_id}.{n}",
        "external_id": f"github:https://api.github.com/repos/acme/web:{n}",
        "connection_id": connection_id,
        "provider": "github",
        "key": f"#{n}",
        "title": f"issue {n}",
        "status": "open",
        "status_category": "todo",
        "created_at": T0,
        "updated_at": updated,
    }
    data.update(changes)
    return Issue.model_validate(data).with_hash()


@pytest.fixture
def connection_id() -> str:
    return new_id(IdPrefix.CONNECTION)


def test_writes_are_ordered_by_updated_at_then_hash(table: Table, tenant: str, connection_id: str) -> None:
    repo = IssueRepository(table)
    first = make_issue(connection_id, 1)
    assert repo.put_if_newer(tenant, first) == "created"
    # The same content again costs nothing
    assert repo.put_if_newer(tenant, first) == "unchanged"
    # A newer update lands
    newer = make_issue(connection_id, 1, updated=T0 + timedelta(minutes=5), title="renamed")
    assert repo.put_if_newer(tenant, newer) == "updated"
    # An older event arriving late never overwrites it
    stale = make_issue(connection_id, 1, updated=T0 + timedelta(minutes=1), title="stale")
    assert repo.put_if_newer(tenant, stale) == "unchanged"
    # Equal timestamps with different content: the content wins (same-second edits)
    same_time = make_issue(connection_id, 1, updated=T0 + timedelta(minutes=5), title="renamed again")
    assert repo.put_if_newer(tenant, same_time) == "updated"
    stored = repo.get(tenant, connection_id, first.external_id)
    assert stored.title == "renamed again"
    assert stored == same_time


def test_issue_indexes(table: Table, tenant: str, connection_id: str) -> None:
    repo = IssueRepository(table)
    other_connection = new_id(IdPrefix.CONNECTION)
    for n in range(4):
        category = "done" if n % 2 else "todo"
        repo.put_if_newer(
            tenant, make_issue(connection_id, n, updated=T0 + timedelta(hours=n), status_category=category)
        )
    repo.put_if_newer(tenant, make_issue(other_connection, 9, updated=T0 + timedelta(hours=9)))

    newest_first = [i.key for i in repo.list_updated(tenant).items]
    assert newest_first == ["#9", "#3", "#2", "#1", "#0"]
    assert [i.key for i in repo.list_updated(tenant, since=T0 + timedelta(hours=2)).items] == [
        "#9",
        "#3",
        "#2",
    ]
    assert [i.key for i in repo.list_by_status(tenant, "done").items] == ["#3", "#1"]
    assert [i.key for i in repo.list_connection_updated(tenant, connection_id).items] == [
        "#3",
        "#2",
        "#1",
        "#0",
    ]
    assert len(repo.list_for_connection(tenant, connection_id).items) == 4

    # Paging an index: two pages of two, then done
    page = repo.list_connection_updated(tenant, connection_id, limit=2)
    rest = repo.list_connection_updated(tenant, connection_id, limit=2, cursor=page.next_cursor)
    assert [i.key for i in page.items + rest.items] == ["#3", "#2", "#1", "#0"]
    assert rest.next_cursor is None

    # A tombstone leaves the status index but stays findable
    gone = make_issue(
        connection_id, 3, updated=T0 + timedelta(hours=10), status_category="done", deleted_at=T0
    )
    assert repo.put_if_newer(tenant, gone) == "updated"
    assert [i.key for i in repo.list_by_status(tenant, "done").items] == ["#1"]
    assert repo.get(tenant, connection_id, gone.external_id).deleted_at == T0


def test_comments_worklogs_users_sprints(table: Table, tenant: str, connection_id: str) -> None:
    ref = f"{connection_id}.1"
    comments, worklogs = CommentRepository(table), WorklogRepository(table)
    comment = Comment(
        id="c1", issue_ref=ref, connection_id=connection_id, body="hi", created_at=T0, updated_at=T0
    )
    assert comments.put_if_newer(tenant, comment) == "created"
    assert comments.put_if_newer(tenant, comment) == "unchanged"
    edited = comment.model_copy(
        update={"body": "hi!", "updated_at": T0 + timedelta(seconds=1), "content_hash": ""}
    )
    assert comments.put_if_newer(tenant, edited) == "updated"
    assert comments.get(tenant, ref, "c1").body == "hi!"
    worklog = Worklog(
        id="w1",
        issue_ref=ref,
        connection_id=connection_id,
        time_spent_s=60,
        started_at=T0,
        created_at=T0,
        updated_at=T0,
    )
    assert worklogs.put_if_newer(tenant, worklog) == "created"
    assert [c.id for c in comments.list_for_issue(tenant, ref).items] == ["c1"]
    assert [w.id for w in worklogs.list_for_issue(tenant, ref).items] == ["w1"]

    users, sprints = UserRepository(table), SprintRepository(table)
    users.put(tenant, User(id="42", connection_id=connection_id, login="ann"))
    users.put(tenant, User(id="42", connection_id=connection_id, login="ann", display_name="Ann"))
    assert users.get(tenant, connection_id, "42").display_name == "Ann"
    sprints.put(tenant, Sprint(id="7", connection_id=connection_id, name="S7", state="active"))
    assert [s.name for s in sprints.list(tenant, connection_id).items] == ["S7"]
    assert [u.id for u in users.list(tenant, connection_id).items] == ["42"]


def test_another_tenant_cannot_reach_synced_data(
    table: Table, tenant: str, other_tenant: str, connection_id: str
) -> None:
    issues, comments = IssueRepository(table), CommentRepository(table)
    users, sprints, worklogs = UserRepository(table), SprintRepository(table), WorklogRepository(table)
    issue = make_issue(connection_id, 1)
    issues.put_if_newer(tenant, issue)
    ref = issue.ref
    comments.put_if_newer(
        tenant, Comment(id="c1", issue_ref=ref, connection_id=connection_id, created_at=T0, updated_at=T0)
    )
    users.put(tenant, User(id="1", connection_id=connection_id))
    sprints.put(tenant, Sprint(id="1", connection_id=connection_id, name="S", state="future"))
    worklogs.put_if_newer(
        tenant,
        Worklog(
            id="w",
            issue_ref=ref,
            connection_id=connection_id,
            time_spent_s=1,
            started_at=T0,
            created_at=T0,
            updated_at=T0,
        ),
    )

    for read in (
        lambda: issues.get(other_tenant, connection_id, issue.external_id),
        lambda: comments.get(other_tenant, ref, "c1"),
        lambda: worklogs.get(other_tenant, ref, "w"),
        lambda: users.get(other_tenant, connection_id, "1"),
        lambda: sprints.get(other_tenant, connection_id, "1"),
    ):
        with pytest.raises(NotFound):
            read()
    assert issues.list_updated(other_tenant).items == []
    assert issues.list_for_connection(other_tenant, connection_id).items == []
    assert issues.list_by_status(other_tenant, "todo").items == []
    assert issues.list_connection_updated(other_tenant, connection_id).items == []
    assert comments.list_for_issue(other_tenant, ref).items == []
    assert worklogs.list_for_issue(other_tenant, ref).items == []
    assert users.list(other_tenant, connection_id).items == []
    assert sprints.list(other_tenant, connection_id).items == []
    # A write by the other tenant with the same ids lands in its own keyspace, never on the owner's item
    intruder = make_issue(connection_id, 1, updated=T0 + timedelta(days=1), title="overwritten?")
    assert issues.put_if_newer(other_tenant, intruder) == "created"
    assert issues.get(tenant, connection_id, issue.external_id).title == "issue 1"
    # And the owner's cursor is refused in the other tenant's listing
    issues.put_if_newer(tenant, make_issue(connection_id, 2))
    cursor = issues.list_updated(tenant, limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidInput, match="invalid cursor"):
        issues.list_updated(other_tenant, limit=1, cursor=cursor)
