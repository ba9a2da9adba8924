"""The actions API against the Linear sandbox: the shared cases of ``test_actions_api``, collected here with a
``tracker`` fixture naming a Linear connection, plus Linear's own answers (a state by name, search by
content, a key of another team, attachments refused naming the capability).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.integration.api.actions_support import Tracker, World, client, declared_connection, running_world
from tests.integration.api.test_actions_api import (
    test_bulk_mixed_items_answer_in_order,
    test_connection_test_reports_each_check,
    test_create_update_comment_transition_are_synced_and_audited,
    test_unknown_issue_is_a_404,
)

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("actions-linear")]

__all__ = [
    "client",
    "test_bulk_mixed_items_answer_in_order",
    "test_connection_test_reports_each_check",
    "test_create_update_comment_transition_are_synced_and_audited",
    "test_unknown_issue_is_a_404",
]


@pytest.fixture(scope="module")
def world(local_resources: LocalResources) -> Iterator[World]:
    with running_world(["linear"]) as running:
        yield running


@pytest.fixture
def tracker(world: World, client: httpx.Client) -> Tracker:
    return declared_connection(world, client, "linear")


def test_a_state_by_name_search_and_linears_refusals(tracker: Tracker, client: httpx.Client) -> None:
    base = f"/v1/connections/{tracker.connection_id}"
    created = client.post(f"{base}/issues", json={"title": "Queue stuck tb-needle", "labels": ["ops"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("ENG-")

    moved = client.post(f"{base}/issues/{key}/transitions", json={"to": "In Review"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["status_category"]) == ("In Review", "in_progress")

    found = client.get(f"{base}/search", params={"q": "tb-needle", "limit": 5})
    assert found.status_code == 200, found.text
    assert [i["key"] for i in found.json()["items"]] == [key]

    # A key of another team is not this connection's issue.
    assert client.patch(f"{base}/issues/OPS-1", json={"title": "x"}).status_code == 404
    # Linear has no attachments through this adapter: refused, naming the capability.
    attached = client.post(f"{base}/issues/{key}/attachments", files={"file": ("a.txt", b"x", "text/plain")})
    assert attached.status_code == 422, attached.text
    assert attached.json()["error"]["details"]["capability"] == "attachments"
