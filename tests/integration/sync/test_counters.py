"""The sync counters mean the same on every tracker: each item an operation meets counts once.

``progress.processed`` = created + updated + unchanged + failed (deletions apart); a first sync has no
``unchanged``; ``results.by_entity`` splits every total by entity and adds up to it. Each tracker is synced
through the engine in small pages (so passes cross pages, keyset positions and slices), with its adapter
recording every item the listings hand over: ``processed`` must equal the number of distinct items met.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.integration.sync.conftest import Provider
from tests.integration.sync.support import Harness, assert_counters_add_up
from trackbridge.domain.connections import Connection
from trackbridge.domain.issues import Issue
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.providers.base import TrackerAdapter
from trackbridge.runtime import container
from trackbridge.runtime.verify import VerifyReport
from trackbridge.storage.issues import IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

PAGE = 5
# More changed issues than a page holds, changed within one second: the incremental pass re-reads the
# items at its keyset position on the next page, and must not count them twice.
CHANGED = 7

Met = set[tuple[str, str]]


def recording(factory: Callable[..., TrackerAdapter], met: Met) -> Callable[..., TrackerAdapter]:
    """The engine's adapter factory, with every listed issue and comment recorded as (entity, id)."""

    def make(connection: Connection, credentials: Mapping[str, Any]) -> TrackerAdapter:
        adapter = factory(connection, credentials)
        for method, entity in (("iter_issue_pages", "issues"), ("iter_comment_pages", "comments")):
            original = getattr(adapter, method)

            def pages(
                *args: Any, _original: Any = original, _entity: str = entity, **kwargs: Any
            ) -> Iterator[Any]:
                inner = _original(*args, **kwargs)
                try:
                    for page in inner:
                        met.update((_entity, _id(item)) for item in page.items)
                        yield page
                finally:
                    inner.close()

            setattr(adapter, method, pages)
        list_comments = adapter.list_issue_comments

        def comments(key: str, **kwargs: Any) -> Any:
            listed = list_comments(key, **kwargs)
            met.update(("comments", c.id) for c in listed)
            return listed

        adapter.list_issue_comments = comments  # type: ignore[method-assign]
        return adapter

    return make


def _id(item: Any) -> str:
    return str(item.native_id if isinstance(item, Issue) else item.id)


def distinct(met: Met, entity: str) -> int:
    return sum(1 for e, _ in met if e == entity)


def test_counters_add_up_on_every_tracker(
    small_provider: Provider,
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    verify: Callable[[Connection], VerifyReport],
) -> None:
    # Given: a fresh sandbox and a connection that never synced, listings recorded
    connection = small_provider.connection(tenant)
    harness = harness_factory(page_size=PAGE)
    met: Met = set()
    harness.engine.adapter_factory = recording(harness.engine.adapter_factory, met)

    # When: the first (full) sync runs
    first = harness.run(tenant, connection.id, SyncRequest(mode="full"))

    # Then: every issue and comment of the sandbox is created once, and nothing else is counted
    report = verify(connection)
    assert report.ok, report.to_dict()
    issues, comments = first.results.by_entity["issues"], first.results.by_entity["comments"]
    assert (issues.created, comments.created) == (report.issues_checked, report.comments_checked)
    assert first.results.created == report.issues_checked + report.comments_checked
    assert (first.results.unchanged, first.results.updated, first.results.failed) == (0, 0, 0)
    assert first.progress.processed == first.results.created
    assert (issues.processed, comments.processed) == (distinct(met, "issues"), distinct(met, "comments"))
    assert_counters_add_up(first)

    # Given: CHANGED issues edited on the tracker, one of them with a new comment
    stored = IssueRepository(container.table()).list_for_connection(tenant, connection.id, limit=100).items
    keys = sorted((i.key for i in stored), key=lambda k: int(k.lstrip("#").rsplit("-", 1)[-1]))[:CHANGED]
    refs: list[int | str] = [
        k if small_provider.name in ("jira", "youtrack", "linear") else int(k.lstrip("#")) for k in keys
    ]
    for ref in refs:
        small_provider.update(ref, f"edited {ref}")
    small_provider.comment(refs[0], "a comment on an edited issue")
    met.clear()

    # When: an incremental sync runs
    second = harness.run(tenant, connection.id, SyncRequest(mode="incremental"))

    # Then: exactly the edited issues are updated, the new comment created, every item met counted once
    issues, comments = second.results.by_entity["issues"], second.results.by_entity["comments"]
    assert (issues.updated, issues.created) == (CHANGED, 0), second.results
    assert (comments.created, comments.updated) == (1, 0), second.results
    assert (second.results.updated, second.results.created, second.results.deleted) == (CHANGED, 1, 0)
    assert (issues.processed, comments.processed) == (distinct(met, "issues"), distinct(met, "comments"))
    assert_counters_add_up(second)
    assert verify(connection).ok
