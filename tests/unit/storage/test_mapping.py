"""Every repository maps its model to an item and back without loss, and keys carry the tenant.

Items go through the real wire encoding (``serialize``/``deserialize``), so a field that DynamoDB cannot
store, or that comes back as another type (numbers come back as Decimal), fails here without AWS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from trackbridge.domain.audit import AuditEntry, FieldChange
from trackbridge.domain.automation import Dedup, Event, Rule, Template
from trackbridge.domain.connections import Connection, Schedule, Scope
from trackbridge.domain.issues import Comment, Issue, Sprint, User, Worklog
from trackbridge.domain.links import Link, ObjectRef
from trackbridge.domain.sync import Progress, Results, SyncLogEntry, SyncOperation, SyncState
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.automation import EventRepository, RuleRepository, TemplateRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.issues import (
    CommentRepository,
    IssueRepository,
    SprintRepository,
    UserRepository,
    WorklogRepository,
)
from trackbridge.storage.links import LinkRepository
from trackbridge.storage.sync import SyncLogRepository, SyncOperationRepository, SyncStateRepository
from trackbridge.storage.table import Table, deserialize, serialize

T0 = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
CONN = "conn_abcdefghijklmnopqrst"
REF = f"{CONN}.12"
TABLE = Table(client=None, name="unit")
TENANT = "acme"


def through_the_wire(item: dict[str, Any]) -> dict[str, Any]:
    return deserialize(serialize(item))


CONNECTION = Connection(
    id=CONN,
    name="web",
    provider="github",
    base_url="https://api.github.com",
    scope=Scope(repo="acme/web"),
    schedule=Schedule(expression="rate(15 minutes)", timezone="Europe/Berlin"),
    entities=["issues", "comments", "users"],
    include_closed=False,
    has_webhook_secret=True,
    created_at=T0,
    updated_at=T0 + timedelta(hours=1),
    version=4,
)
ISSUE = Issue(
    ref=REF,
    external_id="github:https://api.github.com/repos/acme/web:12",
    connection_id=CONN,
    provider="github",
    key="#12",
    title="Slow query",
    body="it is slow",
    status="open",
    status_category="in_progress",
    assignees=["ann"],
    labels=["db", "perf"],
    priority="high",
    url="https://github.com/acme/web/issues/12",
    created_at=T0,
    updated_at=T0,
).with_hash()
COMMENT = Comment(
    id="99", issue_ref=REF, connection_id=CONN, author="bob", body="+1", created_at=T0, updated_at=T0
).with_hash()
WORKLOG = Worklog(
    id="7", issue_ref=REF, connection_id=CONN, time_spent_s=3600, started_at=T0, created_at=T0, updated_at=T0
).with_hash()
OPERATION = SyncOperation(
    id="op_abcdefghijklmnopqrst",
    connection_id=CONN,
    mode="full",
    entities=["issues", "comments"],
    status="InProgress",
    progress=Progress(stage="issues", processed=150, total=400),
    results=Results(created=100, updated=50, errors=[{"code": "RATE_LIMITED", "count": 1}]),
    requests=7,
    created_at=T0,
    started_at=T0,
    triggered_by="schedule",
    slice_no=3,
    version=9,
)
STATE = SyncState(connection_id=CONN, entity="issues", high_water=T0, status="ok", updated_at=T0, version=2)
LOG = SyncLogEntry(
    operation_id=OPERATION.id, connection_id=CONN, seq=5, at=T0, event="sync.page", data={"fetched": 100}
)
RULE = Rule(
    name="db-alarms",
    event_type="alarm",
    condition="event.severity == 'high'",
    connection_id=CONN,
    template="alarm",
    labels=["alarm"],
    dedup=Dedup(key="{{ event.subject.name }}", reopen_window=3600),
    on_resolve="close",
    created_at=T0,
)
TEMPLATE = Template(
    name="alarm", title="{{ event.subject.name }} is {{ event.data.state }}", body="", created_at=T0
)
EVENT = Event(
    id="evt_abcdefghijklmnopqrst",
    type="alarm",
    source="aws.cloudwatch",
    severity="high",
    subject=ObjectRef(kind="alarm", name="HighCPU"),
    data={"threshold": 0.9},
    occurred_at=T0,
    received_at=T0,
)
AUDIT = AuditEntry(
    id="aud_abcdefghijklmnopqrst",
    at=T0,
    actor="key1",
    action="connection.update",
    target=CONN,
    request_id="r1",
    changes={"name": FieldChange(old="a", new="b")},
)
LINK = Link(
    id="link_abcdefghijklmnopqrst",
    object=ObjectRef(kind="table", database="sales", schema="public", name="orders"),
    issue_ref=REF,
    type="auto_detected",
    created_by="key1",
    created_at=T0,
)

CASES: list[tuple[str, BaseModel, Any, Any]] = [
    (
        "connection",
        CONNECTION,
        lambda m: ConnectionRepository(TABLE).item(TENANT, m),
        ConnectionRepository(TABLE).model,
    ),
    ("issue", ISSUE, lambda m: IssueRepository.item(TENANT, m), IssueRepository.model),
    ("comment", COMMENT, lambda m: CommentRepository.item(TENANT, m), CommentRepository.model),
    ("worklog", WORKLOG, lambda m: WorklogRepository.item(TENANT, m), WorklogRepository.model),
    (
        "user",
        User(id="1", connection_id=CONN, login="ann"),
        lambda m: UserRepository.item(TENANT, m),
        UserRepository.model,
    ),
    (
        "sprint",
        Sprint(id="3", connection_id=CONN, name="S1", state="active", start_at=T0),
        lambda m: SprintRepository.item(TENANT, m),
        SprintRepository.model,
    ),
    (
        "operation",
        OPERATION,
        lambda m: SyncOperationRepository.item(TENANT, m),
        SyncOperationRepository.model,
    ),
    ("state", STATE, lambda m: SyncStateRepository.item(TENANT, m), SyncStateRepository.model),
    ("log", LOG, lambda m: SyncLogRepository(TABLE).item(TENANT, m), SyncLogRepository.model),
    ("rule", RULE, lambda m: RuleRepository(TABLE).item(TENANT, m), RuleRepository(TABLE).model),
    (
        "template",
        TEMPLATE,
        lambda m: TemplateRepository(TABLE).item(TENANT, m),
        TemplateRepository(TABLE).model,
    ),
    ("event", EVENT, lambda m: EventRepository(TABLE).item(TENANT, m), EventRepository.model),
    ("audit", AUDIT, lambda m: AuditRepository.item(TENANT, m), AuditRepository.model),
    (
        "link",
        LINK,
        lambda m: {"pk": "T#acme", "sk": "x", **LinkRepository._attributes(m)},
        LinkRepository.model,
    ),
]


@pytest.mark.parametrize(("name", "model", "to_item", "from_item"), CASES, ids=[c[0] for c in CASES])
def test_round_trip(name: str, model: BaseModel, to_item: Any, from_item: Any) -> None:
    item = through_the_wire(to_item(model))
    assert from_item(item) == model
    assert item["pk"] == "T#acme" or item["pk"].startswith("T#acme#")
    for attribute in ("gsi1pk", "gsi2pk", "gsi3pk"):
        if attribute in item:
            assert item[attribute].startswith("T#acme#")


def test_issue_item_is_indexed_three_ways_and_tombstones_leave_the_status_index() -> None:
    item = IssueRepository.item(TENANT, ISSUE)
    assert item["sk"] == f"ISSUE#{ISSUE.external_id}"
    assert item["gsi1sk"] == item["gsi2sk"] == item["gsi3sk"] == f"2026-05-01T12:00:00.123456Z#{REF}"
    assert item["gsi2pk"] == "T#acme#STATUS#in_progress"
    tombstone = IssueRepository.item(TENANT, ISSUE.model_copy(update={"deleted_at": T0}))
    assert "gsi2pk" not in tombstone
    assert tombstone["gsi1pk"] == item["gsi1pk"]


def test_expiring_items_carry_a_ttl() -> None:
    log_item = SyncLogRepository(TABLE, retention=timedelta(days=1)).item(TENANT, LOG)
    assert log_item["expires_at"] == int((T0 + timedelta(days=1)).timestamp())
    assert EventRepository(TABLE).item(TENANT, EVENT)["expires_at"] > int(T0.timestamp())


def test_an_empty_content_hash_is_computed_on_write() -> None:
    bare = COMMENT.model_copy(update={"content_hash": ""})
    assert CommentRepository.item(TENANT, bare)["content_hash"] == COMMENT.content_hash != ""


def test_connection_items_hold_no_secret_field() -> None:
    item = ConnectionRepository(TABLE).item(TENANT, CONNECTION)
    assert not {"credentials", "webhook_secret", "token"} & set(item)
