"""The storm: one alarm sent at once through the local API Gateway, with 10% duplicate deliveries, makes
exactly one issue, no comment storm, and accounts for every accepted event.

200 deliveries here, not the 1,000 of the benchmark (``benchmarks/auto_issue_storm.py``, in ``make bench``):
moto's TransactWriteItems deep-copies the whole table for its rollback, once per item, and every repeat of
the alarm is counted in one two-item transaction, so each delivery costs the local stack two copies of a
table that grows with the storm (about 0.35 s a delivery at 200 on this 2-core machine, and rising). The
1,000 deliveries take many minutes locally; 200 exercise the same paths in about a minute and a half.

* 180 identical CloudWatch alarm events are posted to ``POST /v1/events`` by a bounded pool of 8 threads
  (``benchmarks.auto_issue_storm.send_storm``, which the benchmark times), through a second local gateway
  on the stack's functions (``infra.local.apigw``, the stack's own code) whose stage limit is 10 requests/s
  with bursts of 10 instead of 50/100: the API function alone answers fewer than 50 a second on this
  machine, so only a tighter stage makes the gateway throttle whatever the machine's speed. The client
  retries each 429, after ``Retry-After`` when the answer carries one (API Gateway sends none), else after
  a short growing pause; only 202s count as accepted.
* The other 20 are duplicates, "the same event id re-sent": the API gives every accepted event its own id,
  so a re-sent id can only come from the queue's side, as SQS's at-least-once delivery makes it. 20
  accepted events' messages are put on the auto-issue queue a second time, while the storm runs.
* The stack's poller hands all of it to the auto-issue function (one execution environment, as the
  function's concurrency allows locally; concurrent claims on one fingerprint are covered by
  ``tests/integration/api/test_auto_issue_trackers.py``).

Then: one issue at the GitHub sandbox (the dedup state is trackbridge's, the same for every tracker), no
comment (every repeat falls inside the rule's one-hour repeat window), the fingerprint's count equals the
events accepted (duplicates are not counted twice), every receipt is ``processed``, nothing in the DLQ.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.auto_issue_storm import send_storm
from infra.local.apigw import LocalApiGateway
from infra.local.stack import DEMO_TENANT, LocalStack
from tests.support.auto_issue import FIXTURES, RecordingAutoIssue, Trackbridge, fixture, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("auto-issue-storm"), pytest.mark.timeout(1800)]

EVENTS = 180
DUPLICATES = 20
WORKERS = 8
RULE = "storm-cpu"
DRAIN_S = 900.0
STAGE_RATE, STAGE_BURST = 10, 10


@pytest.fixture(scope="module")
def recorder() -> RecordingAutoIssue:
    return RecordingAutoIssue()


@pytest.fixture(scope="module")
def tb(tmp_path_factory: pytest.TempPathFactory, recorder: RecordingAutoIssue) -> Iterator[Trackbridge]:
    stack = LocalStack(
        port=0,
        state_dir=tmp_path_factory.mktemp("state"),
        stage="autoissuestorm",
        functions={"auto_issue": recorder},
    ).start()
    assert stack.functions is not None
    gateway = LocalApiGateway(
        stack.functions, throttle_rate=STAGE_RATE, throttle_burst=STAGE_BURST, region=stack.region
    ).start()
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    try:
        with httpx.Client(base_url=gateway.api_url, headers=headers, timeout=120, trust_env=False) as api:
            yield Trackbridge(stack, api)
    finally:
        gateway.stop()
        stack.stop()


def the_claim(tenant: str) -> Any:
    from trackbridge.runtime import container
    from trackbridge.storage.automation import FingerprintRepository

    items = container.table().query(partition=f"T#{tenant}", sk_prefix=f"FP#{RULE}#")[0]
    assert len(items) == 1, items
    return FingerprintRepository.model(items[0])


def test_a_storm_of_one_alarm_makes_one_issue_and_accounts_for_every_event(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path
) -> None:
    from trackbridge.runtime import container

    # Given a rule for the alarm, commenting at most once an hour
    alarm = fixture(shared_dir, FIXTURES["single_metric"])
    tb.create_rule(
        name=RULE,
        event_type="cloudwatch.alarm",
        condition="alarm.state == 'ALARM'",
        connection_id=tb.connection("github"),
        template="cloudwatch-alarm",
        dedup={"key": "{{ alarm.name }}", "repeat_window": 3600},
        on_resolve="close",
    )
    before = tb.issues_at("github")

    # When 180 are posted at once and 20 of them delivered twice
    sent = send_storm(tb.api, tb.stack, alarm, posts=EVENTS, duplicates=DUPLICATES, workers=WORKERS)
    assert sent.statuses == {202: EVENTS}, sent.statuses
    assert sent.throttled > 0  # the gateway did throttle: the client's retries were exercised
    deliveries = EVENTS + DUPLICATES
    wait_until(lambda: recorder.records >= deliveries, "every delivery processed", DRAIN_S)

    # Then exactly one issue, no comment, every event counted once, every receipt processed
    outcomes = recorder.of_rule(RULE)
    assert outcomes["created"] == 1, outcomes
    assert outcomes["created"] + outcomes["counted"] == EVENTS, outcomes
    assert outcomes["ignored"] == DUPLICATES, outcomes
    assert sum(outcomes.values()) == deliveries
    assert tb.issues_at("github") == before + 1
    claim = the_claim(DEMO_TENANT)
    assert claim.count == EVENTS
    with tb.adapter("github") as adapter:
        assert adapter.list_issue_comments(str(claim.issue_key)) == []
    events = container.event_repository()
    receipts = Counter(events.get(DEMO_TENANT, event_id).status for event_id in sent.accepted)
    assert receipts == {"processed": EVENTS}, receipts
    assert tb.api.get("/dlq/auto_issue").json()["items"] == []
