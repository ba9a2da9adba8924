"""Auto-issue storm benchmark: one alarm sent N times through the gateway, drained by trackbridge's consumer
and by a bare consumer of the same messages.

``make bench`` (or ``python -m benchmarks.auto_issue_storm [--events N] [--provider NAME]``) starts the
embedded stack (``infra.local.stack.LocalStack``: moto, the local API Gateway, the queue pollers, the sandbox
trackers, all in this process), stops its auto-issue poller so nothing drains the queue behind the
benchmark's back, saves a rule for the alarm (built-in ``cloudwatch-alarm`` template, one-hour repeat
window) on the tracker's demo connection, and then:

1. **in**: ``N`` deliveries of one CloudWatch alarm (the built-in template's sample, single metric): 90%
   posted to ``POST /v1/events`` by 8 threads through the stack's gateway, which throttles as API Gateway's
   stage does (429s retried, after ``Retry-After`` when given); 10% duplicates, an accepted event's message
   put on the queue a second time (the same event id, as SQS's at-least-once delivery repeats it);
2. **bare**: a consumer that only reads the messages (receive 10, parse each body as JSON, delete) drains
   the queue through the stack's own poller code (``infra.local.pollers.QueuePoller``); the bodies it read
   are sent again, unmeasured;
3. **trackbridge**: ``functions.auto_issue.handler`` drains the same messages through the same poller code.

Printed: events in (posted, accepted, throttled answers, duplicates), issues created at the tracker,
comments on the issue, tracker requests, the fingerprint's event count, and deliveries per second for each
consumer with their ratio. Correctness is checked (one issue, no comment, every accepted event counted once,
no failed record); only a wrong result exits non-zero. The ratio has no target: the bare consumer makes no
DynamoDB call, trackbridge's makes about two per repeat (the claim's read and its conditional count).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._local_aws import use_fake_aws

RULE = "storm-bench"
DEMO = "demo"
WORKERS = 8
MAX_ATTEMPTS = 60
DRAIN_TIMEOUT_S = 1800.0
DUPLICATE_SHARE = 0.1


# ---- sending the storm (also used by tests/e2e/test_auto_issue_storm.py) ---------------------------------


class PatientClient:
    """Posts through the gateway, retrying its 429s (``Retry-After`` when given, else a short growing pause
    with jitter), at most ``MAX_ATTEMPTS`` times."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.throttled = 0
        self._lock = threading.Lock()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        for attempt in range(MAX_ATTEMPTS):
            answer = self.api.post(path, json=body)
            if answer.status_code != 429:
                return answer
            with self._lock:
                self.throttled += 1
            after = answer.headers.get("Retry-After")
            time.sleep(float(after) if after else min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
        raise RuntimeError(f"{path} still throttled after {MAX_ATTEMPTS} attempts")


@dataclass
class StormSent:
    posted: int
    statuses: Counter[int]
    accepted: list[str]
    duplicates: int
    throttled: int
    seconds: float


def send_storm(
    api: Any, stack: Any, body: dict[str, Any], *, posts: int, duplicates: int, workers: int = WORKERS
) -> StormSent:
    """Post ``body`` ``posts`` times at once (``workers`` threads) and deliver the messages of the first
    ``duplicates`` accepted events to the auto-issue queue a second time."""
    from trackbridge.runtime import container
    from trackbridge.runtime.automation.events import QueuedEvent

    client = PatientClient(api)
    receipts = container.event_repository()
    sqs = stack.resources.client("sqs")
    queue_url = stack.resources.queue_urls["auto_issue"]

    def send(n: int) -> tuple[int, str | None]:
        answer = client.post("/events", body)
        if answer.status_code != 202:
            return answer.status_code, None
        event_id = str(answer.json()["event_id"])
        if n < duplicates:
            event = receipts.get(DEMO, event_id)
            message = QueuedEvent(tenant=DEMO, event=event).model_dump(mode="json")
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
        return 202, event_id

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(send, range(posts)))
    accepted = [event_id for _, event_id in answers if event_id]
    return StormSent(
        posted=posts,
        statuses=Counter(status for status, _ in answers),
        accepted=accepted,
        duplicates=min(duplicates, len(accepted)),
        throttled=client.throttled,
        seconds=time.perf_counter() - started,
    )


# ---- draining -------------------------------------------------------------------------------------------


@dataclass
class Drain:
    consumer: str
    received: int = 0
    deleted: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def per_s(self) -> float:
        return self.deleted / self.seconds if self.seconds else 0.0


class _Context:
    """What the handlers' Powertools decorators read of a Lambda context."""

    function_name = "trackbridge-bench-auto-issue"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:trackbridge-bench-auto-issue"
    aws_request_id = "bench-request"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class BareConsumer:
    """Reads each message and nothing more: the floor any consumer of this queue pays."""

    bodies: list[str] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        for record in event["Records"]:
            json.loads(record["body"])
            self.bodies.append(record["body"])
        return {"batchItemFailures": []}


def queue_depth(stack: Any) -> int:
    attributes = stack.resources.client("sqs").get_queue_attributes(
        QueueUrl=stack.resources.queue_urls["auto_issue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(stack: Any, consumer: str, invoke: Callable[[dict[str, Any]], Any], expected: int) -> Drain:
    """Drain the auto-issue queue through the stack's poller code until ``expected`` messages were deleted
    (or the queue is empty and nothing is in flight)."""
    from infra.definition import QUEUES
    from infra.local.pollers import QueuePoller

    spec = next(q for q in QUEUES if q.key == "auto_issue")
    poller = QueuePoller(
        spec=spec,
        queue_url=stack.resources.queue_urls["auto_issue"],
        queue_arn=stack.resources.queue_arns["auto_issue"],
        region=stack.resources.region,
        sqs=stack.resources.client("sqs"),
        invoke=invoke,
        visibility_timeout_s=120,
        wait_time_s=0,
    )
    result = Drain(consumer)
    started = time.perf_counter()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while time.monotonic() < deadline and result.deleted < expected:
        polled = poller.poll_once()
        result.received += polled.received
        result.deleted += polled.deleted
        result.failed += polled.failed
        if polled.received == 0 and queue_depth(stack) == 0:
            break
    result.seconds = time.perf_counter() - started
    return result


def resend(stack: Any, bodies: list[str]) -> None:
    sqs, url = stack.resources.client("sqs"), stack.resources.queue_urls["auto_issue"]
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


# ---- the run ----------------------------------------------------------------------------------------------


@dataclass
class Figures:
    provider: str
    sent: StormSent | None = None
    bare: Drain | None = None
    trackbridge: Drain | None = None
    issues_created: int = 0
    comments: int = 0
    tracker_requests: int = 0
    counted: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        if not (self.bare and self.trackbridge and self.trackbridge.per_s):
            return float("inf")
        return self.bare.per_s / self.trackbridge.per_s


@contextmanager
def running_stack() -> Iterator[Any]:
    from infra.local.stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="tb-stormbench-") as state_dir:
        stack = LocalStack(port=0, state_dir=Path(state_dir), stage="stormbench", seed="bench").start()
        try:
            yield stack
        finally:
            stack.stop()


def run(provider: str, events: int) -> Figures:
    import httpx

    import functions.auto_issue
    from trackbridge.runtime import container
    from trackbridge.runtime.automation.builtins import SAMPLE_EVENTS
    from trackbridge.storage.automation import FingerprintRepository

    figures = Figures(provider)
    duplicates = round(events * DUPLICATE_SHARE)
    posts = events - duplicates
    alarm = dict(SAMPLE_EVENTS["cloudwatch-alarm"])  # a single-metric alarm as EventBridge delivers it
    with running_stack() as stack:
        stack.pollers.pollers["auto_issue"].stop()  # from here on only this benchmark drains the queue
        tracker = stack.sandboxes.trackers[provider]
        headers = {"Authorization": f"Bearer {stack.api_key}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=120, trust_env=False) as api:
            answer = api.post(
                "/rules",
                json={
                    "name": RULE,
                    "event_type": "cloudwatch.alarm",
                    "condition": "alarm.state == 'ALARM'",
                    "connection_id": stack.demo_connections[provider],
                    "template": "cloudwatch-alarm",
                    "dedup": {"key": "{{ alarm.name }}", "repeat_window": 3600},
                },
            )
            if answer.status_code != 201:
                figures.problems.append(f"the rule was refused: {answer.text[:300]}")
                return figures
            figures.sent = send_storm(api, stack, alarm, posts=posts, duplicates=duplicates)
        deliveries = len(figures.sent.accepted) + figures.sent.duplicates
        if figures.sent.statuses != Counter({202: posts}):
            figures.problems.append(f"answers {dict(figures.sent.statuses)} for {posts} posts")

        bare = BareConsumer()
        figures.bare = drain(stack, "bare", bare, deliveries)
        resend(stack, bare.bodies)
        before = tracker.issue_counts()[0]
        tracker.reset_requests()
        figures.trackbridge = drain(
            stack,
            "trackbridge",
            lambda event: functions.auto_issue.handler(event, _Context()),
            deliveries,
        )
        figures.tracker_requests = int(tracker.requests()["total"])
        figures.issues_created = tracker.issue_counts()[0] - before
        items = container.table().query(partition=f"T#{DEMO}", sk_prefix=f"FP#{RULE}#")[0]
        claims = [FingerprintRepository.model(item) for item in items]
        if len(claims) == 1 and claims[0].issue_key:
            figures.counted = claims[0].count
            connection = container.connection_service().get(DEMO, stack.demo_connections[provider])
            credentials = container.connection_secrets().credentials(DEMO, connection.id) or {}
            with container.adapter_factory()(connection, credentials) as adapter:
                figures.comments = len(adapter.list_issue_comments(str(claims[0].issue_key)))
        else:
            figures.problems.append(f"{len(claims)} fingerprint claims, expected one with an issue")
        for drained in (figures.bare, figures.trackbridge):
            if drained.deleted != deliveries or drained.failed:
                figures.problems.append(
                    f"{drained.consumer}: {drained.deleted} of {deliveries} deliveries, "
                    f"{drained.failed} failed"
                )
        if figures.issues_created != 1:
            figures.problems.append(f"{figures.issues_created} issues created, expected 1")
        if figures.comments:
            figures.problems.append(f"{figures.comments} comments inside the repeat window, expected 0")
        if figures.counted != len(figures.sent.accepted):
            figures.problems.append(f"{figures.counted} events counted of {len(figures.sent.accepted)}")
    return figures


def print_report(figures: Figures) -> None:
    from benchmarks.webhooks import _table

    out = sys.stdout
    out.write(
        f"\nauto-issue storm benchmark {datetime.now(UTC).isoformat(timespec='seconds')}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}; embedded "
        f"stack (moto, sandbox trackers, gateway) in one process on loopback; tracker {figures.provider}\n"
    )
    sent = figures.sent
    if sent is not None:
        _table(
            "events in: one alarm posted at once through the gateway (8 threads), 10% delivered twice",
            ["posted", "accepted", "throttled 429s", "duplicates", "seconds", "accepted/s"],
            [
                [
                    str(sent.posted),
                    str(len(sent.accepted)),
                    str(sent.throttled),
                    str(sent.duplicates),
                    f"{sent.seconds:.1f}",
                    f"{len(sent.accepted) / sent.seconds:.1f}" if sent.seconds else "-",
                ]
            ],
        )
    rows = [
        [d.consumer, str(d.deleted), str(d.failed), f"{d.seconds:.3f}", f"{d.per_s:.1f}"]
        for d in (figures.bare, figures.trackbridge)
        if d is not None
    ]
    if rows:
        _table(
            "through the queue: the same messages, drained by each consumer (poller batches of 10)",
            ["consumer", "deliveries", "failed", "seconds", "deliveries/s"],
            rows,
        )
        out.write(f"ratio: the bare consumer is {figures.ratio:.1f}x trackbridge's deliveries/s\n")
    _table(
        "outcome at the tracker",
        ["issues created", "comments", "tracker requests", "events counted"],
        [
            [
                str(figures.issues_created),
                str(figures.comments),
                str(figures.tracker_requests),
                str(figures.counted),
            ]
        ],
    )
    for problem in figures.problems:
        out.write(f"FAILED: {figures.provider}: {problem}\n")


def main(argv: list[str] | None = None) -> int:
    from infra.local.trackers import SANDBOXES

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.auto_issue_storm", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=1000, help="deliveries, 10%% of them duplicates (1000)")
    parser.add_argument("--provider", choices=sorted(SANDBOXES), default="github", help="tracker (github)")
    args = parser.parse_args(argv)
    if not 10 <= args.events <= 100_000:
        parser.error("--events must be between 10 and 100000")
    use_fake_aws()
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    logging.disable(logging.WARNING)
    figures = run(args.provider, args.events)
    print_report(figures)
    return 1 if figures.problems else 0


if __name__ == "__main__":
    sys.exit(main())
