"""GitLab issue types and issue links in the sandbox, and the adapter reading the type, over loopback HTTP.

Seeded: every tenth issue (iid 10, 20, ...) an incident and iid 5, 15, ... a task; #3 relates to #2 and #4
blocks #5.
"""

from __future__ import annotations

import httpx
import pytest

from infra.local.trackers.gitlab import GitLabSandbox
from tests.integration.providers.conftest import RecordedSleeps, build_adapter
from trackbridge.providers.gitlab import GitLabAdapter

pytestmark = pytest.mark.integration

PROJECT = "/projects/4242"


def test_issues_carry_their_type_and_a_put_changes_it(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client
) -> None:
    listed = {iid: gitlab_http.get(f"{PROJECT}/issues/{iid}").json() for iid in (1, 5, 10)}
    assert (listed[10]["issue_type"], listed[10]["type"]) == ("incident", "INCIDENT")
    assert (listed[5]["issue_type"], listed[1]["issue_type"]) == ("task", "issue")
    changed = gitlab_http.put(f"{PROJECT}/issues/1", json={"issue_type": "incident"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["issue_type"], changed.json()["type"]) == ("incident", "INCIDENT")
    refused = gitlab_http.put(f"{PROJECT}/issues/1", json={"issue_type": "epic"})
    assert refused.status_code == 400
    assert gitlab_http.get(f"{PROJECT}/issues/1").json()["issue_type"] == "incident"  # nothing stored
    created = gitlab_http.post(f"{PROJECT}/issues", json={"title": "pager", "issue_type": "incident"})
    assert created.status_code == 201, created.text
    assert created.json()["issue_type"] == "incident"


def test_links_read_from_each_end_and_refuse_duplicates(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client
) -> None:
    [blocker] = gitlab_http.get(f"{PROJECT}/issues/5/links").json()
    assert (blocker["iid"], blocker["link_type"]) == (4, "is_blocked_by")
    assert {"issue_link_id", "link_created_at", "link_updated_at", "title", "state"} <= set(blocker)
    [blocked] = gitlab_http.get(f"{PROJECT}/issues/4/links").json()
    assert (blocked["iid"], blocked["link_type"]) == (5, "blocks")

    link = {"target_project_id": "4242", "target_issue_iid": 8, "link_type": "is_blocked_by"}
    created = gitlab_http.post(f"{PROJECT}/issues/6/links", json=link)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["source_issue"]["iid"], body["target_issue"]["iid"], body["link_type"]) == (
        6,
        8,
        "is_blocked_by",
    )
    assert [(i["iid"], i["link_type"]) for i in gitlab_http.get(f"{PROJECT}/issues/8/links").json()] == [
        (6, "blocks")
    ]
    # The same pair again, from either end: 409; an issue linked to itself: 400; an unknown type: 400.
    assert (
        gitlab_http.post(f"{PROJECT}/issues/8/links", json={**link, "target_issue_iid": 6}).status_code == 409
    )
    assert (
        gitlab_http.post(f"{PROJECT}/issues/6/links", json={**link, "target_issue_iid": 6}).status_code == 400
    )
    assert (
        gitlab_http.post(f"{PROJECT}/issues/6/links", json={**link, "link_type": "duplicates"}).status_code
        == 400
    )
    assert gitlab_http.post(f"{PROJECT}/issues/6/links", json={"target_issue_iid": 8}).status_code == 400

    [listed] = [i for i in gitlab_http.get(f"{PROJECT}/issues/6/links").json() if i["iid"] == 8]
    removed = gitlab_http.delete(f"{PROJECT}/issues/6/links/{listed['issue_link_id']}")
    assert removed.status_code == 200, removed.text
    assert gitlab_http.get(f"{PROJECT}/issues/8/links").json() == []
    assert gitlab_http.delete(f"{PROJECT}/issues/6/links/{listed['issue_link_id']}").status_code == 404


def test_the_adapter_reads_the_issue_type(gitlab: GitLabSandbox) -> None:
    adapter = build_adapter("gitlab", gitlab.describe(), timeout=httpx.Timeout(60.0), sleep=RecordedSleeps())
    assert isinstance(adapter, GitLabAdapter)
    with adapter:
        first = next(iter(adapter.iter_issue_pages()))
        incident = adapter.get_issue("#10")
    # A plain issue is no type (null); incident, test_case and task are kept.
    seeded = {f"#{i.iid}": i.issue_type for i in gitlab.state.issues if i is not None}
    seeded = {key: None if kind == "issue" else kind for key, kind in seeded.items()}
    assert first.items
    assert {i.key: i.issue_type for i in first.items} == {i.key: seeded[i.key] for i in first.items}
    assert {i.issue_type for i in first.items} == {None, "incident", "task"}
    assert incident.issue_type == "incident"
