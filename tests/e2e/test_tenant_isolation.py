"""Two tenants hammering the embedded stack at once: every answer belongs to its caller.

Lambda runs one invocation at a time per execution environment and the handlers rely on it (Powertools'
resolver keeps the current event on a class attribute). The local gateway serves from many threads, so
without one in-flight invocation per function a request could be answered, or worse executed, with another
tenant's event. Here tenant ``demo`` (the stack's own, with the three sandbox connections) and a second
tenant send a few hundred requests from a thread pool, interleaved; the second tenant's writes on the
first's connection must all be 404 and none may reach a tracker.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from infra.local.stack import LocalStack
from trackbridge.domain.trackers import TRACKERS
from trackbridge.runtime.api_keys import issue_api_key

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("tenant-isolation")]

OTHER_TENANT = "intruder"
ROUNDS = 40  # x 6 request kinds = 240 requests, from 8 threads
Check = Callable[[httpx.Client], str | None]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = LocalStack(
        port=0, state_dir=tmp_path_factory.mktemp("state"), stage="isolation", region="eu-north-1"
    ).start()
    try:
        yield running
    finally:
        running.stop()


class _Throttled(httpx.HTTPTransport):
    """Retries the gateway's stage throttling (429), as an SDK would: a bounded number of times."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(50):
            response = super().handle_request(request)
            if response.status_code != 429:
                return response
            response.close()
            time.sleep(0.05)
        return response


def _client(stack: LocalStack, key: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(
        base_url=stack.api_url, headers=headers, timeout=60, trust_env=False, transport=_Throttled()
    )


def _tracker_writes(stack: LocalStack) -> dict[str, int]:
    """Every non-GET request the sandbox trackers received since their counters were reset."""
    assert stack.sandboxes is not None
    writes: dict[str, int] = {}
    for name, tracker in stack.sandboxes.describe().items():
        counts = httpx.get(f"{tracker['url']}/_sandbox/requests", timeout=60, trust_env=False).json()
        for route, n in counts["by_route"].items():
            if not route.startswith("GET "):
                writes[f"{name}: {route}"] = n
    return writes


def _reset_tracker_counters(stack: LocalStack) -> None:
    assert stack.sandboxes is not None
    for tracker in stack.sandboxes.describe().values():
        httpx.post(f"{tracker['url']}/_sandbox/requests/reset", timeout=60, trust_env=False)


def test_concurrent_tenants_only_ever_see_their_own_data(stack: LocalStack) -> None:
    # Given: the demo tenant's three sandbox connections, and a second tenant with a full-scope key
    assert stack.api_key is not None
    own = dict(stack.demo_connections)
    assert set(own) == set(TRACKERS)
    intruder_key = issue_api_key(OTHER_TENANT)
    owner, intruder = _client(stack, stack.api_key), _client(stack, intruder_key)
    _reset_tracker_counters(stack)

    def owner_lists(c: httpx.Client) -> str | None:
        r = c.get("/connections")
        ids = {item["id"] for item in r.json().get("items", [])} if r.status_code == 200 else None
        return None if ids == set(own.values()) else f"owner list: {r.status_code} {ids}"

    def owner_reads(c: httpx.Client) -> str | None:
        r = c.get(f"/connections/{own['gitlab']}")
        ok = r.status_code == 200 and r.json().get("id") == own["gitlab"]
        return None if ok else f"owner read: {r.status_code} {r.text[:200]}"

    def intruder_lists(c: httpx.Client) -> str | None:
        r = c.get("/connections")
        ok = r.status_code == 200 and r.json().get("items") == []
        return None if ok else f"intruder list: {r.status_code} {r.text[:200]}"

    def intruder_reads(c: httpx.Client) -> str | None:
        r = c.get(f"/connections/{own['jira']}")
        return None if r.status_code == 404 else f"intruder read: {r.status_code} {r.text[:200]}"

    def intruder_comments(c: httpx.Client) -> str | None:
        r = c.post(f"/connections/{own['github']}/issues/1/comments", json={"body": "not yours"})
        return None if r.status_code == 404 else f"intruder comment: {r.status_code} {r.text[:200]}"

    def intruder_patches(c: httpx.Client) -> str | None:
        r = c.patch(f"/connections/{own['gitlab']}", json={"name": "taken-over"})
        return None if r.status_code == 404 else f"intruder patch: {r.status_code} {r.text[:200]}"

    calls: list[tuple[httpx.Client, Check]] = [
        (owner, owner_lists),
        (owner, owner_reads),
        (intruder, intruder_lists),
        (intruder, intruder_reads),
        (intruder, intruder_comments),
        (intruder, intruder_patches),
    ] * ROUNDS
    random.Random(11).shuffle(calls)

    # When: all of them run at once from a bounded pool
    with owner, intruder, ThreadPoolExecutor(max_workers=8) as pool:
        problems: list[Any] = [p for p in pool.map(lambda call: call[1](call[0]), calls) if p]
        names = {item["name"] for item in owner.get("/connections").json()["items"]}

    # Then: every answer was the caller's own; nothing was renamed and nothing reached a tracker
    assert problems == [], f"{len(problems)} of {len(calls)} answers crossed tenants: {problems[:5]}"
    assert "taken-over" not in names
    assert _tracker_writes(stack) == {}
