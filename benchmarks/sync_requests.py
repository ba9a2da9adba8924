"""Sync benchmark: requests against the floor, wall time against bare baselines, DynamoDB cost, peak memory.

``make bench`` (or ``python -m benchmarks.sync_requests [--provider NAME|all] [--issues N] [--comments C]
[--ddb-latency-ms MS] [--latency-issues N] [--large [NAME]]``) runs, per tracker of the sandbox registry
(``infra.local.trackers.SANDBOXES``), against its sandbox and moto's DynamoDB, all in one run so every ratio
compares like with like; what differs per tracker (connection, floor, naive client) is what its sandbox and
its adapter's capabilities declare. Each measured run is a child process (its own peak RSS; the sandbox and
moto live in this one), in this order:

1. **full**: bare, full sync, bare. The sync goes through the real engine (slices, checkpoints, conditional
   writes) into the connection's table; each bare run, on a fresh table made from the same definition
   (``infra.local.provision.table_request``: same keys and indexes), pages the same listings through the same
   adapter and writes the very items the sync stores (``IssueRepository.item`` / ``CommentRepository.item``,
   the same tenant and keys) with ``BatchWriteItem``, page by page. Trackers whose issues bring their comments
   (GitLab, Jira) are asked per issue exactly as the sync asks: Jira's from the comments its search embedded,
   kept for the run by ``keeping_embedded_comments`` (the sync's ``KeepsEmbeddedComments`` session), so its
   bare run sends the sync's search pages, not a comment request per issue. The ratio is against the
   **better (faster) of the two adjacent bare runs**: the stricter comparison, and the one least disturbed by
   whatever else the machine was doing;
2. **idle**: bare, incremental sync, bare. The bare idle run sends the very requests the idle sync sends: for
   each listing the engine syncs (the adapter's capabilities, ``plan_for``), the update-ordered listing from
   the sync state's ``high_water`` minus the adapter's declared overlap, conditional with ETags, plus one
   consistent read and one write of a cursor item on a fresh table. Its ETags come from a fresh adapter whose
   cache was primed by one unmeasured listing of the same URLs, not from the sync state: the engine keeps
   them inside its checkpoint encoding (which another change may reshape), and the sandbox's ETag is a hash
   of the page, so the priming gets the ETags the sync stored; the table shows both runs' 304 counts;
3. **repeat full**: a second full sync with nothing changed: its requests beyond the floor (a per-item GET
   would show here), its item writes (0 expected) and its deletions (0 required);
4. **changed**: 1 % of the issues retitled at the tracker, then an incremental sync: what one changed issue
   costs in DynamoDB units, for the monthly estimate.

DynamoDB cost: a meter inside moto (:mod:`benchmarks.dynamo_meter`, arithmetic in
:mod:`benchmarks.dynamo_cost`) bills every call of each run on its own table by DynamoDB's documented
rounding, indexes included; projected reads are billed by the full stored item, looked up in moto.
Printed: write and read units per synced item for the full sync, its bare run and the repeat, the idle
run's units, and the monthly on-demand cost of syncing 10,000 issues every 15 minutes (an incremental sync
per interval with 1 % of the issues changed, and the idle part alone).

Latency model: ``--ddb-latency-ms N`` (default 5; 0 = off) adds a second table in which every DynamoDB call
of the measured children, sync and bare alike, first sleeps N ms (in the child's client wrapper, so
concurrent calls overlap their waits as round trips to AWS do), at ``--latency-issues`` issues (default
1,000): whether the ratios hold when a round trip costs what it costs on AWS rather than moto's CPU.

``--large`` adds a 100,000-issue (``--large-issues``) full sync of one tracker; its peak RSS is printed
against that tracker's default-size row (target <= 1.2x). Exit status: non-zero only on correctness
failures (a run not Completed, deletions on the repeat, a peak RSS over the Lambda memory); a ratio over its
target prints a ``note:`` line. Not part of the test suite (a smoke test runs it with 50 issues).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from benchmarks.dynamo_cost import MonthlyEstimate, Usage

LAMBDA_MEMORY_MB = 1024
TARGET_FLOOR_RATIO = 1.05
TARGET_WALL_RATIO = 1.3
TARGET_IDLE_RATIO = 2.0
TARGET_RSS_RATIO = 1.2
LARGE_ISSUES = 100_000
# Sizes that keep a whole ``make bench`` (3 trackers, plain and latency rows) within about 20 minutes on a
# busy 2-core machine: 2,000 and 500 took 8 minutes there; 10,000 per tracker took over an hour before the
# engine's batch writes (README's table).
DEFAULT_ISSUES = 5_000
DEFAULT_LATENCY_MS = 5.0
DEFAULT_LATENCY_ISSUES = 1_000
# The monthly estimate: this many issues, this share of them changed per 15-minute interval.
ESTIMATE_ISSUES = 10_000
ESTIMATE_CHANGED_SHARE = 0.01


def peak_rss_mb() -> float:
    """This process's own peak RSS. On Linux ``VmHWM`` of the current address space: ``ru_maxrss``
    survives exec, so a child would report the larger parent (sandbox + moto) it was forked from."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# ------------------------------------------------------------------------------------------ child side


class _CountingClient:
    """Wraps the boto3 DynamoDB client: counts calls and issue/comment item writes, and (the latency model)
    sleeps ``delay_s`` before each call, on the calling thread, as a round trip to DynamoDB would take."""

    def __init__(self, client: Any, *, delay_s: float = 0.0) -> None:
        self._client = client
        self._delay_s = delay_s
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.item_writes = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(**kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            started = time.perf_counter()
            try:
                if self._delay_s:
                    time.sleep(self._delay_s)
                return self._counted(name, target, kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return call

    def _counted(self, name: str, target: Any, kwargs: dict[str, Any]) -> Any:
        if name == "put_item" and _entity(kwargs.get("Item", {})) in ("issue", "comment"):
            self.item_writes += 1
        if name == "batch_write_item":
            self.item_writes += sum(
                1
                for requests in kwargs.get("RequestItems", {}).values()
                for request in requests
                if _entity(request.get("PutRequest", {}).get("Item", {})) in ("issue", "comment")
            )
        if name == "transact_write_items":
            self.item_writes += sum(
                1
                for operation in kwargs.get("TransactItems", [])
                if _entity(operation.get("Put", {}).get("Item", {})) in ("issue", "comment")
            )
        return target(**kwargs)


def _entity(item: dict[str, Any]) -> str | None:
    value = item.get("entity", {})
    return value.get("S") if isinstance(value, dict) else None


class _Budget:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _patient_client() -> Any:
    """A DynamoDB client with long timeouts and no retries: a slow moto call must not be retried into a
    false conflict."""
    import boto3
    from botocore.config import Config

    from trackbridge.runtime import aws

    config = Config(
        retries={"mode": "standard", "max_attempts": 1}, read_timeout=600, max_pool_connections=32
    )
    return boto3.session.Session().client("dynamodb", region_name=aws.get_settings().region, config=config)


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    from trackbridge.runtime import container
    from trackbridge.runtime.sync.adapters import default_adapter_factory
    from trackbridge.storage.table import Table

    container.reset()
    client = _patient_client()
    counting = _CountingClient(client, delay_s=float(spec.get("latency_ms", 0)) / 1000)
    main_table = container.table().name
    table = Table(counting, spec.get("table") or main_table)
    tenant, connection_id = spec["tenant"], spec["connection_id"]
    connection = container.connection_repository().get(tenant, connection_id)
    credentials = container.connection_secrets().credentials(tenant, connection_id) or {}
    result: dict[str, Any]
    if spec["kind"] == "engine":
        started = time.perf_counter()
        result = _run_engine(table, connection, tenant, spec["mode"])
    elif spec["kind"] == "bare_full":
        adapter = default_adapter_factory(connection, credentials)
        started = time.perf_counter()
        result = _run_bare_full(
            table,
            adapter,
            tenant,
            include_closed=connection.include_closed,
            conditional=bool(spec.get("conditional")),
        )
    else:
        adapter = default_adapter_factory(connection, credentials)
        from trackbridge.providers.etags import ETagCache

        adapter.etag_cache = ETagCache()
        listings = _idle_listings(Table(client, main_table), adapter, tenant, connection_id)
        with adapter:
            _list_all(adapter, listings)  # primes the ETag cache, unmeasured
            before = adapter.stats.requests
            started = time.perf_counter()
            result = _run_bare_idle(table, adapter, listings, tenant, connection_id)
        result["requests"] -= before
    result.update(
        wall_s=time.perf_counter() - started,
        rss_mb=peak_rss_mb(),
        dynamodb_calls=counting.calls,
        dynamodb_seconds={k: round(v, 2) for k, v in counting.seconds.items()},
        item_writes=counting.item_writes,
    )
    return result


def run_operation(table: Any, connection: Any, tenant: str, request: Any) -> Any:
    """Start a sync of ``request`` (a ``SyncRequest``) and run its slices to the end; the final operation.

    The queue is a list: a parked slice waits its delay in-process (more than 60 s is an error here)."""
    from trackbridge.runtime import container
    from trackbridge.runtime.sync import SyncEngine, SyncService
    from trackbridge.runtime.sync.adapters import default_adapter_factory
    from trackbridge.storage.connections import ConnectionRepository
    from trackbridge.storage.sync import SyncLogRepository, SyncOperationRepository, SyncStateRepository

    class Queue:
        def __init__(self) -> None:
            self.pending: list[Any] = []

        def send(self, message: Any, *, delay_s: int = 0) -> None:
            if delay_s > 60:
                raise RuntimeError(f"the benchmark sync was parked for {delay_s} s")
            time.sleep(delay_s)
            self.pending.append(message)

    queue = Queue()
    repos: dict[str, Any] = {
        "operations": SyncOperationRepository(table),
        "states": SyncStateRepository(table),
        "logs": SyncLogRepository(table),
        "connections": ConnectionRepository(table),
    }
    engine = SyncEngine(
        table=table,
        secrets=container.connection_secrets(),
        queue=queue,
        adapter_factory=default_adapter_factory,
        **repos,
    )
    service = SyncService(queue=queue, **repos)
    op = service.start(tenant, connection.id, request, triggered_by="benchmark")
    for _ in range(10_000):
        if not queue.pending:
            break
        message = queue.pending.pop(0)
        engine.run_slice(
            tenant, message.operation_id, message.slice_no, _Budget(), resume_at=message.resume_at
        )
    return service.get(tenant, op.id)


def _run_engine(table: Any, connection: Any, tenant: str, mode: str) -> dict[str, Any]:
    from trackbridge.domain.sync_plan import SyncRequest

    final = run_operation(table, connection, tenant, SyncRequest(mode=mode))
    return {"status": final.status, "requests": final.requests, "results": final.results.model_dump()}


def _run_bare_full(
    table: Any, adapter: Any, tenant: str, *, include_closed: bool, conditional: bool = False
) -> dict[str, Any]:
    """The full sync's listings without the engine, each page's items written with ``BatchWriteItem`` (or,
    ``conditional``, with the engine's own conditional puts on 8 threads: what the engine adds besides).

    Comments come as the sync gets them: the scope-wide listing where the tracker has one (GitHub), else per
    issue of each page, inside the adapter's embedded-comments session where it keeps one (Jira: its search
    embeds them, so no request per issue; GitLab: one notes request per issue, as the sync's full pass)."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import nullcontext

    from trackbridge.runtime.sync.syncers import KeepsEmbeddedComments
    from trackbridge.storage.issues import CommentRepository, IssueRepository, put_if_newer

    pool = ThreadPoolExecutor(max_workers=8) if conditional else None

    def write(items: list[Any]) -> None:
        if pool is not None:
            list(pool.map(lambda item: put_if_newer(table, item), items))
        else:
            table.batch_put(items)

    adapter.etag_cache = None
    written = 0
    session = (
        adapter.keeping_embedded_comments() if isinstance(adapter, KeepsEmbeddedComments) else nullcontext()
    )
    with adapter, session:
        per_issue = not adapter.capabilities.repo_wide_comments
        for page in adapter.iter_issue_pages(include_closed=include_closed):
            items = [IssueRepository.item(tenant, issue) for issue in page.items]
            if per_issue:
                for issue in page.items:
                    items.extend(
                        CommentRepository.item(tenant, c) for c in adapter.list_issue_comments(issue.key)
                    )
            write(items)
            written += len(items)
        if not per_issue:
            for comment_page in adapter.iter_comment_pages():
                items = [CommentRepository.item(tenant, c) for c in comment_page.items]
                write(items)
                written += len(items)
    if pool is not None:
        pool.shutdown()
    return {"status": "Completed", "requests": adapter.stats.requests, "items": written}


def _idle_listings(state_table: Any, adapter: Any, tenant: str, connection_id: str) -> list[tuple[str, Any]]:
    """(entity, since) of each listing the idle sync sends: every entity the engine lists for this adapter,
    from its stored high-water minus the adapter's declared overlap (the engine's ``query_since``)."""
    from trackbridge.runtime.sync.syncers import plan_for
    from trackbridge.storage.sync import SyncStateRepository

    states = SyncStateRepository(state_table)
    listings: list[tuple[str, Any]] = []
    for entity, syncer in plan_for(adapter.capabilities).items():
        if syncer is None:
            continue
        state = states.find(tenant, connection_id, entity)
        high_water = state.high_water if state is not None else None
        listings.append((entity, high_water - adapter.incremental_overlap if high_water else None))
    return listings


def _list_all(adapter: Any, listings: list[tuple[str, Any]]) -> tuple[int, int]:
    """Every page of the listings (conditional where the adapter has an ETag cache): (pages, 304s)."""
    pages = not_modified = 0
    for entity, since in listings:
        if entity == "issues":
            iterator = adapter.iter_issue_pages(since=since, include_closed=True)
        else:
            iterator = adapter.iter_comment_pages(since=since)
        for page in iterator:
            pages += 1
            not_modified += int(bool(page.not_modified))
    return pages, not_modified


def _run_bare_idle(
    table: Any, adapter: Any, listings: list[tuple[str, Any]], tenant: str, connection_id: str
) -> dict[str, Any]:
    """The idle sync's conditional listings, then one read and one write of a cursor item."""
    from trackbridge.storage.keys import PK, SK, connection_pk

    pk, sk = connection_pk(tenant, connection_id), "BENCH#cursor"
    _pages, not_modified = _list_all(adapter, listings)
    stored = table.get(pk, sk) or {}
    table.put(
        {
            PK: pk,
            SK: sk,
            "high_water": str(listings[0][1]) if listings else "",
            "etags": len(adapter.etag_cache or ()),
            "runs": int(stored.get("runs", 0)) + 1,
        }
    )
    return {"status": "Completed", "requests": adapter.stats.requests, "not_modified": not_modified}


# ----------------------------------------------------------------------------------------- parent side


@dataclass
class Measured:
    """One child run: what it reported, the tracker's request counts, and the DynamoDB units it consumed."""

    result: dict[str, Any]
    sandbox: dict[str, Any]
    usage: Usage

    @property
    def wall_s(self) -> float:
        return float(self.result["wall_s"])

    @property
    def requests(self) -> int:
        return int(self.sandbox["total"])

    @property
    def status(self) -> str:
        return str(self.result.get("status"))


@dataclass
class ProviderRun:
    provider: str
    issues: int
    listed: int
    comments: int
    floor: int
    idle_floor: int
    latency_ms: float
    full: Measured
    bare_full: list[Measured] = field(default_factory=list)
    idle: Measured | None = None
    bare_idle: list[Measured] = field(default_factory=list)
    repeat: Measured | None = None
    changed: Measured | None = None
    conditional: Measured | None = None
    naive_requests: int | None = None
    naive_wall_s: float | None = None

    @property
    def large(self) -> bool:
        return self.idle is None

    @property
    def synced_items(self) -> int:
        results = self.full.result.get("results", {})
        return sum(int(results.get(c, 0)) for c in ("created", "updated", "unchanged"))

    @property
    def changed_issues(self) -> int:
        if self.changed is None:
            return 0
        by_entity = self.changed.result.get("results", {}).get("by_entity", {})
        return int(by_entity.get("issues", {}).get("updated", 0))


def _best(runs: list[Measured]) -> float:
    return min(run.wall_s for run in runs)


def _spawn(spec: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.sync_requests", "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{completed.stderr[-4000:]}")
    result = dict(json.loads(completed.stdout.strip().splitlines()[-1]))
    if os.environ.get("TB_BENCH_DEBUG"):
        sys.stderr.write(json.dumps({k: v for k, v in result.items() if k != "results"}) + "\n")
    return result


class _Bench:
    """The parent's collaborators for one benchmark run: moto's endpoint, its meter, a DynamoDB client."""

    def __init__(self, endpoint_url: str, meter: Any) -> None:
        from infra.local.provision import local_client

        self.endpoint_url = endpoint_url
        self.meter = meter
        self.dynamodb = local_client("dynamodb", endpoint_url=endpoint_url, region="us-east-1")

    def measure(self, tracker: Any, spec: dict[str, Any], *, table: str, metered: bool = True) -> Measured:
        tracker.reset_requests()
        self.meter.start(*([table] if metered else []))
        try:
            result = _spawn(spec)
        finally:
            usage = self.meter.stop()
        return Measured(result, tracker.requests(), usage)

    def fresh_table(self) -> str:
        """A new table from the real table's definition (keys, indexes, on demand), empty."""
        from infra.local.provision import table_request

        request = table_request(f"bare{uuid.uuid4().hex[:10]}")
        self.dynamodb.create_table(**request)
        waiter = self.dynamodb.get_waiter("table_exists")
        waiter.wait(TableName=request["TableName"], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        return str(request["TableName"])

    def drop_table(self, name: str) -> None:
        # moto keeps every table in this process: a dropped baseline gives its memory back.
        self.dynamodb.delete_table(TableName=name)

    def on_fresh_table(self, tracker: Any, spec: dict[str, Any]) -> Measured:
        table = self.fresh_table()
        try:
            return self.measure(tracker, {**spec, "table": table}, table=table)
        finally:
            self.drop_table(table)


def _registered() -> list[str]:
    """The sandbox registry's tracker names (imported here, so the measured children never load it)."""
    from infra.local.trackers import SANDBOXES

    return list(SANDBOXES)


def _sandbox(provider: str, issues: int, comments: int) -> Any:
    from infra.local.trackers import SANDBOXES

    # A budget no client can spend: the naive clients need one request per issue, far beyond GitHub's
    # 5,000 an hour, and the comparison is about requests, not about waiting for a reset.
    tracker = SANDBOXES[provider](
        seed="bench", issues=issues, comments_per_issue=comments, closed_ratio=0.3, rate_limit=10**9
    )
    return tracker.start()


def _allow(tracker: Any) -> None:
    """Let trackbridge's outbound policy reach exactly this sandbox (here and in the children), as the
    embedded stack does: a loopback tracker is refused otherwise."""
    from infra.definition import ALLOWED_PRIVATE_NETWORKS_ENV
    from infra.local.stack import sandbox_allowlist
    from trackbridge.runtime import container

    os.environ[ALLOWED_PRIVATE_NETWORKS_ENV] = sandbox_allowlist({"sandbox": tracker.describe()})
    container.reset()


def _connection(provider: str, tracker: Any, tenant: str) -> Any:
    """The benchmark tenant's connection to ``tracker``'s seeded project, as the sandbox declares it."""
    from trackbridge.domain.audit import Actor
    from trackbridge.domain.connections import ConnectionCreate
    from trackbridge.runtime import container

    body = ConnectionCreate.model_validate(tracker.connection_request(name=provider))
    return container.connection_service().create(tenant, body, Actor(id="benchmark"))


def _counts(tracker: Any) -> tuple[int, int, int]:
    """(issues, items the issue listing returns, comments) as the sandbox holds them."""
    counts: tuple[int, int, int] = tracker.issue_counts()
    return counts


def _idle_floor(provider: str) -> int:
    """Requests of an idle incremental sync at best: one per listing the engine syncs for the tracker's
    adapter (GitHub: issues and the repo-wide comments; GitLab, Jira: issues), conditional where it can."""
    from trackbridge.providers.registry import PROVIDERS
    from trackbridge.runtime.sync.syncers import plan_for

    return sum(1 for syncer in plan_for(PROVIDERS[provider].capabilities).values() if syncer is not None)


def _naive(tracker: Any) -> tuple[int, float]:
    """A per-issue client as people write it with the usual library; returns (requests, wall seconds)."""
    tracker.reset_requests()
    started = time.perf_counter()
    tracker.read_with_client_library()
    return int(tracker.requests()["total"]), time.perf_counter() - started


def _fresh_table(name: str) -> None:
    """A stage of its own per run (the connection's table): moto copies a whole table on every
    transaction, so runs stay apart."""
    from infra.local.provision import provision
    from trackbridge.runtime import container

    resources = provision(endpoint_url=os.environ["AWS_ENDPOINT_URL"], stage=name)
    os.environ.update(resources.environment())
    container.reset()


def _change_issues(tracker: Any, tenant: str, connection_id: str, listed: int) -> None:
    """Retitle 1 % of the stored issues (at least one) at the tracker: the changed-issues incremental."""
    from trackbridge.runtime import container
    from trackbridge.storage.issues import IssueRepository

    wanted = max(1, round(listed * ESTIMATE_CHANGED_SHARE))
    repo, cursor = IssueRepository(container.table()), None
    while wanted > 0:
        page = repo.list_for_connection(tenant, connection_id, limit=min(wanted, 100), cursor=cursor)
        for issue in page.items:
            tracker.retitle_issue(issue.key, f"benchmark change of {issue.key}")
        wanted -= len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break


def run_provider(
    bench: _Bench,
    provider: str,
    issues: int,
    comments: int,
    *,
    naive: bool,
    latency_ms: float = 0.0,
    large: bool = False,
    conditional_baseline: bool = False,
) -> ProviderRun:
    stage = f"bench{provider}{issues}{'l' if latency_ms else ''}{uuid.uuid4().hex[:4]}"
    _fresh_table(stage)
    from trackbridge.runtime import container

    main_table = container.table().name
    tracker = _sandbox(provider, issues, comments)
    try:
        _allow(tracker)
        tenant = f"bench-{provider}-{uuid.uuid4().hex[:8]}"
        connection = _connection(provider, tracker, tenant)
        plain, listed, comment_count = _counts(tracker)
        base = {"tenant": tenant, "connection_id": connection.id, "latency_ms": latency_ms}
        engine = {**base, "kind": "engine"}

        def sync(mode: str, *, metered: bool = True) -> Measured:
            return bench.measure(tracker, {**engine, "mode": mode}, table=main_table, metered=metered)

        if large:
            # The memory row: the full sync alone, unmetered (its peak RSS is what it is for).
            full = sync("full", metered=False)
            return ProviderRun(
                provider, plain, listed, comment_count, tracker.full_sync_floor(listed, comment_count),
                _idle_floor(provider), latency_ms, full,
            )  # fmt: skip
        bare_full = {**base, "kind": "bare_full"}
        bare_idle = {**base, "kind": "bare_idle"}
        run = ProviderRun(
            provider, plain, listed, comment_count, tracker.full_sync_floor(listed, comment_count),
            _idle_floor(provider), latency_ms, full=bench.on_fresh_table(tracker, bare_full),
        )  # fmt: skip
        # bare, sync, bare: the first bare run was stored in ``full`` only to build the record.
        run.bare_full.append(run.full)
        run.full = sync("full")
        run.bare_full.append(bench.on_fresh_table(tracker, bare_full))
        run.bare_idle.append(bench.on_fresh_table(tracker, bare_idle))
        run.idle = sync("incremental")
        run.bare_idle.append(bench.on_fresh_table(tracker, bare_idle))
        run.repeat = sync("full")
        if conditional_baseline:
            run.conditional = bench.on_fresh_table(tracker, {**bare_full, "conditional": True})
        if not latency_ms:
            _change_issues(tracker, tenant, connection.id, listed)
            run.changed = sync("incremental")
        if naive:
            run.naive_requests, run.naive_wall_s = _naive(tracker)
        return run
    finally:
        tracker.stop()
        bench.drop_table(main_table)


# ------------------------------------------------------------------------ opt-in entities (issue 19)
# Jira's worklogs and changelogs, each synced as its own operation so that its ``requests`` are its own.
ENTITY_ISSUES = 2_000
ENTITY_WORKLOGS_PER_ISSUE = 2
# Jira's ids-per-call limits: /worklog/list and /changelog/bulkfetch.
FEED_BATCH = 1_000


@dataclass
class EntityRow:
    """One measured pass of an opt-in entity: its requests against its floor, and how the floor is made."""

    entity: str
    mode: str
    requests: int
    floor: int
    how: str
    counted: dict[str, int]


def _jira_entity_changes(tracker: Any, keys: list[str]) -> tuple[int, int]:
    """1 % of the open issues (at least one) get a worklog and are closed, one worklog goes;
    then the feeds' held-back minute passes. Returns (worklogs changed, issues changed)."""
    from infra.local.trackers.jira._state import DONE

    keys = [key for key in keys if getattr(tracker.state.find(key), "status_id", DONE) != DONE]
    wanted = max(1, round(len(keys) * ESTIMATE_CHANGED_SHARE))
    for key in keys[:wanted]:
        tracker.mutate("worklog", key=key, seconds=600)
        tracker.close_issue(key)
    victim = tracker.state.worklogs[min(tracker.state.worklogs)]
    changed = {*keys[:wanted], tracker.state.key(tracker.state.issue(victim.issue_id))}
    tracker.mutate("delete_worklog", worklog_id=str(victim.id))
    tracker.clock.advance(120)
    return wanted + 1, len(changed)


def run_jira_entities(issues: int) -> tuple[int, list[EntityRow]]:
    """Full then incremental syncs of ``worklogs`` and ``changelogs`` against their floors (in-process: the
    requests are the measure here, not time or memory). Returns (worklogs seeded, rows)."""
    import math

    from infra.local.trackers import SANDBOXES
    from trackbridge.domain.sync_plan import SyncRequest
    from trackbridge.runtime import container
    from trackbridge.storage.table import Table

    _fresh_table(f"benchentities{uuid.uuid4().hex[:6]}")
    table = Table(_patient_client(), container.table().name)
    tracker = SANDBOXES["jira"](
        seed="bench",
        issues=issues,
        comments_per_issue=0,
        worklogs_per_issue=ENTITY_WORKLOGS_PER_ISSUE,
        closed_ratio=0.3,
        rate_limit=10**9,
    ).start()
    rows: list[EntityRow] = []
    try:
        _allow(tracker)
        tenant = f"bench-entities-{uuid.uuid4().hex[:8]}"
        connection = _connection("jira", tracker, tenant)

        def sync(mode: str, entity: str) -> tuple[int, dict[str, int], dict[str, int]]:
            tracker.reset_requests()
            request = SyncRequest.model_validate({"mode": mode, "entities": [entity]})
            op = run_operation(table, connection, tenant, request)
            if op.status != "Completed":
                raise RuntimeError(f"the {entity} {mode} sync ended {op.status}: {op.results.errors}")
            counted = op.results.by_entity.get(entity)
            return op.requests, tracker.requests()["by_route"], counted.model_dump() if counted else {}

        _, listed, _ = _counts(tracker)
        seeded = len(tracker.state.worklogs)
        sync("full", "issues")
        requests, routes, counted = sync("full", "worklogs")
        pages = tracker.full_sync_floor(listed, 0)
        feeds = sum(n for route, n in routes.items() if "/worklog/" in route and "/issue/" not in route)
        rows.append(
            EntityRow(
                "worklogs", "full", requests, pages + feeds,
                f"search pages ceil({listed:,}/50) + catch-up feed and list calls {feeds}", counted,
            )
        )  # fmt: skip
        requests, _, counted = sync("full", "changelogs")
        rows.append(
            EntityRow(
                "changelogs", "full", requests, math.ceil(listed / FEED_BATCH),
                f"ceil({listed:,} issues / {FEED_BATCH:,})", counted,
            )
        )  # fmt: skip
        keys = sorted(tracker.state.key(i) for i in tracker.state.live_issues())
        changed_worklogs, changed_issues = _jira_entity_changes(tracker, keys)
        sync("incremental", "issues")
        requests, routes, counted = sync("incremental", "worklogs")
        updated_pages = routes.get("GET /rest/api/3/worklog/updated", 0)
        deleted_pages = routes.get("GET /rest/api/3/worklog/deleted", 0)
        floor = updated_pages + math.ceil(changed_worklogs / FEED_BATCH) + deleted_pages
        rows.append(
            EntityRow(
                "worklogs", "incremental", requests, floor,
                f"{changed_worklogs} changed: list ceil({changed_worklogs}/{FEED_BATCH:,}) + "
                f"updated pages {updated_pages} + deleted pages {deleted_pages}", counted,
            )
        )  # fmt: skip
        requests, _, counted = sync("incremental", "changelogs")
        rows.append(
            EntityRow(
                "changelogs", "incremental", requests, math.ceil(changed_issues / FEED_BATCH),
                f"ceil({changed_issues} changed issues / {FEED_BATCH:,})", counted,
            )
        )  # fmt: skip
        return seeded, rows
    finally:
        tracker.stop()


def entity_lines(issues: int, seeded: int, rows: list[EntityRow]) -> list[str]:
    lines = [f"opt-in entities (jira, {issues:,} issues, {seeded:,} worklogs): requests / floor"]
    for row in rows:
        counted = ", ".join(f"{k} {v}" for k, v in row.counted.items() if v and k != "processed")
        lines.append(
            f"  {row.entity:<10} {row.mode:<11} {row.requests:>5} / {row.floor:<5} {row.how}"
            + (f" [{counted}]" if counted else "")
        )
    return lines


# ---------------------------------------------------------------------------------------------- output


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def _units(usage: Usage, items: int) -> str:
    if not items:
        return "-"
    return f"{usage.total_wru / items:.2f} / {usage.rru / items:.2f}"


HEADERS = [
    "provider",
    "issues / comments",
    "full",
    "full requests / floor; bare",
    "naive client",
    "wall: sync / bare (best of 2)",
    "idle requests (304s) / floor",
    "idle writes",
    "idle wall: sync / bare (best of 2)",
    "repeat: requests over floor, item writes, deleted",
    "WRU / RRU per item: sync",
    "WRU / RRU per item: bare",
    "peak RSS",
]


def _row(run: ProviderRun, default_rss: dict[str, tuple[float, int]]) -> list[str]:
    full_requests = run.full.requests
    rss = f"{run.full.result['rss_mb']:.0f} MB"
    if run.large and run.provider in default_rss:
        default_mb, default_issues = default_rss[run.provider]
        rss += f" ({run.full.result['rss_mb'] / default_mb:.2f}x the {default_issues:,}-issue row)"
    common = [
        run.provider,
        f"{run.issues:,} / {run.comments:,}",
        run.full.status,
        f"{full_requests} / {run.floor} ({full_requests / max(1, run.floor):.3f}x)"
        + (f"; bare {run.bare_full[-1].requests}" if run.bare_full else ""),
    ]
    if run.large or run.idle is None or run.repeat is None:
        return [*common, "-", f"{run.full.wall_s:.1f} s", "-", "-", "-", "-", "-", "-", rss]
    naive = f"{run.naive_requests} ({full_requests / run.naive_requests:.3f}x)" if run.naive_requests else "-"
    bare = _best(run.bare_full)
    bare_idle = _best(run.bare_idle)
    idle_304 = run.idle.sandbox["not_modified"]
    bare_304 = "/".join(str(b.sandbox["not_modified"]) for b in run.bare_idle)
    repeat_results = run.repeat.result["results"]
    bare_items = int(run.bare_full[-1].result.get("items", 0))
    return [
        *common,
        naive,
        f"{run.full.wall_s:.1f} s / {bare:.1f} s ({_ratio(run.full.wall_s, bare)})",
        f"{run.idle.requests} ({idle_304}; bare {bare_304}) / {run.idle_floor}",
        f"{run.idle.result['item_writes']}",
        f"{run.idle.wall_s:.2f} s / {bare_idle:.2f} s ({_ratio(run.idle.wall_s, bare_idle)})",
        f"{run.repeat.requests - run.floor:+d}, {run.repeat.result['item_writes']}, "
        f"{repeat_results['deleted']}",
        _units(run.full.usage, run.synced_items),
        _units(run.bare_full[-1].usage, bare_items),
        rss,
    ]


def _print_table(title: str, rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    sys.stdout.write(f"\n{title}\n")
    sys.stdout.write(" | ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip() + "\n")
    sys.stdout.write("-+-".join("-" * w for w in widths) + "\n")
    for row in rows:
        sys.stdout.write(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def estimate(run: ProviderRun) -> MonthlyEstimate | None:
    """The monthly figure from one run's idle and changed incrementals (None without a changed run)."""
    if run.idle is None or run.changed is None or not run.changed_issues:
        return None
    idle, changed, n = run.idle.usage, run.changed.usage, run.changed_issues
    return MonthlyEstimate(
        provider=run.provider,
        issues=ESTIMATE_ISSUES,
        changed_share=ESTIMATE_CHANGED_SHARE,
        idle_wru=idle.total_wru,
        idle_rru=idle.rru,
        per_changed_wru=max(0.0, changed.total_wru - idle.total_wru) / n,
        per_changed_rru=max(0.0, changed.rru - idle.rru) / n,
    )


def cost_lines(run: ProviderRun) -> list[str]:
    """The DynamoDB cost figures of one (plain) run, as printed under the table."""
    if run.idle is None or run.repeat is None:
        return []
    full, items = run.full.usage, run.synced_items
    bare = run.bare_full[-1].usage
    bare_items = int(run.bare_full[-1].result.get("items", 0)) or items
    lines = [
        f"cost {run.provider}: full sync {full.total_wru / items:.2f} WRU ({full.index_wru / items:.2f} of "
        f"them index writes) + {full.rru / items:.2f} RRU per synced item, "
        f"${full.dollars / items * 1e6:,.2f} per million items ({items:,} items: {full.total_wru:,.0f} WRU, "
        f"{full.rru:,.1f} RRU); bare batch write {bare.total_wru / bare_items:.2f} WRU + "
        f"{bare.rru / bare_items:.2f} RRU per item (${bare.dollars / bare_items * 1e6:,.2f} per million); "
        f"repeat full {run.repeat.usage.total_wru:,.0f} WRU + {run.repeat.usage.rru:,.1f} RRU "
        f"({run.repeat.usage.rru / items:.2f} RRU per item); idle incremental "
        f"{run.idle.usage.total_wru:g} WRU + {run.idle.usage.rru:g} RRU"
    ]
    monthly = estimate(run)
    if monthly is not None:
        lines.append(f"monthly {run.provider}: {monthly.sentence()}")
    return lines


def notes(run: ProviderRun) -> list[str]:
    found = []
    if run.full.requests > TARGET_FLOOR_RATIO * run.floor:
        found.append(f"{run.provider} full sync is above {TARGET_FLOOR_RATIO}x its floor")
    if run.bare_full and run.full.wall_s > TARGET_WALL_RATIO * _best(run.bare_full):
        found.append(f"{run.provider} full sync wall time is above {TARGET_WALL_RATIO}x the bare baseline")
    if run.idle is not None and run.bare_idle:
        if run.idle.requests > run.idle_floor:
            found.append(f"{run.provider} idle sync is above its floor of {run.idle_floor} requests")
        if run.idle.wall_s > TARGET_IDLE_RATIO * _best(run.bare_idle):
            found.append(
                f"{run.provider} idle sync wall time is above {TARGET_IDLE_RATIO}x its bare requests"
            )
    if run.repeat is not None:
        if run.repeat.requests > run.floor:
            found.append(f"{run.provider} repeat full sync is above its floor")
        if run.repeat.result["item_writes"]:
            found.append(f"{run.provider} repeat full sync wrote {run.repeat.result['item_writes']} items")
    return found


def failures(run: ProviderRun) -> list[str]:
    """Correctness failures (the exit status): a run not Completed, deletions on the repeat, RSS over the
    Lambda memory."""
    found = []
    for name, measured in (
        ("full", run.full),
        ("idle", run.idle),
        ("repeat", run.repeat),
        ("changed", run.changed),
    ):
        if measured is not None and measured.status != "Completed":
            found.append(f"{run.provider} {name} sync ended {measured.status}")
    if run.repeat is not None and run.repeat.result["results"]["deleted"]:
        found.append(
            f"{run.provider} repeat full sync deleted {run.repeat.result['results']['deleted']} items"
        )
    if run.full.result["rss_mb"] >= LAMBDA_MEMORY_MB:
        found.append(f"{run.provider} peak RSS {run.full.result['rss_mb']:.0f} MB >= {LAMBDA_MEMORY_MB} MB")
    return found


def _start_aws() -> Any:
    """moto on loopback (``infra.local.moto.MotoServer``, as the embedded stack runs it), the connection's
    stage provisioned; ``server.meter`` is the request-unit meter inside it."""
    from benchmarks._local_aws import use_fake_aws
    from benchmarks.dynamo_meter import DynamoMeter
    from infra.definition import TABLE
    from infra.local.moto import MotoServer
    from infra.local.provision import provision
    from trackbridge.runtime import container

    use_fake_aws()
    meter = DynamoMeter([(i.name, i.partition_key, i.sort_key) for i in TABLE.indexes])
    # Installed before the server serializes moto's handler, so the meter runs inside that lock.
    meter.install()
    server = MotoServer().start()
    server.meter = meter  # type: ignore[attr-defined]
    resources = provision(endpoint_url=server.endpoint_url, stage="bench")
    os.environ.update(resources.environment())
    container.reset()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sync_requests", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--provider", default="all", help="a registered sandbox tracker, or all (default)")
    parser.add_argument("--issues", type=int, default=DEFAULT_ISSUES, help=f"default {DEFAULT_ISSUES:,}")
    parser.add_argument("--comments", type=int, default=3, help="comments per issue")
    parser.add_argument(
        "--ddb-latency-ms",
        type=float,
        default=DEFAULT_LATENCY_MS,
        help=f"the latency model's wait per DynamoDB call (default {DEFAULT_LATENCY_MS:g}; 0: no such rows)",
    )
    parser.add_argument(
        "--latency-issues",
        type=int,
        default=DEFAULT_LATENCY_ISSUES,
        help=f"issues per tracker in the latency-model rows (default {DEFAULT_LATENCY_ISSUES:,})",
    )
    parser.add_argument(
        "--large",
        nargs="?",
        const="",
        metavar="PROVIDER",
        help="also run one tracker with 100,000 issues (peak RSS; default: the first registered, GitHub)",
    )
    parser.add_argument(
        "--large-issues",
        type=int,
        default=LARGE_ISSUES,
        help=f"issues of the --large row (default {LARGE_ISSUES:,})",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive per-issue client")
    parser.add_argument(
        "--conditional-baseline",
        action="store_true",
        help="also a bare run writing with the engine's conditional puts on 8 threads (what the engine adds)",
    )
    parser.add_argument(
        "--entity-issues",
        type=int,
        default=ENTITY_ISSUES,
        help=f"issues of the Jira worklogs/changelogs rows (default {ENTITY_ISSUES:,}; 0: no such rows)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import logging

        logging.disable(logging.WARNING)
        sys.stdout.write(json.dumps(_child(json.loads(args.child)), default=str) + "\n")
        return 0

    registered = _registered()
    for chosen in (args.provider, args.large):
        if chosen and chosen != "all" and chosen not in registered:
            parser.error(f"unknown tracker {chosen!r}; registered: {', '.join(registered)}")
    import logging

    logging.disable(logging.WARNING)
    started = datetime.now(UTC)
    server = _start_aws()
    bench = _Bench(server.endpoint_url, server.meter)
    providers = registered if args.provider == "all" else [args.provider]
    plain: list[ProviderRun] = []
    latency: list[ProviderRun] = []
    entities: tuple[int, list[EntityRow]] = (0, [])
    try:
        for provider in providers:
            plain.append(
                run_provider(
                    bench,
                    provider,
                    args.issues,
                    args.comments,
                    naive=not args.no_naive,
                    conditional_baseline=args.conditional_baseline,
                )
            )
            # Each row as soon as it is measured: a long run shows its results as it goes.
            sys.stderr.write(" | ".join(_row(plain[-1], {})) + "\n")
        if args.ddb_latency_ms > 0:
            for provider in providers:
                latency.append(
                    run_provider(
                        bench,
                        provider,
                        args.latency_issues,
                        args.comments,
                        naive=False,
                        latency_ms=args.ddb_latency_ms,
                    )
                )
                sys.stderr.write(" | ".join(_row(latency[-1], {})) + "\n")
        if args.large is not None:
            plain.append(
                run_provider(
                    bench,
                    args.large or registered[0],
                    args.large_issues,
                    args.comments,
                    naive=False,
                    large=True,
                )
            )
        if args.entity_issues > 0 and "jira" in providers:
            entities = run_jira_entities(args.entity_issues)
    finally:
        server.stop()
    default_rss = {r.provider: (float(r.full.result["rss_mb"]), r.listed) for r in plain if not r.large}
    sys.stdout.write(
        f"\nsync benchmark {started.isoformat(timespec='seconds')}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {args.comments} comments per issue; sandbox trackers and moto "
        f"on loopback; wall ratios against the better of the two bare runs around each sync\n"
    )
    _print_table("plain (moto as fast as it answers)", [_row(r, default_rss) for r in plain])
    if latency:
        _print_table(
            f"latency model: each DynamoDB call of the sync and bare runs waits {args.ddb_latency_ms:g} ms",
            [_row(r, {}) for r in latency],
        )
    sys.stdout.write("\n")
    if entities[1]:
        for line in entity_lines(args.entity_issues, *entities):
            sys.stdout.write(line + "\n")
        sys.stdout.write("\n")
    for run in plain:
        for line in cost_lines(run):
            sys.stdout.write(line + "\n")
    problems: list[str] = []
    for run in [*plain, *latency]:
        suffix = f" (latency model, {run.latency_ms:g} ms)" if run.latency_ms else ""
        suffix += f" (--large, {run.listed:,} listed)" if run.large else ""
        for note in notes(run):
            sys.stdout.write(f"note: {note}{suffix}\n")
        problems.extend(p + suffix for p in failures(run))
    for run in plain:
        if run.large and run.provider in default_rss:
            ratio = float(run.full.result["rss_mb"]) / default_rss[run.provider][0]
            if ratio > TARGET_RSS_RATIO:
                sys.stdout.write(
                    f"note: {run.provider} peak RSS at {run.issues:,} issues is {ratio:.2f}x the default row "
                    f"(target {TARGET_RSS_RATIO}x)\n"
                )
    for row in entities[1]:
        if row.requests > row.floor:
            sys.stdout.write(f"note: jira {row.entity} {row.mode} sync is above its floor of {row.floor}\n")
    for problem in problems:
        sys.stdout.write(f"FAILED: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
