"""Issues, links, rules, templates, audit diffs, API keys and timestamps: the rules the models enforce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from trackbridge.domain.api_keys import (
    ALL_SCOPES,
    StoredApiKey,
    allows,
    bearer_token,
    generate_key,
    hash_secret,
    parse_token,
)
from trackbridge.domain.audit import SECRET_CHANGED, diff
from trackbridge.domain.automation import Dedup, Rule, Template
from trackbridge.domain.issues import Issue, status_category_of
from trackbridge.domain.links import Link, ObjectRef
from trackbridge.domain.sync import SyncOperation
from trackbridge.domain.times import from_iso, to_iso

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
REF = "conn_abcdefghijklmnopqrst.12"


def issue(**overrides: object) -> Issue:
    data: dict[str, object] = {
        "ref": REF,
        "external_id": "github:https://api.github.com/repos/a/b:12",
        "connection_id": "conn_abcdefghijklmnopqrst",
        "provider": "github",
        "key": "#12",
        "title": "Slow query",
        "status": "open",
        "status_category": "todo",
        "created_at": T0,
        "updated_at": T0,
    }
    data.update(overrides)
    return Issue.model_validate(data)


def test_to_iso_is_fixed_width_utc_and_sorts_in_time_order() -> None:
    moments = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(seconds=1), T0 + timedelta(days=400)]
    texts = [to_iso(m) for m in moments]
    assert texts[0] == "2026-05-01T12:00:00.000000Z"
    assert len({len(t) for t in texts}) == 1
    assert sorted(texts) == texts
    berlin = datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert to_iso(berlin) == texts[0]
    assert from_iso(texts[1]) == moments[1]


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        issue(updated_at=datetime(2026, 5, 1, 12, 0))


@pytest.mark.parametrize(
    ("raw", "category"),
    [
        ("new", "todo"),
        ("indeterminate", "in_progress"),
        ("done", "done"),
        ("open", "todo"),
        ("opened", "todo"),
        ("closed", "done"),
        ("Closed ", "done"),
        ("whatever", "todo"),
    ],
)
def test_status_categories(raw: str, category: str) -> None:
    assert status_category_of(raw) == category


def test_content_hash_covers_content_not_identity() -> None:
    base = issue()
    assert base.compute_hash() == issue().compute_hash()
    assert base.compute_hash() != issue(title="Slow query!").compute_hash()
    assert base.compute_hash() != issue(labels=["db"]).compute_hash()
    # The same content under another identity hashes the same: identity is the key, not the content
    assert base.compute_hash() == issue(ref="conn_abcdefghijklmnopqrst.13", key="#12").compute_hash()
    assert base.with_hash().content_hash == base.compute_hash()
    assert base.native_id == "12"


def test_object_keys_round_trip_and_refuse_separators() -> None:
    table = ObjectRef.parse_key("table:sales/public/orders")
    assert (table.kind, table.database, table.schema_, table.name) == ("table", "sales", "public", "orders")
    assert table.key == "table:sales/public/orders"
    assert table.model_dump() == {"kind": "table", "database": "sales", "schema": "public", "name": "orders"}
    alarm = ObjectRef(kind="alarm", name="HighCPU")
    assert ObjectRef.parse_key(alarm.key) == alarm
    for bad in ("orders", "Table:a/b/c", "table:a/b"):
        with pytest.raises(ValueError, match="kind:database/schema/name"):
            ObjectRef.parse_key(bad)
    with pytest.raises(ValidationError):
        ObjectRef(kind="table", name="a#b")


def test_links_need_a_well_formed_issue_ref() -> None:
    obj = ObjectRef(kind="view", name="v")
    Link(id="link_abcdefghijklmnopqrst", object=obj, issue_ref=REF, created_by="k", created_at=T0)
    with pytest.raises(ValidationError):
        Link(id="link_abcdefghijklmnopqrst", object=obj, issue_ref="OPS-1", created_by="k", created_at=T0)


def test_rules_and_templates_must_compile() -> None:
    dedup = Dedup(key="{{ event.subject.name }}")
    rule = Rule(
        name="db-alarms",
        event_type="alarm",
        condition="event.severity == 'high'",
        connection_id="c",
        template="alarm",
        dedup=dedup,
    )
    assert rule.enabled
    assert rule.on_repeat == "comment"
    with pytest.raises(ValidationError, match="Jinja2 expression"):
        Rule(
            name="r",
            event_type="alarm",
            condition="event.severity ==",
            connection_id="c",
            template="t",
            dedup=dedup,
        )
    with pytest.raises(ValidationError, match="Jinja2 template"):
        Template(name="t", title="{% if %}")
    with pytest.raises(ValidationError):
        Rule(name="Bad Name", event_type="a", connection_id="c", template="t", dedup=dedup)


def test_audit_diff_shows_changes_and_hides_secret_values() -> None:
    changes = diff(
        {"name": "a", "entities": ["issues"]},
        {"name": "b", "entities": ["issues"]},
        secrets_changed=("credentials",),
    )
    assert set(changes) == {"name", "credentials"}
    assert (changes["name"].old, changes["name"].new) == ("a", "b")
    assert changes["credentials"].new == SECRET_CHANGED
    assert changes["credentials"].old is None
    assert set(diff(None, {"x": 1})) == {"x"}
    assert diff({"x": 1}, {"x": 1}) == {}


def test_api_keys_parse_hash_and_compare() -> None:
    issued = generate_key()
    assert issued.token.startswith(f"tb_{issued.key_id}_")
    key_id, secret = parse_token(issued.token) or ("", "")
    assert key_id == issued.key_id
    assert hash_secret(secret) == issued.secret_hash
    assert issued.token not in repr(issued)
    stored = StoredApiKey(key_id=key_id, tenant="acme", created_at=T0, secret_hash=issued.secret_hash)
    assert stored.matches(secret)
    assert not stored.matches(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert issued.secret_hash not in repr(stored)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "tb_",
        "tb_abc_def",
        "xx_abcdefghijklmnopqrst_" + "a" * 43,
        "tb_ABCDEFGHIJKLMNOPQRST_" + "a" * 43,
        "tb_abcdefghijklmnopqrst_" + "a" * 42,
        "tb_abcdefghijklmnopqrst_" + "a" * 42 + "!",
    ],
)
def test_malformed_tokens_do_not_parse(token: str) -> None:
    assert parse_token(token) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_scopes() -> None:
    assert allows((ALL_SCOPES,), "connections:write")
    assert allows(("connections:read",), "connections:read")
    assert not allows(("connections:read",), "connections:write")


def test_operations_know_when_they_are_active() -> None:
    op = SyncOperation(
        id="op_abcdefghijklmnopqrst",
        connection_id="c",
        mode="full",
        entities=["issues"],
        created_at=T0,
        triggered_by="k",
    )
    assert op.is_active
    assert not op.model_copy(update={"status": "Completed"}).is_active
