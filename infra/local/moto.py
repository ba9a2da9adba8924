"""moto's server on loopback, started and stopped without leaving its port or thread behind.

moto's own ``ThreadedMotoServer.stop()`` shuts the loop down but never closes the listening socket, so the
port stays bound until garbage collection; a stack that starts and stops in tests must release it.
moto's backends are process-global: every server in one process serves the same state, which is why the
embedded stack and the tests separate themselves by stage name rather than by server.

Every server serializes moto's DynamoDB request handling (:func:`serialize_dynamodb`): the stack's pollers,
scheduler and API threads, like the tests' thread pools, write one table at the same time. With requests
serialized, a query on a table's own key reads only its partition (moto lists the whole table otherwise).
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Final

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


# The attribute that marks moto's DynamoDB handler as serialized (so it is wrapped once per process).
_SERIALIZED: Final = "serialized_by_trackbridge"
_PATCH_LOCK = threading.Lock()


def serialize_dynamodb() -> None:
    """Handle one DynamoDB request at a time in this process's moto; once per process, any later call is a
    no-op.

    DynamoDB makes each request atomic, and trackbridge relies on it (conditional puts, transactions). moto
    does not: its TransactWriteItems deep-copies the whole table (once per item) to roll a failed
    transaction back, while other threads write the same table. The copy then fails with "dictionary
    changed size during iteration" (HTTP 500, which botocore retries), and a rollback restores the copy,
    dropping the other threads' writes made meanwhile. moto's backends are process-global, so one lock
    around its DynamoDB handler covers every server in the process. An uncontended lock costs about 0.2 µs,
    against the few milliseconds moto spends on a request (holding the GIL for most of them anyway).
    """
    from moto.dynamodb.responses import DynamoHandler

    with _PATCH_LOCK:
        original = DynamoHandler.call_action
        if getattr(original, _SERIALIZED, False):
            return
        lock = threading.RLock()

        @functools.wraps(original)
        def call_action(self: DynamoHandler) -> Any:
            with lock:
                return original(self)

        setattr(call_action, _SERIALIZED, True)
        DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        _partition_queries()


def _partition_queries() -> None:
    """Make moto's ``Query`` on a table's own key read one partition, not the whole table.

    moto answers every ``Query`` by listing and sorting *all* items of the table, then keeping the
    partition's: a per-issue comment read costs the size of the table, so a sync's reads grow with the
    square of the data on the embedded stack (a repeat full sync of 1,000 GitLab issues spent 54 s in 1,011
    such queries). For a query on the table's own hash and range key, the items of that partition are
    exactly ``table.items[hash_key]``, so for the duration of the call the table lists only those; the
    rest of moto's query (order, cursor, limit, size limit, filters, projection) runs unchanged. Index
    queries are left as they are. Safe only because requests are serialized (the caller holds the lock).
    """
    import inspect

    from moto.dynamodb.models.table import Table

    original = Table.query
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        hash_key = arguments.get("hash_key")
        if arguments.get("index_name") or not self.range_key_attr or hash_key is None:
            return original(self, *args, **kwargs)
        partition = self.items.get(hash_key) or {}
        self.all_items = lambda: sorted(partition.values(), key=lambda item: item.range_key)  # type: ignore[method-assign]
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]


def dynamodb_serialized() -> bool:
    """Whether :func:`serialize_dynamodb` has wrapped moto's DynamoDB handler in this process."""
    from moto.dynamodb.responses import DynamoHandler

    return bool(getattr(DynamoHandler.call_action, _SERIALIZED, False))


class MotoServer:
    """One moto server thread on ``host:port`` (0 picks a free port), DynamoDB requests serialized."""

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

        serialize_dynamodb()
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


__all__ = ["MotoServer", "dynamodb_serialized", "serialize_dynamodb"]
