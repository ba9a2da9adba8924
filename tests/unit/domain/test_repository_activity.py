"""The repository activity summary's arithmetic (``domain.activity``): weeks, open request ages, cadence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.activity import (
    LANGUAGES_ID,
    LanguageShares,
    RepoCommit,
    RepoRelease,
    RepoRequest,
    check_weeks,
    iso_week,
    shares_of,
    summarize,
    window_start,
)
from trackbridge.domain.errors import ValidationFailed

CONNECTION = "conn_k7mq4xw2p5rtz3nb6hcd"
# Saturday 2 January 2027 is still ISO week 2026-W53.
AS_OF = datetime(2027, 1, 2, 18, 0, tzinfo=UTC)


def commit(at: datetime, n: int = 0) -> RepoCommit:
    sha = f"{n:040x}"
    return RepoCommit(id=f"commit:{sha}", connection_id=CONNECTION, sha=sha, committed_at=at, updated_at=at)


def request(
    number: int,
    created: datetime,
    *,
    merged: datetime | None = None,
    closed: datetime | None = None,
) -> RepoRequest:
    state = "merged" if merged else "closed" if closed else "open"
    return RepoRequest(
        id=f"request:{number}",
        connection_id=CONNECTION,
        number=number,
        state=state,
        created_at=created,
        merged_at=merged,
        closed_at=closed or merged,
        updated_at=closed or merged or created,
    )


def release(tag: str, at: datetime) -> RepoRelease:
    return RepoRelease(id=f"release:{tag}", connection_id=CONNECTION, tag=tag, released_at=at, updated_at=at)


def test_weeks_are_contiguous_iso_weeks_across_a_year_end() -> None:
    summary = summarize(commits=[], requests=[], releases=[], languages=None, as_of=AS_OF, weeks=3)
    assert [w.week for w in summary.weeks] == ["2026-W51", "2026-W52", "2026-W53"]
    assert [w.starts_on for w in summary.weeks] == ["2026-12-14", "2026-12-21", "2026-12-28"]
    assert summary.window_start == datetime(2026, 12, 14, tzinfo=UTC)
    assert summary.totals.week == "2026-W51..2026-W53"
    assert iso_week(datetime(2027, 1, 4, tzinfo=UTC)) == "2027-W01"


def test_commits_count_in_their_week_and_nothing_outside_the_window() -> None:
    start = window_start(AS_OF, 2)
    commits = [
        commit(start - timedelta(seconds=1), 1),  # the Sunday before: outside
        commit(start, 2),  # the first instant of the window
        commit(start + timedelta(days=7, hours=1), 3),
        commit(AS_OF, 4),  # as_of itself counts
        commit(AS_OF + timedelta(seconds=1), 5),  # after as_of: not yet
    ]
    summary = summarize(commits=commits, requests=[], releases=[], languages=None, as_of=AS_OF, weeks=2)
    assert [w.commits for w in summary.weeks] == [1, 2]
    assert summary.totals.commits == 3


def test_a_merged_request_is_merged_not_closed_and_open_ages_are_days() -> None:
    day = timedelta(days=1)
    requests = [
        request(1, AS_OF - 3 * day, merged=AS_OF - day),
        request(2, AS_OF - 2 * day, closed=AS_OF - day),
        request(3, AS_OF - 10 * day),
        request(4, AS_OF - 4 * day),
        request(5, AS_OF + day),  # opened after as_of: neither opened in the window nor open at as_of
        request(6, AS_OF - 30 * day, merged=AS_OF + day),  # merged after as_of: open at as_of
    ]
    summary = summarize(commits=[], requests=requests, releases=[], languages=None, as_of=AS_OF, weeks=1)
    week = summary.weeks[0]
    assert (week.opened, week.merged, week.closed) == (3, 1, 1)  # #1, #2 and #4 opened this week
    assert summary.open_requests.count == 3
    assert summary.open_requests.oldest_age_days == 30.0
    assert summary.open_requests.oldest_number == 6
    assert summary.open_requests.median_age_days == 10.0


def test_no_open_requests_have_no_ages() -> None:
    summary = summarize(commits=[], requests=[], releases=[], languages=None, as_of=AS_OF, weeks=4)
    assert summary.open_requests.model_dump() == {
        "count": 0,
        "median_age_days": None,
        "oldest_age_days": None,
        "oldest_number": None,
    }


def test_release_cadence_is_the_median_gap_inside_the_window() -> None:
    day = timedelta(days=1)
    releases = [
        release("v0.9.0", AS_OF - 100 * day),  # before the window: the last release, not in the count
        release("v1.0.0", AS_OF - 20 * day),
        release("v1.1.0", AS_OF - 16 * day),
        release("v1.2.0", AS_OF - 6 * day),
        release("v2.0.0", AS_OF + day),  # not out yet at as_of
    ]
    summary = summarize(commits=[], requests=[], releases=releases, languages=None, as_of=AS_OF, weeks=4)
    assert summary.releases.releases == 3
    assert summary.releases.median_days_between == 7.0  # gaps of 4 and 10 days
    assert summary.releases.last_release is not None
    assert summary.releases.last_release.tag == "v1.2.0"

    lone = summarize(commits=[], requests=[], releases=releases[:1], languages=None, as_of=AS_OF, weeks=4)
    assert (lone.releases.releases, lone.releases.median_days_between) == (0, None)
    assert lone.releases.last_release is not None
    assert lone.releases.last_release.tag == "v0.9.0"


def test_languages_become_percentages_largest_first() -> None:
    assert shares_of({"Shell": 250, "Python": 750, "Empty": 0}, percentages=False) == {
        "Python": 75.0,
        "Shell": 25.0,
    }
    assert list(shares_of({"Ruby": 22.98, "Go": 66.69}, percentages=True)) == ["Go", "Ruby"]
    assert shares_of({}, percentages=False) == {}
    snapshot = LanguageShares(
        id=LANGUAGES_ID, connection_id=CONNECTION, shares={"Go": 100.0}, updated_at=AS_OF
    ).with_hash()
    summary = summarize(commits=[], requests=[], releases=[], languages=snapshot, as_of=AS_OF, weeks=1)
    assert summary.languages == {"Go": 100.0}


def test_the_content_hash_ignores_the_connection_and_sees_a_change_of_state() -> None:
    opened = request(1, AS_OF - timedelta(days=2)).with_hash()
    elsewhere = opened.model_copy(update={"connection_id": "conn_aaaaaaaaaaaaaaaaaaaa"}).with_hash()
    merged = request(1, AS_OF - timedelta(days=2), merged=AS_OF).with_hash()
    assert opened.content_hash == elsewhere.content_hash
    assert opened.content_hash != merged.content_hash


@pytest.mark.parametrize("weeks", [0, -1, 53])
def test_weeks_out_of_range_are_refused(weeks: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_weeks(weeks)
    assert caught.value.details["weeks"] == weeks
    assert check_weeks(52) == 52


def test_a_window_before_the_calendar_is_refused_not_an_overflow() -> None:
    earliest = datetime(1, 1, 3, tzinfo=UTC)
    with pytest.raises(ValidationFailed) as caught:
        summarize(commits=[], requests=[], releases=[], languages=None, as_of=earliest, weeks=2)
    assert "as_of" in caught.value.details


def test_the_same_languages_seen_later_are_the_same_content() -> None:
    def seen(at: datetime, shares: dict[str, float]) -> LanguageShares:
        return LanguageShares(
            id=LANGUAGES_ID, connection_id=CONNECTION, shares=shares, updated_at=at
        ).with_hash()

    earlier, later = seen(AS_OF, {"Go": 100.0}), seen(AS_OF + timedelta(days=1), {"Go": 100.0})
    assert earlier.content_hash == later.content_hash
    assert seen(AS_OF, {"Go": 90.0, "C": 10.0}).content_hash != earlier.content_hash
