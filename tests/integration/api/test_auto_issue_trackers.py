"""Auto-issue against moto and the GitHub, GitLab and Jira sandboxes on loopback: exactly one issue per
fingerprint under concurrent and duplicate deliveries, a crash between claim and create (either side of the
tracker call), repeats, recovery with a settle time, reopen, won't-fix, and a 429 from the tracker.

The service is composed from the real repositories on moto's DynamoDB and the real adapter pool (the
connection is made through the API, so credentials live in moto's Secrets Manager); only the clock is
driven by the test, and delayed re-enqueues are recorded instead of sent.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.support.sandboxes import egress_allowed
from trackbridge.domain.automation import Dedup, Event, FingerprintClaim, Rule
from trackbridge.domain.times import utcnow
from trackbridge.providers.errors import RateLimitedError
from trackbridge.runtime import container
from trackbridge.runtime.adapter_pool import AdapterPool
from trackbridge.runtime.automation.events import QueuedEvent, read_message
from trackbridge.runtime.automation.service import AutoIssueService, ClaimBusy, EventOutcome
from trackbridge.runtime.settings import get_settings
from trackbridge.runtime.webhooks.apply import APPLY_ADAPTER_OPTIONS
from trackbridge.storage.automation import FingerprintRepository, RuleRepository, TemplateRepository
from trackbridge.storage.issues import CommentRepository, IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("auto-issue-trackers")]

PROVIDER_NAMES = ("github", "gitlab", "jira")
FIXTURE = "eventbridge.cloudwatch_alarm_state_change.single_metric.ALARM.json"
SECRET = "AKIA" + "FAKE" * 4  # an AWS access key id in shape only


@dataclass
class Clock:
    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class RecordedRequeue:
    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, body: Any, *, delay_s: int) -> None:
        self.sent.append((json.loads(json.dumps(body)), delay_s))


@dataclass
class World:
    tenant: str
    connection_id: str
    sandbox: SandboxTracker[Any]
    clock: Clock
    requeue: RecordedRequeue
    pool: AdapterPool
    claims: FingerprintRepository

    def service(self, **kwargs: Any) -> AutoIssueService:
        table = container.table()
        return AutoIssueService(
            rules=RuleRepository(table),
            templates=TemplateRepository(table),
            claims=kwargs.pop("claims", self.claims),
            connections=container.connection_repository(),
            adapters=self.pool,
            requeue=self.requeue,
            audit=container.audit_repository(),
            issues=IssueRepository(table),
            comments=CommentRepository(table),
            clock=self.clock,
            **kwargs,
        )

    def issues(self) -> int:
        return self.sandbox.issue_counts()[0]

    def adapter(self) -> Any:
        connection = container.connection_repository().get(self.tenant, self.connection_id)
        return self.pool.lease(self.tenant, connection)


@pytest.fixture(scope="module")
def sandboxes(local_resources: Any) -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in PROVIDER_NAMES:
            started[name] = SANDBOXES[name](seed="auto-issue", issues=2, comments_per_issue=0).start()
        urls = [url for sandbox in started.values() for url in sandbox.urls()]
        with egress_allowed(*urls):
            yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


@pytest.fixture(params=PROVIDER_NAMES)
def world(
    request: pytest.FixtureRequest, sandboxes: dict[str, SandboxTracker[Any]], api: ApiClient, tenant: str
) -> Iterator[World]:
    sandbox = sandboxes[request.param]
    sandbox.reset()
    sandbox.clear_faults()
    answer = api.call("POST", "/v1/connections", body=sandbox.connection_request(name=f"{sandbox.kind} auto"))
    assert answer.status == 201, answer.body
    pool = AdapterPool(
        container.connection_secrets(), factory=container.adapter_factory(), options=APPLY_ADAPTER_OPTIONS
    )
    try:
        yield World(
            tenant=tenant,
            connection_id=str(answer.body["id"]),
            sandbox=sandbox,
            clock=Clock(),
            requeue=RecordedRequeue(),
            pool=pool,
            claims=FingerprintRepository(container.table()),
        )
    finally:
        pool.close()


def save_rule(world: World, **changes: Any) -> Rule:
    fields: dict[str, Any] = {
        "name": "cpu",
        "event_type": "cloudwatch.alarm",
        "condition": "alarm.state == 'ALARM'",
        "connection_id": world.connection_id,
        "template": "cloudwatch-alarm",
        "labels": ["ops"],
        "dedup": Dedup(key="{{ event.data.alarmName }}", repeat_window=600, reopen_window=3600),
        "on_resolve": "close",
        "settle_s": 0,
    }
    fields.update(changes)
    return RuleRepository(container.table()).create(world.tenant, Rule(**fields))


def alarm(shared_dir: Path, *, state: str = "ALARM", event_id: str | None = None, reason: str = "") -> Event:
    raw = json.loads((shared_dir / "fixtures" / "aws" / FIXTURE).read_text())
    raw["id"] = event_id or str(uuid.uuid4())
    raw["detail"]["state"]["value"] = state
    raw["detail"]["state"]["reason"] = reason or f"went {state}; creds {SECRET} in the reason"
    job = read_message(json.dumps(raw), default_tenant="ignored")
    assert isinstance(job, QueuedEvent)
    return job.event


def only_rule(outcome: EventOutcome) -> str:
    assert len(outcome.rules) == 1, outcome
    return outcome.rules[0].outcome


def the_claim(world: World) -> FingerprintClaim:
    claims = [
        FingerprintRepository.model(item)
        for item in container.table().query(partition=f"T#{world.tenant}", sk_prefix="FP#")[0]
    ]
    assert len(claims) == 1
    return claims[0]


def test_concurrent_and_duplicate_deliveries_create_exactly_one_issue(world: World, shared_dir: Path) -> None:
    # Given a rule, and 12 deliveries of one alarm (4 events, each delivered three times) at once
    save_rule(world)
    events = [alarm(shared_dir, event_id=f"evt-{n}") for n in range(4)] * 3
    before = world.issues()
    service = world.service()
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(events))

    def deliver(event: Event) -> None:
        start.wait()
        for _ in range(200):  # a busy claim returns the job to the queue: here, try again (bounded)
            try:
                result = only_rule(service.process(world.tenant, event))
            except ClaimBusy:
                threading.Event().wait(0.05)
                continue
            with lock:
                outcomes.append(result)
            return

    threads = [threading.Thread(target=deliver, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then exactly one issue exists, every delivery was answered, the other events were counted once each
    # and the duplicate deliveries not at all
    assert world.issues() == before + 1
    assert set(outcomes) <= {"counted", "created", "ignored"}
    assert outcomes.count("created") == 1
    assert outcomes.count("created") + outcomes.count("counted") == 4
    assert len(outcomes) == len(events)
    claim = the_claim(world)
    assert claim.state == "created"
    assert claim.count == 4
    with world.adapter() as adapter:
        issue = adapter.get_issue(str(claim.issue_key))
    assert issue.title == "[ALARM] ServerCpuTooHigh"
    assert claim.marker in issue.body
    assert "CPUUtilization" in issue.body
    assert SECRET not in issue.body
    assert "(redacted)" in issue.body
    assert "ops" in issue.labels


def test_a_crash_between_claim_and_create_still_gives_one_issue(world: World, shared_dir: Path) -> None:
    # Given a worker that dies after claiming, before the tracker call
    save_rule(world)
    before = world.issues()

    def crash() -> None:
        raise RuntimeError("injected crash")

    with pytest.raises(RuntimeError):
        world.service(crash_after_claim=crash).process(world.tenant, alarm(shared_dir))
    assert the_claim(world).state == "claimed"
    assert world.issues() == before
    # When the redelivery comes while the claim is fresh, it waits; once stale, it searches and creates
    with pytest.raises(ClaimBusy):
        world.service().process(world.tenant, alarm(shared_dir))
    world.clock.advance(301)
    assert only_rule(world.service().process(world.tenant, alarm(shared_dir))) == "created"
    # Then one issue
    assert world.issues() == before + 1
    assert the_claim(world).state == "created"


class ForgetsCreated(FingerprintRepository):
    """Dies after the tracker created the issue, before ``created`` is recorded (the DESIGN 10 case)."""

    def replace(self, tenant: str, claim: FingerprintClaim, **kwargs: Any) -> FingerprintClaim:
        if claim.state == "created":
            raise RuntimeError("injected crash after the tracker call")
        return super().replace(tenant, claim, **kwargs)


def test_a_crash_after_the_tracker_created_is_recovered_by_the_marker(world: World, shared_dir: Path) -> None:
    save_rule(world)
    before = world.issues()
    with pytest.raises(RuntimeError):
        world.service(claims=ForgetsCreated(container.table())).process(world.tenant, alarm(shared_dir))
    assert world.issues() == before + 1
    assert the_claim(world).state == "claimed"
    # When a redelivery finds the claim stale, it finds the issue by its marker instead of creating again
    world.clock.advance(301)
    assert only_rule(world.service().process(world.tenant, alarm(shared_dir))) == "recovered"
    assert world.issues() == before + 1
    claim = the_claim(world)
    assert claim.state == "created"
    assert claim.issue_key


def test_repeats_comment_once_per_window_then_recovery_closes_and_recurrence_reopens(
    world: World, shared_dir: Path
) -> None:
    save_rule(world)
    service = world.service()
    assert only_rule(service.process(world.tenant, alarm(shared_dir))) == "created"
    # Repeats inside the window are counted without a tracker request
    world.sandbox.reset_requests()
    assert only_rule(service.process(world.tenant, alarm(shared_dir))) == "counted"
    assert world.sandbox.requests()["total"] == 0
    # After the window, one comment with the count
    world.clock.advance(601)
    assert (
        only_rule(service.process(world.tenant, alarm(shared_dir, reason="latest value 97.5"))) == "commented"
    )
    assert only_rule(service.process(world.tenant, alarm(shared_dir))) == "counted"
    key = str(the_claim(world).issue_key)
    with world.adapter() as adapter:
        comments = adapter.list_issue_comments(key)
    assert len(comments) == 1
    assert "**3**" in comments[0].body
    assert "97.5" in comments[0].body
    # OK closes (settle 0 here) with a comment
    assert only_rule(service.process(world.tenant, alarm(shared_dir, state="OK"))) == "resolved"
    with world.adapter() as adapter:
        assert adapter.get_issue(key).status_category == "done"
    # A recurrence within the reopen window reopens the same issue
    before = world.issues()
    world.clock.advance(60)
    assert only_rule(service.process(world.tenant, alarm(shared_dir))) == "reopened"
    with world.adapter() as adapter:
        assert adapter.get_issue(key).status_category != "done"
    assert world.issues() == before


def test_a_recurrence_after_the_reopen_window_opens_a_new_issue_naming_the_old(
    world: World, shared_dir: Path
) -> None:
    save_rule(world)
    service = world.service()
    service.process(world.tenant, alarm(shared_dir))
    old = the_claim(world)
    service.process(world.tenant, alarm(shared_dir, state="OK"))
    world.clock.advance(3601 + 601)
    assert only_rule(service.process(world.tenant, alarm(shared_dir))) == "created"
    new = the_claim(world)
    assert new.generation == 2
    assert new.issue_ref != old.issue_ref
    assert new.previous_issue_ref == old.issue_ref
    with world.adapter() as adapter:
        body = adapter.get_issue(str(new.issue_key)).body
    assert "This happened before" in body
    assert new.marker in body
    assert old.marker not in body


def close_as_wont_fix(world: World, key: str) -> None:
    with world.adapter() as adapter:
        if world.sandbox.kind == "github":
            adapter.transition_issue(key, "close_not_planned")
        elif world.sandbox.kind == "gitlab":
            from trackbridge.providers.types import IssueChanges

            adapter.update_issue(key, IssueChanges(add_labels=("wontfix",)))
            adapter.transition_issue(key, "close")
        else:
            done = next(t for t in adapter.list_transitions(key) if t.to_category == "done")
            adapter.send_json(
                "POST",
                f"rest/api/3/issue/{key}/transitions",
                json={"transition": {"id": done.id}, "fields": {"resolution": {"name": "Won't Do"}}},
            )


def test_a_person_closing_as_wont_fix_keeps_it_closed(world: World, shared_dir: Path) -> None:
    save_rule(world)
    service = world.service()
    service.process(world.tenant, alarm(shared_dir))
    key = str(the_claim(world).issue_key)
    close_as_wont_fix(world, key)
    before = world.issues()
    world.clock.advance(601)
    assert only_rule(service.process(world.tenant, alarm(shared_dir))) == "kept_closed"
    with world.adapter() as adapter:
        assert adapter.get_issue(key).status_category == "done"
    assert world.issues() == before


def test_a_flapping_alarm_does_not_close_the_issue(world: World, shared_dir: Path) -> None:
    save_rule(world, settle_s=300)
    service = world.service()
    service.process(world.tenant, alarm(shared_dir))
    # OK is parked for the settle time ...
    assert only_rule(service.process(world.tenant, alarm(shared_dir, state="OK"))) == "parked"
    (body, delay), *_ = world.requeue.sent
    assert 1 <= delay <= 301
    # ... the alarm fires again before it settles ...
    world.clock.advance(30)
    assert only_rule(service.process(world.tenant, alarm(shared_dir))) == "counted"
    # ... so the parked recovery does nothing when it comes back
    world.clock.advance(300)
    check = read_message(json.dumps(body), default_tenant="x")
    assert not isinstance(check, QueuedEvent)
    assert only_rule(service.settle(check)) == "ignored"
    key = str(the_claim(world).issue_key)
    with world.adapter() as adapter:
        assert adapter.get_issue(key).status_category != "done"
    # A recovery that holds closes it when its check comes back
    assert only_rule(service.process(world.tenant, alarm(shared_dir, state="OK"))) == "parked"
    world.clock.advance(301)
    check = read_message(json.dumps(world.requeue.sent[-1][0]), default_tenant="x")
    assert not isinstance(check, QueuedEvent)
    assert only_rule(service.settle(check)) == "resolved"
    with world.adapter() as adapter:
        assert adapter.get_issue(key).status_category == "done"


def test_a_429_on_create_fails_the_job_and_the_retry_creates_one_issue(
    world: World, shared_dir: Path
) -> None:
    save_rule(world)
    before = world.issues()
    world.sandbox.add_faults([{"route": "POST *", "status": 429, "retry_after_s": 1, "times": 1}])
    with pytest.raises(RateLimitedError):
        world.service().process(world.tenant, alarm(shared_dir))
    assert world.issues() == before
    # The claim was released (the tracker made nothing), so the retry creates without waiting
    assert container.table().query(partition=f"T#{world.tenant}", sk_prefix="FP#")[0] == []
    assert only_rule(world.service().process(world.tenant, alarm(shared_dir))) == "created"
    assert world.issues() == before + 1


def test_a_storm_through_the_consumer_creates_one_issue_and_no_comment_storm(
    world: World, shared_dir: Path
) -> None:
    """200 deliveries of one alarm (180 events, 10% of them delivered twice), in batches of 10 on 4 workers,
    through the function's record handler; failed records (a busy claim) are delivered again, as SQS
    would, in at most 50 rounds."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from functions.auto_issue import record_handler
    from tests.integration.api.test_events_api import sqs_record
    from tests.unit.api.support import FakeLambdaContext
    from trackbridge.runtime import container

    save_rule(world)
    container.reset()
    alarm_body = json.loads((shared_dir / "fixtures" / "aws" / FIXTURE).read_text())
    bodies = []
    for n in range(180):
        alarm_body["id"] = f"storm-{n}"
        bodies.append(json.dumps(alarm_body))
    bodies += bodies[:20]  # duplicate deliveries
    os.environ["TB_AUTO_ISSUE_TENANT"] = world.tenant
    get_settings.cache_clear()  # settings are read once per process (container.reset() below forgets them)
    before = world.issues()
    world.sandbox.reset_requests()
    pending = [sqs_record(body, f"msg-{n}") for n, body in enumerate(bodies)]
    processed = 0
    lock = threading.Lock()
    try:
        for _ in range(50):
            if not pending:
                break
            batches = [pending[i : i + 10] for i in range(0, len(pending), 10)]
            failed: list[dict[str, Any]] = []

            def work(batch: list[dict[str, Any]], failed: list[dict[str, Any]] = failed) -> None:
                processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
                answer = process_partial_response(
                    event={"Records": batch},
                    record_handler=record_handler,
                    processor=processor,
                    context=cast(LambdaContext, FakeLambdaContext(function_name="auto_issue")),
                )
                ids = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
                with lock:
                    failed.extend(r for r in batch if r["messageId"] in ids)

            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(work, batches))
            processed += len(pending) - len(failed)
            pending = failed
    finally:
        os.environ.pop("TB_AUTO_ISSUE_TENANT", None)
        container.reset()
    assert pending == []
    assert processed == len(bodies)
    assert world.issues() == before + 1
    claim = the_claim(world)
    assert claim.count == 180  # events, not deliveries
    with world.adapter() as adapter:
        assert adapter.list_issue_comments(str(claim.issue_key)) == []
    # Tracker requests stay bounded: one create (plus Jira's read-back), no per-event request
    assert world.sandbox.requests()["total"] <= 6


class FakeEnricher:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail

    def enrich(self, event: Event, context: Any) -> dict[str, str]:
        if self.fail:
            raise RuntimeError("model unavailable")
        return {"summary": f"{context['alarm']['name']} tracks the nightly batch; ask ops@example.com"}


def test_an_enrichment_step_adds_a_redacted_summary_and_its_failure_is_harmless(
    world: World, shared_dir: Path
) -> None:
    save_rule(world)
    world.service(enricher=FakeEnricher()).process(world.tenant, alarm(shared_dir))
    with world.adapter() as adapter:
        body = adapter.get_issue(str(the_claim(world).issue_key)).body
    assert "ServerCpuTooHigh tracks the nightly batch" in body
    assert "ops@example.com" not in body
    save_rule(world, name="cpu-2")
    outcome = world.service(enricher=FakeEnricher(fail=True)).process(world.tenant, alarm(shared_dir))
    assert sorted((r.rule, r.outcome) for r in outcome.rules) == [("cpu", "counted"), ("cpu-2", "created")]
