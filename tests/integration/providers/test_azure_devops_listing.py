"""Azure DevOps listings against its sandbox: the WIQL keyset across one shared timestamp, WIQL's date
precision, comment continuation tokens, the id-only listing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infra.local.trackers.azure_devops import Azure_DevOpsSandbox
from trackbridge.providers.azure_devops import AzureDevOpsAdapter

from .conftest import build_adapter

pytestmark = [pytest.mark.integration]


@pytest.fixture
def sandbox() -> Iterator[Azure_DevOpsSandbox]:
    with Azure_DevOpsSandbox(seed="listing", issues=12, comments_per_issue=1) as started:
        yield started


def _adapter(sandbox: Azure_DevOpsSandbox, **options: Any) -> AzureDevOpsAdapter:
    adapter = build_adapter("azure_devops", sandbox.describe(), **options)
    assert isinstance(adapter, AzureDevOpsAdapter)
    return adapter


def test_pages_sharing_one_timestamp_are_followed_by_cursor_without_loss_or_repeat(
    sandbox: Azure_DevOpsSandbox,
) -> None:
    # Given: seven work items changed in the same millisecond (a bulk edit), pages of three
    sandbox.clock.freeze()
    for number in range(1, 8):
        sandbox.retitle_issue(number, f"bulk edit {number}")
    moment = datetime.fromtimestamp(sandbox.now(), UTC)

    # When: the engine follows the cursor with the same since, as it does when a page makes no progress
    keys: list[str] = []
    cursor = None
    for _ in range(10):
        with _adapter(sandbox) as adapter:
            adapter.page_size = 3  # type: ignore[misc]
            page = next(adapter.iter_issue_pages(since=moment, cursor=cursor))
        assert page.items, "every page makes progress"
        keys += [i.key for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    # Then: each edited item once, in id order within the timestamp
    assert keys == [f"#{n}" for n in range(1, 8)]


def test_wiql_refuses_a_time_without_time_precision(sandbox: Azure_DevOpsSandbox) -> None:
    query = {
        "query": "SELECT [System.Id] FROM WorkItems WHERE [System.ChangedDate] >= '2020-01-01T00:00:00Z'"
    }
    url = f"{sandbox.url}/acme/Widgets/_apis/wit/wiql"
    auth = httpx.BasicAuth("", sandbox.token)
    with httpx.Client(auth=auth, timeout=60.0, trust_env=False) as client:
        refused = client.post(url, params={"api-version": "7.1"}, json=query)
        accepted = client.post(url, params={"api-version": "7.1", "timePrecision": "true"}, json=query)
    assert refused.status_code == 400
    assert "date precision" in refused.json()["message"]
    assert accepted.status_code == 200
    assert set(accepted.json()["workItems"][0]) == {"id", "url"}


def test_comments_follow_continuation_tokens(sandbox: Azure_DevOpsSandbox) -> None:
    for n in range(204):
        sandbox.comment_on_issue(3, f"note {n}")
    with _adapter(sandbox) as adapter:
        comments = adapter.list_issue_comments("#3")
        assert adapter.stats.requests == 2
    assert len(comments) == 205
    assert len({c.id for c in comments}) == 205


def test_the_id_listing_is_one_wiql_request(sandbox: Azure_DevOpsSandbox) -> None:
    sandbox.reset_requests()
    with _adapter(sandbox) as adapter:
        pages = list(adapter.iter_issue_id_pages())
    assert [len(p.items) for p in pages] == [12]
    assert sandbox.requests()["by_route"] == {"POST /{org}/{project}/_apis/wit/wiql": 1}
