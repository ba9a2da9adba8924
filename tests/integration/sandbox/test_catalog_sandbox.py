"""Fidelity of the catalogs trackbridge syncs as ``sprints`` and ``users``, driven by the clients people
script the trackers with: ``jira`` for Jira Software's agile API (boards, sprints, moving issues, deleting a
sprint), PyGithub for a repository's assignees, python-gitlab for a project's members. Where a client and
the sandbox disagree, the sandbox is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator

import github as pygithub
import gitlab as pygitlab
import httpx
import pytest
from jira import JIRA, JIRAError

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.jira import JiraSandbox
from infra.local.trackers.jira._state import SPRINT_FIELD

pytestmark = pytest.mark.integration


@pytest.fixture
def client(jira: JiraSandbox) -> Iterator[JIRA]:
    connected = JIRA(
        server=jira.url,
        basic_auth=(jira.email, jira.token),
        options={"rest_api_version": "3", "check_update": False, "agile_rest_api_version": "1.0"},
        max_retries=0,
        timeout=60,
    )
    try:
        yield connected
    finally:
        connected.close()


def test_jira_boards_and_sprints_page_as_the_client_expects(jira: JiraSandbox, client: JIRA) -> None:
    # Given the seeded scrum board of ACME and its sprints
    [board] = client.boards(projectKeyOrID="ACME")
    # When the client lists every sprint of the board (it pages by startAt until isLast)
    sprints = client.sprints(board.id, maxResults=False)
    # Then it reads every sprint of the board, in Jira's order (closed, active, future)
    assert [s.id for s in sprints] == sorted(jira.state.sprints, key=lambda i: jira.state.sprints[i].id)
    assert {s.state.lower() for s in sprints} <= {"closed", "active", "future"}
    assert {s.originBoardId for s in sprints} == {board.id}
    # And a state filter keeps that state only
    assert all(s.state == "closed" for s in client.sprints(board.id, state="closed"))
    # And a page of 2 says whether it is the last (startAt/maxResults/isLast)
    with httpx.Client(base_url=jira.url, auth=(jira.email, jira.token), timeout=60, trust_env=False) as http:
        first = http.get(f"/rest/agile/1.0/board/{board.id}/sprint", params={"maxResults": 2}).json()
        last = http.get(
            f"/rest/agile/1.0/board/{board.id}/sprint", params={"maxResults": 2, "startAt": len(sprints) - 1}
        ).json()
    assert (len(first["values"]), first["isLast"]) == (2, len(sprints) <= 2)
    assert (len(last["values"]), last["isLast"]) == (1, True)


def test_jira_sprint_lifecycle_through_the_agile_api(jira: JiraSandbox, client: JIRA) -> None:
    [board] = client.boards(projectKeyOrID="ACME")
    # When a sprint is created, filled with two issues and started
    sprint = client.create_sprint("Catalog sprint", board.id, goal="ship it")
    assert sprint.state.lower() == "future"
    keys = [issue.key for issue in client.search_issues("project = ACME ORDER BY key ASC", maxResults=2)]
    client.add_issues_to_sprint(sprint.id, keys)
    # Then the issues' sprint field (customfield_10020) names it, and the sprint lists them
    fields = client.issue(keys[0], fields=SPRINT_FIELD).raw["fields"]
    assert [s["id"] for s in fields[SPRINT_FIELD]] == [sprint.id]
    in_sprint = client.search_issues(f"sprint = {sprint.id} ORDER BY key ASC")
    assert [i.key for i in in_sprint] == keys
    # And starting without dates is refused with Jira's 400
    with pytest.raises(JIRAError) as refused:
        client.update_sprint(sprint.id, state="active")
    assert refused.value.status_code == 400
    # When the sprint is deleted, its open issues go back to the backlog and the sprint is a 404
    client.sprint(sprint.id).delete()
    with pytest.raises(JIRAError) as gone:
        client.sprint(sprint.id)
    assert gone.value.status_code == 404
    assert client.issue(keys[0], fields=SPRINT_FIELD).raw["fields"][SPRINT_FIELD] is None


def test_jira_refuses_what_the_agile_api_refuses(jira: JiraSandbox) -> None:
    with httpx.Client(base_url=jira.url, auth=(jira.email, jira.token), timeout=60, trust_env=False) as http:
        assert (
            http.post("/rest/agile/1.0/sprint", json={"name": "x", "originBoardId": 1, "bad": 1}).status_code
            == 400
        )
        assert http.post("/rest/agile/1.0/sprint", json={"originBoardId": 1}).status_code == 400
        assert (
            http.post("/rest/agile/1.0/sprint", json={"name": "x", "originBoardId": 999}).status_code == 404
        )
        closed = next(s.id for s in jira.state.sprints.values() if s.state == "closed")
        moved = http.post(f"/rest/agile/1.0/sprint/{closed}/issue", json={"issues": ["ACME-1"]})
        assert moved.status_code == 400
        assert http.post(f"/rest/agile/1.0/sprint/{closed}", json={"name": "renamed"}).status_code == 400


def test_jira_assignable_users_mark_a_deactivated_person(jira: JiraSandbox) -> None:
    with httpx.Client(base_url=jira.url, auth=(jira.email, jira.token), timeout=60, trust_env=False) as http:

        def assignable() -> dict[str, dict[str, object]]:
            answer = http.get(
                "/rest/api/3/user/assignable/search", params={"project": "ACME", "maxResults": 1000}
            )
            assert answer.status_code == 200
            return {u["accountId"]: u for u in answer.json()}  # a bare array, as Jira Cloud answers

        someone = sorted(assignable())[1]
        jira.mutate("deactivate_user", account_id=someone)
        again = assignable()
        assert someone not in again or again[someone]["active"] is False


def test_github_assignees_follow_the_collaborators(github: GitHubSandbox) -> None:
    gh = pygithub.Github(base_url=github.url, auth=pygithub.Auth.Token(github.token), retry=None, per_page=2)
    try:
        repo = gh.get_repo(github.state.full_name)
        before = [u.login for u in repo.get_assignees()]
        assert len(before) > 2  # several pages of 2 (Link header pagination)
        github.mutate("add_user", login="newcomer", name="New Comer")
        github.mutate("remove_user", login=before[0])
        after = [u.login for u in repo.get_assignees()]
        assert "newcomer" in after
        assert before[0] not in after
        assert repo.has_in_assignees("newcomer")
    finally:
        gh.close()


def test_gitlab_members_follow_the_project(gitlab: GitLabSandbox) -> None:
    gl = pygitlab.Gitlab(gitlab.url, private_token=gitlab.token, per_page=2)
    try:
        project = gl.projects.get("acme/widgets")
        before = [m.username for m in project.members_all.list(get_all=True)]
        assert len(before) > 2
        gitlab.mutate("add_user", username="newcomer", name="New Comer")
        gitlab.mutate("remove_user", username=before[-1])
        after = {m.username: m for m in project.members_all.list(get_all=True)}
        assert "newcomer" in after
        assert after["newcomer"].state == "active"
        assert before[-1] not in after
    finally:
        gl.session.close()
