"""Jira sandbox seeding and rendering helpers: deterministic data, Jira's JSON details, ADF, durations."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest

from infra.local.trackers.jira._render import (
    FieldSelection,
    JiraRenderer,
    adf_from_text,
    adf_to_text,
    format_duration,
    is_adf,
    jira_time,
    parse_duration,
    parse_jira_time,
    zone,
)
from infra.local.trackers.jira._state import EMBEDDED_PAGE, SUBTASK, JiraState, seed_state


def seeded(seed: str = "s", **sizes: int) -> JiraState:
    options = {
        "issues": 30,
        "comments_per_issue": 3,
        "worklogs_per_issue": 2,
        "users": 5,
        "sprints": 3,
        **sizes,
    }
    return seed_state(random.Random(f"jira:{seed}"), seed=seed, closed_ratio=0.3, **options)


def test_the_same_seed_gives_the_same_data() -> None:
    first, second = seeded("a"), seeded("a")

    assert first.cloud_id == second.cloud_id
    assert [(i.summary, i.assignee, i.updated) for i in first.live_issues()] == [
        (i.summary, i.assignee, i.updated) for i in second.live_issues()
    ]
    assert seeded("b").cloud_id != first.cloud_id


def test_sizes_are_honoured_and_seeded_times_lie_before_the_seed_epoch() -> None:
    state = seeded(issues=30, comments_per_issue=3, worklogs_per_issue=2, users=5, sprints=3)

    assert len(state.live_issues()) == 30
    assert len(state.comments) == 90
    assert len(state.worklogs) == 60
    assert len(state.users) == 5 + 2  # the API user and the outsider come on top
    assert len(state.sprints) == 3
    assert sorted(s.state for s in state.sprints.values()) == ["active", "closed", "future"]
    assert all(i.updated < 1_735_689_600_000 for i in state.live_issues())
    worklog_times = [key[0] for key in state.worklogs_by_updated]
    assert len(set(worklog_times)) == len(worklog_times), "worklog update times must be unique"


def test_every_tenth_issue_is_a_sub_task_of_the_one_before() -> None:
    state = seeded()
    tenth = state.find("ACME-10")
    assert tenth is not None

    assert tenth.type_id == SUBTASK
    assert tenth.parent_id == state.by_key["ACME-9"]
    parent = state.find("acme-9")
    assert parent is not None
    assert state.children(parent) == [tenth]


def test_an_issue_embeds_at_most_twenty_comments_with_the_full_total() -> None:
    state = seeded(issues=2, comments_per_issue=25, worklogs_per_issue=0)
    issue = state.live_issues()[0]
    render = JiraRenderer("http://sandbox", state, "UTC")

    page = render.field_value(issue, "comment")

    assert len(page["comments"]) == EMBEDDED_PAGE == page["maxResults"]
    assert page["total"] == 25


def test_timestamps_are_written_in_the_callers_zone_with_milliseconds() -> None:
    moment = int(datetime(2021, 1, 17, 20, 34, 0, 123_000, tzinfo=UTC).timestamp() * 1000)

    assert jira_time(moment, zone("UTC")) == "2021-01-17T20:34:00.123+0000"
    assert jira_time(moment, zone("America/Los_Angeles")) == "2021-01-17T12:34:00.123-0800"
    assert parse_jira_time("2021-01-17T12:34:00.123-0800") == moment
    assert parse_jira_time("2021-01-17T20:34:00.123Z") == moment
    with pytest.raises(ValueError, match="yesterday"):
        parse_jira_time("yesterday")


def test_durations_use_five_day_weeks_and_eight_hour_days() -> None:
    assert format_duration(3600 * 8 * 5 + 3600 * 8 + 1800) == "1w 1d 30m"
    assert parse_duration("3h 20m") == 12_000
    assert parse_duration("90") == 5400
    for bad in ("", "0m", "3x", "h3"):
        with pytest.raises(ValueError, match=f"^{re.escape(bad)}$"):
            parse_duration(bad)


def test_adf_round_trips_plain_text_and_rejects_non_documents() -> None:
    document = adf_from_text("first line\nsecond line")

    assert is_adf(document)
    assert adf_to_text(document) == "first line\nsecond line"
    assert not is_adf("plain text")
    assert not is_adf({"type": "doc", "version": 2, "content": []})
    assert not is_adf({"type": "doc", "version": 1, "content": [{"type": "text"}]})
    mention = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "mention", "attrs": {"text": "@Ada"}}]}],
    }
    assert adf_to_text(mention) == "@Ada"


def test_field_selection_follows_jiras_rules() -> None:
    assert FieldSelection([], "id").ids_only
    assert FieldSelection(["key"], "id").id_or_key_only
    assert not FieldSelection(["key"], "id").ids_only
    navigable = FieldSelection(["*navigable"], "id").fields
    assert "summary" in navigable
    assert "comment" not in navigable
    everything = FieldSelection(["*all,-comment", "worklog"], "id")
    assert "comment" not in everything.fields
    assert everything.heavy
    assert FieldSelection(["summary", "status,unknownfield"], "id").fields == ["summary", "status"]
