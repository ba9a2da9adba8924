"""Listing benchmark: ``GET /v1/issues?limit=50`` through the API Lambda against a bare query of its page.

``python -m benchmarks.list_issues [--issues N] [--rounds K] [--body-kb B] [--limit L]`` seeds moto's
DynamoDB (on loopback, the real table with its indexes, ``infra.local.provision``) with ``N`` issues of one
tenant and one connection, each with a body of about ``B`` KB, and then, interleaved over ``K`` rounds in
this one process, times

- **api**: ``GET /v1/issues?limit=L`` through ``functions.api.handler``, called in-process with an API
  Gateway proxy event that carries the authorizer context the API reads (tenant, key, scopes); what the
  gateway and the authorizer add around it is not counted;
- **bare**: one boto3 ``query`` of the same page (the tenant's most recently updated issues, GSI1, newest
  first, ``Limit=L``) with the same client, whole items, nothing done with the answer;
- **bare, projected**: the same query reading only the attributes a listing returns (for reference: what
  a listing costs DynamoDB and botocore at the least);
- **api, DynamoDB replayed**: the API request again with DynamoDB's answer replayed from memory, in CPU
  time of the calling thread: what trackbridge itself adds per page. moto's time dominates the others on
  loopback, and moto projects an item by decoding it again for each attribute asked for, so it answers a
  projected query more slowly than a whole one, unlike DynamoDB.

The target is ``api <= 2 x bare`` (issue 14). Every answer is checked: a 200, ``L`` items, the same refs in
the same order as the bare query, no item with its body, and a ``next_cursor``; any of these wrong exits 1.
Over the target prints a ``note:`` line and still exits 0: timings on a shared machine are not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

TARGET_RATIO = 2.0
TENANT = "bench"
CONNECTION_ID = "conn_benchlistissuesabcde"


class _Context:
    """What ``functions.api.handler``'s decorators read of a Lambda context."""

    function_name = "trackbridge-bench-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:trackbridge-bench-api"
    aws_request_id = "bench-request"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _start_aws() -> Any:
    """moto on loopback with the stage's resources; this process's environment pointed at it."""
    from benchmarks._local_aws import use_fake_aws
    from infra.local.moto import MotoServer
    from infra.local.provision import provision
    from trackbridge.runtime import aws, container

    use_fake_aws()
    server = MotoServer().start()
    resources = provision(endpoint_url=server.endpoint_url, stage="listbench")
    os.environ.update(resources.environment())
    aws.reset_clients()
    container.reset()
    return server


def _body(number: int, size: int) -> str:
    """A few KB of what issue bodies hold: steps, a log excerpt, a stack trace."""
    lines = [
        f"## Steps to reproduce (report {number})",
        "1. Open the checkout page with an empty cart",
        "2. Press *Checkout* and wait for the spinner",
        "",
        "```",
    ]
    frame = 0
    while sum(len(line) + 1 for line in lines) < size:
        lines.append(
            f'  File "/srv/app/checkout/handlers.py", line {100 + frame}, in step_{frame}: '
            f"cart.total is None (request {number:05d}-{frame:03d})"
        )
        frame += 1
    lines.append("```")
    return "\n".join(lines)[:size]


def _seed(count: int, body_bytes: int) -> None:
    from trackbridge.domain.ids import issue_ref
    from trackbridge.domain.issues import Issue
    from trackbridge.runtime import container
    from trackbridge.storage.issues import IssueRepository

    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    repo = "https://github.com/acme/web"
    items = []
    for n in range(1, count + 1):
        issue = Issue(
            ref=issue_ref(CONNECTION_ID, 3_000_000 + n),
            external_id=f"github:{repo}:{3_000_000 + n}",
            connection_id=CONNECTION_ID,
            provider="github",
            key=f"#{n}",
            title=f"Checkout fails when the cart is empty (variant {n})",
            body=_body(n, body_bytes),
            status="closed" if n % 3 == 0 else "open",
            status_category="done" if n % 3 == 0 else "todo",
            assignees=["octocat", "hubot"][: n % 3],
            labels=["bug", "checkout", f"area-{n % 7}"],
            priority=None,
            url=f"{repo}/issues/{n}",
            created_at=start + timedelta(minutes=n),
            updated_at=start + timedelta(hours=1, minutes=n),
        ).with_hash()
        items.append(IssueRepository.item(TENANT, issue))
    container.table().batch_put(items)


def _event(limit: int, number: int) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends it after the authorizer allowed the key."""
    path = "/v1/issues"
    query = {"limit": str(limit)}
    headers = {"Accept": "application/json", "Authorization": "Bearer tb_benchkey_secret", "Host": "api"}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()},
        "pathParameters": None,
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "GET",
            "path": path,
            "stage": "bench",
            "requestId": f"bench-{number}",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "benchmarks.list_issues"},
            "authorizer": {
                "tenant": TENANT,
                "key_id": "benchkey",
                "scopes": "issues:read",
                "principalId": "benchkey",
            },
        },
    }


def _bare_query(client: Any, table: str, limit: int, *, projected: bool) -> list[dict[str, Any]]:
    from trackbridge.storage.keys import GSI1, GSI1_PK, issues_by_updated_gsi1pk

    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": GSI1,
        "KeyConditionExpression": "#p = :p",
        "ExpressionAttributeNames": {"#p": GSI1_PK},
        "ExpressionAttributeValues": {":p": {"S": issues_by_updated_gsi1pk(TENANT)}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if projected:
        # What a listing item carries (DESIGN section 9, without the body; links are not read per issue).
        from trackbridge.storage.issues import IssueRepository

        names = {f"#a{i}": name for i, name in enumerate(IssueRepository.LISTED_ATTRIBUTES)}
        request["ExpressionAttributeNames"].update(names)
        request["ProjectionExpression"] = ", ".join(names)
    return list(client.query(**request)["Items"])


class _Replaying:
    """A DynamoDB client that answers each distinct query once from DynamoDB and then from memory."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._answers: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **request: Any) -> Any:
        key = json.dumps(request, sort_keys=True, default=str)
        if key not in self._answers:
            self._answers[key] = self._client.query(**request)
        return self._answers[key]


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def run(*, issues: int, rounds: int, body_kb: float, limit: int) -> dict[str, Any]:
    from functions.api import handler
    from trackbridge.runtime import container

    _seed(issues, int(body_kb * 1024))
    table = container.table()
    client, name = table.client, table.name
    context = _Context()
    problems: list[str] = []
    expected = [item["ref"]["S"] for item in _bare_query(client, name, limit, projected=False)]
    # One untimed request each: the first call builds clients, the route table and the cursor key.
    handler(_event(limit, 0), context)
    times: dict[str, list[float]] = {"api": [], "bare": [], "projected": []}
    sizes: list[int] = []
    for number in range(1, rounds + 1):
        # Alternate who goes first, so that neither always runs right after the other's garbage.
        order = ["api", "bare", "projected"] if number % 2 else ["projected", "bare", "api"]
        for what in order:
            if what == "api":
                elapsed, answer = _timed(lambda n=number: handler(_event(limit, n), context))
                problems += _check(answer, expected, number)
                sizes.append(len(answer.get("body") or ""))
            else:
                elapsed, items = _timed(
                    lambda p=what == "projected": _bare_query(client, name, limit, projected=p)
                )
                if len(items) != len(expected):
                    problems.append(f"round {number}: the bare query read {len(items)} items")
            times[what].append(elapsed)
    # The handler alone: the same requests with DynamoDB's answer replayed (the first one records it).
    table.client = _Replaying(client)
    try:
        handler(_event(limit, 0), context)
        times["replayed"] = []
        for number in range(1, rounds + 1):
            # CPU time of this thread: nothing here waits, and a busy machine does not inflate it.
            started = time.thread_time()
            answer = handler(_event(limit, number), context)
            times["replayed"].append(time.thread_time() - started)
            problems += _check(answer, expected, number)
    finally:
        table.client = client
    medians = {what: statistics.median(values) for what, values in times.items()}
    return {
        "medians": medians,
        "ratio": medians["api"] / medians["bare"],
        "ratio_projected": medians["api"] / medians["projected"],
        "page_bytes": int(statistics.median(sizes)) if sizes else 0,
        "problems": problems,
    }


def _check(answer: dict[str, Any], expected: list[str], number: int) -> list[str]:
    if answer.get("statusCode") != 200:
        return [f"round {number}: status {answer.get('statusCode')}: {str(answer.get('body'))[:300]}"]
    page = json.loads(answer["body"])
    refs = [item.get("ref") for item in page.get("items", [])]
    problems = []
    if refs != expected:
        problems.append(f"round {number}: {len(refs)} items, not the {len(expected)} the bare query read")
    if any("body" in item for item in page.get("items", [])):
        problems.append(f"round {number}: a listing item carries its body")
    if not page.get("next_cursor"):
        problems.append(f"round {number}: no next_cursor on a page that is not the last")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.list_issues", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--issues", type=int, default=300, help="issues to seed (default 300)")
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (default 40)")
    parser.add_argument("--body-kb", type=float, default=3.0, help="size of each issue body (default 3 KB)")
    parser.add_argument("--limit", type=int, default=50, help="page size (default 50)")
    args = parser.parse_args(argv)
    if args.issues <= args.limit:
        parser.error("--issues must be larger than --limit (the page must have a next one)")
    import logging

    logging.disable(logging.WARNING)
    server = _start_aws()
    try:
        result = run(issues=args.issues, rounds=args.rounds, body_kb=args.body_kb, limit=args.limit)
    finally:
        server.stop()
    medians = result["medians"]
    out = sys.stdout
    out.write(
        f"list issues benchmark {datetime.now().isoformat(timespec='seconds')} (moto, loopback): "
        f"{args.issues} issues with {args.body_kb:g} KB bodies, pages of {args.limit}, "
        f"{args.rounds} rounds\n"
    )
    out.write(f"api   GET /v1/issues?limit={args.limit}  median {medians['api'] * 1000:8.2f} ms")
    out.write(f"  ({result['page_bytes'] / 1024:.1f} KB page)\n")
    out.write(f"bare  query, whole items            median {medians['bare'] * 1000:8.2f} ms\n")
    out.write(f"bare  query, listed attributes      median {medians['projected'] * 1000:8.2f} ms\n")
    out.write(f"api   DynamoDB's answer replayed    median {medians['replayed'] * 1000:8.2f} ms CPU")
    out.write("  (what trackbridge adds per page)\n")
    out.write(f"ratio api / bare: {result['ratio']:.2f}x (target <= {TARGET_RATIO:g}x)\n")
    out.write(f"ratio api / bare projected: {result['ratio_projected']:.2f}x (for reference)\n")
    for problem in result["problems"][:10]:
        out.write(f"error: {problem}\n")
    if result["ratio"] > TARGET_RATIO:
        out.write(f"note: the API listing is above {TARGET_RATIO:g}x the bare query\n")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
