"""The back-off ladder's rules (``domain.backoff``): steps, pauses, restores, and what operators are told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from trackbridge.domain.backoff import (
    LadderPolicy,
    LadderRecord,
    ScheduleState,
    classify_result,
    effective_expression,
    record_result,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = LadderPolicy()


def _fail(record: LadderRecord, code: str, times: int = 1) -> LadderRecord:
    for n in range(times):
        record = record_result(record, "failure", code, now=NOW, operation_id=f"op_{code}_{n}").record
    return record


def test_three_failures_of_one_code_step_down_one_rung_and_the_first_opens_an_incident() -> None:
    # Given: two failures with the same code
    record = _fail(LadderRecord(), "PROVIDER_UNAVAILABLE", times=2)
    assert record.ladder_step == 0

    # When: a third one comes
    decision = record_result(record, "failure", "PROVIDER_UNAVAILABLE", now=NOW, operation_id="op_3")

    # Then: one rung down, the original expression kept beside the effective one, one incident
    assert decision.record.ladder_step == 1
    assert decision.record.consecutive_failures == 3
    assert decision.open_incident is True
    state = ScheduleState.of("rate(15 minutes)", "UTC", decision.record, now=NOW)
    assert (state.expression, state.effective_expression) == ("rate(15 minutes)", "rate(1 hour)")


def test_each_further_threshold_steps_once_more_until_the_last_rung_without_new_incidents() -> None:
    record = _fail(LadderRecord(), "TIMEOUT", times=3)
    decision = record_result(record, "failure", "TIMEOUT", now=NOW, operation_id="op_x")
    assert decision.open_incident is False  # the incident is already open
    record = _fail(record, "TIMEOUT", times=30)
    assert record.ladder_step == POLICY.last_step
    assert effective_expression("rate(15 minutes)", record, now=NOW, policy=POLICY) == "rate(24 hours)"


def test_a_different_code_starts_a_new_count_but_keeps_the_rung() -> None:
    record = _fail(LadderRecord(), "TIMEOUT", times=3)
    record = _fail(record, "PROVIDER_UNAVAILABLE", times=1)
    assert (record.ladder_step, record.consecutive_failures, record.last_code) == (
        1,
        1,
        "PROVIDER_UNAVAILABLE",
    )


@pytest.mark.parametrize("code", ["AUTH_INVALID", "AUTH_EXPIRED", "PERMISSION_DENIED", "SUSPENDED_PAYMENT"])
def test_a_code_that_needs_a_person_pauses_at_once_and_alerts_once(code: str) -> None:
    decision = record_result(LadderRecord(), "failure", code, now=NOW, operation_id="op_1")
    assert decision.record.paused
    assert decision.record.paused_reason == code
    assert decision.record.paused_by == "ladder"
    assert decision.open_incident is True
    again = record_result(decision.record, "failure", code, now=NOW, operation_id="op_2")
    assert again.open_incident is False  # a manual trigger failing again is the same incident


def test_the_first_success_restores_the_expression_lifts_the_ladders_pause_and_recovers() -> None:
    paused = record_result(LadderRecord(), "failure", "AUTH_INVALID", now=NOW, operation_id="op_1").record
    decision = record_result(paused, "success", None, now=NOW, operation_id="op_2")
    assert not decision.record.paused
    assert decision.record.ladder_step == 0
    assert decision.recovered is True
    stepped = _fail(LadderRecord(), "PROVIDER_UNAVAILABLE", times=3)
    restored = record_result(stepped, "success", None, now=NOW, operation_id="op_ok")
    assert (restored.record.ladder_step, restored.record.consecutive_failures) == (0, 0)
    assert restored.recovered is True
    # A success with nothing wrong tells nobody anything.
    assert record_result(LadderRecord(), "success", None, now=NOW).recovered is False


def test_a_success_never_lifts_an_admins_pause() -> None:
    paused = LadderRecord(paused_by="admin", paused_reason="maintenance")
    decision = record_result(paused, "success", None, now=NOW, operation_id="op_1")
    assert decision.record.paused_by == "admin"
    assert decision.record.paused_reason == "maintenance"


@pytest.mark.parametrize(
    ("status", "code"), [("Failed", "RATE_LIMITED"), ("Failed", "QUOTA_EXHAUSTED"), ("Cancelled", None)]
)
def test_rate_limits_and_cancels_are_not_failures(status: str, code: str | None) -> None:
    kind = classify_result(status, code)
    assert kind == "neutral"
    record = _fail(LadderRecord(), "TIMEOUT", times=2)
    after = record_result(record, kind, code, now=NOW, operation_id="op_n").record
    assert (after.consecutive_failures, after.last_code, after.ladder_step) == (2, "TIMEOUT", 0)


def test_the_same_operation_is_counted_once() -> None:
    once = record_result(LadderRecord(), "failure", "TIMEOUT", now=NOW, operation_id="op_1").record
    twice = record_result(once, "failure", "TIMEOUT", now=NOW, operation_id="op_1").record
    assert twice.consecutive_failures == 1


def test_per_code_thresholds_and_custom_steps() -> None:
    policy = LadderPolicy(steps=["rate(5 minutes)", "rate(2 hours)"], threshold=3, thresholds={"TIMEOUT": 1})
    record = LadderRecord(policy=policy)
    record = record_result(record, "failure", "TIMEOUT", now=NOW, operation_id="op_1").record
    assert record.ladder_step == 1
    assert effective_expression("rate(5 minutes)", record, now=NOW, policy=policy) == "rate(2 hours)"


def test_the_ladder_never_speeds_up_a_slow_rate_and_replaces_a_cron_by_its_rung() -> None:
    stepped = LadderRecord(ladder_step=1)
    assert effective_expression("rate(2 hours)", stepped, now=NOW, policy=POLICY) == "rate(2 hours)"
    assert effective_expression("cron(0 8 ? * MON-FRI *)", stepped, now=NOW, policy=POLICY) == "rate(1 hour)"
    assert effective_expression(None, stepped, now=NOW, policy=POLICY) is None


def test_near_the_quota_slows_one_rung_until_the_reset_then_restores() -> None:
    until = NOW + timedelta(minutes=40)
    slowed = record_result(LadderRecord(), "success", None, now=NOW, near_limit_until=until).record
    assert effective_expression("rate(15 minutes)", slowed, now=NOW, policy=POLICY) == "rate(1 hour)"
    assert effective_expression("rate(15 minutes)", slowed, now=until, policy=POLICY) == "rate(15 minutes)"
    later = record_result(slowed, "success", None, now=until + timedelta(seconds=1)).record
    assert later.slowed_until is None


@pytest.mark.parametrize(
    "policy",
    [
        {"steps": ["rate(1 hour)", "rate(15 minutes)"]},  # faster, not slower
        {"steps": ["rate(15 minutes)", "cron(0 8 * * ? *)"]},  # not a rate
        {"steps": ["rate(15 minutes)"]},  # no rung to step to
        {"threshold": 0},
        {"thresholds": {"not a code": 2}},
        {"unknown": 1},
    ],
)
def test_a_bad_ladder_is_refused(policy: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LadderPolicy.model_validate(policy)
