"""One adapter driven from several threads at once, as ``TrackerActions.bulk`` drives it (4 workers).

The trackers are ``httpx.MockTransport`` handlers that keep their own tallies under a lock, so every
assertion compares two exact counts: what the tracker saw and what the adapter counted. The interpreter is
asked to switch threads as often as it can while they run (``sys.setswitchinterval``). Nothing here
measures time.

What each test would catch: the GitLab keyset test fails without the adapter's probe lock (every thread
asks the refused keyset question: 8 probes, not 1). The counter tests hold the adapter to exact totals; on
CPython 3.11 an unlocked ``+=`` on an attribute is rarely interrupted, so they guard the contract (and a
free-threaded interpreter) more than they reproduce a lost update here.
"""

from __future__ import annotations

import random
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest

from trackbridge.providers.auth import BearerTokenAuth, HeaderTokenAuth
from trackbridge.providers.etags import CachedPage, ETagCache
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import TrackerConfig

from .conftest import CONNECTION_ID, NOW, Sleeps, clock_at, gh_issue, gl_issue, json_response

THREADS = 8
_T = TypeVar("_T")


@pytest.fixture(autouse=True)
def _switch_threads_often() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _together(work: Callable[[int], _T], workers: int = THREADS) -> list[_T]:
    """Run ``work(i)`` for every worker on its own thread, all released at the same moment."""
    start = threading.Barrier(workers, timeout=120)

    def run(index: int) -> _T:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


class Tally:
    """Thread-safe counts of what a handler saw."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, key: str) -> int:
        with self._lock:
            self.counts[key] += 1
            return self.counts[key]


def _github(
    handler: Callable[[httpx.Request], httpx.Response], sleeps: Sleeps, **kwargs: Any
) -> GitHubAdapter:
    return GitHubAdapter(
        TrackerConfig("https://api.github.com", {"repo": "acme/widgets"}, CONNECTION_ID),
        BearerTokenAuth("ghp-threads"),
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        clock=clock_at(NOW),
        sleep=sleeps,
        rng=random.Random(7),
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.5, max_wait_s=30.0, max_rate_limit_waits=2),
        **kwargs,
    )


def test_request_counters_stay_exact_when_threads_share_an_adapter(sleeps: Sleeps) -> None:
    # Given: a tracker that fails the first attempt at every issue with a 503 and answers the second
    tally = Tally()

    def handler(request: httpx.Request) -> httpx.Response:
        tally.add("requests")
        number = int(request.url.path.rsplit("/", 1)[-1])
        if tally.add(f"issue {number}") == 1:
            return json_response(503, {"message": "Service unavailable"})
        return json_response(200, gh_issue(number))

    per_thread = 40
    with _github(handler, sleeps) as adapter:
        # When: eight threads each fetch forty different issues through the one adapter
        fetched = _together(
            lambda i: [adapter.get_issue(str(i * per_thread + n + 1)).key for n in range(per_thread)]
        )

        # Then: every request the tracker saw is counted once, and so is every retry and its wait
        issues = THREADS * per_thread
        assert sorted(key for keys in fetched for key in keys) == sorted(
            f"#{n}" for n in range(1, issues + 1)
        )
        assert tally.counts["requests"] == 2 * issues
        assert adapter.stats.requests == 2 * issues
        assert adapter.stats.retries == issues
        assert len(sleeps.calls) == issues
        assert adapter.stats.waited_s == pytest.approx(sum(sleeps.calls))
        assert adapter.stats.snapshot()["requests"] == 2 * issues


def test_not_modified_counts_and_the_shared_etag_cache_stay_exact(sleeps: Sleeps) -> None:
    # Given: a one-page listing that answers 304 to its ETag, and an adapter whose cache already holds it
    tally = Tally()

    def handler(request: httpx.Request) -> httpx.Response:
        tally.add("requests")
        if request.headers.get("if-none-match") == '"v1"':
            tally.add("304")
            return httpx.Response(304, headers={"etag": '"v1"'})
        return json_response(200, [gh_issue(1)], {"etag": '"v1"'})

    cache = ETagCache()
    with _github(handler, sleeps, etag_cache=cache) as adapter:
        first = next(adapter.iter_issue_pages())
        assert not first.not_modified

        # When: eight threads list it twenty times each
        rounds = 20
        pages = _together(
            lambda _: [p.not_modified for _ in range(rounds) for p in adapter.iter_issue_pages()]
        )

        # Then: every one was a 304, and the adapter counted each of them
        assert all(all(flags) and len(flags) == rounds for flags in pages)
        assert tally.counts["304"] == THREADS * rounds
        assert adapter.stats.not_modified == THREADS * rounds
        assert adapter.stats.requests == tally.counts["requests"] == THREADS * rounds + 1
        assert len(cache) == 1


def test_etag_cache_bounded_under_concurrent_writes_and_snapshots() -> None:
    cache = ETagCache(max_entries=16)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for n in range(300):
                cache.put(f"https://t.example/{index}/{n}", CachedPage(f'"{index}-{n}"'))
                cache.get(f"https://t.example/{index}/{n - 1}")
                if n % 10 == 0:
                    snapshot = cache.to_dict()  # iterating while others evict must not fail
                    assert len(snapshot) <= 16
        except BaseException as exc:
            errors.append(exc)

    _together(work)
    assert errors == []
    assert len(cache) == 16


# ---- GitLab's keyset state --------------------------------------------------------------------------

GITLAB_ISSUES = 150  # two pages of 100


def _gitlab_tracker(*, keyset: bool, tally: Tally) -> Callable[[httpx.Request], httpx.Response]:
    """A project listing of GITLAB_ISSUES issues that pages by keyset, or refuses it as GitLab < 18.3 does."""
    probe_in_flight = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        tally.add("requests")
        if params.get("pagination") == "keyset":
            tally.add("keyset")
            if not keyset:
                # Hold the refusal back a little: the other threads reach the listing while it is in flight
                probe_in_flight.set()
                threading.Event().wait(0.05)
                return json_response(405, {"message": "Keyset pagination is not yet available for this type"})
            after = int(params.get("id_after", "0"))
            items = [gl_issue(n) for n in range(after + 1, min(after + 100, GITLAB_ISSUES) + 1)]
            headers = {}
            if items and items[-1]["iid"] < GITLAB_ISSUES:
                nxt = request.url.copy_merge_params({"id_after": str(items[-1]["iid"])})
                headers["link"] = f'<{nxt}>; rel="next"'
            return json_response(200, items, headers)
        tally.add("offset")
        page = int(params.get("page", "1"))
        first = (page - 1) * 100 + 1
        items = [gl_issue(n) for n in range(first, min(first + 99, GITLAB_ISSUES) + 1)]
        headers = {}
        if first + 100 <= GITLAB_ISSUES:
            headers["link"] = f'<{request.url.copy_merge_params({"page": str(page + 1)})}>; rel="next"'
        return json_response(200, items, headers)

    return handler


def _gitlab(handler: Callable[[httpx.Request], httpx.Response], sleeps: Sleeps) -> GitLabAdapter:
    return GitLabAdapter(
        TrackerConfig("https://gitlab.example.com", {"project": "acme/widgets"}, CONNECTION_ID),
        HeaderTokenAuth("glpat-threads", header="PRIVATE-TOKEN"),
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        clock=clock_at(NOW),
        sleep=sleeps,
    )


def _list_keys(adapter: GitLabAdapter) -> list[str]:
    return [issue.key for page in adapter.iter_issue_pages() for issue in page.items]


@pytest.mark.parametrize(
    ("keyset", "keyset_requests", "offset_requests"),
    [(False, 1, THREADS * 2), (True, THREADS * 2, 0)],
    ids=["keyset-refused", "keyset-served"],
)
def test_gitlab_keyset_state_stays_exact_while_threads_list_together(
    sleeps: Sleeps, keyset: bool, keyset_requests: int, offset_requests: int
) -> None:
    # Given: a GitLab that refuses keyset pagination for issues (older than 18.3), or serves it
    tally = Tally()
    with _gitlab(_gitlab_tracker(keyset=keyset, tally=tally), sleeps) as adapter:
        # When: eight threads list the project's issues at the same moment, on a fresh adapter
        listings = _together(lambda _: _list_keys(adapter))

        # Then: every listing is whole and in order; a refusal was asked for once, then offset pages
        # served every listing; a served keyset served them all. Each request is counted once.
        expected = [f"#{n}" for n in range(1, GITLAB_ISSUES + 1)]
        assert all(keys == expected for keys in listings)
        assert (tally.counts["keyset"], tally.counts["offset"]) == (keyset_requests, offset_requests)
        assert adapter.stats.requests == tally.counts["requests"] == keyset_requests + offset_requests
        assert adapter.stats.retries == 0

        # And a later listing goes straight to what was learned: two pages, nothing asked again
        seen = Counter(tally.counts)
        assert _list_keys(adapter) == expected
        learned = "keyset" if keyset else "offset"
        assert tally.counts - seen == Counter({"requests": 2, learned: 2})
