"""The back-off ladder: how a connection's schedule slows down on repeated failures and pauses for a person.

Pure rules, decisions returned as values (STYLE habit 4); :mod:`trackbridge.runtime.schedule_admin` stores
the :class:`LadderRecord` and keeps EventBridge Scheduler in step with :func:`effective_expression`.

* Every final sync result is recorded with the classifier's code (``domain.error_codes``).
* A failure whose code needs a person (:data:`PERSON_CODES`: the credentials or the account) pauses the
  schedule at once, ``paused_reason`` = the code: retrying cannot help until someone acts.
* Any other failure counts: ``threshold`` (default 3, per code) consecutive failures with the same code step
  the schedule down one rung of ``steps`` (15 min -> 1 h -> 6 h -> 24 h); each further ``threshold``
  failures one more rung. A different code starts a new count but never climbs back up.
* A rate limit is not a failure (the engine parks and resumes by itself): it changes nothing, nor does a
  cancelled sync.
* The first success restores the original expression (it was never overwritten: the ladder only changes
  the *effective* one) and lifts a pause the ladder set; an admin's pause stays until an admin resumes.
* While a tracker says its points quota is nearly spent (Jira's ``X-Beta-RateLimit-NearLimit``), the
  schedule runs at least one rung slower until the quota resets (``slowed_until``).

Where the configuration lives: a connection's :class:`LadderPolicy` is stored with its ladder record (set
through ``PUT /v1/connections/{id}/schedule`` ``{"ladder": {...}}``); without one the process default
applies (:data:`DEFAULT_POLICY`). Keeping it on the connection's own item means one read per decision and
no tenant-wide item for every sync to contend on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trackbridge.domain.schedules import RateExpression, parse_schedule_expression
from trackbridge.domain.times import UtcDatetime

# Codes a retry cannot fix: the credentials, a permission or the tracker account must change first.
PERSON_CODES: Final[frozenset[str]] = frozenset(
    {"AUTH_INVALID", "AUTH_EXPIRED", "PERMISSION_DENIED", "SUSPENDED_PAYMENT"}
)
# Codes that are not failures of the connection: the work resumes by itself.
NEUTRAL_CODES: Final[frozenset[str]] = frozenset({"RATE_LIMITED", "QUOTA_EXHAUSTED"})
DEFAULT_STEPS: Final[tuple[str, ...]] = (
    "rate(15 minutes)",
    "rate(1 hour)",
    "rate(6 hours)",
    "rate(24 hours)",
)
DEFAULT_THRESHOLD: Final = 3
DEFAULT_EXPRESSION: Final = "rate(15 minutes)"

PausedBy = Literal["ladder", "admin"]
SyncResultKind = Literal["success", "failure", "neutral"]


class LadderPolicy(BaseModel):
    """The rungs (``steps[0]`` is the normal pace, shown for reference; the connection's own expression is
    what runs there) and how many consecutive failures of one code step down one rung."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: Annotated[list[str], Field(min_length=2, max_length=8)] = Field(
        default_factory=lambda: list(DEFAULT_STEPS)
    )
    threshold: Annotated[int, Field(ge=1, le=100)] = DEFAULT_THRESHOLD
    thresholds: dict[str, Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=dict, description="per-code overrides of threshold, e.g. {'TIMEOUT': 5}"
    )

    @field_validator("steps")
    @classmethod
    def _rates(cls, steps: list[str]) -> list[str]:
        periods = []
        for step in steps:
            parsed = parse_schedule_expression(step)
            if not isinstance(parsed, RateExpression):
                raise ValueError(f"{step!r}: ladder steps are rate(...) expressions")
            periods.append(parsed.period)
        if periods != sorted(periods):
            raise ValueError("ladder steps must get slower from one rung to the next")
        return steps

    @field_validator("thresholds")
    @classmethod
    def _codes(cls, thresholds: dict[str, int]) -> dict[str, int]:
        for code in thresholds:
            if not code.isascii() or not code.replace("_", "").isalnum() or not code.isupper():
                raise ValueError(f"{code!r} is not an error code (e.g. PROVIDER_UNAVAILABLE)")
        return thresholds

    def threshold_for(self, code: str) -> int:
        return self.thresholds.get(code, self.threshold)

    @property
    def last_step(self) -> int:
        return len(self.steps) - 1


DEFAULT_POLICY: Final = LadderPolicy()


class LadderRecord(BaseModel):
    """What is stored per connection besides its expression: the pause, the rung and the failure count."""

    model_config = ConfigDict(frozen=True)

    paused_by: PausedBy | None = None
    paused_reason: str | None = None
    ladder_step: int = Field(0, ge=0)
    consecutive_failures: int = Field(0, ge=0)
    last_code: str | None = None
    last_result_at: UtcDatetime | None = None
    # The operation whose result was recorded last: recording the same one twice changes nothing.
    last_operation_id: str | None = None
    slowed_until: UtcDatetime | None = None
    policy: LadderPolicy | None = None
    version: int = Field(0, ge=0)  # 0: never stored

    @property
    def paused(self) -> bool:
        return self.paused_by is not None

    @property
    def troubled(self) -> bool:
        """Whether an incident is open for this connection (a ladder pause or a rung below normal)."""
        return self.paused_by == "ladder" or self.ladder_step > 0

    def effective_policy(self, default: LadderPolicy = DEFAULT_POLICY) -> LadderPolicy:
        return self.policy or default


class ScheduleState(BaseModel):
    """A connection's schedule as ``GET /v1/connections/{id}/schedule`` shows it (DESIGN section 9)."""

    model_config = ConfigDict(frozen=True)

    expression: str | None = Field(description="the schedule as set; null when the connection has none")
    timezone: str = "UTC"
    paused: bool = False
    paused_reason: str | None = Field(None, description="an error code (the ladder paused it) or 'admin'")
    effective_expression: str | None = Field(
        None, description="what Scheduler runs now: the expression, or a slower ladder rung"
    )
    ladder_step: int = 0
    consecutive_failures: int = 0
    last_code: str | None = None
    slowed_until: UtcDatetime | None = Field(
        None, description="the tracker's quota is nearly spent: one rung slower until then"
    )
    ladder: LadderPolicy = Field(default_factory=LadderPolicy)

    @classmethod
    def of(
        cls,
        expression: str | None,
        timezone: str,
        record: LadderRecord,
        *,
        now: datetime,
        default: LadderPolicy = DEFAULT_POLICY,
    ) -> ScheduleState:
        policy = record.effective_policy(default)
        return cls(
            expression=expression,
            timezone=timezone,
            paused=record.paused,
            paused_reason=record.paused_reason,
            effective_expression=effective_expression(expression, record, now=now, policy=policy),
            ladder_step=record.ladder_step,
            consecutive_failures=record.consecutive_failures,
            last_code=record.last_code,
            slowed_until=record.slowed_until if _slowed(record, now) else None,
            ladder=policy,
        )


def _slowed(record: LadderRecord, now: datetime) -> bool:
    return record.slowed_until is not None and record.slowed_until > now


def effective_expression(
    expression: str | None, record: LadderRecord, *, now: datetime, policy: LadderPolicy
) -> str | None:
    """What Scheduler should run: the connection's expression at rung 0, else the rung's rate unless the
    expression is a rate that is slower still (the ladder never speeds a schedule up)."""
    if expression is None:
        return None
    step = min(record.ladder_step, policy.last_step)
    if _slowed(record, now):
        step = max(step, 1)
    if step == 0:
        return expression
    rung = policy.steps[step]
    own = parse_schedule_expression(expression)
    slower = parse_schedule_expression(rung)
    if isinstance(own, RateExpression) and isinstance(slower, RateExpression) and own.period >= slower.period:
        return expression
    return rung


_BOOKKEEPING: Final[set[str]] = {"version", "last_result_at", "last_operation_id"}


@dataclass(frozen=True, slots=True)
class LadderDecision:
    """A recorded result: the record to store and what to tell operators (at most one of the two)."""

    record: LadderRecord
    open_incident: bool = False
    recovered: bool = False

    def changed(self, before: LadderRecord) -> bool:
        return self.record.model_dump(exclude=_BOOKKEEPING) != before.model_dump(exclude=_BOOKKEEPING)


def classify_result(status: str, code: str | None) -> SyncResultKind:
    """An operation's final status and code as the ladder reads them."""
    if status == "Completed":
        return "success"
    if status == "Failed" and code not in NEUTRAL_CODES:
        return "failure"
    return "neutral"  # cancelled, or a rate limit that outlasted its retries


def record_result(
    record: LadderRecord,
    kind: SyncResultKind,
    code: str | None,
    *,
    now: datetime,
    operation_id: str | None = None,
    near_limit_until: datetime | None = None,
    default: LadderPolicy = DEFAULT_POLICY,
) -> LadderDecision:
    """The record after one final sync result (see the module's rules)."""
    if operation_id is not None and operation_id == record.last_operation_id:
        return LadderDecision(record)  # a redelivered result: already counted
    slowed_until = record.slowed_until
    if near_limit_until is not None and near_limit_until > now:
        slowed_until = max(near_limit_until, slowed_until or near_limit_until)
    elif slowed_until is not None and slowed_until <= now:
        slowed_until = None
    base = record.model_copy(
        update={"slowed_until": slowed_until, "last_result_at": now, "last_operation_id": operation_id}
    )
    if kind == "neutral":
        return LadderDecision(base)
    if kind == "success":
        recovered = record.troubled
        keep_pause = record.paused_by == "admin"
        return LadderDecision(
            base.model_copy(
                update={
                    "ladder_step": 0,
                    "consecutive_failures": 0,
                    "last_code": None,
                    "paused_by": "admin" if keep_pause else None,
                    "paused_reason": record.paused_reason if keep_pause else None,
                }
            ),
            recovered=recovered,
        )
    code = code or "UNKNOWN"
    count = record.consecutive_failures + 1 if code == record.last_code else 1
    update: dict[str, object] = {"consecutive_failures": count, "last_code": code}
    if code in PERSON_CODES:
        if record.paused_by is not None:
            return LadderDecision(base.model_copy(update=update))  # already paused (by whom stays)
        update.update(paused_by="ladder", paused_reason=code)
        return LadderDecision(base.model_copy(update=update), open_incident=not record.troubled)
    policy = record.effective_policy(default)
    step = max(record.ladder_step, min(count // policy.threshold_for(code), policy.last_step))
    update["ladder_step"] = step
    first_step_down = record.ladder_step == 0 and step > 0 and not record.troubled
    return LadderDecision(base.model_copy(update=update), open_incident=first_step_down)


__all__ = [
    "DEFAULT_EXPRESSION",
    "DEFAULT_POLICY",
    "DEFAULT_STEPS",
    "DEFAULT_THRESHOLD",
    "NEUTRAL_CODES",
    "PERSON_CODES",
    "LadderDecision",
    "LadderPolicy",
    "LadderRecord",
    "PausedBy",
    "ScheduleState",
    "SyncResultKind",
    "classify_result",
    "effective_expression",
    "record_result",
]
