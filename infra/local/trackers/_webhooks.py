"""Outgoing webhook deliveries: a bounded queue drained by one background worker per sandbox.

Providers decide *what* is sent (body bytes, headers, signature) by building :class:`WebhookRequest`s; this
module decides *how*: in order, off the request thread, with a timeout, with the provider's retry schedule
(GitHub does not retry failed deliveries; Jira does), and with every attempt recorded so tests can inspect
the exact bytes and headers. Deliveries go to loopback addresses only: a sandbox must never send traffic
off the machine, whatever URL a client registers.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
HISTORY_SIZE = 10_000


def is_loopback_url(url: str) -> bool:
    """``http(s)`` URL whose host is ``localhost`` or a loopback address."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One signed request, exactly as it goes on the wire (``body`` is what the signature covers)."""

    url: str
    headers: dict[str, str]
    body: bytes
    event: str
    delivery_id: str
    hook_id: str = ""
    # Providers that retry (Jira) say so on the wire: this header carries the retry number (1, 2, ...) on
    # every attempt after the first and is absent on the first one.
    retry_header: str | None = None
    # When set, only these statuses (and connection errors) are retried; any other failure is final.
    retry_statuses: frozenset[int] | None = None


@dataclass(slots=True)
class DeliveryAttempt:
    at: float
    status: int | None
    error: str | None
    duration_ms: float


@dataclass(slots=True)
class Delivery:
    request: WebhookRequest
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    done: bool = False

    @property
    def ok(self) -> bool:
        return any(a.status is not None and 200 <= a.status < 300 for a in self.attempts)

    def describe(self) -> dict[str, Any]:
        return {
            "delivery_id": self.request.delivery_id,
            "hook_id": self.request.hook_id,
            "event": self.request.event,
            "url": self.request.url,
            "ok": self.ok,
            "done": self.done,
            "attempts": [
                {"at": a.at, "status": a.status, "error": a.error, "duration_ms": round(a.duration_ms, 1)}
                for a in self.attempts
            ],
        }


class WebhookDispatcher:
    """Sends :class:`WebhookRequest`s from one daemon thread; started on first use, stopped by ``stop``."""

    def __init__(self, *, timeout_s: float, retry_delays_s: tuple[float, ...]) -> None:
        self._timeout_s = timeout_s
        self._retry_delays_s = retry_delays_s
        self._queue: queue.Queue[tuple[int, Delivery] | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._history: deque[Delivery] = deque(maxlen=HISTORY_SIZE)
        self._cond = threading.Condition()
        self._pending = 0
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def submit(self, request: WebhookRequest) -> Delivery:
        delivery = Delivery(request)
        with self._cond:
            self._history.append(delivery)
            generation = self._generation
            if self._stopping.is_set():
                delivery.attempts.append(DeliveryAttempt(time.time(), None, "sandbox stopped", 0.0))
                delivery.done = True
                return delivery
            self._ensure_thread()
            try:
                self._queue.put_nowait((generation, delivery))
            except queue.Full:
                # A real hook endpoint that falls this far behind loses deliveries too.
                delivery.attempts.append(DeliveryAttempt(time.time(), None, "delivery queue full", 0.0))
                delivery.done = True
                return delivery
            self._pending += 1
        return delivery

    def deliveries(self) -> list[Delivery]:
        with self._cond:
            return list(self._history)

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Block until every queued delivery has finished (all attempts); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def clear(self) -> None:
        """Forget history; deliveries still queued from before are dropped unsent."""
        with self._cond:
            self._generation += 1
            self._history.clear()

    def stop(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=self._timeout_s + 1)
            self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout_s, trust_env=False, follow_redirects=False) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                generation, delivery = item
                try:
                    if generation == self._generation and not self._stopping.is_set():
                        self._deliver(client, delivery)
                finally:
                    with self._cond:
                        delivery.done = True
                        self._pending -= 1
                        self._cond.notify_all()

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> None:
        request = delivery.request
        delays = (0.0, *self._retry_delays_s)
        for attempt_no, delay in enumerate(delays):
            if delay and self._stopping.wait(delay):
                return
            headers = request.headers
            if attempt_no and request.retry_header:
                headers = {**headers, request.retry_header: str(attempt_no)}
            started = time.monotonic()
            status: int | None = None
            error: str | None = None
            if not is_loopback_url(request.url):
                error = "refused: the sandbox delivers to loopback addresses only"
            else:
                try:
                    response = client.post(request.url, content=request.body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            attempt = DeliveryAttempt(time.time(), status, error, (time.monotonic() - started) * 1000)
            with self._cond:
                delivery.attempts.append(attempt)
            logger.debug(
                "sandbox.webhook.attempt", extra={"url": request.url, "status": status, "error": error}
            )
            if status is not None and 200 <= status < 300:
                return
            if error and error.startswith("refused"):
                return
            final = request.retry_statuses is not None and status not in request.retry_statuses
            if status is not None and final:
                return
