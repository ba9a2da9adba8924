"""``trackbridge test-runs upload <file> --suite S [--commit C]`` and ``trackbridge coverage --suite S``.

Both talk to the REST API only, found as ``trackbridge sync`` finds it (``--api-url``/``--api-key``, the
``TRACKBRIDGE_API_URL``/``KEY`` environment, else ``.trackbridge/local.json``). ``upload`` sends the JUnit XML
file as it is (``POST /v1/test-runs``, ``application/xml``) and prints the run's counts, the links it made and
the keys that named no synced issue; ``coverage`` prints the suite's open issues without tests, its failing
tests and its tests on closed issues. ``--connection`` takes a connection's name or id. ``--json`` prints the
API's answer. Exit codes: 0 done, 1 refused by the API (the message says why), 2 bad input or no API.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.commands.links import table
from infra.commands.sync import (
    ApiRefused,
    CliError,
    add_api_arguments,
    api_answer,
    api_client,
    resolve_connection,
)

if TYPE_CHECKING:
    import httpx

UPLOAD_TIMEOUT_S = 120.0


def add_test_run_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``test-runs upload`` and ``coverage`` on the ``trackbridge`` parser."""
    runs = groups.add_parser("test-runs", help="JUnit XML reports as test runs")
    actions = runs.add_subparsers(dest="command", required=True)
    upload_cmd = actions.add_parser("upload", help="upload a JUnit XML report (pytest, Surefire, jest-junit)")
    upload_cmd.add_argument("file", type=Path, help="the JUnit XML report")
    upload_cmd.add_argument("--suite", required=True, help="the suite the tests belong to, e.g. web-unit")
    upload_cmd.add_argument("--commit", help="the commit tested (flaky tests are told by it)")
    upload_cmd.add_argument("--branch", help="its branch")
    upload_cmd.add_argument("--connection", help="the GitHub/GitLab connection (name or id) #N keys refer to")
    upload_cmd.add_argument("--json", action="store_true", help="print the run as the API returns it")
    add_api_arguments(upload_cmd)

    coverage_cmd = groups.add_parser("coverage", help="a suite's issues without tests, failing tests, ...")
    coverage_cmd.set_defaults(command="")
    coverage_cmd.add_argument("--suite", required=True, help="the suite")
    coverage_cmd.add_argument("--connection", help="only this connection's issues (name or id)")
    coverage_cmd.add_argument("--json", action="store_true", help="print the report as the API returns it")
    add_api_arguments(coverage_cmd)


def _run(action: Callable[[], None]) -> int:
    import httpx

    try:
        action()
    except ApiRefused as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except (CliError, httpx.HTTPError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


def _summary(run: dict[str, Any]) -> str:
    counts = run["counts"]
    lines = [
        f"{run['id']} ({run['suite']}): {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} error, {counts['skipped']} skipped, {counts['flaky']} flaky; "
        f"{run['links_created']} links created",
        *(f"unresolved {u['key']}: {u['reason']} ({u['tests']} tests)" for u in run["unresolved_keys"]),
        *(f"failing {key}" for key in run["failing"]),
        *(f"flaky {key}" for key in run["flaky"]),
    ]
    return "\n".join(lines) + "\n"


def upload(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    def act() -> None:
        from trackbridge.domain.junit import MAX_REPORT_BYTES  # the API's limit (413): checked before sending

        path: Path = args.file
        if not path.is_file():
            raise CliError(f"no such file: {path}")
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise CliError(f"{path} is over {MAX_REPORT_BYTES} bytes, the most a report may be")
        data = path.read_bytes()
        with client or api_client(args) as api:
            params = {"suite": args.suite, "commit": args.commit, "branch": args.branch}
            if args.connection:
                params["connection"] = resolve_connection(api, args.connection)
            run = api_answer(
                api.post(
                    "/v1/test-runs",
                    params={k: v for k, v in params.items() if v},
                    content=data,
                    headers={"Content-Type": "application/xml"},
                    timeout=UPLOAD_TIMEOUT_S,
                )
            )
        sys.stdout.write(json.dumps(run, indent=2) + "\n" if args.json else _summary(run))

    return _run(act)


def coverage(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    def act() -> None:
        with client or api_client(args) as api:
            params = {"suite": args.suite}
            if args.connection:
                params["connection"] = resolve_connection(api, args.connection)
            report = api_answer(api.get("/v1/coverage", params=params))
        if args.json:
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
            return
        counts = report["counts"]
        sys.stdout.write(
            f"{report['suite']}: {counts['tests']} tests, {counts['issues_covered']} of "
            f"{counts['issues_in_scope']} open issues covered\n\nissues without tests\n"
        )
        sys.stdout.write(table(report["issues_without_tests"], ("ref", "key", "status", "title")))
        sys.stdout.write("\nfailing tests\n")
        sys.stdout.write(table(report["failing_tests"], ("object_key", "status", "issue_refs", "message")))
        sys.stdout.write("\ntests on closed issues\n")
        sys.stdout.write(table(report["tests_on_closed_issues"], ("object_key", "key", "issue_status")))

    return _run(act)


__all__ = ["add_test_run_commands", "coverage", "upload"]
