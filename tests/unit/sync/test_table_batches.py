"""The table's batch reads and writes (the sync engine's page reads, the benchmark's bare baseline):
chunk sizes, unprocessed items sent again, a bounded number of retries, projections kept on retry."""

from __future__ import annotations

from typing import Any

import pytest

from trackbridge.domain.errors import DependencyFailure
from trackbridge.storage.table import Table, serialize


class ThrottlingClient:
    """Answers batch calls like DynamoDB under throttling: the first ``throttle`` calls leave the last
    entry of their chunk unprocessed."""

    def __init__(self, throttle: int = 1) -> None:
        self.throttle = throttle
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (chunk,) = RequestItems.values()
        self.calls.append(("write", RequestItems))
        done, left = (chunk[:-1], chunk[-1:]) if len(self.calls) <= self.throttle else (chunk, [])
        for request in done:
            item = request["PutRequest"]["Item"]
            self.stored[(item["pk"]["S"], item["sk"]["S"])] = item
        return {"UnprocessedItems": {"t": left} if left else {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        (request,) = RequestItems.values()
        self.calls.append(("read", RequestItems))
        keys = request["Keys"]
        done, left = (keys[:-1], keys[-1:]) if len(self.calls) <= self.throttle else (keys, [])
        found = [
            self.stored[(k["pk"]["S"], k["sk"]["S"])]
            for k in done
            if (k["pk"]["S"], k["sk"]["S"]) in self.stored
        ]
        unprocessed = {"t": {**request, "Keys": left}} if left else {}
        return {"Responses": {"t": found}, "UnprocessedKeys": unprocessed}


def items(n: int) -> list[dict[str, Any]]:
    return [{"pk": "P", "sk": f"S{i:03}", "updated_at": "2024-01-01T00:00:00Z"} for i in range(n)]


def test_batch_put_chunks_by_25_and_sends_unprocessed_again() -> None:
    client = ThrottlingClient(throttle=1)
    Table(client, "t").batch_put(items(60))
    chunk_sizes = [len(next(iter(request.values()))) for _, request in client.calls]
    assert chunk_sizes == [25, 1, 25, 10]  # the throttled last item of the first chunk, sent alone
    assert len(client.stored) == 60


def test_batch_get_chunks_by_100_keeps_the_projection_and_retries() -> None:
    client = ThrottlingClient(throttle=0)
    table = Table(client, "t")
    table.batch_put(items(150))
    client.calls.clear()
    client.throttle = 1
    found = table.batch_get(
        [("P", f"S{i:03}") for i in range(150)] + [("P", "absent")], attributes=["updated_at"]
    )
    assert len(found) == 150
    reads = [request["t"] for _, request in client.calls]
    assert [len(r["Keys"]) for r in reads] == [100, 1, 51]
    assert all(r["ConsistentRead"] and "ProjectionExpression" in r for r in reads)
    assert found[("P", "S007")]["updated_at"] == "2024-01-01T00:00:00Z"


def test_endless_throttling_is_a_dependency_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("trackbridge.storage.table.time.sleep", lambda _s: None)
    client = ThrottlingClient(throttle=10**6)
    with pytest.raises(DependencyFailure):
        Table(client, "t").batch_put(items(3))
    assert len(client.calls) == 8
    with pytest.raises(DependencyFailure):
        Table(client, "t").batch_get([("P", "S000"), ("P", "S001")])


def test_serialized_keys_are_what_the_client_gets() -> None:
    client = ThrottlingClient(throttle=0)
    Table(client, "t").batch_put(items(1))
    ((_, request),) = client.calls
    assert request["t"][0]["PutRequest"]["Item"] == serialize(items(1)[0])
