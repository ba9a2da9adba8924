"""A connection's repository activity records (issue 19): commits, pull/merge requests, releases, languages.

Keys: ``PK = T#{tenant}#CONN#{connection_id}#ACTIVITY`` (tenant first, so another tenant's connection id
addresses nothing of this one), and per kind of record an ``SK``:

=========  ==========================================  ===========================================
record     SK                                          why
=========  ==========================================  ===========================================
commit     ``COMMIT#{committed_at}#{sha}``             a newest-first query stops at the window
request    ``REQUEST#{number:010d}``                   its number never changes; its state does
release    ``RELEASE#{tag}``                           a tag names one release of a repository
languages  ``LANGUAGES``                               one snapshot, replaced when it changes
=========  ==========================================  ===========================================

The sync writer stores them (``runtime.sync.writer.SYNCED_KINDS`` names :meth:`ActivityRepository.key` and
:meth:`ActivityRepository.item`), so change detection, conditional puts and counting are the writer's; this
module maps records to items and reads them back for the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final, TypeVar

from trackbridge.domain.activity import (
    ActivityRecord,
    LanguageShares,
    RepoCommit,
    RepoRelease,
    RepoRequest,
)
from trackbridge.domain.pagination import MAX_PAGE_SIZE
from trackbridge.domain.times import to_iso
from trackbridge.storage.keys import PK, SK, connection_pk
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import Item, Table

COMMIT_PREFIX: Final = "COMMIT#"
REQUEST_PREFIX: Final = "REQUEST#"
RELEASE_PREFIX: Final = "RELEASE#"
LANGUAGES_SK: Final = "LANGUAGES"
# Every read of one kind is at most this many pages (a bound on every loop): 100,000 records.
MAX_PAGES: Final = 1_000

_M = TypeVar("_M", RepoCommit, RepoRequest, RepoRelease)


def activity_pk(tenant: str, connection_id: str) -> str:
    return f"{connection_pk(tenant, connection_id)}#ACTIVITY"


def activity_sk(record: ActivityRecord) -> str:
    if isinstance(record, RepoCommit):
        return f"{COMMIT_PREFIX}{to_iso(record.committed_at)}#{record.sha}"
    if isinstance(record, RepoRequest):
        return f"{REQUEST_PREFIX}{record.number:010d}"
    if isinstance(record, RepoRelease):
        return f"{RELEASE_PREFIX}{record.tag}"
    return LANGUAGES_SK


class ActivityRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def key(tenant: str, record: ActivityRecord) -> tuple[str, str]:
        return activity_pk(tenant, record.connection_id), activity_sk(record)

    @classmethod
    def item(cls, tenant: str, record: ActivityRecord) -> Item:
        pk, sk = cls.key(tenant, record)
        fields = record.model_dump(mode="json")
        fields["content_hash"] = record.content_hash or record.compute_hash()
        return {PK: pk, SK: sk, "entity": f"activity_{record.kind}", **fields}

    @staticmethod
    def _model(model: type[_M]) -> Callable[[Item], _M]:
        def build(item: Item) -> _M:
            return model.model_validate(_fields(item, model))

        return build

    def _each(
        self, tenant: str, connection_id: str, prefix: str, model: type[_M], *, newest_first: bool = False
    ) -> Iterator[_M]:
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = query_page(
                self.table,
                tenant,
                self._model(model),
                partition=activity_pk(tenant, connection_id),
                sk_prefix=prefix,
                forward=not newest_first,
                limit=MAX_PAGE_SIZE,
                cursor=cursor,
            )
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    def commits_since(self, tenant: str, connection_id: str, since: datetime) -> list[RepoCommit]:
        """The commits at or after ``since``, newest first: the query stops at the first older one."""
        found: list[RepoCommit] = []
        for commit in self._each(tenant, connection_id, COMMIT_PREFIX, RepoCommit, newest_first=True):
            if commit.committed_at < since:
                break
            found.append(commit)
        return found

    def requests(self, tenant: str, connection_id: str) -> list[RepoRequest]:
        return list(self._each(tenant, connection_id, REQUEST_PREFIX, RepoRequest))

    def releases(self, tenant: str, connection_id: str) -> list[RepoRelease]:
        return list(self._each(tenant, connection_id, RELEASE_PREFIX, RepoRelease))

    def languages(self, tenant: str, connection_id: str) -> LanguageShares | None:
        item = self.table.get(activity_pk(tenant, connection_id), LANGUAGES_SK)
        if item is None:
            return None
        return LanguageShares.model_validate(_fields(item, LanguageShares))


def _fields(item: Item, model: type[Any]) -> dict[str, Any]:
    """The item's attributes the model has (keys, ``entity`` and the sync mark left out)."""
    return {k: v for k, v in item.items() if k in model.model_fields}


__all__ = ["ActivityRepository", "activity_pk", "activity_sk"]
