"""Time in status from an issue's stored transitions (issue 19): a pure query over its changelog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trackbridge.domain.issues import Transition, time_in_status

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOUR = 3600.0


def move(
    history: int, at_hours: float, old: str | None, new: str | None, field: str = "status"
) -> Transition:
    return Transition.model_validate(
        {
            "id": f"{history}:{field}",
            "issue_ref": "conn_x:10001",
            "connection_id": "conn_x",
            "field": field,
            "from_name": old,
            "to_name": new,
            "at": T0 + timedelta(hours=at_hours),
        }
    )


def test_each_interval_goes_to_the_status_it_was_spent_in() -> None:
    history = [move(2, 5, "In Progress", "Done"), move(1, 2, "To Do", "In Progress")]
    spent = time_in_status(history, created_at=T0, now=T0 + timedelta(hours=8))
    assert spent == {"To Do": 2 * HOUR, "In Progress": 3 * HOUR, "Done": 3 * HOUR}


def test_returning_to_a_status_adds_to_it_and_assignee_changes_do_not_count() -> None:
    history = [
        move(1, 1, "To Do", "In Progress"),
        move(2, 2, None, "acct-1", field="assignee"),
        move(3, 4, "In Progress", "To Do"),
        move(4, 5, "To Do", "In Progress"),
    ]
    spent = time_in_status(history, created_at=T0, now=T0 + timedelta(hours=6))
    assert spent == {"To Do": 2 * HOUR, "In Progress": 4 * HOUR}


def test_an_issue_that_never_moved_spent_its_life_in_its_current_status() -> None:
    spent = time_in_status([], created_at=T0, now=T0 + timedelta(hours=3), current="To Do")
    assert spent == {"To Do": 3 * HOUR}
    assert time_in_status([], created_at=T0, now=T0 + timedelta(hours=3)) == {}


def test_time_never_runs_backwards() -> None:
    # A transition dated before the creation (clock skew between systems) ends an empty interval.
    history = [move(1, -1, "To Do", "Done")]
    assert time_in_status(history, created_at=T0, now=T0 + timedelta(hours=1)) == {"To Do": 0.0, "Done": HOUR}


@pytest.mark.parametrize("field", ["priority", ""])
def test_only_status_and_assignee_are_transitions(field: str) -> None:
    with pytest.raises(ValueError, match="field"):
        move(1, 1, "a", "b", field=field)
