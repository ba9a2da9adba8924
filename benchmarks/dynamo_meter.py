"""A request-unit meter inside moto's DynamoDB: what each call of a benchmark run would consume on AWS.

The sync benchmark runs moto in its own (parent) process and the measured syncs in children, so the meter
lives where the data does, and the children carry nothing extra (their time and peak RSS stay theirs). It
wraps moto's ``DynamoHandler.call_action`` before :func:`infra.local.moto.serialize_dynamodb` does, so it
runs inside moto's one-request-at-a-time lock and sees each call's before and after states alone:

- writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems): the stored item before the
  call and after it, read from moto's tables; the larger size is billed (a failed condition too, with no
  index write), the indexes by :func:`~benchmarks.dynamo_cost.index_write_sizes`;
- reads (GetItem, BatchGetItem): the stored item of every key asked, whatever the projection;
- Query: the keys of the items returned (every projection trackbridge sends keeps the table keys), each
  looked up whole in moto's table: a projection does not reduce what DynamoDB bills.

Only calls on the tables :meth:`DynamoMeter.start` names are counted (a run's own table), so the parent's
set-up and the children's connection lookups on other tables stay out.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.dynamo_cost import (
    IndexKeys,
    Usage,
    batch_get_units,
    index_write_sizes,
    item_size,
    query_units,
    read_units,
    write_units,
)

_METERED = "metered_by_trackbridge_benchmark"
_lock = threading.Lock()


def _wire(value: Any) -> dict[str, Any]:
    """A moto ``DynamoType`` as DynamoDB's wire format."""
    kind, inner = value.type, value.value
    if kind == "L":
        return {"L": [_wire(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _wire(v) for k, v in inner.items()}}
    return {kind: inner}


class DynamoMeter:
    """Counts request units of the calls on the tables of the current run (one run at a time)."""

    def __init__(self, indexes: IndexKeys) -> None:
        self.indexes = indexes
        self._tables: frozenset[str] = frozenset()
        self._usage = Usage()

    def start(self, *tables: str) -> None:
        with _lock:
            self._tables = frozenset(tables)
            self._usage = Usage()

    def stop(self) -> Usage:
        with _lock:
            usage, self._tables, self._usage = self._usage, frozenset(), Usage()
        return usage

    # ---- the hook -----------------------------------------------------------------------------------
    def install(self) -> None:
        """Wrap moto's DynamoDB handler (once per process; a later meter replaces the earlier one's state)."""
        from moto.dynamodb.responses import DynamoHandler

        original = DynamoHandler.call_action
        if getattr(original, _METERED, None) is not None:
            getattr(original, _METERED)[0] = self
            return
        holder: list[DynamoMeter] = [self]

        @functools.wraps(original)
        def call_action(handler: Any) -> Any:
            meter = holder[0]
            if not meter._tables:
                return original(handler)
            return meter._metered(handler, lambda: original(handler))

        setattr(call_action, _METERED, holder)
        DynamoHandler.call_action = call_action  # type: ignore[method-assign]

    def _metered(self, handler: Any, call: Callable[[], Any]) -> Any:
        action = str(handler._get_action() or "")
        body = handler.body
        request = json.loads(body) if isinstance(body, (str, bytes)) and body else dict(handler.params or {})
        lookup = _Lookup(handler)
        plan = self._before(action, request, lookup)
        if plan is None:
            return call()
        response = call()
        status = response[0] if isinstance(response, tuple) else 200
        with _lock:
            self._usage.add_call(action)
            self._after(
                action, request, plan, lookup, int(status) if str(status).isdigit() else 200, response
            )
        return response

    def _in_run(self, table: str) -> bool:
        return table in self._tables

    def _before(self, action: str, request: Mapping[str, Any], lookup: _Lookup) -> list[Any] | None:
        """What the call touches, read before it runs: [(table, key, item before)...]; None: not metered."""
        if action in ("PutItem", "UpdateItem", "DeleteItem", "GetItem"):
            table = request.get("TableName", "")
            if not self._in_run(table):
                return None
            key = lookup.key_of(table, request["Item"] if action == "PutItem" else request["Key"])
            return [(table, key, lookup.item(table, key))]
        if action == "BatchWriteItem":
            plan = []
            for table, writes in request.get("RequestItems", {}).items():
                if not self._in_run(table):
                    continue
                for write in writes:
                    body = write.get("PutRequest", {}).get("Item") or write.get("DeleteRequest", {}).get(
                        "Key"
                    )
                    key = lookup.key_of(table, body)
                    plan.append((table, key, lookup.item(table, key)))
            return plan or None
        if action == "BatchGetItem":
            plan = []
            for table, spec in request.get("RequestItems", {}).items():
                if self._in_run(table):
                    plan.extend((table, lookup.key_of(table, key), None) for key in spec.get("Keys", []))
            return plan or None
        if action == "TransactWriteItems":
            plan = []
            for entry in request.get("TransactItems", []):
                ((kind, body),) = entry.items()
                table = body.get("TableName", "")
                key = lookup.key_of(table, body["Item"] if kind == "Put" else body["Key"])
                plan.append((table, key, lookup.item(table, key)))
            return plan if any(self._in_run(t) for t, _k, _i in plan) else None
        if action == "Query":
            return [] if self._in_run(request.get("TableName", "")) else None
        return None

    def _after(
        self,
        action: str,
        request: Mapping[str, Any],
        plan: Sequence[Any],
        lookup: _Lookup,
        status: int,
        response: Any,
    ) -> None:
        usage = self._usage
        if action == "GetItem":
            ((table, key, before),) = plan
            usage.rru += read_units(item_size(before), consistent=bool(request.get("ConsistentRead")))
        elif action == "BatchGetItem":
            for table, spec in request.get("RequestItems", {}).items():
                if not self._in_run(table):
                    continue
                keys = [key for t, key, _ in plan if t == table]
                sizes = [item_size(lookup.item(table, key)) for key in keys]
                usage.rru += batch_get_units(sizes, consistent=bool(spec.get("ConsistentRead")))
        elif action == "Query":
            table = request["TableName"]
            body = response[2] if isinstance(response, tuple) and len(response) > 2 else "{}"
            found = json.loads(body).get("Items", []) if status == 200 else []
            sizes = [item_size(lookup.item(table, lookup.key_of(table, item))) for item in found]
            consistent = bool(request.get("ConsistentRead")) and not request.get("IndexName")
            usage.rru += query_units(sizes, consistent=consistent)
        else:
            transactional = action == "TransactWriteItems"
            for table, key, before in plan:
                if not self._in_run(table):
                    continue
                after = lookup.item(table, key) if status == 200 else before
                proposed = after
                if status != 200 and action == "PutItem":
                    proposed = request["Item"]  # a failed condition bills the item it would have written
                usage.wru += write_units(
                    max(item_size(before), item_size(proposed)), transactional=transactional
                )
                if status == 200 and after != before:
                    usage.items_written += 1
                    sizes = index_write_sizes(before, after, self.indexes)
                    usage.index_wru += sum(write_units(size) for size in sizes)


class _Lookup:
    """Reads moto's stored items (inside its lock: nothing changes meanwhile)."""

    def __init__(self, handler: Any) -> None:
        self._backend = handler.dynamodb_backend
        self._schemas: dict[str, tuple[str, str | None]] = {}

    def _schema(self, table: str) -> tuple[str, str | None]:
        if table not in self._schemas:
            found = self._backend.get_table(table)
            self._schemas[table] = (found.hash_key_attr, found.range_key_attr)
        return self._schemas[table]

    def key_of(self, table: str, item: Mapping[str, Any]) -> tuple[Any, ...]:
        pk, sk = self._schema(table)
        return (json.dumps(item[pk], sort_keys=True), json.dumps(item[sk], sort_keys=True) if sk else None)

    def item(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        found = self._backend.get_table(table)
        hash_key = DynamoType(json.loads(key[0]))
        range_key = DynamoType(json.loads(key[1])) if key[1] is not None else None
        try:
            stored = found.get_item(hash_key, range_key)
        except Exception:  # a key moto cannot look up is billed as absent
            return None
        if stored is None:
            return None
        return {name: _wire(value) for name, value in stored.attrs.items()}


__all__ = ["DynamoMeter"]
