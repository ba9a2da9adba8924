"""The HTTP server under every sandbox tracker: werkzeug's threaded WSGI server on loopback, in a thread.

Why werkzeug: it is already installed (moto's server runs on it), it is maintained by Pallets, it gives
routing (``Map``/``Rule`` with converters), ``Request``/``Response`` and a threaded server that can run in a
background thread of the test process, with no extra dependency and no event loop to bridge from sync test
code. Its request handler hands us the socket, which is what a *real* connection reset needs: a fault can
abort a request by closing the socket with ``SO_LINGER`` zero, so the client sees an RST and no response.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

logger = logging.getLogger(__name__)


class ResetConnection(ConnectionError):
    """Raised by the WSGI app to drop the connection with a TCP reset instead of answering."""


class _Handler(WSGIRequestHandler):
    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        if not isinstance(error, ResetConnection):
            return
        self.close_connection = True
        with contextlib.suppress(OSError):
            # Linger 0 turns close() into an RST; the read buffer holds a reference to the socket, so it
            # must close first for close() to reach the file descriptor.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Tests and benchmarks send tens of thousands of requests; per-request lines would drown the output.
        return

    def log_error(self, format: str, *args: Any) -> None:
        logger.debug("sandbox.http.error: %s", format % args)


class ThreadedServer:
    """A WSGI app served on ``host:port`` (0 = a free port) from a daemon thread until :meth:`stop`."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
