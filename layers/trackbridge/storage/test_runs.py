"""Test runs, their cases, and each suite's latest status per test (keys built here, as ``webhooks.py`` does).

* a run: ``T#{t}`` / ``TESTRUN#{id}``, listed newest first by GSI1 ``T#{t}#SUITE#{suite}#RUNS`` (one
  suite's) and GSI2 ``T#{t}#TESTRUNS`` (all), both sorted by ``{created_at}#{id}``; TTL;
* a run's cases: ``T#{t}#TESTRUN#{id}`` / ``CASES#{n:05d}``, chunks of at most :data:`CHUNK_CASES` cases and
  about :data:`CHUNK_BYTES` bytes (DynamoDB's item limit is 400 KB); TTL;
* a suite's latest status of each test: ``T#{t}#SUITE#{suite}`` / ``CASE#{case id}``, TTL
  :data:`STATUS_TTL_S` after the last upload that reported the test (coverage reads them);
* a suite's scope, a connection its issues live in: ``T#{t}#SUITE#{suite}`` / ``SCOPE#{connection id}``.

A run and its chunks expire after :data:`RUN_TTL_S` (90 days). The run item is
written last and only if absent, so a failed upload leaves no run (its chunks, if any, are unreachable and
expire). A latest status is written only when no newer run wrote it: ``run_at <= :mine`` (100 per
transaction; a transaction that meets a newer status falls back to single conditional puts).

The cases of a run page by ``(chunk, offset)``: a plain cursor ``{chunk}.{offset}`` that the API seals like
every cursor (bound to the tenant and the run's path), so it cannot be forged or moved to another run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.junit import MAX_CASES
from trackbridge.domain.pagination import Page, invalid_cursor
from trackbridge.domain.test_runs import LatestStatus, RunCase, TestRun
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.storage.keys import (
    GSI1,
    GSI1_PK,
    GSI1_SK,
    GSI2,
    GSI2_PK,
    GSI2_SK,
    PK,
    SK,
    TTL_ATTRIBUTE,
    tenant_pk,
)
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import ConditionFailed, Item, Table

RUN_TTL_S = 90 * 24 * 3600
# Every upload rewrites the status of each test it reports: a test no upload named for this long is gone
# (removed or renamed) and leaves the coverage report instead of failing there forever.
STATUS_TTL_S = 30 * 24 * 3600
CHUNK_CASES = 500
CHUNK_BYTES = 200_000  # well under DynamoDB's 400 KB per item
RUN_PREFIX = "TESTRUN#"
CASES_PREFIX = "CASES#"
STATUS_PREFIX = "CASE#"
SCOPE_PREFIX = "SCOPE#"
_TRANSACTION = 100
_READ_PAGE = 1_000
_CURSOR = re.compile(r"(\d{1,5})\.(\d{1,4})")


def run_sk(run_id: str) -> str:
    return f"{RUN_PREFIX}{run_id}"


def run_cases_pk(tenant: str, run_id: str) -> str:
    return f"T#{tenant}#TESTRUN#{run_id}"


def suite_pk(tenant: str, suite: str) -> str:
    return f"T#{tenant}#SUITE#{suite}"


def runs_of_suite_gsi1pk(tenant: str, suite: str) -> str:
    return f"T#{tenant}#SUITE#{suite}#RUNS"


def runs_gsi2pk(tenant: str) -> str:
    return f"T#{tenant}#TESTRUNS"


def chunk_cases(cases: Sequence[RunCase]) -> list[list[RunCase]]:
    """``cases`` cut into chunks of at most :data:`CHUNK_CASES` cases and about :data:`CHUNK_BYTES`."""
    chunks: list[list[RunCase]] = []
    current: list[RunCase] = []
    size = 0
    for case in cases:
        weight = len(case.model_dump_json().encode("utf-8")) + 64  # DynamoDB's per-attribute overhead
        if current and (len(current) >= CHUNK_CASES or size + weight > CHUNK_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(case)
        size += weight
    if current:
        chunks.append(current)
    return chunks


class TestRunRepository:
    __test__ = False  # not a pytest test class

    def __init__(self, table: Table) -> None:
        self.table = table

    # -- runs -----------------------------------------------------------------------------------------------

    @staticmethod
    def _run_item(tenant: str, run: TestRun, chunks: int) -> Item:
        created = to_iso(run.created_at)
        order = f"{created}#{run.id}"
        return {
            PK: tenant_pk(tenant),
            SK: run_sk(run.id),
            GSI1_PK: runs_of_suite_gsi1pk(tenant, run.suite),
            GSI1_SK: order,
            GSI2_PK: runs_gsi2pk(tenant),
            GSI2_SK: order,
            "entity": "test_run",
            "chunks": chunks,
            TTL_ATTRIBUTE: int(run.created_at.timestamp()) + RUN_TTL_S,
            **run.model_dump(mode="json"),
        }

    @staticmethod
    def model(item: Item) -> TestRun:
        fields = {name: item[name] for name in TestRun.model_fields if name in item}
        return TestRun.model_validate({**fields, "created_at": from_iso(item["created_at"])})

    def put_cases(self, tenant: str, run_id: str, cases: Sequence[RunCase], *, created_at: datetime) -> int:
        """The run's cases in chunks (before the run item: the run is visible only when complete)."""
        expires = int(created_at.timestamp()) + RUN_TTL_S
        chunks = chunk_cases(cases)
        self.table.batch_put(
            {
                PK: run_cases_pk(tenant, run_id),
                SK: f"{CASES_PREFIX}{n:05d}",
                "entity": "test_run_cases",
                "cases": [case.model_dump(mode="json") for case in chunk],
                TTL_ATTRIBUTE: expires,
            }
            for n, chunk in enumerate(chunks)
        )
        return len(chunks)

    def create(self, tenant: str, run: TestRun, *, chunks: int) -> TestRun:
        self.table.put(
            self._run_item(tenant, run, chunks), condition="attribute_not_exists(#pk)", names={"#pk": PK}
        )
        return run

    def _run_item_of(self, tenant: str, run_id: str) -> Item:
        item = self.table.get(tenant_pk(tenant), run_sk(run_id))
        if item is None:
            raise NotFound(f"no test run {run_id!r}", details={"id": run_id})
        return item

    def get(self, tenant: str, run_id: str) -> TestRun:
        return self.model(self._run_item_of(tenant, run_id))

    def list_runs(self, tenant: str, *, suite: str | None, limit: int, cursor: str | None) -> Page[TestRun]:
        """The tenant's runs (or one suite's), newest first."""
        if suite is None:
            index, partition = GSI2, runs_gsi2pk(tenant)
        else:
            index, partition = GSI1, runs_of_suite_gsi1pk(tenant, suite)
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=partition,
            index=index,
            forward=False,
            limit=limit,
            cursor=cursor,
        )

    def cases(
        self, tenant: str, run_id: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[TestRun, list[RunCase], str | None]:
        """The run and one page of its cases (``status`` keeps only those), and the cursor to the next."""
        item = self._run_item_of(tenant, run_id)
        run, chunks = self.model(item), int(item.get("chunks") or 0)
        chunk, offset = _position(cursor, chunks)
        page: list[RunCase] = []
        while chunk < chunks:
            stored = self.table.get(run_cases_pk(tenant, run_id), f"{CASES_PREFIX}{chunk:05d}")
            cases = [RunCase.model_validate(c) for c in (stored or {}).get("cases", [])]
            for index in range(offset, len(cases)):
                if status is not None and cases[index].status != status:
                    continue
                if len(page) == limit:
                    return run, page, f"{chunk}.{index}"
                page.append(cases[index])
            chunk, offset = chunk + 1, 0
        return run, page, None

    # -- a suite's latest statuses and scope ----------------------------------------------------------------

    @staticmethod
    def _status_item(tenant: str, suite: str, status: LatestStatus) -> Item:
        return {
            PK: suite_pk(tenant, suite),
            SK: f"{STATUS_PREFIX}{status.id}",
            "entity": "test_status",
            **status.model_dump(mode="json"),
            "run_at": _at(status),  # fixed width: the write condition compares it as a string
            TTL_ATTRIBUTE: int(status.run_at.timestamp()) + STATUS_TTL_S,
        }

    @staticmethod
    def _status(item: Item) -> LatestStatus:
        fields = {name: item[name] for name in LatestStatus.model_fields if name in item}
        return LatestStatus.model_validate(fields)

    def latest(self, tenant: str, suite: str, case_ids: Iterable[str]) -> dict[str, LatestStatus]:
        """The stored latest status of each of ``case_ids`` that has one (100 per batch read)."""
        keys = [(suite_pk(tenant, suite), f"{STATUS_PREFIX}{cid}") for cid in case_ids]
        found = self.table.batch_get(keys)
        return {item["id"]: self._status(item) for item in found.values()}

    def record_latest(self, tenant: str, suite: str, statuses: Sequence[LatestStatus]) -> None:
        """Each status, unless a newer run recorded that test's already."""
        guard = "attribute_not_exists(#pk) OR #at <= :at"
        names = {"#pk": PK, "#at": "run_at"}
        for start in range(0, len(statuses), _TRANSACTION):
            chunk = statuses[start : start + _TRANSACTION]
            ops = [
                self.table.put_op(
                    self._status_item(tenant, suite, s), condition=guard, names=names, values={":at": _at(s)}
                )
                for s in chunk
            ]
            try:
                self.table.transact(ops)
            except Conflict:  # a newer run, or a concurrent one, holds some: settle each on its own
                for status in chunk:
                    try:
                        self.table.put(
                            self._status_item(tenant, suite, status),
                            condition=guard,
                            names=names,
                            values={":at": _at(status)},
                        )
                    except ConditionFailed:
                        continue

    def statuses(self, tenant: str, suite: str) -> list[LatestStatus]:
        """Every latest status of the suite (bounded by the most cases a report may hold)."""
        found: list[LatestStatus] = []
        cursor: str | None = None
        for _ in range(MAX_CASES * 4 // _READ_PAGE + 1):
            items, cursor = self.table.query(
                partition=suite_pk(tenant, suite),
                sk_prefix=STATUS_PREFIX,
                limit=_READ_PAGE,
                cursor=cursor,
                tenant_prefix=tenant_pk(tenant),
            )
            found += [self._status(item) for item in items]
            if cursor is None:
                break
        return found

    def add_scope(self, tenant: str, suite: str, connection_ids: Iterable[str]) -> None:
        self.table.batch_put(
            {PK: suite_pk(tenant, suite), SK: f"{SCOPE_PREFIX}{cid}", "entity": "test_suite_scope", "id": cid}
            for cid in dict.fromkeys(connection_ids)
        )

    def scope(self, tenant: str, suite: str) -> list[str]:
        """The connections of the suite's scope (a handful: one page)."""
        items, _ = self.table.query(
            partition=suite_pk(tenant, suite), sk_prefix=SCOPE_PREFIX, limit=_READ_PAGE
        )
        return [str(item["id"]) for item in items]


def _at(status: LatestStatus) -> str:
    return to_iso(status.run_at)


def _position(cursor: str | None, chunks: int) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    match = _CURSOR.fullmatch(cursor)
    if match is None or int(match[1]) >= chunks:
        raise invalid_cursor()
    return int(match[1]), int(match[2])


__all__ = [
    "CHUNK_BYTES",
    "CHUNK_CASES",
    "RUN_TTL_S",
    "STATUS_TTL_S",
    "TestRunRepository",
    "chunk_cases",
    "run_cases_pk",
    "run_sk",
    "suite_pk",
]
