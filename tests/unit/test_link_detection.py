"""How ``runtime.link_detection`` resolves the keys of commits and requests, with in-memory collaborators.

The scan and the webhook path run against moto and the sandboxes in
``tests/integration/api/test_scan_links_api.py``; here, each kind of key against each kind of connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection
from trackbridge.domain.dev_refs import DevActivity
from trackbridge.domain.errors import NotFound, UnsupportedCapability, ValidationFailed
from trackbridge.domain.links import Link, ObjectRef
from trackbridge.domain.pagination import Page
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.runtime.link_detection import LinkDetector, activity_object
from trackbridge.storage.links import UnresolvedRef

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ACTOR = Actor(id="tests")


def _connection(cid: str, provider: str, scope: dict[str, str], base_url: str) -> Connection:
    example = SCHEMA_EXAMPLES["Connection"]
    return Connection.model_validate(
        {**example, "id": cid, "provider": provider, "scope": scope, "base_url": base_url}
    )


WEB = _connection("conn_aaaaaaaaaaaaaaaaaaaa", "github", {"repo": "acme/web"}, "https://api.github.com")
API = _connection("conn_bbbbbbbbbbbbbbbbbbbb", "github", {"repo": "acme/api"}, "https://api.github.com")
LAB = _connection("conn_cccccccccccccccccccc", "gitlab", {"project": "acme/api"}, "https://gitlab.com")
OPS = _connection("conn_dddddddddddddddddddd", "jira", {"project": "OPS"}, "https://acme.atlassian.net")


@dataclass
class Connections:
    items: list[Connection]

    def get(self, tenant: str, document_id: str) -> Connection:
        for connection in self.items:
            if connection.id == document_id:
                return connection
        raise NotFound(document_id)

    def list(self, tenant: str, *, limit: int = 100, cursor: str | None = None) -> Page[Connection]:
        return Page[Connection](items=self.items, next_cursor=None)


@dataclass
class Links:
    """``LinkService.ensure`` over a set of synced refs; a pair links once."""

    synced: set[str]
    made: dict[tuple[str, str], Link] = field(default_factory=dict)

    def ensure(self, tenant: str, obj: ObjectRef, issue_ref: str, **kwargs: Any) -> tuple[Link, bool]:
        if issue_ref not in self.synced:
            raise ValidationFailed(f"the issue {issue_ref} is not synced")
        key = (obj.key, issue_ref)
        if key in self.made:
            return self.made[key], False
        self.made[key] = Link(
            id=f"link_{len(self.made):020d}",
            object=obj,
            issue_ref=issue_ref,
            type=kwargs["type"],
            created_by=kwargs["created_by"],
            created_at=T0,
        )
        return self.made[key], True


@dataclass
class Store:
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # connection -> key -> ref
    unresolved: dict[tuple[str, str], UnresolvedRef] = field(default_factory=dict)

    def record_unresolved(self, tenant: str, entry: UnresolvedRef) -> bool:
        return self.unresolved.setdefault((entry.ref, entry.object.key), entry) is entry

    def forget_unresolved(self, tenant: str, connection_id: str, ref: str, obj: ObjectRef) -> None:
        self.unresolved.pop((ref, obj.key), None)

    def list_unresolved(self, tenant: str, connection_id: str, **kwargs: Any) -> Page[UnresolvedRef]:
        return Page[UnresolvedRef](items=list(self.unresolved.values()), next_cursor=None)

    def issue_refs_by_key(self, tenant: str, connection_id: str, keys: Iterable[str]) -> dict[str, str]:
        known = self.keys.get(connection_id, {})
        return {key: known[key] for key in keys if key in known}


def _detector(synced: set[str], store: Store) -> tuple[LinkDetector, Links]:
    links = Links(synced)

    def no_adapters() -> Any:
        raise AssertionError("detection from a delivery makes no tracker request")

    connections = Connections([WEB, API, LAB, OPS])
    return LinkDetector(connections, links, store, adapters=no_adapters, clock=lambda: T0), links  # type: ignore[arg-type]


def _commit(text: str, sha: str = "f" * 40) -> DevActivity:
    return DevActivity(
        kind="commit", id=sha, text=text, at=T0, url=f"https://github.com/acme/web/commit/{sha}"
    )


def test_each_kind_of_key_resolves_against_its_own_connection() -> None:
    store = Store(keys={OPS.id: {"OPS-7": f"{OPS.id}.10007"}})
    synced = {f"{WEB.id}.1", f"{API.id}.2", f"{OPS.id}.10007", f"{LAB.id}.2"}
    detector, links = _detector(synced, store)

    result = detector.detect("t", WEB, [_commit("Fixes #1, acme/api#2 and OPS-7; UTF-8 too")], actor=ACTOR)

    obj = activity_object("acme/web", _commit(""))
    assert obj.key == f"repository:acme:web/commit/{'f' * 40}"
    # acme/api#2 is GitHub's acme/api (the source's provider), never GitLab's project of the same path
    assert set(links.made) == {
        (obj.key, f"{WEB.id}.1"),
        (obj.key, f"{API.id}.2"),
        (obj.key, f"{OPS.id}.10007"),
    }
    assert {link.type for link in links.made.values()} == {"auto_detected"}
    assert (result.commits, result.links_created, result.unresolved, result.closing) == (1, 3, 0, 3)


def test_keys_naming_no_synced_issue_are_recorded_and_forgotten_once_linked() -> None:
    store = Store()
    detector, links = _detector(set(), store)
    commit = _commit("see #9, other/repo#3 and OPS-404; NOPE-1 is no project")

    first = detector.detect("t", WEB, [commit], actor=ACTOR)

    assert first.unresolved == 3
    assert sorted(ref for ref, _ in store.unresolved) == ["#9", "OPS-404", "other/repo#3"]
    assert links.made == {}
    # When: issue 9 is synced and the commit comes again (a scan after the webhook)
    links.synced.add(f"{WEB.id}.9")
    again = detector.detect("t", WEB, [commit], actor=ACTOR)
    assert (again.links_created, again.unresolved) == (1, 2)
    assert "#9" not in {ref for ref, _ in store.unresolved}
    # And: a third time links nothing new
    third = detector.detect("t", WEB, [commit], actor=ACTOR)
    assert (third.links_created, third.links_existing) == (0, 1)


def test_a_request_links_through_its_branch_and_title() -> None:
    store = Store(keys={OPS.id: {"OPS-3": f"{OPS.id}.10003"}})
    detector, links = _detector({f"{LAB.id}.12", f"{OPS.id}.10003"}, store)
    request = DevActivity(
        kind="merge_request", id="4", title="OPS-3: importer", text="", branch="12-importer", at=T0
    )

    result = detector.detect("t", LAB, [request], actor=ACTOR)

    assert (result.pull_requests, result.links_created) == (1, 2)
    assert {ref for _, ref in links.made} == {f"{LAB.id}.12", f"{OPS.id}.10003"}
    assert {key for key, _ in links.made} == {"repository:acme:api/merge_request/4"}


def test_a_jira_connection_detects_nothing_and_a_scan_of_it_is_a_422() -> None:
    detector, _ = _detector(set(), Store())
    assert detector.detect("t", OPS, [_commit("#1")], actor=ACTOR).commits == 0

    with pytest.raises(UnsupportedCapability) as refused:
        detector.scan("t", OPS.id, None, actor=ACTOR)
    assert refused.value.details == {"provider": "jira", "capability": "dev_activity"}
    with pytest.raises(NotFound):
        detector.scan("t", "not-an-id", None, actor=ACTOR)
