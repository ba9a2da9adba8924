"""Webhook benchmark: acknowledgement against a bare handler, webhook-to-visible latency, apply throughput.

``make bench`` (or ``python -m benchmarks.webhooks [--rounds K] [--latency-mutations M]
[--apply-deliveries N] [--provider NAME ...]``) starts the embedded stack (``infra.local.stack.LocalStack``:
moto, the local API Gateway, the queue pollers and the sandbox trackers, all in this process), registers one
hook per sandbox tracker for its demo connection (through the adapter's ``register_webhook``, with the
connection's webhook secret, pointing at the stack's webhook URL), and measures, per tracker:

1. **webhook to visible**: a title changed at the sandbox, until ``GET /v1/issues/{ref}`` through the gateway
   shows it (polled every few ms), over ``M`` mutations: median, p95 and the worst. This runs the whole path:
   the sandbox's delivery thread, the gateway, the webhook Lambda, the inbound FIFO queue on moto, the stack's
   poller (one-second long polls, as Lambda's SQS poller), the apply Lambda and DynamoDB;
2. **acknowledgement** (issue 15: target ``<= 2x``): ``functions.webhook.handler`` called in-process with an
   API Gateway proxy event of a real delivery of that tracker (a fresh delivery id each round, re-signed where
   the id is signed), against a **bare handler** in the same harness, on the same event, interleaved, medians.
   The bare handler does what any webhook receiver must and nothing more: one ``GetItem`` of the
   connection's routing item, the signature check on the raw bytes (secrets kept warm, as trackbridge's are),
   a conditional ``PutItem`` claiming the delivery id, one ``SendMessage`` to the same FIFO queue, and a 202.
   A handler that only returns 202 is printed too (``no-op``): it is the harness's own cost, not a baseline
   (against it any receiver that reaches DynamoDB is hundreds of times slower). The stack's inbound poller
   is stopped first, so no apply runs beside the timings;
3. **apply throughput**: ``N`` mutations at the sandbox, each delivered and queued by the webhook Lambda while
   no poller runs, then the queue drained by ``functions.apply.handler`` through the stack's own poller code
   (``infra.local.pollers.QueuePoller``, batches of 10): changes applied per second of the drain. GitLab and
   Jira deliveries that lack fields cost a fetch of the item from the tracker, as in production.

Every answer is checked: the webhook handler's 202 ``queued``, the bare handler's 202, each mutation visible
within a bound, every queued record applied without a failure and the stored issues showing the tracker's
final titles and comments. Only a wrong result exits non-zero; a ratio over its target prints a ``note:``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET_ACK_RATIO = 2.0
VISIBLE_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 600.0
POLL_S = 0.005
# The create mutation's answer field that is the issue's native id in trackbridge's refs.
APPLY_ISSUES = 5
PURGE_EVERY = 20


@dataclass
class Figures:
    provider: str
    ack_ms: float = 0.0
    bare_ms: float = 0.0
    noop_ms: float = 0.0
    visible_ms: list[float] = field(default_factory=list)
    deliveries: int = 0
    applied: int = 0
    changes: int = 0
    drain_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    calls: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ack_ms / self.bare_ms if self.bare_ms else float("inf")


class _Context:
    """What the handlers' Powertools decorators read of a Lambda context."""

    function_name = "trackbridge-bench-webhook"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:trackbridge-bench-webhook"
    aws_request_id = "bench-request"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---- the stack ------------------------------------------------------------------------------------------


@contextmanager
def running_stack(seed: str) -> Iterator[Any]:
    from infra.local.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="tb-hookbench-") as state_dir:
        stack = LocalStack(port=0, state_dir=Path(state_dir), stage="hookbench", seed=seed).start()
        try:
            yield stack
        finally:
            stack.stop()


def register_hooks(stack: Any, providers: list[str]) -> None:
    """One hook per tracker for its demo connection, at the stack's webhook URL, with the connection's
    webhook secret (the sandbox's, as ``local up`` creates the demo connections)."""
    from trackbridge.runtime import container

    service, secrets = container.connection_service(), container.connection_secrets()
    for provider in providers:
        connection_id = stack.demo_connections[provider]
        connection = service.get("demo", connection_id)
        credentials = secrets.credentials("demo", connection_id) or {}
        secret = stack.sandboxes.trackers[provider].webhook_secret
        url = f"{stack.api_url}/webhooks/{provider}/{connection_id}"
        with container.adapter_factory()(connection, credentials) as adapter:
            adapter.register_webhook(url, secret)


def wait_for(probe: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(POLL_S)
    return None


def stored_issue(api: Any, ref: str) -> dict[str, Any] | None:
    answer = api.get(f"/issues/{ref}")
    return answer.json() if answer.status_code == 200 else None


def shows_title(api: Any, ref: str, title: str) -> bool:
    issue = stored_issue(api, ref)
    return issue is not None and issue["title"] == title


def create_issue(stack: Any, api: Any, provider: str, title: str) -> tuple[str, Any] | None:
    """A new issue at the sandbox, once its delivery made it visible: its ref and its mutation handle."""
    tracker = stack.sandboxes.trackers[provider]
    created = tracker.mutate("create", fields={tracker.title_field: title})
    handle = created[tracker.issue_ref_key]
    ref = issue_ref(stack, provider, handle)
    if not wait_for(lambda: shows_title(api, ref, title), VISIBLE_TIMEOUT_S):
        return None
    return ref, handle


def issue_ref(stack: Any, provider: str, handle: Any) -> str:
    """The stored record's ref of a sandbox issue, as the tracker's adapter names it (one read, before any
    timing): no table of each tracker's id field here."""
    from trackbridge.runtime import container

    connection_id = stack.demo_connections[provider]
    connection = container.connection_service().get("demo", connection_id)
    credentials = container.connection_secrets().credentials("demo", connection_id) or {}
    with container.adapter_factory()(connection, credentials) as adapter:
        return adapter.get_issue(str(handle)).ref


def measurable(provider: str) -> bool:
    """The acknowledgement rounds replay one recorded delivery under fresh delivery ids, so they need a
    tracker whose deliveries carry their id in a header. Azure DevOps (the id is in the body) and Redmine
    (no id at all: the body's digest is the id) are left out, and the report names them."""
    from trackbridge.providers.registry import PROVIDERS

    return bool(PROVIDERS[provider].webhook_delivery_headers)


def measure_visible(stack: Any, api: Any, figures: Figures, mutations: int) -> None:
    tracker = stack.sandboxes.trackers[figures.provider]
    made = create_issue(stack, api, figures.provider, "latency probe")
    if made is None:
        figures.problems.append("the latency probe issue never became visible")
        return
    ref, handle = made
    for n in range(mutations):
        title = f"latency probe {n} {uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        tracker.retitle_issue(handle, title)
        if not wait_for(functools.partial(shows_title, api, ref, title), VISIBLE_TIMEOUT_S):
            figures.problems.append(f"mutation {n} not visible within {VISIBLE_TIMEOUT_S:g} s")
            return
        figures.visible_ms.append((time.perf_counter() - started) * 1000)


# ---- acknowledgement ------------------------------------------------------------------------------------


def proxy_event(provider: str, connection_id: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends a tracker's POST to the webhook route (no authorizer)."""
    path = f"/v1/webhooks/{provider}/{connection_id}"
    return {
        "resource": "/v1/webhooks/{provider}/{connection_id}",
        "path": path,
        "httpMethod": "POST",
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"provider": provider, "connection_id": connection_id},
        "stageVariables": None,
        "body": body.decode("utf-8"),
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/v1/webhooks/{provider}/{connection_id}",
            "httpMethod": "POST",
            "path": path,
            "stage": "v1",
            "requestId": f"bench-{uuid.uuid4().hex[:12]}",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "benchmarks.webhooks"},
        },
    }


def fresh_copy(provider: str, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, str]:
    """``headers`` of a recorded delivery with a new delivery id (re-signed when the id is signed)."""
    from trackbridge.providers.registry import PROVIDERS
    from trackbridge.providers.signatures import StandardWebhooks

    adapter_class = PROVIDERS[provider]
    id_headers = {
        h.lower() for h in (*adapter_class.webhook_delivery_headers, *adapter_class.webhook_shared_id_headers)
    }
    new_id = str(uuid.uuid4())
    copy = {name: (new_id if name.lower() in id_headers else value) for name, value in headers.items()}
    if any(name.lower() == "webhook-signature" for name in copy):
        copy = {k: v for k, v in copy.items() if not k.lower().startswith("webhook-")}
        copy.update(StandardWebhooks().sign(body, secret, msg_id=new_id))
    return copy


class BareReceiver:
    """The least a webhook receiver does: route read, signature, claimed delivery id, one message, 202."""

    def __init__(self, stack: Any, provider: str) -> None:
        from trackbridge.providers.registry import PROVIDERS
        from trackbridge.storage.webhooks import webhook_route_key

        self.provider = provider
        self.connection_id = stack.demo_connections[provider]
        self.dynamodb = stack.resources.client("dynamodb")
        self.sqs = stack.resources.client("sqs")
        self.table = stack.resources.table_name
        self.queue_url = stack.resources.queue_urls["inbound"]
        self.route_key = webhook_route_key(self.connection_id)
        self.adapter_class = PROVIDERS[provider]
        # Warm: a Lambda keeps the secrets it read (trackbridge's are cached for minutes as well).
        self.secrets = [stack.sandboxes.trackers[provider].webhook_secret]

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        from trackbridge.providers.signatures import verify_any

        body = str(event["body"]).encode("utf-8")
        headers = {str(k).lower(): str(v) for k, v in event["headers"].items()}
        route = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": self.route_key}, "sk": {"S": self.route_key}}
        ).get("Item")
        if route is None or not verify_any(self.adapter_class.signature_schemes, body, headers, self.secrets):
            return {"statusCode": 401, "body": ""}
        delivery_id = next(
            headers[h.lower()] for h in self.adapter_class.webhook_delivery_headers if h.lower() in headers
        )
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={"pk": {"S": f"BENCHDELIVERY#{delivery_id}"}, "sk": {"S": "delivery"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return {"statusCode": 202, "body": '{"status":"duplicate"}'}
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps({"connection_id": self.connection_id, "body": event["body"]}),
            MessageGroupId=self.connection_id,
            MessageDeduplicationId=hashlib.sha256(delivery_id.encode()).hexdigest(),
        )
        return {"statusCode": 202, "body": '{"status":"queued"}'}


class CallCounter:
    """AWS operations sent through some boto3 clients (botocore's ``before-call`` event), by name."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self._clients: list[Any] = []

    def _count(self, model: Any = None, **kwargs: Any) -> None:
        self.operations[str(getattr(model, "name", "?"))] += 1

    def attach(self, *clients: Any) -> None:
        for client in clients:
            if all(client is not known for known in self._clients):
                client.meta.events.register("before-call", self._count)
                self._clients.append(client)

    def detach(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call", self._count)
        self._clients = []

    def per_round(self, rounds: int) -> str:
        """``GetItem 2, PutItem 1, ...`` per round (a fraction: a call made once a minute, not per round)."""
        return ", ".join(f"{name} {count / rounds:g}" for name, count in sorted(self.operations.items()))


def ingest_clients() -> list[Any]:
    """The boto3 clients the webhook function's composition root uses (DynamoDB, SQS, Secrets Manager)."""
    from trackbridge.runtime import container

    ingest = container.webhook_ingest()
    return [
        container.table().client,
        getattr(ingest.queue, "client", None),
        container.connection_secrets().client,
    ]


def noop_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 202, "body": ""}


def last_change_delivery(tracker: Any) -> tuple[dict[str, str], bytes] | None:
    """The headers and body of the tracker's last successful delivery that was queued as a change."""
    for delivery in reversed(tracker.deliveries()):
        if delivery.ok and delivery.request.event not in ("ping",):
            return dict(delivery.request.headers), delivery.request.body
    return None


def measure_ack(stack: Any, figures: Figures, rounds: int) -> None:
    from functions.webhook import handler as webhook_handler

    provider = figures.provider
    tracker = stack.sandboxes.trackers[provider]
    recorded = last_change_delivery(tracker)
    if recorded is None:
        figures.problems.append("no delivery of the tracker to replay")
        return
    headers, body = recorded
    connection_id = stack.demo_connections[provider]
    bare = BareReceiver(stack, provider)
    context = _Context()
    counted = {"trackbridge": CallCounter(), "bare": CallCounter()}
    sides: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
        "trackbridge": webhook_handler,
        "bare": bare.handler,
        "noop": noop_handler,
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    # One untimed call each: first calls build clients and read the secrets.
    for call in sides.values():
        call(
            proxy_event(
                provider, connection_id, fresh_copy(provider, headers, body, tracker.webhook_secret), body
            ),
            context,
        )
    counted["trackbridge"].attach(*ingest_clients())
    counted["bare"].attach(bare.dynamodb, bare.sqs)
    for number in range(rounds):
        if number % PURGE_EVERY == 0:
            # moto checks a FIFO send against every message the queue holds: keep the queue short, untimed,
            # so that round 200 costs what round 1 does.
            purge_inbound(stack)
        order = list(sides) if number % 2 == 0 else list(reversed(sides))
        for name in order:
            event = proxy_event(
                provider, connection_id, fresh_copy(provider, headers, body, tracker.webhook_secret), body
            )
            started = time.perf_counter()
            answer = sides[name](event, context)
            times[name].append(time.perf_counter() - started)
            expected = "queued" if name != "noop" else None
            status = json.loads(answer["body"]).get("status") if answer.get("body") else None
            if answer["statusCode"] != 202 or status != expected:
                figures.problems.append(f"{name} answered {answer['statusCode']} {answer.get('body')!r}")
                return
    for counter in counted.values():
        counter.detach()
    figures.calls = {name: counter.per_round(rounds) for name, counter in counted.items()}
    figures.ack_ms = statistics.median(times["trackbridge"]) * 1000
    figures.bare_ms = statistics.median(times["bare"]) * 1000
    figures.noop_ms = statistics.median(times["noop"]) * 1000


# ---- apply throughput -----------------------------------------------------------------------------------


def purge_inbound(stack: Any) -> None:
    """Empty the inbound queue by receiving and deleting (SQS allows one PurgeQueue a minute)."""
    sqs, url = stack.resources.client("sqs"), stack.resources.queue_urls["inbound"]
    for _ in range(100_000):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def queue_depth(stack: Any) -> int:
    attributes = stack.resources.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources.queue_urls["inbound"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def count_changes(stack: Any, provider: str, deliveries: list[Any]) -> int:
    """The changes the tracker's successful deliveries carry, as the webhook function parses them."""
    from trackbridge.runtime import container
    from trackbridge.runtime.webhooks.ingest import parsing_adapter

    connection = container.connection_service().get("demo", stack.demo_connections[provider])
    adapter = parsing_adapter(connection)
    return sum(
        len(adapter.parse_webhook(d.request.headers, d.request.body).changes) for d in deliveries if d.ok
    )


def measure_apply(
    stack: Any, api: Any, figures: Figures, issues: list[tuple[str, Any]], deliveries: int
) -> None:
    import functions.apply
    from infra.definition import QUEUES
    from infra.local.pollers import QueuePoller

    provider = figures.provider
    tracker = stack.sandboxes.trackers[provider]
    final_titles: dict[str, str] = {}
    comments: dict[str, list[str]] = {ref: [] for ref, _ in issues}
    delivered_before = len(tracker.deliveries())
    for n in range(deliveries):
        ref, handle = issues[n % len(issues)]
        if n % 2 == 0:
            final_titles[ref] = f"apply bench {n}"
            tracker.retitle_issue(handle, final_titles[ref])
        else:
            comments[ref].append(tracker.comment_on_issue(handle, f"apply bench comment {n}"))
    if not tracker.wait_for_deliveries(DRAIN_TIMEOUT_S):
        figures.problems.append("the sandbox did not deliver its webhooks")
        return
    queued = queue_depth(stack)
    changes = count_changes(stack, provider, tracker.deliveries()[delivered_before:])
    spec = next(q for q in QUEUES if q.key == "inbound")
    poller = QueuePoller(
        spec=spec,
        queue_url=stack.resources.queue_urls["inbound"],
        queue_arn=stack.resources.queue_arns["inbound"],
        region=stack.resources.region,
        sqs=stack.resources.client("sqs"),
        invoke=lambda event: functions.apply.handler(event, _Context()),
        visibility_timeout_s=60,
        wait_time_s=0,
    )
    applied = failed = 0
    started = time.perf_counter()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        result = poller.poll_once()
        applied += result.deleted
        failed += result.failed
        if result.received == 0 and queue_depth(stack) == 0:
            break
    figures.drain_s = time.perf_counter() - started
    figures.deliveries = queued
    figures.applied = applied
    figures.changes = changes
    if failed or applied != queued or queued < deliveries:
        figures.problems.append(
            f"{queued} queued for {deliveries} mutations, {applied} applied, {failed} failed"
        )
    for ref, _ in issues:
        issue = stored_issue(api, ref)
        if issue is None or (ref in final_titles and issue["title"] != final_titles[ref]):
            figures.problems.append(f"{ref} is not stored with its final title")
        elif sorted(c["id"] for c in issue["comments"]) != sorted(comments[ref]):
            figures.problems.append(f"{ref} is not stored with its comments")


# ---- the run ----------------------------------------------------------------------------------------------


def run(providers: list[str], *, rounds: int, mutations: int, deliveries: int) -> list[Figures]:
    import httpx

    results = [Figures(provider) for provider in providers]
    with running_stack("bench") as stack:
        register_hooks(stack, providers)
        headers = {"Authorization": f"Bearer {stack.api_key}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=60, trust_env=False) as api:
            apply_issues: dict[str, list[tuple[str, Any]]] = {}
            for figures in results:
                measure_visible(stack, api, figures, mutations)
                made = [
                    create_issue(stack, api, figures.provider, f"apply bench issue {n}")
                    for n in range(APPLY_ISSUES)
                ]
                apply_issues[figures.provider] = [m for m in made if m is not None]
                if len(apply_issues[figures.provider]) != APPLY_ISSUES:
                    figures.problems.append("an issue for the apply run never became visible")
            # From here on nothing consumes the inbound queue but this benchmark.
            stack.pollers.pollers["inbound"].stop()
            for figures in results:
                if not figures.problems:
                    measure_ack(stack, figures, rounds)
            purge_inbound(stack)
            for figures in results:
                if not figures.problems:
                    measure_apply(stack, api, figures, apply_issues[figures.provider], deliveries)
    return results


def print_report(results: list[Figures], args: argparse.Namespace) -> None:
    out = sys.stdout
    out.write(
        f"\nwebhooks benchmark {datetime.now(UTC).isoformat(timespec='seconds')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}; embedded stack "
        f"(moto, sandbox trackers, gateway, pollers) in one process on loopback\n"
    )
    rows = [
        [f.provider, f"{f.ack_ms:.2f}", f"{f.bare_ms:.2f}", f"{f.ratio:.2f}x", f"{f.noop_ms:.3f}"]
        for f in results
    ]
    _table(
        f"acknowledgement: webhook handler vs bare handler, {args.rounds} interleaved rounds, medians "
        f"(target <= {TARGET_ACK_RATIO:g}x)",
        ["provider", "trackbridge ms", "bare ms", "ratio", "no-op ms"],
        rows,
    )
    rows = [
        [
            f.provider,
            str(len(f.visible_ms)),
            f"{statistics.median(f.visible_ms):.0f}" if f.visible_ms else "-",
            f"{percentile(f.visible_ms, 0.95):.0f}" if f.visible_ms else "-",
            f"{max(f.visible_ms):.0f}" if f.visible_ms else "-",
        ]
        for f in results
    ]
    _table(
        "webhook to visible: sandbox mutation -> GET /v1/issues/{ref}",
        ["provider", "mutations", "median ms", "p95 ms", "max ms"],
        rows,
    )
    rows = [
        [
            f.provider,
            str(f.deliveries),
            str(f.applied),
            str(f.changes),
            f"{f.drain_s:.2f}",
            f"{f.changes / f.drain_s:.1f}" if f.drain_s else "-",
        ]
        for f in results
    ]
    _table(
        "apply throughput: queued deliveries drained by functions.apply.handler",
        ["provider", "queued", "applied", "changes", "seconds", "changes/s"],
        rows,
    )
    out.write("\nAWS calls per acknowledgement (botocore before-call events, averaged over the rounds)\n")
    for f in results:
        for name, calls in f.calls.items():
            out.write(f"{f.provider:<8} {name:<11} {calls}\n")
    for f in results:
        # on the printed figure, so a row and its note never disagree
        if f.bare_ms and round(f.ratio, 2) > TARGET_ACK_RATIO:
            out.write(
                f"note: {f.provider} acknowledgement is {f.ratio:.2f}x the bare handler "
                f"(target <= {TARGET_ACK_RATIO:g}x)\n"
            )
    for f in results:
        for problem in f.problems:
            out.write(f"FAILED: {f.provider}: {problem}\n")


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    out = sys.stdout
    out.write(f"\n{title}\n")
    out.write(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + "\n")


def main(argv: list[str] | None = None) -> int:
    from infra.local.trackers import SANDBOXES

    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhooks", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="interleaved acknowledgement rounds (200)")
    parser.add_argument("--latency-mutations", type=int, default=50, help="mutations timed to visible (50)")
    parser.add_argument(
        "--apply-deliveries", type=int, default=200, help="deliveries drained per tracker (200)"
    )
    parser.add_argument(
        "--provider", action="append", choices=sorted(SANDBOXES), help="a tracker (repeatable; default all)"
    )
    args = parser.parse_args(argv)
    for name in ("rounds", "latency_mutations", "apply_deliveries"):
        if not 1 <= getattr(args, name) <= 10_000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 10000")
    # Fake credentials, always: the stack's clients talk to moto, and nothing may reach a real account.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        os.environ[name] = value
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    logging.disable(logging.WARNING)
    chosen = args.provider or [name for name in SANDBOXES if measurable(name)]
    unmeasurable = sorted(set(chosen) - {name for name in chosen if measurable(name)})
    if unmeasurable:
        parser.error(f"no delivery id header to replay under: {', '.join(unmeasurable)}")
    skipped = sorted(set(SANDBOXES) - set(chosen))
    if skipped and not args.provider:
        print(f"not measured (deliveries without a delivery id header): {', '.join(skipped)}")
    results = run(
        chosen,
        rounds=args.rounds,
        mutations=args.latency_mutations,
        deliveries=args.apply_deliveries,
    )
    print_report(results, args)
    return 1 if any(f.problems for f in results) else 0


if __name__ == "__main__":
    sys.exit(main())
