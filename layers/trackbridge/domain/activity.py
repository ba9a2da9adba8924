"""Repository activity (GitHub, GitLab): the synced records and the summary ``GET .../activity`` serves.

Four kinds of record per connection, each a synced item with ``updated_at`` and a content hash so the sync
writer's change detection and counting apply unchanged (``runtime.sync.writer.SYNCED_KINDS``):

* :class:`RepoCommit`: a commit of the default branch (its sha, time, first line, link);
* :class:`RepoRequest`: a pull request (GitHub) or merge request (GitLab), open, merged or closed, with the
  times it was opened, merged and closed;
* :class:`RepoRelease`: a published release (tag, time, prerelease flag);
* :class:`LanguageShares`: the repository's languages now, as percentages (GitHub gives bytes, GitLab
  percentages: both become percentages here).

:func:`summarize` is pure arithmetic over stored records (no I/O, no clock: ``as_of`` is an argument), so
the API route that calls it makes no tracker request and its maths is unit-tested on its own.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.issues import content_hash
from trackbridge.domain.times import UtcDatetime

MIN_WEEKS: Final = 1
MAX_WEEKS: Final = 52
DEFAULT_WEEKS: Final = 12
# The id of the one languages snapshot a connection keeps.
LANGUAGES_ID: Final = "languages"

RequestState = Literal["open", "merged", "closed"]
_DAY_S: Final = 86_400.0


class _ActivityRecord(BaseModel):
    """What every activity record shares: its connection, its id (unique among the connection's activity
    records: the kind is part of it), ``updated_at`` and the content hash over what a person can see."""

    model_config = ConfigDict(frozen=True)

    unhashed_fields: ClassVar[frozenset[str]] = frozenset({"content_hash", "connection_id"})
    kind: ClassVar[str]

    id: str
    connection_id: str
    updated_at: UtcDatetime
    content_hash: str = ""

    def compute_hash(self) -> str:
        return content_hash(self.model_dump(mode="json", exclude=set(self.unhashed_fields)))

    def with_hash(self) -> Any:
        return self.model_copy(update={"content_hash": self.compute_hash()})

    @staticmethod
    def id_of(kind: str, natural: str | int) -> str:
        return f"{kind}:{natural}"


class RepoCommit(_ActivityRecord):
    kind: ClassVar[str] = "commit"

    sha: str
    committed_at: UtcDatetime
    title: str = ""
    url: str | None = None


class RepoRequest(_ActivityRecord):
    """A pull/merge request; ``updated_at`` is the tracker's, so an edited request is written again."""

    kind: ClassVar[str] = "request"

    number: int
    state: RequestState
    title: str = ""
    author: str | None = None
    draft: bool = False
    created_at: UtcDatetime
    merged_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    url: str | None = None

    def open_at(self, moment: datetime) -> bool:
        """Whether the request was open at ``moment`` (opened by then, not yet merged or closed)."""
        ended = self.merged_at or self.closed_at
        return self.created_at <= moment and (ended is None or ended > moment)


class RepoRelease(_ActivityRecord):
    kind: ClassVar[str] = "release"

    tag: str
    name: str | None = None
    released_at: UtcDatetime
    prerelease: bool = False
    url: str | None = None


class LanguageShares(_ActivityRecord):
    """The repository's languages, percent of code each (largest first), as the tracker reports them now.
    ``updated_at`` is when this content was first seen: an unchanged snapshot keeps it (no write)."""

    kind: ClassVar[str] = "languages"
    # The time is trackbridge's, not the tracker's: the same shares seen later are the same content.
    unhashed_fields: ClassVar[frozenset[str]] = frozenset({"content_hash", "connection_id", "updated_at"})

    shares: dict[str, float] = Field(default_factory=dict)


ActivityRecord = RepoCommit | RepoRequest | RepoRelease | LanguageShares


def shares_of(sizes: Mapping[str, float], *, percentages: bool) -> dict[str, float]:
    """Languages as percentages rounded to 0.01, largest first: ``sizes`` are bytes (GitHub) or already
    percentages (GitLab). Non-positive sizes are dropped; no code at all is an empty dict."""
    kept = {name: float(size) for name, size in sizes.items() if float(size) > 0}
    total = 100.0 if percentages else sum(kept.values())
    if not kept or total <= 0:
        return {}
    shares = {name: round(size * 100.0 / total, 2) for name, size in kept.items()}
    return dict(sorted(shares.items(), key=lambda pair: (-pair[1], pair[0])))


# ---------------------------------------------------------------------------------------------- summary


def check_weeks(weeks: int) -> int:
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise ValidationFailed(
            f"weeks must be between {MIN_WEEKS} and {MAX_WEEKS}",
            details={"weeks": weeks, "min": MIN_WEEKS, "max": MAX_WEEKS},
        )
    return weeks


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of ``moment``'s ISO week."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def window_start(as_of: datetime, weeks: int) -> datetime:
    """Monday 00:00 UTC of the first of the ``weeks`` ISO weeks ending with ``as_of``'s; a window that
    would start before the calendar does (``as_of`` in year 1) is a 422 naming ``as_of``."""
    try:
        return week_start(as_of) - timedelta(weeks=weeks - 1)
    except OverflowError:
        raise ValidationFailed(
            "as_of is too early for a window of that many weeks",
            details={"as_of": as_of.isoformat(), "weeks": weeks},
        ) from None


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


class WeekCounts(BaseModel):
    week: str = Field(description="ISO week, e.g. 2026-W07")
    starts_on: str = Field(description="its Monday, YYYY-MM-DD")
    commits: int = 0
    opened: int = 0
    merged: int = 0
    closed: int = Field(default=0, description="closed without being merged")


class OpenRequests(BaseModel):
    count: int
    median_age_days: float | None
    oldest_age_days: float | None
    oldest_number: int | None


class LastRelease(BaseModel):
    tag: str
    released_at: datetime


class ReleaseCadence(BaseModel):
    releases: int = Field(description="releases published in the window")
    median_days_between: float | None = Field(description="between consecutive releases of the window")
    last_release: LastRelease | None = Field(
        description="the latest release at as_of, inside the window or not"
    )


class ActivitySummary(BaseModel):
    weeks: list[WeekCounts]
    totals: WeekCounts
    open_requests: OpenRequests
    releases: ReleaseCadence
    languages: dict[str, float]
    window_start: datetime
    as_of: datetime


def summarize(
    *,
    commits: Iterable[RepoCommit],
    requests: Iterable[RepoRequest],
    releases: Iterable[RepoRelease],
    languages: LanguageShares | None,
    as_of: datetime,
    weeks: int,
) -> ActivitySummary:
    """Counts per ISO week for the ``weeks`` weeks ending with ``as_of``'s (nothing after ``as_of``
    counts), the requests open at ``as_of`` and their ages, and the release cadence of the window."""
    check_weeks(weeks)
    start = window_start(as_of, weeks)
    as_of = as_of.astimezone(UTC)
    buckets = [
        WeekCounts(week=iso_week(monday), starts_on=monday.date().isoformat())
        for monday in (start + timedelta(weeks=n) for n in range(weeks))
    ]

    def bucket(moment: datetime | None) -> WeekCounts | None:
        if moment is None or not start <= moment <= as_of:
            return None
        return buckets[(moment - start).days // 7]

    for commit in commits:
        if (found := bucket(commit.committed_at)) is not None:
            found.commits += 1
    request_list = list(requests)
    for request in request_list:
        if (found := bucket(request.created_at)) is not None:
            found.opened += 1
        if (found := bucket(request.merged_at)) is not None:
            found.merged += 1
        elif request.merged_at is None and (found := bucket(request.closed_at)) is not None:
            found.closed += 1
    totals = WeekCounts(
        week=f"{buckets[0].week}..{buckets[-1].week}",
        starts_on=buckets[0].starts_on,
        **{
            name: sum(getattr(b, name) for b in buckets) for name in ("commits", "opened", "merged", "closed")
        },
    )
    return ActivitySummary(
        weeks=buckets,
        totals=totals,
        open_requests=_open_requests(request_list, as_of),
        releases=_cadence(list(releases), start, as_of),
        languages=dict(languages.shares) if languages is not None else {},
        window_start=start,
        as_of=as_of,
    )


def _open_requests(requests: Sequence[RepoRequest], as_of: datetime) -> OpenRequests:
    open_now = sorted((r for r in requests if r.open_at(as_of)), key=lambda r: (r.created_at, r.number))
    ages = [round((as_of - r.created_at).total_seconds() / _DAY_S, 2) for r in open_now]
    return OpenRequests(
        count=len(open_now),
        median_age_days=median(ages),
        oldest_age_days=ages[0] if ages else None,
        oldest_number=open_now[0].number if open_now else None,
    )


def _cadence(releases: Sequence[RepoRelease], start: datetime, as_of: datetime) -> ReleaseCadence:
    published = sorted((r for r in releases if r.released_at <= as_of), key=lambda r: (r.released_at, r.tag))
    window = [r.released_at for r in published if r.released_at >= start]
    gaps = [(later - earlier).total_seconds() / _DAY_S for earlier, later in itertools.pairwise(window)]
    last = published[-1] if published else None
    return ReleaseCadence(
        releases=len(window),
        median_days_between=median(gaps),
        last_release=LastRelease(tag=last.tag, released_at=last.released_at) if last else None,
    )


__all__ = [
    "DEFAULT_WEEKS",
    "LANGUAGES_ID",
    "MAX_WEEKS",
    "MIN_WEEKS",
    "ActivityRecord",
    "ActivitySummary",
    "LanguageShares",
    "OpenRequests",
    "ReleaseCadence",
    "RepoCommit",
    "RepoRelease",
    "RepoRequest",
    "WeekCounts",
    "check_weeks",
    "iso_week",
    "shares_of",
    "summarize",
    "week_start",
    "window_start",
]
