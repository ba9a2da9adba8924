"""Record matching against the GitHub sandbox and moto: a sync adopts an auto-issue claim whose worker died
after the tracker created the issue, racing the auto-issue recovery of the same claim.

Given/When/Then: a rule's worker creates the issue and dies before recording it (the claim stays
``claimed``); once the claim is stale, a sync and the recovery (a redelivery of the alarm) run in either
order or at once on threads. Whatever the order, the tracker holds exactly one issue for the alarm, the
claim is ``created`` with that issue's ref, and the store holds one record of it.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local.trackers.core import SandboxTracker
from tests.integration.sync.conftest import connection_fields, create_connection
from tests.integration.sync.support import Harness
from tests.support.sandboxes import fresh
from trackbridge.domain.automation import Dedup, Event, FingerprintClaim, Rule
from trackbridge.domain.sync_plan import SyncRequest
from trackbridge.domain.times import utcnow
from trackbridge.runtime import container
from trackbridge.runtime.adapter_pool import AdapterPool
from trackbridge.runtime.automation.events import QueuedEvent, read_message
from trackbridge.runtime.automation.service import AutoIssueService, ClaimBusy
from trackbridge.runtime.webhooks.apply import APPLY_ADAPTER_OPTIONS
from trackbridge.storage.automation import FingerprintRepository, RuleRepository, TemplateRepository
from trackbridge.storage.issues import CommentRepository, IssueRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

FIXTURE = "eventbridge.cloudwatch_alarm_state_change.single_metric.ALARM.json"
STALE = timedelta(seconds=301)  # past the recovery's (and the matcher's) 300 s


class ForgetsCreated(FingerprintRepository):
    """Dies after the tracker created the issue, before ``created`` is recorded (the DESIGN 10 case)."""

    def replace(self, tenant: str, claim: FingerprintClaim, **kwargs: Any) -> FingerprintClaim:
        if claim.state == "created":
            raise RuntimeError("injected crash after the tracker call")
        return super().replace(tenant, claim, **kwargs)


class NoRequeue:
    """The auto-issue queue: a firing alarm with no settle time never re-enqueues anything."""

    def send(self, body: Any, *, delay_s: int) -> None:
        raise AssertionError("nothing is re-enqueued here")


class Scene:
    """One tenant's GitHub connection, its auto-issue rule, and both racers."""

    def __init__(self, tenant: str, tracker: SandboxTracker[Any], harness: Harness, shared_dir: Path) -> None:
        self.tenant, self.tracker, self.harness, self.shared_dir = tenant, tracker, harness, shared_dir
        self.connection = create_connection(tenant, **connection_fields(tracker))
        self.pool = AdapterPool(
            container.connection_secrets(), factory=container.adapter_factory(), options=APPLY_ADAPTER_OPTIONS
        )
        self.now = utcnow()
        RuleRepository(container.table()).create(
            tenant,
            Rule(
                name="cpu",
                event_type="cloudwatch.alarm",
                condition="alarm.state == 'ALARM'",
                connection_id=self.connection.id,
                template="cloudwatch-alarm",
                dedup=Dedup(key="{{ event.data.alarmName }}", repeat_window=600, reopen_window=3600),
            ),
        )

    def service(self, claims: FingerprintRepository | None = None) -> AutoIssueService:
        table = container.table()
        return AutoIssueService(
            rules=RuleRepository(table),
            templates=TemplateRepository(table),
            claims=claims or FingerprintRepository(table),
            connections=container.connection_repository(),
            adapters=self.pool,
            requeue=NoRequeue(),
            audit=container.audit_repository(),
            issues=IssueRepository(table),
            comments=CommentRepository(table),
            clock=lambda: self.now,
        )

    def alarm(self) -> Event:
        raw = json.loads((self.shared_dir / "fixtures" / "aws" / FIXTURE).read_text())
        raw["id"] = str(uuid.uuid4())
        job = read_message(json.dumps(raw), default_tenant="ignored")
        assert isinstance(job, QueuedEvent)
        return job.event

    def claims(self) -> list[FingerprintClaim]:
        items, _ = container.table().query(partition=f"T#{self.tenant}", sk_prefix="FP#")
        return [FingerprintRepository.model(item) for item in items]

    def tracker_issues_with(self, marker: str) -> list[Any]:
        with self.pool.lease(self.tenant, self.connection) as adapter:
            return [i for i in adapter.search_issues(f'"{marker}" in:body', limit=10) if marker in i.body]

    def recover(self) -> str:
        """A redelivery of the alarm, retried while the claim is busy (bounded), as the queue would."""
        for _ in range(50):
            try:
                outcome = self.service().process(self.tenant, self.alarm())
            except ClaimBusy:
                threading.Event().wait(0.1)
                continue
            return outcome.rules[0].outcome
        raise AssertionError("the claim stayed busy")

    def sync(self) -> None:
        self.harness.run(self.tenant, self.connection.id, SyncRequest(mode="incremental"))


@pytest.fixture
def scene(
    small_sandboxes: dict[str, SandboxTracker[Any]],
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    shared_dir: Path,
) -> Iterator[Scene]:
    tracker = fresh(small_sandboxes["github"])
    scene = Scene(tenant, tracker, harness_factory(page_size=50), shared_dir)
    try:
        # Given: the connection synced once, then a worker that created the issue and died before recording
        scene.harness.run(tenant, scene.connection.id, SyncRequest(mode="full"))
        with pytest.raises(RuntimeError):
            scene.service(ForgetsCreated(container.table())).process(tenant, scene.alarm())
        [claim] = scene.claims()
        assert claim.state == "claimed"
        # ... and long enough ago for both the recovery and the sync to call the claim stale
        scene.now += STALE
        scene.harness.clock.offset += STALE
        yield scene
    finally:
        scene.pool.close()


@pytest.mark.parametrize("order", ["sync_first", "recovery_first", "together"])
def test_a_sync_and_the_recovery_leave_one_issue_and_one_created_claim(scene: Scene, order: str) -> None:
    [pending] = scene.claims()
    [issue] = scene.tracker_issues_with(pending.marker)
    before = scene.tracker.issue_counts()[0]

    # When: the sync and the recovery run in this order, or at once
    outcomes: list[str] = []
    if order == "sync_first":
        scene.sync()
        outcomes.append(scene.recover())
    elif order == "recovery_first":
        outcomes.append(scene.recover())
        scene.sync()
    else:
        start = threading.Barrier(2)

        def racer(work: Callable[[], Any]) -> Any:
            start.wait(timeout=60)
            return work()

        with ThreadPoolExecutor(max_workers=2) as pool:
            synced = pool.submit(racer, scene.sync)
            recovered = pool.submit(racer, scene.recover)
            synced.result(timeout=300)
            outcomes.append(recovered.result(timeout=300))

    # Then: no second issue at the tracker, the claim names the one there is, the store holds it once
    assert scene.tracker.issue_counts()[0] == before
    assert [i.ref for i in scene.tracker_issues_with(pending.marker)] == [issue.ref]
    [claim] = scene.claims()
    assert (claim.state, claim.issue_ref, claim.issue_key) == ("created", issue.ref, issue.key)
    stored = IssueRepository(container.table()).list_for_connection(
        scene.tenant, scene.connection.id, limit=1000
    )
    assert [i.ref for i in stored.items if pending.marker in i.body] == [issue.ref]
    # The recovery recorded the issue itself, or found it adopted and counted the alarm as a repeat
    expected = {"sync_first": {"counted"}, "recovery_first": {"recovered"}}.get(
        order, {"counted", "recovered"}
    )
    assert outcomes[0] in expected
    if order == "sync_first":
        # The sync adopted it (then the repeat counted): the issue's window opened when it was created
        assert claim.last_comment_at == issue.created_at


def test_a_fresh_claim_is_left_to_its_worker(
    small_sandboxes: dict[str, SandboxTracker[Any]],
    aws: Any,
    tenant: str,
    harness_factory: Callable[..., Harness],
    shared_dir: Path,
) -> None:
    # Given: a worker that created the issue a moment ago and has not recorded it yet
    scene = Scene(tenant, fresh(small_sandboxes["github"]), harness_factory(page_size=50), shared_dir)
    try:
        with pytest.raises(RuntimeError):
            scene.service(ForgetsCreated(container.table())).process(tenant, scene.alarm())

        # When: a sync lists the issue
        scene.sync()

        # Then: the claim is untouched (its worker records it with its link and audit entry)
        [claim] = scene.claims()
        assert claim.state == "claimed"
        assert claim.version == 1
    finally:
        scene.pool.close()
