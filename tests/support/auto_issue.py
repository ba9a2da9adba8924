"""Driving auto-issue on a running embedded stack from the outside, for the end-to-end tests and the storm.

* :class:`RecordingAutoIssue` is the stack's ``auto_issue`` function: Powertools' partial batch processing
  around ``functions.auto_issue.record_handler`` (the real record handler, composed by the container), which
  also keeps what each record came to (``rule:outcome``, or the exception that failed it), so a test waits on
  an outcome instead of sleeping;
* :func:`alarm_entry` turns a CloudWatch fixture of ``shared/fixtures/aws`` into the ``PutEvents`` entry AWS
  would put on the default bus (moto's EventBridge then routes it through the provisioned rule to the
  auto-issue queue: the EventBridge path of production);
* :class:`Trackbridge` is the demo tenant's API over HTTP plus what a test reads at the sandbox trackers
  (issue counts, and an issue as the tracker stores it, read through the connection's adapter).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

WAIT_S = 180.0
FIXTURES = {
    "single_metric": "eventbridge.cloudwatch_alarm_state_change.single_metric.ALARM.json",
    "composite": "eventbridge.cloudwatch_alarm_state_change.composite.ALARM.json",
    "metric_math": "eventbridge.cloudwatch_alarm_state_change.metric_math.ALARM.json",
    "anomaly_detection": "eventbridge.cloudwatch_alarm_state_change.anomaly_detection.ALARM.json",
}
SNS_FIXTURE = "sns.cloudwatch_alarm.single_metric.aws-lambda-go.json"
_T = TypeVar("_T")


def wait_until(probe: Callable[[], _T | None], what: str, timeout_s: float = WAIT_S) -> _T:
    """``probe()``'s first truthy answer, polled until ``timeout_s`` (generous: a loaded machine runs the
    stack's poller threads late); an ``AssertionError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(0.1)


# ---- the stack's auto_issue function, recording ------------------------------------------------------------


@dataclass
class RecordingAutoIssue:
    """``functions.auto_issue``'s batch handling with each record's result kept.

    ``outcomes`` counts ``(rule, outcome)`` pairs over every successful record; ``failures`` counts the
    exception types that failed a record (SQS delivers it again after the visibility timeout).
    """

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    records: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return process_partial_response(
            event=event, record_handler=self._record, processor=processor, context=context
        )

    def _record(self, record: Any) -> str:
        from functions.auto_issue import record_handler

        try:
            result = record_handler(record)
        except Exception as exc:
            with self._lock:
                self.records += 1
                self.failures[type(exc).__name__] += 1
            raise
        with self._lock:
            self.records += 1
            for part in result.split(","):
                rule, _, outcome = part.partition(":")
                self.outcomes[(rule, outcome)] += 1
        return result

    def count(self, rule: str, outcome: str) -> int:
        with self._lock:
            return self.outcomes[(rule, outcome)]

    def of_rule(self, rule: str) -> Counter[str]:
        with self._lock:
            return Counter({o: n for (r, o), n in self.outcomes.items() if r == rule})

    def failed(self, kind: str) -> int:
        with self._lock:
            return self.failures[kind]


# ---- events -----------------------------------------------------------------------------------------------


def fixture(shared_dir: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((shared_dir / "fixtures" / "aws" / name).read_text())
    return loaded


def alarm_detail(
    shared_dir: Path, shape: str, *, name: str, state: str = "ALARM", reason: str | None = None
) -> dict[str, Any]:
    """The ``detail`` of a CloudWatch fixture, renamed to ``name`` (so tests never share an alarm)."""
    detail: dict[str, Any] = fixture(shared_dir, FIXTURES[shape])["detail"]
    detail["alarmName"] = name
    detail["state"]["value"] = state
    if reason is not None:
        detail["state"]["reason"] = reason
    return detail


def alarm_entry(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The PutEvents entry CloudWatch puts on the default bus for a state change."""
    return {
        "Source": "aws.cloudwatch",
        "DetailType": "CloudWatch Alarm State Change",
        "Resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{detail['alarmName']}"],
        "Detail": json.dumps(detail),
        "EventBusName": "default",
    }


def put_alarm(stack: Any, detail: Mapping[str, Any]) -> None:
    answer = stack.resources.client("events").put_events(Entries=[alarm_entry(detail)])
    assert answer["FailedEntryCount"] == 0, answer


# ---- the API and the trackers -----------------------------------------------------------------------------


@dataclass
class Trackbridge:
    """The demo tenant's API on a running :class:`~infra.local.stack.LocalStack`, and its sandboxes."""

    stack: Any
    api: httpx.Client

    def connection(self, provider: str) -> str:
        return str(self.stack.demo_connections[provider])

    def sandbox(self, provider: str) -> Any:
        return self.stack.sandboxes.trackers[provider]

    def issues_at(self, provider: str) -> int:
        """How many issues the sandbox tracker holds now."""
        return int(self.sandbox(provider).issue_counts()[0])

    def create_rule(self, **fields: Any) -> dict[str, Any]:
        answer = self.api.post("/rules", json=fields)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    def delete_rule(self, name: str) -> None:
        answer = self.api.delete(f"/rules/{name}")
        assert answer.status_code in (204, 404), answer.text

    @contextmanager
    def rule(self, **fields: Any) -> Iterator[dict[str, Any]]:
        """A rule for the block's duration: later tests' events never meet it."""
        created = self.create_rule(**fields)
        try:
            yield created
        finally:
            self.delete_rule(str(fields["name"]))

    def synced(self, provider: str, title: str) -> dict[str, Any] | None:
        """The issue of the synced copy (written through by auto-issue) titled ``title``, if there is one."""
        cursor: str | None = None
        for _ in range(50):
            params: dict[str, Any] = {"connection": self.connection(provider), "limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = self.api.get("/issues", params=params)
            assert page.status_code == 200, page.text
            for item in page.json()["items"]:
                if item["title"] == title:
                    return dict(item)
            cursor = page.json().get("next_cursor")
            if not cursor:
                return None
        raise AssertionError("more than 50 pages of issues")

    def links_of(self, ref: str) -> list[dict[str, Any]]:
        answer = self.api.get("/links", params={"issue": ref})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])

    def at_tracker(self, provider: str, key: str) -> Any:
        """The issue as the tracker stores it now (``trackbridge.domain.issues.Issue``)."""
        with self.adapter(provider) as adapter:
            return adapter.get_issue(key)

    @contextmanager
    def adapter(self, provider: str) -> Iterator[Any]:
        """The demo connection's adapter, built as the runtime builds it (credentials from Secrets
        Manager)."""
        from trackbridge.runtime import container

        connection = container.connection_service().get("demo", self.connection(provider))
        credentials = container.connection_secrets().credentials("demo", connection.id) or {}
        with container.adapter_factory()(connection, credentials) as adapter:
            yield adapter


__all__ = [
    "FIXTURES",
    "SNS_FIXTURE",
    "WAIT_S",
    "RecordingAutoIssue",
    "Trackbridge",
    "alarm_detail",
    "alarm_entry",
    "fixture",
    "put_alarm",
    "wait_until",
]
