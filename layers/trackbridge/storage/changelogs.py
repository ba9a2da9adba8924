"""An issue's status and assignee transitions (its complete changelog, issue 19), under the issue's partition.

Keys: ``PK = T#{tenant}#ISSUE#{issue_ref}`` (the issue's children partition, so another tenant's ref
addresses nothing of this one), ``SK = TRANSITION#{at}#{id}``: one query reads an issue's history in
time order, which is all "time in status" needs. A changelog entry never changes once written, so storing
is "put what is not there yet": a re-read history costs one batch read and no write, and what was new is
what the sync counts as created.

Beside them, ``SK = CHANGELOG#READ`` records the issue version (its ``updated_at``) whose history was last
read in full: an incremental pass re-reading the overlap window of stored issues asks the tracker only for
the issues whose version moved since (:meth:`TransitionRepository.unread`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from trackbridge.domain.issues import Transition
from trackbridge.domain.pagination import MAX_PAGE_SIZE, Page
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import PK, SK, issue_pk
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import Item, Table

TRANSITION_PREFIX = "TRANSITION#"
READ_MARK_SK = "CHANGELOG#READ"
# An issue's history is read in pages of MAX_PAGE_SIZE; this many pages at most (a bound on every loop).
MAX_HISTORY_PAGES = 100


def transition_sk(transition: Transition) -> str:
    """Time first, so the partition reads in the order things happened; the id keeps equal times apart."""
    return f"{TRANSITION_PREFIX}{to_iso(transition.at)}#{transition.id}"


@dataclass(frozen=True, slots=True)
class StoredTransitions:
    """What :meth:`TransitionRepository.store` did: transitions new to the table, and those already there."""

    created: int
    unchanged: int


class TransitionRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def key(tenant: str, transition: Transition) -> tuple[str, str]:
        return issue_pk(tenant, transition.issue_ref), transition_sk(transition)

    @classmethod
    def item(cls, tenant: str, transition: Transition) -> Item:
        pk, sk = cls.key(tenant, transition)
        return {
            PK: pk,
            SK: sk,
            "entity": "transition",
            "id": transition.id,
            "issue_ref": transition.issue_ref,
            "connection_id": transition.connection_id,
            "field": transition.field,
            "from_value": transition.from_value,
            "from_name": transition.from_name,
            "to_value": transition.to_value,
            "to_name": transition.to_name,
            "author": transition.author,
            "at": to_iso(transition.at),
        }

    @staticmethod
    def model(item: Item) -> Transition:
        return Transition(
            id=item["id"],
            issue_ref=item["issue_ref"],
            connection_id=item["connection_id"],
            field=item["field"],
            from_value=item.get("from_value"),
            from_name=item.get("from_name"),
            to_value=item.get("to_value"),
            to_name=item.get("to_name"),
            author=item.get("author"),
            at=from_iso(item["at"]),
        )

    def store(self, tenant: str, transitions: Sequence[Transition]) -> StoredTransitions:
        """Put the transitions not stored yet (batch read of their keys, batch write of the new ones)."""
        keyed = {self.key(tenant, t): t for t in transitions}
        present = self.table.batch_get(list(keyed), attributes=["id"]) if keyed else {}
        new = [t for key, t in keyed.items() if key not in present]
        if new:
            self.table.batch_put([self.item(tenant, t) for t in new])
        return StoredTransitions(created=len(new), unchanged=len(keyed) - len(new))

    def unread(self, tenant: str, versions: Mapping[str, datetime]) -> list[str]:
        """The issue refs of ``versions`` (ref -> ``updated_at``) whose history was not read at that version
        (one batch read per 100 issues)."""
        keys = {ref: (issue_pk(tenant, ref), READ_MARK_SK) for ref in versions}
        marks = self.table.batch_get(list(keys.values()), attributes=["read_at_version"]) if keys else {}
        return [
            ref
            for ref, key in keys.items()
            if key not in marks or marks[key].get("read_at_version") != to_iso(versions[ref])
        ]

    def mark_read(self, tenant: str, versions: Mapping[str, datetime]) -> None:
        """Record that the histories of ``versions`` (ref -> ``updated_at``) were read in full, as of then."""
        if versions:
            self.table.batch_put(
                [
                    {
                        PK: issue_pk(tenant, ref),
                        SK: READ_MARK_SK,
                        "entity": "changelog_read",
                        "read_at_version": to_iso(at),
                    }
                    for ref, at in versions.items()
                ]
            )

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = MAX_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Transition]:
        """One page of an issue's transitions, oldest first."""
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=issue_pk(tenant, issue_ref),
            sk_prefix=TRANSITION_PREFIX,
            limit=limit,
            cursor=cursor,
        )

    def history(self, tenant: str, issue_ref: str) -> list[Transition]:
        """An issue's whole stored history, oldest first (bounded: ``MAX_HISTORY_PAGES`` pages)."""
        found: list[Transition] = []
        cursor: str | None = None
        for _ in range(MAX_HISTORY_PAGES):
            page = self.list_for_issue(tenant, issue_ref, cursor=cursor)
            found.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return found


__all__ = ["READ_MARK_SK", "TRANSITION_PREFIX", "StoredTransitions", "TransitionRepository", "transition_sk"]
