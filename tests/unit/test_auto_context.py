"""``object_context``: the linked object a template sees, in a fixed order, and never a failure of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trackbridge.domain.automation import Event
from trackbridge.domain.errors import DependencyFailure
from trackbridge.runtime.automation.linked import MAX_LINKS, object_context

T0 = datetime(2026, 3, 4, 16, 40, tzinfo=UTC)
ORDERS = {"kind": "table", "database": "sales", "schema": "public", "name": "orders"}


@dataclass
class Entry:
    issue_ref: str
    created_at: datetime
    key: str | None = None
    title: str | None = "t"
    status: str | None = "open"
    status_category: str | None = "todo"
    url: str | None = None
    type: str = "manual"


@dataclass
class View:
    items: list[Entry]


class Registry:
    def __init__(self, entries: list[Entry] | None = None, *, fail: bool = False) -> None:
        self.entries = entries or []
        self.fail = fail
        self.asked: list[tuple[str, Any, int]] = []

    def object_view(self, tenant: str, obj: Any, *, limit: int = 50) -> View:
        self.asked.append((tenant, obj, limit))
        if self.fail:
            raise DependencyFailure("the table is unavailable")
        return View(self.entries)


def event(subject: dict[str, Any] | None = ORDERS) -> Event:
    return Event(id="e", type="schema.drift", source="s", subject=subject, occurred_at=T0, received_at=T0)


def test_links_come_oldest_first_then_by_ref_whatever_the_registry_order() -> None:
    registry = Registry(
        [
            Entry("c.9", T0.replace(minute=50), key="#9"),
            Entry("c.2", T0, key="#2"),
            Entry("c.1", T0),
        ]
    )

    context = object_context(registry, "t1", event())

    assert [link["key"] for link in context["links"]] == ["c.1", "#2", "#9"]  # no key: the ref stands in
    assert context["key"] == "table:sales/public/orders"
    assert context["name"] == "orders"
    assert registry.asked[0][0] == "t1"
    assert registry.asked[0][2] == MAX_LINKS


def test_no_subject_no_registry_or_a_failing_one_give_empty_links() -> None:
    failing = Registry(fail=True)

    assert object_context(Registry([Entry("c.1", T0)]), "t1", event(None)) == {"links": []}
    assert object_context(None, "t1", event())["links"] == []
    assert object_context(failing, "t1", event())["links"] == []
    assert len(failing.asked) == 1
