"""The link registry without AWS: object refs and their key form, the service over in-memory fakes, and the
routes' answers to bad input through ``functions.api.handler`` (the service replaced by a fake that fails
the test when it is reached).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, rest_event
from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import Conflict, DependencyFailure, NotFound, ValidationFailed
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.domain.links import KNOWN_OBJECT_KINDS, MAX_KEY_BYTES, Link, ObjectRef
from trackbridge.domain.pagination import Page
from trackbridge.providers.errors import AuthenticationError, NotFoundError
from trackbridge.runtime.api import links as links_api
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.runtime.links import LinkService, ObjectLinkEntry, ObjectView, RefreshResult
from trackbridge.storage.links import LinkedIssue

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TENANT = "acme"
ACTOR = Actor(id="k3ydf7hj2ln6pr4abc5e", request_id="req-1")
ORDERS = ObjectRef(kind="table", database="sales", schema="public", name="orders")


# ---- object refs ------------------------------------------------------------------------------------------


def test_every_known_kind_and_custom_kinds_are_accepted() -> None:
    for kind in (*KNOWN_OBJECT_KINDS, "custom:etl_job", "custom:a"):
        obj = ObjectRef(kind=kind, name="x")
        assert ObjectRef.parse_key(obj.key) == obj


@pytest.mark.parametrize(
    "kind",
    ["tables", "Table", "custom", "custom:", "custom:Etl", "custom:1x", "custom:a/b", "custom:" + "a" * 33],
)
def test_unknown_kinds_are_refused_with_the_allowed_list(kind: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ObjectRef(kind=kind, name="x")
    assert refused.value.errors()[0]["loc"] == ("kind",)


@pytest.mark.parametrize(
    ("part", "why"),
    [
        ("a/b", "'/'"),
        ("a#b", "'#'"),
        ("a\nb", "control"),
        ("a\x00", "control"),
        (" a", "whitespace"),
        ("a ", "whitespace"),
        ("-", "empty part"),
        ("x" * 256, "255"),
    ],
)
def test_parts_that_would_break_the_key_are_refused(part: str, why: str) -> None:
    for where in ("database", "schema", "name"):
        fields = {"kind": "table", "name": "n", where: part}
        with pytest.raises(ValidationError) as refused:
            ObjectRef.model_validate(fields)
        assert refused.value.errors()[0]["loc"][0] == where
        assert why in str(refused.value) or why in str(refused.value).lower()


def test_keys_round_trip_with_empty_parts_colons_and_unicode() -> None:
    alarm = ObjectRef(kind="alarm", name="HighCPU")
    assert alarm.key == "alarm://HighCPU"
    assert alarm.path == "alarm/-/-/HighCPU"
    assert ObjectRef.from_path("alarm", "-", "-", "HighCPU") == alarm
    odd = ObjectRef(kind="custom:etl_job", database="db:1", schema="caf\u00e9", name="job: nightly v2.1")
    assert odd.key == "custom:etl_job:db:1/caf\u00e9/job: nightly v2.1"
    assert ObjectRef.parse_key(odd.key) == odd
    # An empty database or schema in a body means the same as leaving it out.
    assert (
        ObjectRef.model_validate({"kind": "alarm", "database": "", "schema": "", "name": "HighCPU"}) == alarm
    )


def test_malformed_keys_say_what_a_key_looks_like() -> None:
    for bad in ("orders", "table:orders", "table:a/b", ":a/b/c", "table:a/b/", "Table:a/b/c"):
        with pytest.raises(ValueError, match="kind:database/schema/name"):
            ObjectRef.parse_key(bad)
    with pytest.raises(ValidationError):
        ObjectRef.parse_key("table:a/b/c/d")  # a name may not hold '/'
    with pytest.raises(ValidationError):
        ObjectRef.parse_key("tables:a/b/c")


def test_a_key_is_bounded_in_bytes() -> None:
    wide = "\u00e9" * 250  # 500 bytes each
    with pytest.raises(ValidationError, match=str(MAX_KEY_BYTES)):
        ObjectRef(kind="table", database=wide, schema=wide, name="x")
    ObjectRef(kind="table", database=wide, name="x")


def test_the_create_body_takes_manual_links_to_well_formed_refs_only() -> None:
    ref = f"{new_id(IdPrefix.CONNECTION)}.12"
    body = links_api.LinkCreate.model_validate({"object": ORDERS.model_dump(), "issue_ref": ref})
    assert body.type == "manual"
    for bad in (
        {"object": ORDERS.model_dump(), "issue_ref": "OPS-12"},
        {"object": ORDERS.model_dump(), "issue_ref": ref, "type": "auto_detected"},
        {"object": ORDERS.model_dump(), "issue_ref": ref, "extra": 1},
        {"object": {**ORDERS.model_dump(), "kind": "tabel"}, "issue_ref": ref},
    ):
        with pytest.raises(ValidationError):
            links_api.LinkCreate.model_validate(bad)


def test_the_documented_examples_pass_their_models() -> None:
    models = {
        "LinkCreate": links_api.LinkCreate,
        "LinkCreated": links_api.LinkCreated,
        "LinkPage": links_api.LinkPage,
        "ObjectLinks": links_api.ObjectLinks,
        "LinkEntry": links_api.LinkEntry,
    }
    assert set(models) == set(links_api.EXAMPLES)
    for name, model in models.items():
        model.model_validate(links_api.EXAMPLES[name])
    # The issue view's example carries a link in the shape POST /v1/links answers.
    for link in SCHEMA_EXAMPLES["IssueDetail"]["links"]:
        Link.model_validate(link)


# ---- the service over fakes -------------------------------------------------------------------------------


def _connection(provider: str = "github") -> Connection:
    return Connection.model_validate({**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)})


def _issue(connection: Connection, n: int | str, *, status: str = "open", updated: int = 0) -> Issue:
    return Issue(
        ref=f"{connection.id}.{n}",
        external_id=connection.external_id(str(n)),
        connection_id=connection.id,
        provider="github",
        key=f"#{n}",
        title=f"issue {n}",
        body="text",
        status=status,
        status_category="done" if status == "closed" else "todo",
        assignees=["octocat"],
        priority="high",
        url=f"https://github.com/acme/web/issues/{n}",
        created_at=T0,
        updated_at=T0 + timedelta(minutes=updated),
    ).with_hash()


class FakeConnections:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Connection] = {}

    def add(self, tenant: str, connection: Connection) -> Connection:
        self.items[(tenant, connection.id)] = connection
        return connection

    def get(self, tenant: str, connection_id: str) -> Connection:
        try:
            return self.items[(tenant, connection_id)]
        except KeyError:
            raise NotFound(f"no connection {connection_id!r}") from None


class FakeIssues:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], Issue] = {}
        self.writes: list[Issue] = []

    def get(self, tenant: str, connection_id: str, external_id: str) -> Issue:
        try:
            return self.items[(tenant, connection_id, external_id)]
        except KeyError:
            raise NotFound(f"no issue {external_id!r}") from None

    def store(self, tenant: str, issue: Issue) -> Any:
        key = (tenant, issue.connection_id, issue.external_id)
        old = self.items.get(key)
        self.writes.append(issue)
        if old is not None and (old.updated_at, old.content_hash) >= (issue.updated_at, issue.content_hash):
            return "unchanged"
        self.items[key] = issue
        return "created" if old is None else "updated"


@dataclass
class FakeLinks:
    issues: FakeIssues
    links: dict[tuple[str, str], Link] = field(default_factory=dict)
    audited: list[Any] = field(default_factory=list)
    refreshed: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def create(self, tenant: str, link: Link, *, also: tuple[Any, ...] = ()) -> Link:
        for (t, _), other in self.links.items():
            if t == tenant and other.object == link.object and other.issue_ref == link.issue_ref:
                raise Conflict("linked", code="ALREADY_EXISTS", details={"link_id": other.id})
        self.links[(tenant, link.id)] = link
        self.audited.extend(also)
        return link

    def get(self, tenant: str, link_id: str) -> Link:
        try:
            return self.links[(tenant, link_id)]
        except KeyError:
            raise NotFound(f"no link {link_id!r}") from None

    def delete(self, tenant: str, link_id: str, *, also: tuple[Any, ...] = ()) -> Link:
        link = self.get(tenant, link_id)
        del self.links[(tenant, link_id)]
        self.audited.extend(also)
        return link

    def list_for_object(
        self, tenant: str, obj: ObjectRef, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Link]:
        return Page[Link](
            items=[v for (t, _), v in self.links.items() if t == tenant and v.object == obj][:limit]
        )

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Link]:
        items = [v for (t, _), v in self.links.items() if t == tenant and v.issue_ref == issue_ref]
        return Page[Link](items=items[:limit])

    def record_refresh(self, tenant: str, issue_ref: str, at: datetime) -> None:
        self.refreshed[(tenant, issue_ref)] = at

    def linked_issues(self, tenant: str, wanted: Any) -> dict[str, LinkedIssue]:
        found = {}
        for ref, (connection_id, external_id) in wanted.items():
            issue = self.issues.items.get((tenant, connection_id, external_id))
            found[ref] = LinkedIssue(issue, self.refreshed.get((tenant, ref)))
        return found


class FakeAudit:
    def put_op(self, tenant: str, entry: Any) -> Any:
        return {"tenant": tenant, "action": entry.action, "target": entry.target}


class FakeAdapter:
    def __init__(self, tracker: dict[str, Issue]) -> None:
        self.tracker = tracker
        self.asked: list[str] = []

    def get_issue(self, key: str) -> Issue:
        self.asked.append(key)
        if key not in self.tracker:
            raise NotFoundError("404 Not Found", code=ErrorCode.NOT_FOUND, provider="github", status=404)
        return self.tracker[key]


class FakePool:
    def __init__(self, adapter: FakeAdapter, *, broken: bool = False) -> None:
        self.adapter = adapter
        self.broken = broken
        self.leases = 0

    @contextmanager
    def lease(self, tenant: str, connection: Connection) -> Iterator[FakeAdapter]:
        if self.broken:
            raise AuthenticationError("no credentials", code=ErrorCode.AUTH_INVALID, provider="github")
        self.leases += 1
        yield self.adapter


@dataclass
class World:
    service: LinkService
    connections: FakeConnections
    issues: FakeIssues
    links: FakeLinks
    adapter: FakeAdapter
    pool: FakePool
    connection: Connection
    ticks: list[float]


@pytest.fixture
def world() -> World:
    connections, issues = FakeConnections(), FakeIssues()
    links = FakeLinks(issues)
    adapter = FakeAdapter({})
    pool = FakePool(adapter)
    ticks = [0.0]
    service = LinkService(
        connections,
        links,
        issues,
        FakeAudit(),
        adapters=lambda: pool,
        clock=lambda: T0 + timedelta(hours=1),
        monotonic=lambda: ticks[0],
        refresh_budget_s=10.0,
    )
    connection = connections.add(TENANT, _connection())
    return World(service, connections, issues, links, adapter, pool, connection, ticks)


def test_linking_a_synced_issue_asks_no_tracker_and_audits(world: World) -> None:
    issue = _issue(world.connection, 12)
    world.issues.store(TENANT, issue)
    link = world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR, created_by="api_key:k")
    assert (link.issue_ref, link.type, link.created_by, link.object) == (
        issue.ref,
        "manual",
        "api_key:k",
        ORDERS,
    )
    assert world.adapter.asked == []
    assert world.links.audited == [{"tenant": TENANT, "action": "link.create", "target": link.id}]


def test_linking_an_issue_not_synced_fetches_and_stores_it(world: World) -> None:
    fetched = _issue(world.connection, 7)
    world.adapter.tracker["7"] = fetched
    link = world.service.create(TENANT, ORDERS, fetched.ref, actor=ACTOR)
    assert world.adapter.asked == ["7"]
    assert world.issues.writes == [fetched]
    assert link.issue_ref == fetched.ref


def test_a_key_shaped_ref_links_the_issue_under_the_ref_the_tracker_answers(world: World) -> None:
    canonical = _issue(world.connection, 10012)
    world.adapter.tracker["OPS-12"] = canonical
    link = world.service.create(TENANT, ORDERS, f"{world.connection.id}.OPS-12", actor=ACTOR)
    assert link.issue_ref == canonical.ref


def test_an_issue_the_tracker_does_not_have_is_a_422_naming_it_and_nothing_is_stored(world: World) -> None:
    ref = f"{world.connection.id}.404"
    with pytest.raises(ValidationFailed) as refused:
        world.service.create(TENANT, ORDERS, ref, actor=ACTOR)
    assert refused.value.details["errors"][0]["path"] == "body.issue_ref"
    assert ref in refused.value.message
    assert world.issues.writes == []
    assert world.links.links == {}
    assert world.links.audited == []


def test_a_deleted_issue_cannot_be_linked(world: World) -> None:
    issue = _issue(world.connection, 3)
    world.issues.store(TENANT, issue.model_copy(update={"deleted_at": T0}))
    with pytest.raises(ValidationFailed, match="deleted"):
        world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)


@pytest.mark.parametrize(
    "ref", ["OPS-12", "conn_x.12", "conn_abcdefghijklmnopqrst", "", "conn_abcdefghijklmnopqrst.#1"]
)
def test_malformed_refs_are_422_on_the_body_field(world: World, ref: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        world.service.create(TENANT, ORDERS, ref, actor=ACTOR)
    assert refused.value.details["errors"][0]["path"] == "body.issue_ref"


def test_another_tenant_s_or_an_unknown_connection_is_a_404(world: World) -> None:
    theirs = world.connections.add("other", _connection())
    for ref in (f"{theirs.id}.1", f"{new_id(IdPrefix.CONNECTION)}.1"):
        with pytest.raises(NotFound):
            world.service.create(TENANT, ORDERS, ref, actor=ACTOR)
    assert world.adapter.asked == []


def test_a_duplicate_is_a_409_naming_the_existing_link_and_ensure_returns_it(world: World) -> None:
    issue = _issue(world.connection, 1)
    world.issues.store(TENANT, issue)
    first = world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    with pytest.raises(Conflict) as duplicate:
        world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    assert duplicate.value.details == {"link_id": first.id}
    again, made = world.service.ensure(TENANT, ORDERS, issue.ref, actor=ACTOR, type="auto_detected")
    assert (again, made) == (first, False)
    other = ObjectRef(kind="repository", name="acme-web")
    detected, made = world.service.ensure(
        TENANT, other, issue.ref, actor=Actor(id="detector"), type="auto_detected"
    )
    assert made
    assert detected.type == "auto_detected"
    assert detected.created_by == "detector"


def test_detectors_do_not_fetch_unknown_issues(world: World) -> None:
    world.adapter.tracker["9"] = _issue(world.connection, 9)
    with pytest.raises(ValidationFailed, match="not synced"):
        world.service.ensure(TENANT, ORDERS, f"{world.connection.id}.9", actor=ACTOR, type="auto_detected")
    assert world.adapter.asked == []


def test_delete_refuses_other_tenants_and_malformed_ids_and_audits(world: World) -> None:
    issue = _issue(world.connection, 1)
    world.issues.store(TENANT, issue)
    link = world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    for tenant, link_id in (("other", link.id), (TENANT, "link_x"), (TENANT, new_id(IdPrefix.LINK))):
        with pytest.raises(NotFound):
            world.service.delete(tenant, link_id, actor=ACTOR)
    world.service.delete(TENANT, link.id, actor=ACTOR)
    assert world.links.links == {}
    assert world.links.audited[-1] == {"tenant": TENANT, "action": "link.delete", "target": link.id}


def test_listings_say_when_the_issue_was_deleted(world: World) -> None:
    live, gone = _issue(world.connection, 1), _issue(world.connection, 2)
    world.issues.store(TENANT, live)
    world.issues.store(TENANT, gone)
    world.service.create(TENANT, ORDERS, live.ref, actor=ACTOR)
    world.service.create(TENANT, ORDERS, gone.ref, actor=ACTOR)
    world.issues.items[(TENANT, world.connection.id, gone.external_id)] = gone.model_copy(
        update={"deleted_at": T0}
    )
    states = {v.issue_ref: v.state for v in world.service.list_for_object(TENANT, ORDERS).items}
    assert states == {live.ref: "active", gone.ref: "issue_deleted"}
    assert [v.state for v in world.service.list_for_issue(TENANT, gone.ref).items] == ["issue_deleted"]
    with pytest.raises(ValidationFailed) as refused:
        world.service.list_for_issue(TENANT, "nope")
    assert refused.value.details["errors"][0]["path"] == "query.issue"
    with pytest.raises(NotFound):
        world.service.list_for_issue("other", live.ref)


def test_the_object_view_shows_the_copy_s_live_state(world: World) -> None:
    issue = _issue(world.connection, 5)
    world.issues.store(TENANT, issue)
    link = world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    world.issues.store(TENANT, _issue(world.connection, 5, status="closed", updated=5))
    view = world.service.object_view(TENANT, ORDERS)
    assert isinstance(view, ObjectView)
    assert view.key == ORDERS.key
    (entry,) = view.items
    assert isinstance(entry, ObjectLinkEntry)
    assert (entry.id, entry.status, entry.status_category, entry.state) == (
        link.id,
        "closed",
        "done",
        "active",
    )
    assert (entry.assignees, entry.priority, entry.url) == (["octocat"], "high", issue.url)
    assert entry.issue_updated_at == T0 + timedelta(minutes=5)
    assert entry.refreshed_at is None
    assert entry.refresh is None
    assert world.adapter.asked == []


def test_refresh_pulls_each_issue_once_and_records_when(world: World) -> None:
    issue = _issue(world.connection, 5)
    world.issues.store(TENANT, issue)
    link = world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    world.service.create(TENANT, ObjectRef(kind="view", name="v"), issue.ref, actor=ACTOR)
    world.adapter.tracker["5"] = _issue(world.connection, 5, status="closed", updated=9)
    view = world.service.object_view(TENANT, ORDERS, refresh=True)
    (entry,) = view.items
    assert world.adapter.asked == ["5"]
    assert entry.refresh == RefreshResult(outcome="updated")
    assert (entry.status, entry.refreshed_at) == ("closed", T0 + timedelta(hours=1))
    again = world.service.refresh_link(TENANT, link.id)
    assert again.refresh == RefreshResult(outcome="unchanged")
    assert world.adapter.asked == ["5", "5"]


def test_refresh_of_an_issue_the_tracker_deleted_tombstones_the_copy(world: World) -> None:
    issue = _issue(world.connection, 5)
    world.issues.store(TENANT, issue)
    link = world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    entry = world.service.refresh_link(TENANT, link.id)
    assert entry.refresh == RefreshResult(outcome="deleted")
    assert (entry.state, entry.status, entry.deleted_at) == (
        "issue_deleted",
        "issue_deleted",
        T0 + timedelta(hours=1),
    )
    assert entry.status_category == "todo"  # the last one known


def test_refresh_failures_are_reported_per_entry(world: World) -> None:
    issue = _issue(world.connection, 5)
    world.issues.store(TENANT, issue)
    link = world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    world.pool.broken = True
    entry = world.service.refresh_link(TENANT, link.id)
    assert entry.refresh is not None
    assert entry.refresh.outcome == "failed"
    assert entry.refresh.error is not None
    assert entry.refresh.error["code"] == "AUTH_INVALID"
    assert entry.status == "open"  # the copy as it was


def test_refresh_stops_starting_requests_when_the_budget_is_spent(world: World) -> None:
    refs = []
    for n in range(3):
        issue = _issue(world.connection, n)
        world.issues.store(TENANT, issue)
        world.adapter.tracker[str(n)] = issue
        world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
        refs.append(issue.ref)

    def slow(key: str) -> Issue:
        world.ticks[0] += 6.0
        return FakeAdapter.get_issue(world.adapter, key)

    world.adapter.get_issue = slow  # type: ignore[method-assign]
    results = world.service.refresh(TENANT, refs)
    assert [results[r].outcome for r in refs] == ["unchanged", "unchanged", "not_attempted"]


def test_a_link_whose_connection_is_gone_shows_its_issue_missing(world: World) -> None:
    issue = _issue(world.connection, 1)
    world.issues.store(TENANT, issue)
    world.service.create(TENANT, ORDERS, issue.ref, actor=ACTOR)
    del world.connections.items[(TENANT, world.connection.id)]
    (entry,) = world.service.object_view(TENANT, ORDERS).items
    assert (entry.state, entry.status) == ("issue_missing", None)


# ---- the routes, before any service is reached ------------------------------------------------------------


class Unreachable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the service was reached ({name}) for a request that must be refused first")


@pytest.fixture
def call(shared_dir: Path) -> Iterator[Any]:
    app.dependency_overrides[links_api.link_service] = Unreachable

    def _call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return handler(rest_event(shared_dir, method, path, **kwargs), FakeLambdaContext())

    yield _call
    app.dependency_overrides.clear()


REF = "conn_abcdefghijklmnopqrst.12"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"object": {"kind": "tabel", "name": "x"}, "issue_ref": REF}, "body.object.kind"),
        ({"object": {"kind": "custom:", "name": "x"}, "issue_ref": REF}, "body.object.kind"),
        ({"object": {"kind": "table", "name": "a/b"}, "issue_ref": REF}, "body.object.name"),
        (
            {"object": {"kind": "table", "database": "a#b", "name": "x"}, "issue_ref": REF},
            "body.object.database",
        ),
        (
            {"object": {"kind": "table", "schema": "x" * 300, "name": "x"}, "issue_ref": REF},
            "body.object.schema",
        ),
        ({"object": {"kind": "table"}, "issue_ref": REF}, "body.object.name"),
        ({"object": {"kind": "table", "name": "x", "owner": "me"}, "issue_ref": REF}, "body.object.owner"),
        ({"object": {"kind": "table", "name": "x"}, "issue_ref": "OPS-12"}, "body.issue_ref"),
        ({"object": {"kind": "table", "name": "x"}, "issue_ref": REF, "type": "auto_detected"}, "body.type"),
        ({"object": {"kind": "table", "name": "x"}, "issue_ref": 12}, "body.issue_ref"),
        ({"issue_ref": REF}, "body.object"),
    ],
)
def test_bad_bodies_are_422_with_the_field_path(call: Any, body: dict[str, Any], path: str) -> None:
    response = call("POST", "/v1/links", body=body)
    assert response["statusCode"] == 422, body_of(response)
    paths = [e["path"] for e in body_of(response)["error"]["details"]["errors"]]
    assert path in paths


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({}, "query"),
        ({"object": "table:a/b/c", "issue": REF}, "query"),
        ({"object": "orders"}, "query.object"),
        ({"object": "tabel:a/b/c"}, "query.object"),
        ({"object": "table:a/b/c/d"}, "query.object"),
        ({"object": "table:a/-/c"}, "query.object"),
    ],
)
def test_bad_listing_queries_are_422(call: Any, query: dict[str, str], path: str) -> None:
    app.dependency_overrides[links_api.link_service] = lambda: LinkService(
        FakeConnections(),
        FakeLinks(FakeIssues()),
        FakeIssues(),
        FakeAudit(),
        adapters=lambda: FakePool(FakeAdapter({})),
    )
    response = call("GET", "/v1/links", query=query)
    assert response["statusCode"] == 422, body_of(response)
    assert body_of(response)["error"]["details"]["errors"][0]["path"] == path


def test_bad_object_paths_are_422_with_the_part_named(call: Any) -> None:
    response = call("GET", "/v1/objects/tabel/-/-/orders")
    assert response["statusCode"] == 422
    assert body_of(response)["error"]["details"]["errors"][0]["path"] == "path.kind"


def test_scopes_are_checked_before_anything_is_read(call: Any) -> None:
    bad = {"object": {"kind": "tabel"}, "issue_ref": "x"}
    assert call("POST", "/v1/links", body=bad, scopes="links:read")["statusCode"] == 403
    assert call("DELETE", f"/v1/links/{new_id(IdPrefix.LINK)}", scopes="links:read")["statusCode"] == 403
    assert call("GET", "/v1/links", query={"object": "x"}, scopes="issues:read")["statusCode"] == 403
    assert call("GET", "/v1/objects/table/-/-/x", scopes="links:write")["statusCode"] == 403


def test_a_storage_outage_is_a_503_not_a_500(call: Any) -> None:
    class Down:
        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise DependencyFailure("DynamoDB is unavailable; retry")

            return fail

    app.dependency_overrides[links_api.link_service] = Down
    assert call("GET", "/v1/objects/table/-/-/x")["statusCode"] == 503
