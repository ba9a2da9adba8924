"""The lifecycle every background part of the local stack shares: one daemon thread that runs a step over
and over until it is told to stop.

The queue pollers, the scheduler and the alarm bridge differ only in what a step does and in three numbers:

* ``interval_s``, the pause before each step (0 when the step paces itself, as a long poll does);
* ``failure_backoff_s``, a further pause after a step raised. A failed step is logged with the owner's logger
  and event name (``terminal_log`` groups lines by them) and the loop lives on, as Lambda's pollers do;
* ``join_timeout_s``, how long :meth:`WorkerThread.stop` waits for a step in flight.

Every pause ends as soon as a stop is signalled, so a worker ends within one step. A stopped worker stays
stopped: ``start()`` after ``stop()`` runs no step. :class:`WorkerLifecycle` gives a part the ``start`` /
``signal_stop`` / ``stop`` methods the stack calls, around its worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Self


class WorkerThread:
    """Runs ``step`` on a daemon thread named ``name`` until :meth:`signal_stop` or :meth:`stop`."""

    def __init__(
        self,
        step: Callable[[], object],
        *,
        name: str,
        logger: logging.Logger,
        failure_event: str,
        failure_extra: Mapping[str, Any] | None = None,
        interval_s: float = 0.0,
        failure_backoff_s: float = 0.0,
        join_timeout_s: float = 30.0,
    ) -> None:
        self._step = step
        self.name = name
        self._logger = logger
        self._failure_event = failure_event
        self._failure_extra = dict(failure_extra or {})
        self._interval_s = interval_s
        self._failure_backoff_s = failure_backoff_s
        self._join_timeout_s = join_timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        # wait(0) only reads the flag: a zero interval runs the steps back to back.
        while not self._stop.wait(self._interval_s):
            try:
                self._step()
            except Exception:
                self._logger.exception(self._failure_event, extra=self._failure_extra)
                if self._failure_backoff_s:
                    self._stop.wait(self._failure_backoff_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the loop to end after the step in flight, without waiting (stop many workers in parallel)."""
        self._stop.set()

    def stop(self) -> None:
        """Signal the stop and wait, at most ``join_timeout_s``, for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._join_timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class WorkerLifecycle:
    """``start`` / ``signal_stop`` / ``stop`` for a part whose loop is the :class:`WorkerThread` it keeps in
    ``_worker``; a part that must do more (baseline first, drain an executor after) extends them."""

    _worker: WorkerThread

    def start(self) -> Self:
        self._worker.start()
        return self

    def signal_stop(self) -> None:
        self._worker.signal_stop()

    def stop(self) -> None:
        self._worker.stop()


__all__ = ["WorkerLifecycle", "WorkerThread"]
