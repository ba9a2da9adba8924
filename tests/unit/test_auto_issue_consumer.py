"""The auto-issue record handler: unreadable bodies fail their record with the reason logged, receipts of
API events move on, and a tracker's 429 parks the job (a delayed new message) instead of failing it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from tests.unit.api.support import captured_logs
from trackbridge.domain.automation import Event
from trackbridge.domain.errors import NotFound
from trackbridge.providers.errors import RateLimitedError
from trackbridge.runtime.automation.consumer import handle_record, rate_limit_delay
from trackbridge.runtime.automation.events import QueuedEvent, SettleCheck, UnreadableEvent
from trackbridge.runtime.automation.service import EventOutcome, RuleOutcome

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
EVENT = Event(id="evt_1", type="schema.drift", source="s", occurred_at=NOW, received_at=NOW)


def record(body: Any, message_id: str = "m-1") -> SQSRecord:
    return SQSRecord({"messageId": message_id, "body": body if isinstance(body, str) else json.dumps(body)})


@dataclass
class FakeService:
    fail: Exception | None = None
    processed: list[tuple[str, str]] = field(default_factory=list)
    settled: list[SettleCheck] = field(default_factory=list)

    def process(self, tenant: str, event: Event) -> EventOutcome:
        if self.fail is not None:
            raise self.fail
        self.processed.append((tenant, event.id))
        return EventOutcome(event.id, (RuleOutcome("r", "created", "conn_x.1"),))

    def settle(self, check: SettleCheck) -> EventOutcome:
        self.settled.append(check)
        return EventOutcome(check.event.id, (RuleOutcome("r", "resolved"),))


@dataclass
class FakeReceipts:
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def set_status(self, tenant: str, event_id: str, status: str, *, issue_ref: str | None = None) -> None:
        if event_id == "evt_gone":
            raise NotFound("expired")
        self.statuses[event_id] = (status, issue_ref)


@dataclass
class FakeQueue:
    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, body: Any, *, delay_s: int) -> None:
        self.sent.append((dict(body), delay_s))


def queued(event: Event = EVENT) -> dict[str, Any]:
    return QueuedEvent(tenant="acme", event=event).model_dump(mode="json")


def test_an_api_event_is_processed_and_its_receipt_moves_on() -> None:
    service, receipts = FakeService(), FakeReceipts()
    outcome = handle_record(record(queued()), service=service, default_tenant="d", receipts=receipts)
    assert outcome.issue_ref == "conn_x.1"
    assert service.processed == [("acme", "evt_1")]
    assert receipts.statuses == {"evt_1": ("processed", "conn_x.1")}
    # An expired receipt does not fail the job
    gone = EVENT.model_copy(update={"id": "evt_gone"})
    handle_record(record(queued(gone)), service=service, default_tenant="d", receipts=receipts)


def test_a_settle_check_goes_to_settle() -> None:
    service = FakeService()
    check = SettleCheck(tenant="acme", rule="r", fingerprint="f" * 32, resolved_at=NOW, event=EVENT)
    handle_record(record(check.model_dump(mode="json")), service=service, default_tenant="d")
    assert service.settled == [check]


def test_an_unreadable_body_fails_with_its_reason_logged() -> None:
    with captured_logs() as logs, pytest.raises(UnreadableEvent):
        handle_record(record("{oops", "m-bad"), service=FakeService(), default_tenant="d")
    (line,) = [json.loads(x) for x in logs.lines if "auto_issue.unreadable" in x]
    assert line["message_id"] == "m-bad"
    assert "not JSON" in line["reason"]


def test_a_rate_limited_job_is_parked_for_its_retry_after() -> None:
    service = FakeService(fail=RateLimitedError("slow down", retry_after_s=42))
    queue = FakeQueue()
    outcome = handle_record(record(queued()), service=service, default_tenant="d", requeue=queue)
    assert [r.outcome for r in outcome.rules] == ["parked"]
    ((body, delay),) = queue.sent
    assert delay == 43
    assert body == queued()


def test_without_a_queue_a_rate_limit_fails_the_record() -> None:
    with pytest.raises(RateLimitedError):
        handle_record(record(queued()), service=FakeService(fail=RateLimitedError("x")), default_tenant="d")


@pytest.mark.parametrize(("retry_after", "delay"), [(None, 60), (0.2, 1), (10, 11), (5000, 900)])
def test_park_delays_stay_within_sqs_limits(retry_after: float | None, delay: int) -> None:
    assert rate_limit_delay(RateLimitedError("x", retry_after_s=retry_after)) == delay
