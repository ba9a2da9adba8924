"""The one place that talks to DynamoDB: serialization, conditions, transactions, queries, error mapping.

Repositories build plain Python items (str, int, bool, None, lists, dicts) with explicit keys; this module
turns them into DynamoDB's wire format and back, and turns DynamoDB's failures into the domain error tree:

* a failed condition (single write or inside a transaction) -> :class:`ConditionFailed`, a ``Conflict``
  that carries the stored item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``) so a repository can tell
  "absent" (404) from "changed meanwhile" (409) without a second read;
* throttling, a missing table, network trouble -> ``DependencyFailure`` (503, retryable);
* an item over DynamoDB's 400 KB limit -> ``PayloadTooLarge``;
* anything else is a bug and propagates.

The boto3 client is passed in (the composition root in ``trackbridge.runtime`` builds it), so storage never
reads settings or the environment. Items whose TTL (``expires_at``) has passed are treated as absent,
because DynamoDB deletes them only eventually (and moto never).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, DecimalException
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from trackbridge.domain.errors import Conflict, DependencyFailure, PayloadTooLarge, ValidationFailed
from trackbridge.domain.pagination import MAX_PAGE_SIZE
from trackbridge.domain.storable import NUMBER_LIMITS
from trackbridge.storage.cursors import decode_cursor, encode_cursor
from trackbridge.storage.keys import INDEX_KEYS, PK, SK, TTL_ATTRIBUTE

Item = dict[str, Any]
TransactItem = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ResourceNotFoundException",
    "LimitExceededException",
}
_MAX_TRANSACTION_ITEMS = 100


class ConditionFailed(Conflict):
    """A conditional write found the item not as expected. ``old_item`` is what is stored (None: absent)."""

    def __init__(self, message: str, *, old_item: Item | None, index: int | None = None) -> None:
        super().__init__(message)
        self.old_item = old_item
        self.index = index


def _to_wire_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (str, int, Decimal)):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _to_wire_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_wire_value(v) for v in value]
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB; map it to plain values first")


def _from_wire_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_wire_value(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_from_wire_value(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return {k: _serializer.serialize(_to_wire_value(v)) for k, v in item.items()}
    except DecimalException:
        # boto3's traps: a number DynamoDB cannot hold. Models refuse these with the field's name
        # (domain.storable); this is the net under any that does not.
        raise ValidationFailed(f"a number cannot be stored: {NUMBER_LIMITS}") from None


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)


def _decoded(value: Mapping[str, Any]) -> Any:
    """One attribute value off the wire, as ``_from_wire_value(TypeDeserializer().deserialize(value))``
    gives it, dispatched on its type tag directly: boto3's deserializer was the largest single cost of a
    listing page (about 45% of the API handler's own time)."""
    (tag, raw), *rest = value.items()
    if rest:
        raise ValueError(f"an attribute value has one type tag, not {len(value)}")
    if tag == "S":
        return raw
    if tag == "N":
        return _number(raw)
    if tag == "M":
        return {k: _decoded(v) for k, v in raw.items()}
    if tag == "L":
        return [_decoded(v) for v in raw]
    if tag == "BOOL":
        return raw
    if tag == "NULL":
        return None
    if tag == "SS":
        return list(raw)
    if tag == "NS":
        return [_number(n) for n in raw]
    return _from_wire_value(_deserializer.deserialize(value))  # B, BS: rare, left to boto3


def deserialize(wire: Mapping[str, Any]) -> Item:
    return {k: _decoded(v) for k, v in wire.items()}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: ClientError) -> Exception | None:
    code = _error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if code == "ConditionalCheckFailedException":
        old = exc.response.get("Item")
        return ConditionFailed(
            "the item changed or does not exist", old_item=deserialize(old) if old else None
        )
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        for index, reason in enumerate(reasons):
            if reason.get("Code") == "ConditionalCheckFailed":
                old = reason.get("Item")
                return ConditionFailed(
                    "the item changed or does not exist",
                    old_item=deserialize(old) if old else None,
                    index=index,
                )
        if any(r.get("Code") == "TransactionConflict" for r in reasons):
            return Conflict("a concurrent change touched the same item; retry", code="CONCURRENT_CHANGE")
        return DependencyFailure("DynamoDB cancelled the transaction; retry", details={"aws_code": code})
    if code == "ValidationException" and "size" in message.lower():
        return PayloadTooLarge("the item is larger than DynamoDB allows (400 KB)")
    if code in _RETRYABLE or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return DependencyFailure("DynamoDB is unavailable; retry", details={"aws_code": code})
    return None


class Table:
    """One DynamoDB table through a low-level boto3 client."""

    def __init__(self, client: Any, name: str, *, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.name = name
        self._clock = clock

    # -- plumbing -------------------------------------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return dict(getattr(self.client, operation)(**kwargs))
        except ClientError as exc:
            translated = _translate(exc)
            if translated is None:
                raise
            raise translated from exc
        except BotoCoreError as exc:
            raise DependencyFailure(
                "DynamoDB could not be reached; retry", details={"error": type(exc).__name__}
            ) from exc

    def _live(self, item: Item) -> bool:
        expires = item.get(TTL_ATTRIBUTE)
        return not isinstance(expires, (int, float)) or expires > self._clock()

    @staticmethod
    def _conditional(
        body: dict[str, Any],
        *,
        condition: str | None,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """``body`` with its condition and expression attributes; a failed condition returns the stored
        item (``ALL_OLD``), so the caller can tell "absent" from "changed" without a second read."""
        if condition:
            body["ConditionExpression"] = condition
            body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            body["ExpressionAttributeNames"] = dict(names)
        if values:
            body["ExpressionAttributeValues"] = serialize(values)
        return body

    @staticmethod
    def key(pk: str, sk: str) -> dict[str, Any]:
        return serialize({PK: pk, SK: sk})

    # -- single items ---------------------------------------------------------------------------------------
    # A single write is the body of its transaction item (``put_op``...) plus what it returns.

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> Item | None:
        response = self._call(
            "get_item", TableName=self.name, Key=self.key(pk, sk), ConsistentRead=consistent
        )
        item = deserialize(response["Item"]) if "Item" in response else None
        return item if item is not None and self._live(item) else None

    def put(
        self,
        item: Item,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        return_old: bool = False,
    ) -> Item | None:
        body = self.put_op(item, condition=condition, names=names, values=values)["Put"]
        if return_old:
            body["ReturnValues"] = "ALL_OLD"
        old = self._call("put_item", **body).get("Attributes")
        return deserialize(old) if old else None

    def update(
        self,
        pk: str,
        sk: str,
        *,
        update: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Item:
        operation = self.update_op(pk, sk, update=update, condition=condition, names=names, values=values)
        body = operation["Update"]
        body["ReturnValues"] = "ALL_NEW"
        return deserialize(self._call("update_item", **body).get("Attributes", {}))

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Item | None:
        body = self.delete_op(pk, sk, condition=condition, names=names, values=values)["Delete"]
        body["ReturnValues"] = "ALL_OLD"
        old = self._call("delete_item", **body).get("Attributes")
        return deserialize(old) if old else None

    # -- transactions ---------------------------------------------------------------------------------------

    def put_op(
        self,
        item: Item,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> TransactItem:
        body: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        return {"Put": self._conditional(body, condition=condition, names=names, values=values)}

    def delete_op(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> TransactItem:
        body: dict[str, Any] = {"TableName": self.name, "Key": self.key(pk, sk)}
        return {"Delete": self._conditional(body, condition=condition, names=names, values=values)}

    def update_op(
        self,
        pk: str,
        sk: str,
        *,
        update: str,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> TransactItem:
        body: dict[str, Any] = {"TableName": self.name, "Key": self.key(pk, sk), "UpdateExpression": update}
        return {"Update": self._conditional(body, condition=condition, names=names, values=values)}

    def write(self, operation: TransactItem, *also: TransactItem) -> None:
        """One write, alone (a plain call, half the cost) or with others (one transaction).

        A failed condition raises ConditionFailed; its ``index`` is 0 for ``operation`` and 1.. for ``also``.
        """
        if also:
            self.transact([operation, *also])
            return
        ((kind, body),) = operation.items()
        call = {"Put": "put_item", "Delete": "delete_item", "Update": "update_item"}[kind]
        try:
            self._call(call, **body)
        except ConditionFailed as exc:
            exc.index = 0
            raise

    def transact(self, operations: Sequence[TransactItem]) -> None:
        """All or nothing. A failed condition raises ConditionFailed whose ``index`` names the operation."""
        if not operations:
            return
        if len(operations) > _MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction holds at most {_MAX_TRANSACTION_ITEMS} operations")
        self._call("transact_write_items", TransactItems=list(operations))

    def _batched(
        self,
        operation: str,
        requests: Sequence[Any],
        size: int,
        request_for: Callable[[list[Any]], Any],
        leftover: Callable[[dict[str, Any]], list[Any]],
        on_response: Callable[[dict[str, Any]], None] = lambda _response: None,
    ) -> None:
        """``operation`` over ``requests`` in chunks of ``size``; what DynamoDB leaves unprocessed
        (throttling) is sent again with exponential back-off, at most 8 times per chunk."""
        what = "write" if operation == "batch_write_item" else "read"
        for start in range(0, len(requests), size):
            chunk = list(requests[start : start + size])
            for attempt in range(8):
                response = self._call(operation, RequestItems={self.name: request_for(chunk)})
                on_response(response)
                chunk = leftover(response)
                if not chunk:
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                raise DependencyFailure(f"DynamoDB kept throttling a batch {what}; retry")

    def batch_put(self, items: Iterable[Item]) -> None:
        """Unconditional puts, 25 per request, retrying what DynamoDB leaves unprocessed (bounded)."""
        self._batched(
            "batch_write_item",
            [{"PutRequest": {"Item": serialize(item)}} for item in items],
            25,
            request_for=lambda chunk: chunk,
            leftover=lambda response: list(response.get("UnprocessedItems", {}).get(self.name, [])),
        )

    def batch_get(
        self, keys: Sequence[tuple[str, str]], *, attributes: Sequence[str] | None = None
    ) -> dict[tuple[str, str], Item]:
        """The stored items of ``keys`` (absent ones left out), 100 keys per request, retrying what
        DynamoDB leaves unprocessed (bounded). Strongly consistent: the sync engine decides writes on it."""
        found: dict[tuple[str, str], Item] = {}
        unique = list(dict.fromkeys(keys))
        names: dict[str, str] = {}
        projection: str | None = None
        if attributes:
            wanted = list(dict.fromkeys([PK, SK, *attributes, TTL_ATTRIBUTE]))
            names = {f"#a{i}": name for i, name in enumerate(wanted)}
            projection = ", ".join(names)

        def request_for(chunk: list[Any]) -> dict[str, Any]:
            request: dict[str, Any] = {"Keys": chunk, "ConsistentRead": True}
            if projection:
                request["ProjectionExpression"] = projection
                request["ExpressionAttributeNames"] = names
            return request

        def collect(response: dict[str, Any]) -> None:
            for wire in response.get("Responses", {}).get(self.name, []):
                item = deserialize(wire)
                if self._live(item):
                    found[(item[PK], item[SK])] = item

        self._batched(
            "batch_get_item",
            [self.key(pk, sk) for pk, sk in unique],
            100,
            request_for=request_for,
            leftover=lambda response: list(
                (response.get("UnprocessedKeys") or {}).get(self.name, {}).get("Keys", [])
            ),
            on_response=collect,
        )
        return found

    # -- queries --------------------------------------------------------------------------------------------

    def query(
        self,
        *,
        partition: str,
        index: str | None = None,
        sk_prefix: str | None = None,
        sk_after: str | None = None,
        forward: bool = True,
        limit: int = MAX_PAGE_SIZE,
        cursor: str | None = None,
        tenant_prefix: str | None = None,
        attributes: Sequence[str] | None = None,
    ) -> tuple[list[Item], str | None]:
        """One page of a partition (of the table or a GSI), in sort-key order, and the cursor to the next.

        ``sk_prefix`` keeps sort keys that start with it; ``sk_after`` keeps those greater than or equal to it
        (used for "updated since"). ``tenant_prefix`` (``T#{tenant}``) is what a cursor's table key must sit
        under. One extra item is read so the last page says so (``None``) instead of sending the caller to
        an empty page. ``attributes`` reads only those (and the keys the cursor needs, and ``expires_at``):
        DynamoDB still charges for whole items, but nothing else crosses the wire or is deserialized.
        """
        pk_attr, sk_attr = INDEX_KEYS[index] if index else (PK, SK)
        key_attributes = {PK, SK, pk_attr, sk_attr}
        names = {"#p": pk_attr}
        values: dict[str, Any] = {":p": partition}
        condition = "#p = :p"
        if sk_prefix is not None:
            names["#s"] = sk_attr
            values[":s"] = sk_prefix
            condition += " AND begins_with(#s, :s)"
        elif sk_after is not None:
            names["#s"] = sk_attr
            values[":s"] = sk_after
            condition += " AND #s >= :s"
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
            "ScanIndexForward": forward,
            "Limit": limit + 1,
        }
        if index:
            kwargs["IndexName"] = index
        if attributes:
            wanted = list(dict.fromkeys([*sorted(key_attributes), *attributes, TTL_ATTRIBUTE]))
            projected = {f"#a{i}": name for i, name in enumerate(wanted)}
            names.update(projected)
            kwargs["ProjectionExpression"] = ", ".join(projected)
        if cursor:
            start = decode_cursor(
                cursor,
                key_attributes=key_attributes,
                partition_attribute=pk_attr,
                partition_value=partition,
                sort_attribute=sk_attr,
                sort_prefix=sk_prefix,
                tenant_prefix=tenant_prefix,
            )
            kwargs["ExclusiveStartKey"] = serialize(start)
        response = self._call("query", **kwargs)
        raw = [deserialize(item) for item in response.get("Items", [])]
        next_cursor: str | None = None
        if len(raw) > limit:
            raw = raw[:limit]
            next_cursor = encode_cursor({attr: raw[-1][attr] for attr in key_attributes})
        elif "LastEvaluatedKey" in response:
            # DynamoDB stopped at its 1 MB page size before reaching limit + 1 items.
            last = deserialize(response["LastEvaluatedKey"])
            next_cursor = encode_cursor({attr: str(last[attr]) for attr in key_attributes})
        return [item for item in raw if self._live(item)], next_cursor


__all__ = ["ConditionFailed", "Item", "Table", "TransactItem", "deserialize", "serialize"]
