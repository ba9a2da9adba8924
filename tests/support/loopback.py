"""Tiny scripted HTTP servers on loopback, and a socket layer that refuses everything else.

For the outbound policy's tests: :func:`serve` answers each path with a scripted reply and records every
request (path, headers and body), on 127.0.0.1 or another loopback address (127.0.0.2 is a second origin on
Linux). ``Server.queue`` scripts a sequence for one path (a receiver that fails, then recovers): its replies
are used up in order before the path's ``routes`` reply answers again. :class:`LoopbackOnly` is an
httpcore network backend that records where connections go and raises instead of connecting anywhere but
loopback, so a broken policy fails a test without a packet leaving.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Server:
    """A scripted loopback server: ``routes`` maps a path (query excluded) to its reply; others get 404."""

    host: str
    port: int = 0
    routes: dict[str, Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    scripted: dict[str, list[Reply]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def requests(self) -> list[Seen]:
        with self.lock:
            return list(self.seen)

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies``, in order, then with its route again."""
        with self.lock:
            self.scripted.setdefault(path, []).extend(replies)

    def reply_for(self, path: str) -> Reply:
        with self.lock:
            waiting = self.scripted.get(path)
            if waiting:
                return waiting.pop(0)
        return self.routes.get(path, Reply(404, b'{"message": "404 Not Found"}'))


@contextmanager
def serve(host: str = "127.0.0.1", routes: Mapping[str, Reply] | None = None) -> Iterator[Server]:
    """A :class:`Server` on ``host`` (a loopback address) and a free port until the block ends."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"tests serve on loopback only, not {host}")
    state = Server(host, routes=dict(routes or {}))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            reply = state.reply_for(self.path.split("?", 1)[0])
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class LoopbackOnly(httpcore.NetworkBackend):
    """Records every ``(host, port)`` a connection is opened to; connects only to loopback literals and
    raises ``AssertionError`` for anything else (a name, or any other address) before any socket exists."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise AssertionError(f"a connection to {host}:{port} was attempted; tests only reach loopback")
        return self._sockets.connect_tcp(host, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise AssertionError("no Unix sockets in these tests")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)


__all__ = ["LoopbackOnly", "Reply", "Seen", "Server", "serve"]
