"""The worker-thread lifecycle the pollers, the scheduler and the alarm bridge share (``infra.local.worker``).

Every test synchronises on events, never on elapsed time: long pauses (an hour) show that a pause is cut
short by a stop, not that something happened within some number of milliseconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from infra.local.worker import WorkerLifecycle, WorkerThread

HOUR_S = 3600.0
WAIT_S = 120.0  # the most a test waits for the worker thread to reach a point; never asserted on


class Steps:
    """A step that counts its calls, can fail on chosen calls, and can block until released."""

    def __init__(self, *, fail_on: tuple[int, ...] = (), block: bool = False) -> None:
        self.calls = 0
        self.fail_on = fail_on
        self.entered = threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()
        self.reached: dict[int, threading.Event] = {}
        self.threads: set[threading.Thread] = set()

    def reach(self, call: int) -> threading.Event:
        return self.reached.setdefault(call, threading.Event())

    def __call__(self) -> None:
        self.calls += 1
        self.threads.add(threading.current_thread())
        self.entered.set()
        self.reach(self.calls).set()
        self.release.wait(WAIT_S)
        if self.calls in self.fail_on:
            raise RuntimeError(f"step {self.calls} failed")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.logged = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.logged.set()


@pytest.fixture
def owner_logger() -> Iterator[tuple[logging.Logger, Records]]:
    logger = logging.getLogger("tests.unit.local.worker_owner")
    handler = Records()
    logger.addHandler(handler)
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)


def worker(steps: Steps, logger: logging.Logger, **kwargs: float) -> WorkerThread:
    return WorkerThread(
        steps,
        name="test-worker",
        logger=logger,
        failure_event="owner.step_failed",
        failure_extra={"k": "v"},
        **kwargs,
    )


def test_runs_steps_back_to_back_until_stopped(owner_logger: tuple[logging.Logger, Records]) -> None:
    # Given a worker whose step paces itself (no interval)
    steps = Steps()
    running = worker(steps, owner_logger[0])

    # When it starts and has run three steps, then stops
    running.start()
    assert steps.reach(3).wait(WAIT_S)
    running.stop()

    # Then every step ran on one daemon thread of the given name, and that thread is gone
    (thread,) = steps.threads
    assert (thread.name, thread.daemon) == ("test-worker", True)
    assert not thread.is_alive()
    assert not running.running


def test_a_failed_step_is_logged_as_its_owner_says_and_the_loop_lives_on(
    owner_logger: tuple[logging.Logger, Records],
) -> None:
    # Given a step that fails on its first call
    logger, records = owner_logger
    steps = Steps(fail_on=(1,))
    running = worker(steps, logger)

    # When the worker runs
    running.start()
    try:
        # Then the loop goes on to a second step
        assert steps.reach(2).wait(WAIT_S)
    finally:
        running.stop()

    # And the failure was logged once, with the owner's logger, event name, context and traceback
    (record,) = records.records
    assert record.name == logger.name
    assert record.getMessage() == "owner.step_failed"
    assert record.__dict__["k"] == "v"
    assert record.exc_info is not None


def test_the_failure_backoff_holds_the_next_step_and_a_stop_cuts_it_short(
    owner_logger: tuple[logging.Logger, Records],
) -> None:
    # Given a worker with an hour of backoff after a failure, and a step that fails
    logger, records = owner_logger
    steps = Steps(fail_on=(1,))
    running = worker(steps, logger, failure_backoff_s=HOUR_S)

    # When the step has failed (the worker is in its backoff) and the worker is stopped
    running.start()
    assert records.logged.wait(WAIT_S)
    running.stop()

    # Then no second step ran, and stop() did not wait out the hour
    assert steps.calls == 1
    assert not running.running


def test_the_interval_comes_before_each_step_and_a_stop_cuts_it_short(
    owner_logger: tuple[logging.Logger, Records],
) -> None:
    # Given a worker that pauses an hour before each step
    steps = Steps()
    running = worker(steps, owner_logger[0], interval_s=HOUR_S)

    # When it starts and is stopped during its first pause
    running.start()
    running.stop()

    # Then it ran no step and its thread is gone
    assert steps.calls == 0
    assert not running.running


def test_signal_stop_does_not_wait_and_the_step_in_flight_finishes(
    owner_logger: tuple[logging.Logger, Records],
) -> None:
    # Given a worker inside a step that blocks
    steps = Steps(block=True)
    running = worker(steps, owner_logger[0])
    running.start()
    assert steps.entered.wait(WAIT_S)

    # When a stop is only signalled
    running.signal_stop()

    # Then the thread is still in its step
    assert running.running

    # And once the step returns, stop() joins it and no further step runs
    steps.release.set()
    running.stop()
    assert steps.calls == 1
    assert not running.running


def test_a_stopped_worker_stays_stopped(owner_logger: tuple[logging.Logger, Records]) -> None:
    # Given a worker that was stopped before it ever started
    steps = Steps()
    running = worker(steps, owner_logger[0])
    running.stop()

    # When it is started
    running.start()
    running.stop()

    # Then it runs no step
    assert steps.calls == 0


def test_stop_waits_no_longer_than_its_join_timeout(owner_logger: tuple[logging.Logger, Records]) -> None:
    # Given a worker stuck in a step, with no time granted to join it
    steps = Steps(block=True)
    running = worker(steps, owner_logger[0], join_timeout_s=0)
    running.start()
    assert steps.entered.wait(WAIT_S)

    # When it is stopped
    running.stop()

    # Then stop() returned with the step still in flight (a daemon thread, abandoned at exit)
    assert steps.calls == 1
    steps.release.set()


class Part(WorkerLifecycle):
    def __init__(self, steps: Steps, logger: logging.Logger) -> None:
        self._worker = worker(steps, logger)


def test_a_part_starts_and_stops_through_its_worker(owner_logger: tuple[logging.Logger, Records]) -> None:
    # Given a part of the stack built on WorkerLifecycle
    steps = Steps()
    part = Part(steps, owner_logger[0])

    # When it is started (start returns the part, for ``Part(...).start()``) and stopped
    assert part.start() is part
    assert steps.reach(1).wait(WAIT_S)
    part.signal_stop()
    part.stop()

    # Then its worker ran and is gone
    assert not part._worker.running
