"""moto's server on loopback, started and stopped without leaving its port or thread behind.

moto's own ``ThreadedMotoServer.stop()`` shuts the loop down but never closes the listening socket, so the
port stays bound until garbage collection; a stack that starts and stops in tests must release it.
moto's backends are process-global: every server in one process serves the same state, which is why the
embedded stack and the tests separate themselves by stage name rather than by server.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from infra.local._serving import serve_in_thread, stop_serving

logger = logging.getLogger(__name__)


class _QuietMotoHandler(WSGIRequestHandler):
    """moto's request handler without one log line per AWS call (pollers make one every second)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            logger.warning("moto.server " + message, *args)  # noqa: G003 - werkzeug passes a %-format


def _handler_class() -> type[WSGIRequestHandler]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    # moto's handler normalizes the environ; ours only silences the access log.
    return type("LocalMotoRequestHandler", (_QuietMotoHandler, MotoRequestHandler), {})


class MotoServer:
    """One moto server thread on ``host:port`` (0 picks a free port)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("moto server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MotoServer:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=_handler_class()
        )
        self._thread = serve_in_thread(self._server, "local-moto")
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        stop_serving(server, thread)


__all__ = ["MotoServer"]
