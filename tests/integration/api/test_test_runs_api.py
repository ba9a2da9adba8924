"""JUnit uploads, runs, flaky detection and coverage on moto through ``functions.api.handler``, with real API
keys, the real authorizer and the event intake's real queue.

Issues are put into the synced copy as a sync stores them (``test_links_api.py`` does the same): an upload
resolves keys against synced issues only and never calls a tracker. Every refused upload is checked for its
status and for leaving nothing stored: no run, no case chunk, no latest status, no link.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from functions.api import handler as api_handler
from tests.integration.api.conftest import Answer, ApiClient
from tests.unit.api.support import FakeLambdaContext, rest_event
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.issues import Issue
from trackbridge.domain.junit import MAX_REPORT_BYTES
from trackbridge.runtime import container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.storage.issues import IssueRepository
from trackbridge.storage.keys import tenant_pk
from trackbridge.storage.test_runs import suite_pk

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "junit"
T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
SUITE = "web-unit"
PROJ_12_TEST = "test_case:web-unit/tests.test_checkout/test_PROJ_12_empty_cart_is_refused"
DISCOUNT_TEST = "test_case:web-unit/tests.test_checkout/test_discount_applies"
TOTAL_TEST = "test_case:web-unit/tests.test_checkout/test_total[%2345]"


def upload(
    api: ApiClient,
    shared_dir: Path,
    body: str | bytes,
    *,
    content_type: str = "application/xml",
    **query: str,
) -> Answer:
    """``POST /v1/test-runs`` as ``curl --data-binary`` sends it (API Gateway passes XML on as text)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    event = rest_event(
        shared_dir,
        "POST",
        "/v1/test-runs",
        body=text,
        query={"suite": SUITE, **query} if "suite" not in query else query,
        headers={"Content-Type": content_type},
        tenant=None,
        authorizer=api.authorize(),
        request_id=f"req-{uuid.uuid4().hex[:8]}",
    )
    raw = api_handler(event, FakeLambdaContext())
    return Answer(raw["statusCode"], json.loads(raw["body"]) if raw.get("body") else None, raw)


def _connection(tenant: str, **fields: Any) -> Connection:
    body = {**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION), **fields}
    return container.connection_repository().create(tenant, Connection.model_validate(body))


def _issue(connection: Connection, native: str, key: str, *, done: bool = False) -> Issue:
    return Issue(
        ref=f"{connection.id}.{native}",
        external_id=connection.external_id(native),
        connection_id=connection.id,
        provider=connection.provider,
        key=key,
        title=f"issue {key}",
        body="body",
        status="Done" if done else "To Do",
        status_category="done" if done else "todo",
        assignees=[],
        labels=[],
        priority=None,
        url=f"https://tracker.example.test/{key}",
        created_at=T0,
        updated_at=T0,
    ).with_hash()


@pytest.fixture
def trackers(api: ApiClient, tenant: str) -> dict[str, Any]:
    """A GitHub connection with #45 and #46 open; a Jira connection (project PROJ) with PROJ-12 and PROJ-13
    open and PROJ-14 done."""
    github = _connection(tenant, name="web")
    jira = _connection(
        tenant, name="ops", provider="jira", base_url="https://acme.atlassian.net", scope={"project": "PROJ"}
    )
    issues = {
        "#45": _issue(github, "45", "#45"),
        "#46": _issue(github, "46", "#46"),
        "PROJ-12": _issue(jira, "10012", "PROJ-12"),
        "PROJ-13": _issue(jira, "10013", "PROJ-13"),
        "PROJ-14": _issue(jira, "10014", "PROJ-14", done=True),
    }
    repository = IssueRepository(container.table())
    for issue in issues.values():
        assert repository.put_if_newer(tenant, issue) == "created"
    return {"github": github, "jira": jira, "issues": issues}


def _stored(tenant: str, suite: str = SUITE) -> list[dict[str, Any]]:
    """Every run item of the tenant and every item of the suite's partition, read straight from the table."""
    table = container.table()
    runs, _ = table.query(partition=tenant_pk(tenant), sk_prefix="TESTRUN#")
    suite_items, _ = table.query(partition=suite_pk(tenant, suite))
    return [*runs, *suite_items]


def _all_cases(api: ApiClient, run_id: str, **query: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(20):
        page = api.call(
            "GET",
            f"/v1/test-runs/{run_id}",
            query={"limit": "2", **query, **({"cursor": cursor} if cursor else {})},
        )
        assert page.status == 200, page.body
        cases += page.body["items"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return cases
    raise AssertionError("the cases never ended")


# ---- an upload links tests, lists its cases, tells auto-issue, and coverage shows the gaps -----------------


def test_pytest_upload_links_tests_to_synced_issues_and_reports_gaps(
    api: ApiClient, shared_dir: Path, tenant: str, trackers: dict[str, Any]
) -> None:
    issues = trackers["issues"]

    # When: the pytest report is uploaded, naming the GitHub connection for bare #N keys
    created = upload(
        api, shared_dir, (FIXTURES / "pytest.xml").read_bytes(), commit="c0ffee1", branch="main",
        connection=trackers["github"].id,
    )  # fmt: skip

    # Then: 201 with the counts, the links made and the key that names no synced issue
    assert created.status == 201, created.body
    run = created.body
    assert run["id"].startswith("run_")
    assert (run["suite"], run["commit"], run["branch"], run["cases"]) == (SUITE, "c0ffee1", "main", 6)
    assert run["counts"] == {"passed": 3, "failed": 1, "error": 1, "skipped": 1, "flaky": 0}
    assert run["links_created"] == 3
    assert run["unresolved_keys"] == [{"key": "PROJ-999", "reason": "not synced", "tests": 1}]
    assert set(run["failing"]) == {
        PROJ_12_TEST,
        "test_case:web-unit/tests.test_refunds/test_refund_rounds_to_cent",
    }

    # And: each test is linked to its issue, auto_detected, from both sides
    by_issue = api.call("GET", "/v1/links", query={"issue": issues["PROJ-12"].ref})
    assert [(x["type"], x["created_by"]) for x in by_issue.body["items"]] == [
        ("auto_detected", f"test_run:{run['id']}")
    ]
    by_object = api.call("GET", "/v1/links", query={"object": TOTAL_TEST})
    assert [x["issue_ref"] for x in by_object.body["items"]] == [issues["#45"].ref]

    # And: the run pages through its cases with sealed cursors, in report order; status filters
    cases = _all_cases(api, run["id"])
    assert [c["name"] for c in cases][:2] == ["test_PROJ_12_empty_cart_is_refused", "test_discount_applies"]
    assert len(cases) == 6
    first = cases[0]
    assert (first["object_key"], first["status"], first["issue_refs"]) == (
        PROJ_12_TEST,
        "failed",
        [issues["PROJ-12"].ref],
    )
    assert [c["name"] for c in _all_cases(api, run["id"], status="error")] == ["test_refund_rounds_to_cent"]

    # And: the failing tests went to auto-issue as one test.failed event, with the built-in template's fields
    (event,) = run["events"]
    assert event["type"] == "test.failed"
    receipt = api.call("GET", f"/v1/events/{event['event_id']}")
    assert receipt.status == 200, receipt.body
    assert receipt.body["type"] == "test.failed"
    assert receipt.body["data"]["run"]["name"] == SUITE
    assert {f["test"] for f in receipt.body["data"]["failures"]} == {
        "tests.test_checkout.test_PROJ_12_empty_cart_is_refused",
        "tests.test_refunds.test_refund_rounds_to_cent",
    }

    # And: the listing shows the run; coverage names the gaps over the suite's scope
    listing = api.call("GET", "/v1/test-runs", query={"suite": SUITE})
    assert [r["id"] for r in listing.body["items"]] == [run["id"]]
    coverage = api.call("GET", "/v1/coverage", query={"suite": SUITE})
    assert coverage.status == 200, coverage.body
    report = coverage.body
    assert set(report["connections"]) == {trackers["github"].id, trackers["jira"].id}
    assert {i["key"] for i in report["issues_without_tests"]} == {"#46", "PROJ-13"}
    assert {t["name"] for t in report["failing_tests"]} == {
        "test_PROJ_12_empty_cart_is_refused",
        "test_refund_rounds_to_cent",
    }
    assert [(t["object_key"], t["key"]) for t in report["tests_on_closed_issues"]] == [
        (DISCOUNT_TEST, "PROJ-14")
    ]
    assert report["counts"]["issues_covered"] == 2  # #45 and PROJ-12: PROJ-14 is closed
    assert report["truncated"] is False

    # When: the same report is uploaded again; Then: nothing is linked twice
    again = upload(api, shared_dir, (FIXTURES / "pytest.xml").read_bytes(), commit="c0ffee1")
    assert again.status == 201, again.body
    assert again.body["links_created"] == 0
    assert len(api.call("GET", "/v1/links", query={"issue": issues["PROJ-12"].ref}).body["items"]) == 1


def test_coverage_narrowed_to_one_connection(
    api: ApiClient, shared_dir: Path, trackers: dict[str, Any]
) -> None:
    assert (
        upload(
            api, shared_dir, (FIXTURES / "jest-junit.xml").read_bytes(), connection=trackers["github"].id
        ).status
        == 201
    )

    report = api.call("GET", "/v1/coverage", query={"suite": SUITE, "connection": trackers["jira"].id}).body

    assert report["connections"] == [trackers["jira"].id]
    assert {i["key"] for i in report["issues_without_tests"]} == {"PROJ-12", "PROJ-13"}
    assert [t["key"] for t in report["tests_on_closed_issues"]] == ["PROJ-14"]  # "applies PROJ-14 discounts"


# ---- flaky ------------------------------------------------------------------------------------------------


def _one_test(outcome: str) -> str:
    failure = '<failure message="timed out"/>' if outcome == "failed" else ""
    return (
        '<testsuites name="pytest tests"><testsuite name="pytest"><testcase classname="tests.test_sync" '
        f'name="test_PROJ_12_retries" time="0.1">{failure}</testcase></testsuite></testsuites>'
    )


def test_failed_then_passed_on_the_same_commit_is_flaky(
    api: ApiClient, shared_dir: Path, trackers: dict[str, Any]
) -> None:
    key = "test_case:web-unit/tests.test_sync/test_PROJ_12_retries"
    failed = upload(api, shared_dir, _one_test("failed"), commit="abc1234")
    assert failed.status == 201, failed.body
    assert (failed.body["counts"]["flaky"], [e["type"] for e in failed.body["events"]]) == (
        0,
        ["test.failed"],
    )

    # When: the same test passes on the same commit
    passed = upload(api, shared_dir, _one_test("passed"), commit="abc1234")

    # Then: it is flaky, listed on the run and sent to auto-issue with the flaky template's fields
    assert passed.status == 201, passed.body
    assert (passed.body["counts"]["flaky"], passed.body["flaky"]) == (1, [key])
    (event,) = passed.body["events"]
    assert (event["type"], event["tests"]) == ("test.flaky", [key])
    receipt = api.call("GET", f"/v1/events/{event['event_id']}").body
    assert {"test", "runs", "failures"} <= set(receipt["data"])
    assert receipt["subject"]["kind"] == "test_case"
    (case,) = _all_cases(api, passed.body["id"])
    assert case["flaky"] == "same_commit"

    # When: it passes again on a new commit; Then: not flaky
    later = upload(api, shared_dir, _one_test("passed"), commit="def5678")
    assert (later.body["counts"]["flaky"], later.body["events"]) == (0, [])


def test_a_rerun_that_passed_is_flaky_within_one_run(api: ApiClient, shared_dir: Path) -> None:
    run = upload(api, shared_dir, (FIXTURES / "surefire.xml").read_bytes(), commit="abc1234")

    assert run.status == 201, run.body
    assert run.body["flaky"] == ["test_case:web-unit/com.acme.checkout.CheckoutTest/appliesDiscount"]
    assert sorted(e["type"] for e in run.body["events"]) == ["test.failed", "test.flaky"]
    assert run.body["unresolved_keys"] == [
        {"key": "OPS-7", "reason": "no Jira connection of that project", "tests": 1}
    ]


# ---- refusals ---------------------------------------------------------------------------------------------

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    '<testsuite name="s"><testcase classname="c" name="&lol3;"/></testsuite>'
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    '<testsuite name="s"><testcase classname="c" name="&x;"/></testsuite>'
)
TOO_BIG = "<testsuite>" + " " * MAX_REPORT_BYTES + "</testsuite>"
GOOD = '<testsuite name="s"><testcase classname="c" name="test_PROJ_12"/></testsuite>'


@pytest.mark.parametrize(
    ("body", "query", "content_type", "status", "code"),
    [
        ("this is not xml", {}, "application/xml", 400, "INVALID_BODY"),
        (BOMB, {}, "application/xml", 400, "INVALID_BODY"),
        (XXE, {}, "text/xml", 400, "INVALID_BODY"),
        ("<html><body/></html>", {}, "application/xml", 400, "INVALID_BODY"),
        (TOO_BIG, {}, "application/xml", 413, "PAYLOAD_TOO_LARGE"),
        (GOOD, {"suite": ""}, "application/xml", 422, None),
        (GOOD, {"suite": "web/unit"}, "application/xml", 422, None),
        (GOOD, {"commit": "a b"}, "application/xml", 422, None),
        (GOOD, {}, "application/json", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (GOOD, {"connection": "conn_abcdefghijklmnopqrst"}, "application/xml", 404, "NOT_FOUND"),
    ],
    ids=["not-xml", "billion-laughs", "xxe", "not-junit", "too-big", "no-suite", "bad-suite", "bad-commit",
         "json", "unknown-connection"],
)  # fmt: skip
def test_bad_uploads_are_refused_and_store_nothing(
    api: ApiClient,
    shared_dir: Path,
    tenant: str,
    trackers: dict[str, Any],
    body: str,
    query: dict[str, str],
    content_type: str,
    status: int,
    code: str | None,
) -> None:
    answer = upload(api, shared_dir, body, content_type=content_type, **query)

    assert answer.status == status, answer.body
    if code:
        assert answer.body["error"]["code"] == code
    assert _stored(tenant) == []
    assert api.call("GET", "/v1/test-runs").body["items"] == []
    assert (
        api.call("GET", "/v1/links", query={"issue": trackers["issues"]["PROJ-12"].ref}).body["items"] == []
    )


def test_a_missing_suite_is_a_422_naming_it(api: ApiClient, shared_dir: Path) -> None:
    event = rest_event(
        shared_dir, "POST", "/v1/test-runs", body=GOOD, query={"commit": "abc"},
        headers={"Content-Type": "application/xml"}, tenant=None, authorizer=api.authorize(),
    )  # fmt: skip
    raw = api_handler(event, FakeLambdaContext())
    assert raw["statusCode"] == 422
    assert "query.suite" in {e["path"] for e in json.loads(raw["body"])["error"]["details"]["errors"]}


def test_another_tenants_run_and_suite_are_not_found(
    api: ApiClient, other_api: ApiClient, shared_dir: Path
) -> None:
    run = upload(api, shared_dir, GOOD).body

    assert other_api.call("GET", f"/v1/test-runs/{run['id']}").status == 404
    assert other_api.call("GET", "/v1/coverage", query={"suite": SUITE}).status == 404
    assert other_api.call("GET", "/v1/test-runs").body["items"] == []
    assert api.call("GET", "/v1/test-runs/run_abcdefghijklmnopqrst").status == 404
    assert api.call("GET", "/v1/test-runs/not-a-run-id").status == 404


def test_a_cursor_of_another_run_is_refused(api: ApiClient, shared_dir: Path) -> None:
    report = (
        "<testsuite>" + "".join(f'<testcase classname="c" name="t{n}"/>' for n in range(3)) + "</testsuite>"
    )
    first, second = (upload(api, shared_dir, report).body["id"] for _ in range(2))
    cursor = api.call("GET", f"/v1/test-runs/{first}", query={"limit": "1"}).body["next_cursor"]

    moved = api.call("GET", f"/v1/test-runs/{second}", query={"limit": "1", "cursor": cursor})

    assert (moved.status, moved.body["error"]["code"]) == (400, "INVALID_CURSOR")
