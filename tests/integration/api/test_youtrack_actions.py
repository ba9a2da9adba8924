"""The actions API against the YouTrack sandbox: the shared cases of ``test_actions_api``, collected here with
a ``tracker`` fixture naming a YouTrack connection, plus YouTrack's own answers (a state by name, a key of
another project, a command value that cannot be written).
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

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("actions-youtrack")]

__all__ = [
    "client",
    "test_bulk_mixed_items_answer_in_order",
    "test_connection_test_reports_each_check",
    "test_create_update_comment_transition_are_synced_and_audited",
    "test_unknown_issue_is_a_404",
]


@pytest.fixture(scope="module")
def world(local_resources: LocalResources) -> Iterator[World]:
    with running_world(["youtrack"]) as running:
        yield running


@pytest.fixture
def tracker(world: World, client: httpx.Client) -> Tracker:
    return declared_connection(world, client, "youtrack")


def test_a_state_by_name_and_youtracks_refusals(tracker: Tracker, client: httpx.Client) -> None:
    base = f"/v1/connections/{tracker.connection_id}"
    created = client.post(f"{base}/issues", json={"title": "Queue stuck", "labels": ["ops"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("ACME-")

    moved = client.post(f"{base}/issues/{key}/transitions", json={"to": "In Progress"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["status_category"]) == ("In Progress", "in_progress")

    # A key of another project is not this connection's issue.
    assert client.patch(f"{base}/issues/OTHER-1", json={"title": "x"}).status_code == 404
    # A label a command cannot carry is bad input, not a tracker error.
    braced = client.patch(f"{base}/issues/{key}", json={"add_labels": ["a{b}"]})
    assert braced.status_code == 400, braced.text
