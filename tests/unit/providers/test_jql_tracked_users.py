"""Tracked users' JQL (``providers.jql.involving``), as the builder renders it and as the sandbox reads it.

The sandbox's JQL engine must read exactly what the builder writes: ``worklogAuthor`` and ``IN (...)``
lists of quoted account ids, so a query built here is checked there against a seeded site.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from infra.local.trackers.jira._jql import Context, JqlError, compile_query, parse
from infra.local.trackers.jira._render import zone
from infra.local.trackers.jira._state import PROJECT_KEY, JiraState, seed_state
from trackbridge.domain.tracked_users import MAX_TRACKED_USERS, TrackedUsers, added_users
from trackbridge.providers.jql import Jql, RawJql, asc, involving
from trackbridge.providers.jql import JqlError as BuilderError

NOW_MS = int(datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def state() -> JiraState:
    return seed_state(
        random.Random("tracked"),
        seed="tracked",
        issues=40,
        comments_per_issue=0,
        closed_ratio=0.3,
        worklogs_per_issue=2,
        users=4,
        sprints=1,
    )


def _matches(state: JiraState, jql: str) -> set[int]:
    compiled = compile_query(parse(jql), Context(state, state.api_user, zone("UTC"), NOW_MS))
    return {issue.id for issue in state.live_issues() if compiled.matches(issue)}


def test_involving_renders_three_quoted_lists_in_the_given_order() -> None:
    # Given: two account ids, one named twice
    # When: the condition is built and ANDed with a project scope
    query = Jql.project("ABC").and_(involving(["712020:b", "5b10", "712020:b"])).order_by(asc("key"))

    # Then: one OR of three IN lists, parenthesised under the AND, each id once, quoted
    assert str(query) == (
        'project = "ABC" AND (assignee IN ("712020:b", "5b10") OR reporter IN ("712020:b", "5b10") '
        'OR worklogAuthor IN ("712020:b", "5b10")) ORDER BY key ASC'
    )


def test_involving_quotes_what_would_break_out_and_refuses_nobody() -> None:
    # Given: an id that tries to close the list, and an empty list
    hostile = involving(['x") OR project = "SECRET'])

    # Then: the hostile id stays one string literal; nobody is refused rather than meaning everybody
    assert str(hostile).startswith('assignee IN ("x\\") OR project = \\"SECRET")')
    with pytest.raises(BuilderError):
        involving([])


def test_involving_combines_with_a_jql_scope_in_parentheses() -> None:
    # Given: a connection scoped by its own JQL with an OR in it
    query = Jql(RawJql("project = A OR project = B") & involving(["u1"]))

    # Then: the user's JQL cannot widen the tracked-users condition
    assert str(query).startswith("(project = A OR project = B) AND (assignee IN")


def test_the_sandbox_reads_the_builders_query_as_jira_would(state: JiraState) -> None:
    # Given: a person of the seeded site and what the site says they are involved in
    person = next(u for u in state.users if u not in (state.api_user, state.outsider))
    expected = set()
    for issue in state.live_issues():
        authors = {state.worklogs[w].author for w in issue.worklogs}
        if person in (issue.assignee, issue.reporter) or person in authors:
            expected.add(issue.id)
    worklog_only = {
        i.id
        for i in state.live_issues()
        if person not in (i.assignee, i.reporter) and person in {state.worklogs[w].author for w in i.worklogs}
    }

    # When: the builder's query runs in the sandbox
    found = _matches(state, str(Jql.project(PROJECT_KEY).and_(involving([person]))))

    # Then: exactly those issues, the ones found only by their worklogs included
    assert found == expected
    assert worklog_only, "the seed should give some person worklogs on issues they neither own nor reported"
    assert worklog_only <= found
    assert _matches(state, f'worklogAuthor = "{person}"') >= worklog_only


def test_the_sandbox_refuses_unknown_accounts_and_empty_checks_on_worklog_author(state: JiraState) -> None:
    # Then: as Jira, an unknown account id is a 400 and worklogAuthor has no EMPTY
    for jql in ('worklogAuthor in ("nobody-here")', "worklogAuthor is EMPTY"):
        with pytest.raises(JqlError):
            compile_query(parse(jql), Context(state, state.api_user, zone("UTC"), NOW_MS))


@pytest.mark.parametrize(
    "users",
    [
        [f"5b10ac8d82e05b22cc7d{n:04d}" for n in range(MAX_TRACKED_USERS + 1)],
        ['a" OR project = X'],
        ["with space"],
        [""],
        ["a" * 129],
    ],
    ids=["too-many", "quote", "space", "empty", "too-long"],
)
def test_a_list_that_is_not_jira_account_ids_is_refused(users: list[str]) -> None:
    with pytest.raises(ValidationError):
        TrackedUsers(users=users)


def test_added_users_are_the_new_ones_in_the_new_order() -> None:
    assert TrackedUsers(users=["b", "a", "b"]).unique() == ["b", "a"]
    assert added_users(["a", "b"], ["c", "b", "d"]) == ["c", "d"]
    assert added_users(["a", "b"], ["b"]) == []
