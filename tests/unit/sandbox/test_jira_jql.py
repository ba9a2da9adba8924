"""The Jira sandbox's JQL subset: what it understands, how it evaluates, and Jira's 400 texts for the rest."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from infra.local.trackers.jira._jql import (
    Context,
    JqlError,
    check_webhook_filter,
    compile_query,
    parse,
    period_ms,
)
from infra.local.trackers.jira._render import zone
from infra.local.trackers.jira._state import (
    DONE,
    IN_PROGRESS,
    TO_DO,
    Issue,
    JiraState,
    seed_state,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture(scope="module")
def state() -> JiraState:
    return seed_state(
        random.Random("jql"),
        seed="jql",
        issues=40,
        comments_per_issue=2,
        closed_ratio=0.3,
        worklogs_per_issue=0,
        users=4,
        sprints=3,
    )


def context(state: JiraState, account: str | None = None, tz: str = "America/Los_Angeles") -> Context:
    return Context(state, account or state.api_user, zone(tz), NOW_MS)


def search(state: JiraState, jql: str, **kwargs: object) -> list[str]:
    """Keys matching ``jql`` in its order, as the search endpoint computes them."""
    compiled = compile_query(parse(jql), context(state, **kwargs))  # type: ignore[arg-type]
    found = sorted((i for i in state.live_issues() if compiled.matches(i)), key=compiled.sort_key)
    return [state.key(issue) for issue in found]


def error_of(state: JiraState, jql: str) -> list[str]:
    with pytest.raises(JqlError) as caught:
        compile_query(parse(jql), context(state))
    return caught.value.messages


# ------------------------------------------------------------------------------------------- syntax


Q = "Error in the JQL Query: "
OPERATORS = "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        (
            "project ACME",
            f"{Q}Expecting operator but got 'ACME'. The valid operators are {OPERATORS}. "
            "(line 1, character 9)",
        ),
        (
            "project = OR",
            f"{Q}Expecting either a value, list or function but got 'OR'. You must surround 'OR' in "
            "quotation marks to use it as a value. (line 1, character 11)",
        ),
        (
            "project = SET",
            f"{Q}'SET' is a reserved JQL word. You must surround it in quotation marks to use it in a query. "
            "(line 1, character 11)",
        ),
        (
            "summary ~ a@b",
            f"{Q}The character '@' is a reserved JQL character. You must enclose it in a string or use the "
            "escape '\\u0040' instead. (line 1, character 12)",
        ),
        ('summary ~ "open', f"{Q}The quoted string 'open' has not been completed. (line 1, character 11)"),
        ("(project = ACME", f"{Q}Expecting ')' before the end of the query."),
        (
            "project = ACME status = X",
            f"{Q}Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 16)",
        ),
        ("status WAS Done", f"{Q}The sandbox does not support the 'WAS' operator. (line 1, character 8)"),
        ("project = ACME ORDER key", f"{Q}Expecting 'BY' but got 'key'. (line 1, character 22)"),
    ],
)
def test_syntax_errors_carry_jiras_text_and_position(state: JiraState, jql: str, message: str) -> None:
    assert error_of(state, jql) == [message]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("foo = 1", "Field 'foo' does not exist or you do not have permission to view it."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("status = Closed", "The value 'Closed' does not exist for the field 'status'."),
        ("assignee = someone", "The value 'someone' does not exist for the field 'assignee'."),
        ("key = ACME-999", "An issue with key 'ACME-999' does not exist for field 'key'."),
        ("status ~ Done", "The operator '~' is not supported by the 'status' field."),
        ("assignee = membersOf(x)", "Unable to find JQL function 'membersOf(x)'."),
        ("project = ACME ORDER BY labels", "Not able to sort using field 'labels'."),
        (
            "project = ACME ORDER BY key, KEY",
            "The sort field 'KEY' is referenced multiple times in the JQL sort.",
        ),
    ],
)
def test_semantic_errors_name_the_problem(state: JiraState, jql: str, message: str) -> None:
    assert error_of(state, jql) == [message]


def test_every_semantic_problem_is_reported_at_once(state: JiraState) -> None:
    messages = error_of(state, "project = NOPE AND status = Closed")

    assert len(messages) == 2


def test_bad_date_lists_the_formats_jira_accepts(state: JiraState) -> None:
    (message,) = error_of(state, 'updated > "31/01/2025"')

    assert message.startswith(
        "Date value '31/01/2025' for field 'updated' is invalid. Valid formats include:"
    )
    assert "'yyyy/MM/dd HH:mm'" in message


def test_order_by_takes_at_most_seven_fields(state: JiraState) -> None:
    jql = "project = ACME ORDER BY key, created, updated, status, priority, assignee, reporter, summary"

    assert error_of(state, jql) == [
        "Error in the JQL Query: The ORDER BY clause can't contain more than 7 fields."
    ]


def test_query_without_a_condition_is_unbounded(state: JiraState) -> None:
    assert not compile_query(parse("ORDER BY key DESC"), context(state)).bounded
    assert compile_query(parse("assignee = currentUser() ORDER BY key"), context(state)).bounded


# --------------------------------------------------------------------------------------- evaluation


def test_keys_are_case_insensitive_and_in_takes_lists(state: JiraState) -> None:
    assert search(state, "key in (acme-3, ACME-1) ORDER BY key") == ["ACME-1", "ACME-3"]
    assert search(state, "issuekey >= ACME-38 ORDER BY key") == ["ACME-38", "ACME-39", "ACME-40"]


def test_and_binds_tighter_than_or_and_not_negates(state: JiraState) -> None:
    everything = set(search(state, "project = ACME"))
    done = set(search(state, "project = ACME AND statusCategory = Done"))

    assert set(search(state, "key = ACME-1 OR project = ACME AND statusCategory = Done")) == done | {"ACME-1"}
    assert set(search(state, "project = ACME AND NOT statusCategory = Done")) == everything - done
    assert set(search(state, "project = ACME && !(statusCategory = done)")) == everything - done


def test_status_category_by_name_key_or_id(state: JiraState) -> None:
    by_name = search(state, 'statusCategory = "In Progress"')

    assert by_name == search(state, "statusCategory = indeterminate") == search(state, "statusCategory = 4")
    assert set(by_name) == {state.key(i) for i in state.live_issues() if i.status_id == IN_PROGRESS}


def test_not_equals_never_matches_an_empty_field(state: JiraState) -> None:
    someone = next(i.assignee for i in state.live_issues() if i.assignee)
    unassigned = {state.key(i) for i in state.live_issues() if i.assignee is None}
    assert unassigned, "the seed must leave some issues unassigned"

    not_someone = set(search(state, f'assignee != "{someone}"'))

    assert not_someone.isdisjoint(unassigned)
    assert set(search(state, f'assignee != "{someone}" OR assignee IS EMPTY')) >= unassigned
    assert set(search(state, "assignee is EMPTY")) == unassigned
    assert set(search(state, "assignee in (EMPTY)")) == unassigned


def test_current_user_is_the_searching_account(state: JiraState) -> None:
    mine = {state.key(i) for i in state.live_issues() if i.assignee == state.api_user}

    assert set(search(state, "assignee = currentUser()")) == mine


def test_labels_match_any_label_case_insensitively(state: JiraState) -> None:
    labelled = {state.key(i) for i in state.live_issues() if "backend" in i.labels}

    assert set(search(state, "labels = BACKEND")) == labelled
    assert set(search(state, "labels is not empty")) == {
        state.key(i) for i in state.live_issues() if i.labels
    }


def test_text_search_matches_words_and_wildcards(state: JiraState) -> None:
    target = state.issues[4]
    assert target is not None
    target.summary = "Crash in the zylophone module"

    assert search(state, 'summary ~ "zylophone crash"') == ["ACME-5"]
    assert search(state, 'summary ~ "zylo*"') == ["ACME-5"]
    assert search(state, 'summary ~ "zylo"') == []
    assert "ACME-5" not in search(state, 'project = ACME AND summary !~ "zylophone"')


def test_open_sprints_and_sprint_ids(state: JiraState) -> None:
    active = {s.id for s in state.sprints.values() if s.state == "active"}
    in_active = {state.key(i) for i in state.live_issues() if i.sprint_id in active}

    assert set(search(state, "sprint in openSprints()")) == in_active
    first = next(iter(active))
    assert set(search(state, f"sprint = {first}")) == {
        state.key(i) for i in state.live_issues() if i.sprint_id == first
    }


# ------------------------------------------------------------------------------------------- dates


def _issue_at(state: JiraState, index: int, updated: datetime) -> Issue:
    issue = state.issues[index]
    assert issue is not None
    issue.updated = int(updated.timestamp() * 1000)
    return issue


def test_bare_date_strings_are_read_in_the_users_time_zone(state: JiraState) -> None:
    # 10:30 UTC on 31 Jan is 02:30 in Los Angeles: "after 2025/01/31 09:00" (LA time) must not match it.
    _issue_at(state, 0, datetime(2025, 1, 31, 10, 30, tzinfo=UTC))

    assert "ACME-1" not in search(state, 'key = ACME-1 AND updated >= "2025/01/31 09:00"')
    assert "ACME-1" in search(state, 'key = ACME-1 AND updated >= "2025/01/31 09:00"', tz="UTC")
    assert "ACME-1" in search(state, 'key = ACME-1 AND updated >= "2025-01-31 02:30"')
    assert "ACME-1" in search(state, 'key = ACME-1 AND updated >= "2025-01-31"')


def test_epoch_milliseconds_are_utc_and_floored_to_the_minute(state: JiraState) -> None:
    moment = datetime(2025, 1, 31, 10, 30, 40, tzinfo=UTC)
    _issue_at(state, 1, moment)
    later_in_the_same_minute = int(moment.timestamp() * 1000) + 15_000

    assert search(state, f"key = ACME-2 AND updated >= {later_in_the_same_minute}") == ["ACME-2"]
    assert search(state, f"key = ACME-2 AND updated >= {later_in_the_same_minute + 60_000}") == []


def test_relative_periods_count_back_from_now(state: JiraState) -> None:
    _issue_at(state, 2, datetime(2025, 5, 29, 12, 0, tzinfo=UTC))  # three days before NOW

    assert search(state, "key = ACME-3 AND updated >= -5d") == ["ACME-3"]
    assert search(state, "key = ACME-3 AND updated >= -2d") == []
    assert search(state, 'key = ACME-3 AND updated >= "-4d 2h"') == ["ACME-3"]
    assert period_ms("-30") == -30 * 60_000  # no unit means minutes
    assert period_ms("1w 2d") == 9 * 86_400_000


def test_date_functions_use_the_users_day(state: JiraState) -> None:
    # NOW is 05:00 in Los Angeles; the user's day began at 07:00 UTC.
    _issue_at(state, 3, datetime(2025, 6, 1, 6, 0, tzinfo=UTC))

    assert search(state, "key = ACME-4 AND updated >= startOfDay()") == []
    assert search(state, "key = ACME-4 AND updated >= startOfDay()", tz="UTC") == ["ACME-4"]
    assert search(state, 'key = ACME-4 AND updated >= startOfDay("-1")') == ["ACME-4"]
    assert search(state, "key = ACME-4 AND updated <= now()") == ["ACME-4"]


# ------------------------------------------------------------------------------------------- order


def test_order_by_several_fields_with_direction(state: JiraState) -> None:
    found = search(state, "project = ACME ORDER BY status DESC, key ASC")
    order = {TO_DO: 0, IN_PROGRESS: 1, DONE: 2}
    by_key = {state.key(i): i for i in state.live_issues()}

    statuses = [order[by_key[key].status_id] for key in found]
    assert statuses == sorted(statuses, reverse=True)
    for status in order.values():
        keys = [key for key in found if order[by_key[key].status_id] == status]
        assert keys == sorted(keys, key=lambda k: int(k.split("-")[1]))


def test_empty_values_sort_last_ascending_and_first_descending(state: JiraState) -> None:
    ascending = search(state, "project = ACME ORDER BY assignee ASC")
    descending = search(state, "project = ACME ORDER BY assignee DESC")
    by_key = {state.key(i): i for i in state.live_issues()}

    assert by_key[ascending[-1]].assignee is None
    assert by_key[descending[0]].assignee is None


def test_default_order_is_key_descending(state: JiraState) -> None:
    found = search(state, "project = ACME")

    assert found[:2] == ["ACME-40", "ACME-39"]


def test_sort_keys_survive_a_json_round_trip(state: JiraState) -> None:
    compiled = compile_query(parse("project = ACME ORDER BY assignee DESC, updated"), context(state))
    issue = state.issues[7]
    assert issue is not None

    raw = compiled.raw_key(issue)

    assert compiled.comparable(list(raw)) == compiled.sort_key(issue)


# ------------------------------------------------------------------------------------ webhook filters


def test_webhook_filters_allow_only_jiras_subset() -> None:
    assert check_webhook_filter("project = ACME AND status IN (Done, 'To Do')") == []
    assert check_webhook_filter("summary ~ crash") == ["The clause summary is unsupported"]
    assert check_webhook_filter("status >= Done") == ["The operator >= is unsupported"]
    assert check_webhook_filter("project = ACME ORDER BY key") == [
        "The JQL filter must not contain ORDER BY."
    ]


def test_random_queries_never_crash_the_parser_or_the_filter(state: JiraState) -> None:
    """Whatever a client sends, the answer is a result or a ``JqlError`` (a 400), never another exception."""
    rng = random.Random(20_250_101)
    words = [
        *("project", "=", "ACME", "AND", "OR", "NOT", "(", ")", "key", "in", "status", "'Done'", '"x', "~"),
        *("!=", "updated", ">=", "-5d", "1700000000000", "ORDER", "BY", "DESC", ",", "is", "EMPTY", "foo("),
        *("currentUser()", "@", "cf[10020]", "sprint", "openSprints()", "labels", "!", "&&", "||", "\\", "'"),
        *('startOfDay("-1")', "assignee", "NULL", "text", "summary", "resolved", "2025/01/01", "WAS", "rank"),
    ]
    issues = state.live_issues()
    outcomes = {"ok": 0, "error": 0, "empty_messages": 0}
    for _ in range(3000):
        if rng.random() < 0.2:
            jql = "".join(rng.choice("ab =()'\"!~<>,@[]\\-09") for _ in range(rng.randint(0, 15)))
        else:
            jql = " ".join(rng.choice(words) for _ in range(rng.randint(0, 9)))
        try:
            compiled = compile_query(parse(jql), context(state))
            for issue in issues:
                compiled.matches(issue)
                compiled.sort_key(issue)
        except JqlError as exc:
            outcomes["error"] += 1
            outcomes["empty_messages"] += not exc.messages
        else:
            outcomes["ok"] += 1

    assert outcomes["empty_messages"] == 0
    assert outcomes["ok"] > 100  # the generator reaches valid queries too, not only errors
