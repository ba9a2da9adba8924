"""Running a werkzeug WSGI server on a daemon thread, as the local API Gateway and moto both do.

Kept in one place so both shut down the same way: stop accepting, close the socket, then wait (bounded) for
the serving thread, so ``trackbridge local up`` exits promptly and frees its ports.
"""

from __future__ import annotations

import threading

from werkzeug.serving import BaseWSGIServer


def serve_in_thread(server: BaseWSGIServer, name: str) -> threading.Thread:
    """Start ``server.serve_forever`` on a daemon thread called ``name``; returns the running thread."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


def stop_serving(server: BaseWSGIServer | None, thread: threading.Thread | None) -> None:
    """Shut ``server`` down and join its ``thread`` (10 s at most); either may be ``None`` (never started)."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=10)
