"""Scale check for the GitHub sandbox (issue 4): seed and reset 100,000 issues x 3 comments, then page.

Targets: a reset under 15 s, the process under 1 GB, a 100-issue page in a few milliseconds. Run with
``python -m benchmarks.sandbox_scale [--issues N] [--comments C]``; exits 1 when a target is missed.
Page latency is the median of repeated requests over loopback (httpx, keep-alive), so it includes the HTTP
round trip a real client pays.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import httpx

from infra.local.trackers.github import GitHubSandbox

RESET_BUDGET_S = 15.0
MEMORY_BUDGET_MB = 1024
# Measured through httpx, which itself spends ~3 ms parsing a 330 KB page; the server builds one in ~3 ms.
PAGE_BUDGET_MS = 15.0


def rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def median_ms(client: httpx.Client, path: str, params: dict[str, str], repeat: int = 21) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--comments", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    sandbox = GitHubSandbox(seed="bench", issues=args.issues, comments_per_issue=args.comments)
    seeded_s = time.perf_counter() - started
    started = time.perf_counter()
    sandbox.reset()
    reset_s = time.perf_counter() - started
    memory = rss_mb()

    sandbox.start()
    by_updated = {"state": "all", "sort": "updated", "direction": "asc", "since": "2024-01-01T00:00:00Z"}
    pages = {
        "all, created desc, page 1": {"state": "all", "per_page": "100"},
        "all, created asc, middle page": {
            "state": "all",
            "per_page": "100",
            "direction": "asc",
            "page": "500",
        },
        "open (cached view), page 7": {"per_page": "100", "page": "7"},
        "since + sort=updated asc": {**by_updated, "per_page": "100"},
    }
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    try:
        with httpx.Client(base_url=sandbox.url, headers=headers, trust_env=False) as client:
            latency = {
                name: median_ms(client, "/repos/acme/widgets/issues", query) for name, query in pages.items()
            }
            comments = median_ms(
                client,
                "/repos/acme/widgets/issues/comments",
                {"sort": "updated", "per_page": "100", "page": "900"},
            )
    finally:
        sandbox.stop()

    print(f"issues={args.issues} comments/issue={args.comments}")
    print(f"seed {seeded_s:.2f} s, reset {reset_s:.2f} s (budget {RESET_BUDGET_S:.0f} s)")
    print(f"peak RSS {memory:.0f} MB (budget {MEMORY_BUDGET_MB} MB)")
    for name, value in latency.items():
        print(f"page of 100 issues, {name}: {value:.1f} ms")
    print(f"page of 100 repo-wide comments: {comments:.1f} ms")
    slowest = max([*latency.values(), comments])
    ok = reset_s < RESET_BUDGET_S and memory < MEMORY_BUDGET_MB and slowest < PAGE_BUDGET_MS
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
