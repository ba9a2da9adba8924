"""A JUnit upload against issues synced from the Jira and GitHub sandboxes: tests link to the synced issues
their names carry, coverage names the other open issues, and an issue closed at the tracker (and synced
again) shows up under ``tests_on_closed_issues``.

Connections are created through the API; syncs run in-process through the sync test driver (the real
engine and adapters, talking HTTP to the sandboxes on loopback). The upload itself calls no tracker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.integration.api.test_test_runs_api import upload
from tests.integration.sync.support import build_harness
from tests.support.sandboxes import egress_allowed
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.runtime import container

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("test-runs-sandbox")]

SUITE = "web-unit"


@pytest.fixture(scope="module")
def sandboxes(local_resources: Any) -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in ("github", "jira"):
            started[name] = SANDBOXES[name](seed="junit", issues=3, comments_per_issue=0).start()
        urls = [url for sandbox in started.values() for url in sandbox.urls()]
        with egress_allowed(*urls):
            yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


def _sync(tenant: str, connection_id: str, mode: str) -> None:
    harness = build_harness(container.table(), container.connection_secrets())
    op = harness.service.start(tenant, connection_id, SyncRequest(mode=mode), triggered_by="tests")  # type: ignore[arg-type]
    harness.drain(pages_per_slice=5)
    final = harness.service.get(tenant, op.id)
    assert final.status == "Completed", (final.results.errors, harness.outcomes)


def _synced(api: ApiClient, connection_id: str) -> list[dict[str, Any]]:
    answer = api.call("GET", "/v1/issues", query={"connection": connection_id, "limit": "100"})
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


def test_upload_links_synced_sandbox_issues_and_coverage_follows_the_tracker(
    api: ApiClient, shared_dir: Path, tenant: str, sandboxes: dict[str, SandboxTracker[Any]]
) -> None:
    # Given: a GitHub and a Jira connection, each synced from its sandbox
    ids: dict[str, str] = {}
    for kind, sandbox in sandboxes.items():
        sandbox.reset()
        answer = api.call("POST", "/v1/connections", body=sandbox.connection_request(name=f"{kind}-junit"))
        assert answer.status == 201, answer.body
        ids[kind] = answer.body["id"]
        _sync(tenant, ids[kind], "full")
    jira = sorted(
        (i for i in _synced(api, ids["jira"]) if i["status_category"] != "done"), key=lambda i: i["ref"]
    )
    github = sorted(
        (i for i in _synced(api, ids["github"]) if i["status_category"] != "done"), key=lambda i: i["ref"]
    )
    assert len(jira) >= 2, jira
    assert github, github
    jira_key, number = jira[0]["key"], github[0]["key"].lstrip("#")
    missing = f"{jira_key.rsplit('-', 1)[0]}-9999"
    underscored = jira_key.replace("-", "_")  # test_OPS_1_totals names OPS-1
    report = (
        '<testsuites name="pytest tests"><testsuite name="pytest">'
        f'<testcase classname="tests.test_checkout" name="test_{underscored}_totals" time="0.1"/>'
        f'<testcase classname="tests.test_checkout" name="test_cart[#{number}]" time="0.1">'
        '<failure message="assert 1 == 2"/></testcase>'
        '<testcase classname="tests.test_checkout" name="test_refund" time="0.1">'
        f'<properties><property name="issues" value="{missing}"/></properties></testcase>'
        "</testsuite></testsuites>"
    )

    # When: a report naming one issue of each is uploaded
    run = upload(api, shared_dir, report, commit=uuid.uuid4().hex[:12], connection=ids["github"])

    # Then: both are linked, the key of no synced issue is unresolved
    assert run.status == 201, run.body
    assert run.body["links_created"] == 2
    assert run.body["unresolved_keys"] == [{"key": missing, "reason": "not synced", "tests": 1}]
    for issue in (jira[0], github[0]):
        links = api.call("GET", "/v1/links", query={"issue": issue["ref"]}).body["items"]
        assert [(x["object"]["kind"], x["type"]) for x in links] == [("test_case", "auto_detected")]

    # And: coverage names the open issues no test covers, and the failing test
    coverage = api.call("GET", "/v1/coverage", query={"suite": SUITE}).body
    gaps = {i["ref"] for i in coverage["issues_without_tests"]}
    assert jira[0]["ref"] not in gaps
    assert github[0]["ref"] not in gaps
    assert {i["ref"] for i in jira[1:]} | {i["ref"] for i in github[1:]} <= gaps
    assert [t["name"] for t in coverage["failing_tests"]] == [f"test_cart[#{number}]"]
    assert coverage["tests_on_closed_issues"] == []

    # When: the Jira issue is closed at the tracker and synced again
    sandboxes["jira"].close_issue(jira[0]["ref"].split(".", 1)[1])
    _sync(tenant, ids["jira"], "incremental")

    # Then: its test is listed as a test on a closed issue
    closed = api.call("GET", "/v1/coverage", query={"suite": SUITE}).body["tests_on_closed_issues"]
    assert [(t["issue_ref"], t["key"]) for t in closed] == [(jira[0]["ref"], jira_key)]
