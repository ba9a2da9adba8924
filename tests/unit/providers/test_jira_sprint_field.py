"""Jira's sprint field (``customfield_10020``) read into ``Issue.sprint_ids``: sprint objects as Jira Cloud
sends them, the serialized strings of old servers, and anything else ignored rather than guessed."""

from __future__ import annotations

from typing import Any

import pytest

from trackbridge.providers.jira import sprint_ids_of

LEGACY = "com.atlassian.greenhopper.service.sprint.Sprint@1a2b[id=7,rapidViewId=1,state=CLOSED,name=S7]"


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        (None, []),
        ([], []),
        ([{"id": 37, "name": "S37", "state": "active", "boardId": 84}], ["37"]),
        ([{"id": 36, "state": "closed"}, {"id": 37, "state": "active"}, {"id": 36}], ["36", "37"]),
        ([LEGACY], ["7"]),
        (["no id here", {"name": "no id"}, 5, {"id": None}], []),
        ({"id": 1}, []),
    ],
)
def test_sprint_ids_of_the_sprint_field(value: Any, ids: list[str]) -> None:
    assert sprint_ids_of(value) == ids
