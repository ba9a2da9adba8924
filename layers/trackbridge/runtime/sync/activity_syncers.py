"""The ``activity`` entity: a repository's commits, pull/merge requests, releases and languages (issue 19).

An opt-in entity (:func:`activity_plan`, merged into ``plans.opt_in_for``) of trackers with the
``repository_activity`` capability (GitHub, GitLab), with its own cursor. Each pass reads, in one step:

* **commits** of the default branch with the tracker's ``since`` filter, from ``since - COMMIT_LOOKBACK``:
  a commit's time is when it was written, not when it was pushed, so a branch merged today may bring
  commits dated before the cursor; the lookback re-reads them for free (same hash, no write);
* **pull/merge requests** most recently updated first, up to the first one older than ``since``
  (the listing link detection uses: ``ForgeAdapter.iter_repo_requests``);
* **releases**: the newest page only (a repository publishes few; a release published long after it was
  drafted is met however its listing is ordered);
* **languages**, with the ETag the engine keeps for this entity: a 304 (GitHub does not charge it) means
  no snapshot to write; a snapshot whose content equals the stored one keeps its stored ``updated_at``, so
  the writer skips it.

A full pass (no ``since``) reads the latest ``ACTIVITY_FULL_PAGES`` pages of each listing. Nothing is ever
deleted: history does not un-happen, and a request closed or merged is stored so. The records are synced
kinds of the writer (``SYNCED_KINDS``), so a pass with nothing new costs the four listing requests (the
floor ``benchmarks/activity_requests.py`` checks), one batch read and no write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, runtime_checkable

from trackbridge.domain.activity import ActivityRecord, LanguageShares, RepoCommit, RepoRelease, RepoRequest
from trackbridge.domain.connections import Entity
from trackbridge.domain.times import from_iso
from trackbridge.providers.pagination import PageCursor
from trackbridge.providers.types import Capabilities, Page
from trackbridge.runtime.sync.syncers import ListingSyncer, SyncRun

# How far before the cursor commits are read again (see the module docstring).
COMMIT_LOOKBACK: Final = timedelta(days=1)
# The listing requests a pass with nothing new makes: commits, requests, releases, languages.
ACTIVITY_FLOOR: Final = 4


@runtime_checkable
class ReadsRepositoryActivity(Protocol):
    """An adapter that reads its repository's activity as records (``providers.forge.ForgeAdapter``)."""

    def iter_repo_commits(self, *, since: datetime | None) -> Iterator[list[RepoCommit]]: ...

    def iter_repo_requests(self, *, since: datetime | None) -> Iterator[list[RepoRequest]]: ...

    def iter_repo_releases(self, *, full: bool) -> Iterator[list[RepoRelease]]: ...

    def repo_languages(self, *, seen_at: datetime) -> LanguageShares | None: ...


def _flat(pages: Iterable[list[Any]]) -> list[Any]:
    return [item for page in pages for item in page]


class ActivitySyncer(ListingSyncer):
    entity = "activity"

    def fetch(self, run: SyncRun, since: datetime | None, cursor: PageCursor | None) -> Page[Any]:
        adapter = run.adapter
        if not isinstance(adapter, ReadsRepositoryActivity):
            raise TypeError(f"{adapter.name} has no repository activity")
        records: list[ActivityRecord] = [
            *_flat(adapter.iter_repo_commits(since=None if since is None else since - COMMIT_LOOKBACK)),
            *_flat(adapter.iter_repo_requests(since=since)),
            *_flat(adapter.iter_repo_releases(full=since is None)),
        ]
        languages = adapter.repo_languages(seen_at=run.now())
        if languages is not None:
            records.append(self._keep_time(run, languages))
        # One key per record: a listing that repeats an item (a page boundary moving) is written once.
        unique = tuple({(type(r), r.id): r for r in records}.values())
        return Page(items=unique, raw_count=len(unique), next_cursor=None)

    @staticmethod
    def _keep_time(run: SyncRun, languages: LanguageShares) -> LanguageShares:
        """The snapshot with the stored ``updated_at`` when its content is the stored one (no write)."""
        (stored,) = run.writer.versions([languages])
        if stored is not None and stored.content_hash == languages.content_hash and stored.updated_at:
            return languages.model_copy(update={"updated_at": from_iso(stored.updated_at)})
        return languages


ACTIVITY = ActivitySyncer()


def activity_plan(capabilities: Capabilities) -> dict[Entity, ListingSyncer]:
    """``activity`` for trackers that host a repository, for connections and operations that name it."""
    return {"activity": ACTIVITY} if capabilities.repository_activity else {}


__all__ = [
    "ACTIVITY",
    "ACTIVITY_FLOOR",
    "COMMIT_LOOKBACK",
    "ActivitySyncer",
    "ReadsRepositoryActivity",
    "activity_plan",
]
