"""Test runs from JUnit XML and requirement coverage: ``POST /v1/test-runs``, ``GET /v1/test-runs``,
``GET /v1/test-runs/{run_id}`` and ``GET /v1/coverage``.

The upload's body is the report itself, as a CI script sends a file with one call::

    curl --fail -X POST "$API/v1/test-runs?suite=web-unit&commit=$GIT_SHA" \\
         -H "Authorization: Bearer $KEY" -H 'Content-Type: application/xml' --data-binary @report.xml

``Content-Type`` is ``application/xml`` or ``text/xml`` (else 415); the run's metadata are query parameters:
``suite`` (required), ``commit``, ``branch``, and ``connection`` (the GitHub/GitLab connection a bare ``#12``
in a test name refers to). The body is at most 4 MiB (413 beyond, ``app`` checks before anything is read);
a body that is not well-formed XML, declares a DTD or entities (an XML bomb, XXE) or is no JUnit report is
a 400; nothing is stored then. What an upload does is ``runtime.test_runs``.

Scopes: ``tests:write`` to upload, ``tests:read`` to read runs and coverage.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict

from trackbridge.domain.errors import InvalidInput, TrackbridgeError
from trackbridge.domain.junit import MAX_REPORT_BYTES
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from trackbridge.domain.test_runs import (
    BRANCH_MAX,
    COMMIT_PATTERN,
    SUITE_PATTERN,
    Coverage,
    RunPage,
    TestRun,
)
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from trackbridge.runtime.test_runs import TestRunService

READ, WRITE = "tests:read", "tests:write"
UPLOAD_OPERATION: Final = "uploadTestRun"
XML_TYPES: Final = ("application/xml", "text/xml")


def test_run_service() -> TestRunService:
    """The container's test run service (tests override this dependency by name)."""
    return container.test_run_service()


test_run_service.__test__ = False  # type: ignore[attr-defined]  # not a pytest test function

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
if TYPE_CHECKING:
    Service = Annotated[TestRunService, Depends(test_run_service)]
else:
    Service = Annotated[Any, Depends(test_run_service)]
Suite = Annotated[str, Query(pattern=SUITE_PATTERN, description="the suite, e.g. web-unit")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
]
ConnectionId = Annotated[
    str | None, Query(max_length=64, description="a connection id, e.g. conn_k7mq4xw2p5rtz3nb6hcd")
]

_KEY = "test_case:web-unit/tests.test_checkout/test_PROJ_12_empty_cart_is_refused"
_RUN: Final[dict[str, Any]] = {
    "id": "run_b6fj4nr2v6zd4hlq7w3m",
    "suite": "web-unit",
    "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "branch": "main",
    "created_at": "2026-03-04T16:40:22Z",
    "created_by": "api_key:k3ydf7hj2ln6pr4abc5e",
    "counts": {"passed": 41, "failed": 1, "error": 0, "skipped": 2, "flaky": 1},
    "cases": 44,
    "links_created": 3,
    "unresolved_keys": [{"key": "PROJ-999", "reason": "not synced", "tests": 1}],
    "flaky": ["test_case:web-unit/tests.test_sync/test_retry"],
    "failing": [_KEY],
    "events": [{"type": "test.failed", "event_id": "evt_6f1c2b0e9a8d4c3b", "tests": [_KEY]}],
}
_CASE: Final[dict[str, Any]] = {
    "id": "3f9a1c0d5e7b2a4c6d8e0f1a",
    "object_key": _KEY,
    "suite": "pytest",
    "classname": "tests.test_checkout",
    "name": "test_PROJ_12_empty_cart_is_refused",
    "status": "failed",
    "duration": 0.012,
    "message": "AssertionError: assert 200 == 422",
    "issue_keys": ["PROJ-12"],
    "issue_refs": ["conn_k7mq4xw2p5rtz3nb6hcd.10012"],
    "flaky": None,
    "attempts": 1,
}
_COVERAGE: Final[dict[str, Any]] = {
    "suite": "web-unit",
    "connections": ["conn_k7mq4xw2p5rtz3nb6hcd"],
    "issues_without_tests": [
        {
            "ref": "conn_k7mq4xw2p5rtz3nb6hcd.10013",
            "key": "PROJ-13",
            "title": "Refunds round to the cent",
            "status": "To Do",
            "status_category": "todo",
            "url": "https://acme.atlassian.net/browse/PROJ-13",
        }
    ],
    "failing_tests": [
        {
            "id": "3f9a1c0d5e7b2a4c6d8e0f1a",
            "object_key": _KEY,
            "classname": "tests.test_checkout",
            "name": "test_PROJ_12_empty_cart_is_refused",
            "status": "failed",
            "message": "AssertionError: assert 200 == 422",
            "issue_refs": ["conn_k7mq4xw2p5rtz3nb6hcd.10012"],
            "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "run_id": "run_b6fj4nr2v6zd4hlq7w3m",
            "run_at": "2026-03-04T16:40:22Z",
        }
    ],
    "tests_on_closed_issues": [],
    "counts": {
        "tests": 44,
        "issues_in_scope": 2,
        "issues_covered": 1,
        "issues_without_tests": 1,
        "failing_tests": 1,
        "tests_on_closed_issues": 0,
    },
    "truncated": False,
}
_CURSOR: Final = "AWq3J0x9mS2fV8tYc1pQeR4nK7uZbHd6LwGiTo5aNjXy0Ms3EvBr8CkUh2Pz"


class TestRunCreated(TestRun):
    model_config = ConfigDict(json_schema_extra={"examples": [_RUN]})


class TestRunDetail(RunPage):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_RUN, "items": [_CASE], "next_cursor": _CURSOR}]}
    )


class TestRunList(BaseModel):
    """A page of runs (``{"items", "next_cursor"}``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_RUN], "next_cursor": _CURSOR}]})

    items: list[TestRun]
    next_cursor: str | None = None


class CoverageReport(Coverage):
    model_config = ConfigDict(json_schema_extra={"examples": [_COVERAGE]})


def _error(description: str) -> OpenAPIResponse:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(status: int, model: BaseModel) -> Response[str]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=model.model_dump_json()
    )


def _principal_label(caller: Principal) -> str:
    return f"api_key:{caller.key_id}" if caller.key_id else "api"


def _report_bytes(event: dict[str, Any]) -> bytes:
    """The request's XML body, after checking its content type (415) and base64 (400)."""
    headers = event.get("headers") or {}
    content_type = next((str(v) for k, v in headers.items() if str(k).lower() == "content-type"), "")
    if content_type.split(";", 1)[0].strip().lower() not in XML_TYPES:
        raise UnsupportedMediaType()
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise InvalidInput("the body is not text", code="INVALID_BODY")
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the body is not valid base64", code="INVALID_BODY") from None


class UnsupportedMediaType(TrackbridgeError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"

    def __init__(self) -> None:
        super().__init__(
            "send the JUnit report as Content-Type: application/xml (or text/xml)",
            details={"accepted": list(XML_TYPES)},
        )


@router.post(
    "/v1/test-runs",
    status_code=201,
    summary="Upload a JUnit XML report as a test run",
    description="The body is the JUnit XML report (pytest, Maven Surefire, JUnit 5, jest-junit), sent as "
    "`Content-Type: application/xml` (or `text/xml`): `curl --data-binary @report.xml`. Query parameters "
    "name the `suite` (required), `commit`, `branch`, and the GitHub/GitLab `connection` a bare `#12` "
    "refers to. Issue keys in test names and properties (`PROJ-12`, `test_PROJ_12_...`, `[#45]`, "
    '`<property name="issue" value="PROJ-12"/>`) that name synced issues become `auto_detected` links '
    "of the test case objects; the others are listed in `unresolved_keys`. Failing and flaky tests are "
    f"sent to auto-issue as `test.failed` and `test.flaky` events (`events`). At most {MAX_REPORT_BYTES} "
    "bytes; a DOCTYPE or entity declaration is refused (400).",
    operation_id=UPLOAD_OPERATION,
    tags=["test runs"],
    openapi_extensions=requires(WRITE),
    responses={
        201: {"description": "the stored run", "content": {"application/json": {"model": TestRunCreated}}},
        400: _error("Not well-formed XML, a DTD or entity declaration (XML bombs, XXE), or no JUnit report."),
        404: _error("`connection` names no connection of the tenant."),
        413: _error(f"The report is over {MAX_REPORT_BYTES} bytes (`details.limit`)."),
        415: _error("The body is not sent as application/xml or text/xml."),
    },
)
def upload_test_run(
    caller: Caller,
    service: Service,
    suite: Suite,
    commit: Annotated[str | None, Query(pattern=COMMIT_PATTERN, description="the commit tested")] = None,
    branch: Annotated[
        str | None, Query(min_length=1, max_length=BRANCH_MAX, description="its branch")
    ] = None,
    connection: ConnectionId = None,
) -> Response[str]:
    caller.require(WRITE)
    from trackbridge.runtime.test_runs import RunMeta

    data = _report_bytes(router.current_event.raw_event)
    meta = RunMeta(suite=suite, commit=commit, branch=branch, connection=connection)
    run = service.upload(caller.tenant, data, meta, actor=caller.actor, created_by=_principal_label(caller))
    return _json(201, TestRunCreated.model_validate(run.model_dump()))


@router.get(
    "/v1/test-runs",
    summary="Test runs, newest first",
    description="The tenant's test runs, or one suite's (`suite`), newest first, without their cases.",
    operation_id="listTestRuns",
    tags=["test runs"],
    openapi_extensions=requires(READ),
    responses={
        200: {"description": "a page of runs", "content": {"application/json": {"model": TestRunList}}}
    },
)
def list_test_runs(
    caller: Caller,
    service: Service,
    suite: Annotated[str | None, Query(pattern=SUITE_PATTERN, description="only this suite's runs")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response[str]:
    caller.require(READ)
    page = service.list_runs(caller.tenant, suite=suite, limit=limit, cursor=cursor)
    return _json(200, TestRunList.model_validate({"items": page.items, "next_cursor": page.next_cursor}))


@router.get(
    "/v1/test-runs/<run_id>",
    summary="A test run with its cases",
    description="The run (counts, links made, unresolved keys, flaky and failing tests, the events sent) and "
    "one page of its test cases in report order (`status` keeps one outcome). Another tenant's run is a 404.",
    operation_id="getTestRun",
    tags=["test runs"],
    openapi_extensions=requires(READ),
    responses={200: {"description": "the run", "content": {"application/json": {"model": TestRunDetail}}}},
)
def get_test_run(
    run_id: Annotated[str, Path(max_length=64, description="a run id, e.g. run_b6fj4nr2v6zd4hlq7w3m")],
    caller: Caller,
    service: Service,
    status: Annotated[
        Literal["passed", "failed", "error", "skipped"] | None,
        Query(description="only cases of this outcome"),
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response[str]:
    caller.require(READ)
    page = service.get(caller.tenant, run_id, status=status, limit=limit, cursor=cursor)
    return _json(200, TestRunDetail.model_validate(page.model_dump()))


@router.get(
    "/v1/coverage",
    summary="Requirement coverage of a suite",
    description="From the suite's latest test statuses, its links and the synced issues of its scope (the "
    "connections its tests' issues live in, and those named on upload; `connection` narrows to one): the "
    "open issues no test of the suite is linked to, the failing tests, and the tests linked to closed "
    "issues. A suite without runs is a 404.",
    operation_id="getCoverage",
    tags=["test runs"],
    openapi_extensions=requires(READ),
    responses={
        200: {"description": "the report", "content": {"application/json": {"model": CoverageReport}}}
    },
)
def get_coverage(
    caller: Caller, service: Service, suite: Suite, connection: ConnectionId = None
) -> Response[str]:
    caller.require(READ)
    report = service.coverage(caller.tenant, suite, connection=connection)
    return _json(200, CoverageReport.model_validate(report.model_dump()))


__all__ = ["MAX_REPORT_BYTES", "READ", "UPLOAD_OPERATION", "WRITE", "XML_TYPES", "router", "test_run_service"]
