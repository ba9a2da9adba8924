"""A loopback webhook endpoint for tests, independent of the sandbox core it checks.

Built on ``http.server``, it records the exact path, headers and bytes of every delivery, so signature checks
verify what actually crossed the wire. The sandbox tests and the adapter contract both receive webhooks with
it; their session fixtures start it with :func:`serve_hooks`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HookReceiver:
    """A loopback webhook endpoint; ``status`` is what it answers, ``received`` what it got."""

    url: str = ""
    status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
        self.status = 200

    def wait_for(self, count: int, timeout_s: float = 120.0) -> list[Received]:
        """The first ``count`` deliveries; fails the test if they do not arrive in time (bounded generously:
        the sandboxes deliver from their own threads, which a loaded machine may run seconds late)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self.lock:
            got = len(self.received)
        raise AssertionError(f"expected {count} webhook deliveries, got {got}")


@contextmanager
def serve_hooks() -> Iterator[HookReceiver]:
    """A :class:`HookReceiver` listening on a free 127.0.0.1 port until the block ends."""
    receiver = HookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
