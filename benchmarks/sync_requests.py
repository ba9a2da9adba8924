"""Sync benchmark: requests against the floor and a naive client, idle cost, wall time, peak memory.

``make bench`` (or ``python -m benchmarks.sync_requests [--provider NAME|all] [--issues N] [--comments C]
[--large [NAME]]``) runs, per tracker of the sandbox registry (``infra.local.trackers.SANDBOXES``), against
its sandbox and moto's DynamoDB, all in one run so every ratio compares like with like; what differs per
tracker (connection, floor, naive client) is what its sandbox declares:

- **full**: a full sync through the real engine (slices, checkpoints, conditional writes); its requests
  against the provider's floor (shared/research/request-floors.md) and against a naive per-issue client
  (PyGithub / python-gitlab / the jira client, fetching comments issue by issue) run on the same sandbox;
- **idle**: an incremental sync right after: requests, how many were 304s, and DynamoDB item writes;
- **repeat full**: a second full sync with nothing changed: its requests, which stay at the full sync's
  (a full pass reads every page, so its deletion sweep asks for nothing), and what it deleted;
- **wall**: the full sync's wall time against a bare baseline in the same run (the same listings through
  the same httpx adapter, then an unconditional BatchWriteItem of the same items into the same table);
- **memory**: each sync runs in its own child process and reports its peak RSS, so the sandbox and moto
  (which live in this process) do not count; ``--large`` repeats the full sync with 100,000 issues to show
  the peak stays flat (the engine holds one page at a time) and under the Lambda memory setting.

Not part of the test suite (a smoke test runs it with 50 issues).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LAMBDA_MEMORY_MB = 1024
TARGET_FLOOR_RATIO = 1.05
TARGET_WALL_RATIO = 1.3


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
    """Wraps the boto3 DynamoDB client to count calls, and issue/comment item writes apart."""

    def __init__(self, client: Any) -> None:
        self._client = client
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
        return target(**kwargs)


def _entity(item: dict[str, Any]) -> str | None:
    value = item.get("entity", {})
    return value.get("S") if isinstance(value, dict) else None


class _Budget:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    from trackbridge.runtime import aws, container
    from trackbridge.runtime.sync.adapters import default_adapter_factory
    from trackbridge.storage.table import Table

    container.reset()
    # Long timeouts and no retries: a slow moto call must not be retried into a false conflict.
    config = Config(
        retries={"mode": "standard", "max_attempts": 1}, read_timeout=600, max_pool_connections=32
    )
    region = aws.get_settings().region
    counting = _CountingClient(boto3.session.Session().client("dynamodb", region_name=region, config=config))
    table = Table(counting, container.table().name)
    tenant, connection_id = spec["tenant"], spec["connection_id"]
    connection = container.connection_repository().get(tenant, connection_id)
    credentials = container.connection_secrets().credentials(tenant, connection_id) or {}
    started = time.perf_counter()
    if spec["kind"] == "engine":
        result = _run_engine(table, connection, tenant, spec["mode"])
    else:
        adapter = default_adapter_factory(connection, credentials)
        conditional = spec["kind"] == "baseline_conditional"
        result = _run_baseline(table, adapter, spec["baseline_tenant"], conditional=conditional)
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
    repos = {
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

    final = run_operation(table, connection, tenant, SyncRequest(mode=mode))  # type: ignore[arg-type]
    return {"status": final.status, "requests": final.requests, "results": final.results.model_dump()}


def _run_baseline(table: Any, adapter: Any, tenant: str, *, conditional: bool) -> dict[str, Any]:
    """The listings without the engine; then one BatchWriteItem per 25 items, or (``conditional``) the
    engine's own conditional puts on the same 8 threads, which isolates what the engine itself adds."""
    from concurrent.futures import ThreadPoolExecutor

    from trackbridge.storage.issues import CommentRepository, IssueRepository, put_if_newer

    items: list[dict[str, Any]] = []
    issues = []
    with adapter:
        for page in adapter.iter_issue_pages():
            issues.extend(page.items)
            items.extend(IssueRepository.item(tenant, i) for i in page.items)
        if adapter.capabilities.repo_wide_comments:
            for comment_page in adapter.iter_comment_pages():
                items.extend(CommentRepository.item(tenant, c) for c in comment_page.items)
        else:
            for issue in issues:
                items.extend(
                    CommentRepository.item(tenant, c) for c in adapter.list_issue_comments(issue.key)
                )
        if conditional:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda item: put_if_newer(table, item), items))
        else:
            table.batch_put(items)
        return {"requests": adapter.stats.requests, "items": len(items)}


# ----------------------------------------------------------------------------------------- parent side


@dataclass
class ProviderRun:
    provider: str
    issues: int
    listed: int
    comments: int
    floor: int
    full: dict[str, Any]
    full_sandbox: dict[str, Any]
    idle: dict[str, Any]
    idle_sandbox: dict[str, Any]
    repeat: dict[str, Any]
    repeat_sandbox: dict[str, Any]
    baseline: dict[str, Any]
    baseline_conditional: dict[str, Any] | None
    naive_requests: int | None
    naive_wall_s: float | None


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


def _naive(tracker: Any) -> tuple[int, float]:
    """A per-issue client as people write it with the usual library; returns (requests, wall seconds)."""
    tracker.reset_requests()
    started = time.perf_counter()
    tracker.read_with_client_library()
    return int(tracker.requests()["total"]), time.perf_counter() - started


def _fresh_table(name: str) -> None:
    """A table of its own per run: moto copies a whole table on every transaction, so runs stay apart."""
    from infra.local.provision import provision
    from trackbridge.runtime import container

    resources = provision(endpoint_url=os.environ["AWS_ENDPOINT_URL"], stage=name)
    os.environ.update(resources.environment())
    container.reset()


def run_provider(
    provider: str, issues: int, comments: int, *, naive: bool, conditional_baseline: bool = True
) -> ProviderRun:
    _fresh_table(f"bench{provider}{issues}")
    tracker = _sandbox(provider, issues, comments)
    try:
        _allow(tracker)
        tenant = f"bench-{provider}-{uuid.uuid4().hex[:8]}"
        connection = _connection(provider, tracker, tenant)
        plain, listed, comment_count = _counts(tracker)
        base = {"tenant": tenant, "connection_id": connection.id}
        tracker.reset_requests()
        full = _spawn({**base, "kind": "engine", "mode": "full"})
        full_sandbox = tracker.requests()
        tracker.reset_requests()
        idle = _spawn({**base, "kind": "engine", "mode": "incremental"})
        idle_sandbox = tracker.requests()
        tracker.reset_requests()
        repeat = _spawn({**base, "kind": "engine", "mode": "full"})
        repeat_sandbox = tracker.requests()
        tracker.reset_requests()
        baseline = _spawn({**base, "kind": "baseline", "baseline_tenant": f"{tenant}-bare"})
        conditional = (
            _spawn({**base, "kind": "baseline_conditional", "baseline_tenant": f"{tenant}-cond"})
            if conditional_baseline
            else None
        )
        naive_requests, naive_wall = _naive(tracker) if naive else (None, None)
        return ProviderRun(
            provider=provider,
            issues=plain,
            listed=listed,
            comments=comment_count,
            floor=tracker.full_sync_floor(listed, comment_count),
            full=full,
            full_sandbox=full_sandbox,
            idle=idle,
            idle_sandbox=idle_sandbox,
            repeat=repeat,
            repeat_sandbox=repeat_sandbox,
            baseline=baseline,
            baseline_conditional=conditional,
            naive_requests=naive_requests,
            naive_wall_s=naive_wall,
        )
    finally:
        tracker.stop()


def _row(run: ProviderRun) -> list[str]:
    full_requests = int(run.full_sandbox["total"])
    naive = f"{run.naive_requests} ({full_requests / run.naive_requests:.3f}x)" if run.naive_requests else "-"
    return [
        run.provider,
        f"{run.issues} / {run.comments}",
        run.full["status"],
        f"{full_requests}",
        f"{run.floor} ({full_requests / max(1, run.floor):.3f}x)",
        naive,
        f"{run.idle_sandbox['total']} ({run.idle_sandbox['not_modified']} x 304)",
        f"{run.idle['item_writes']}",
        f"{run.repeat_sandbox['total']} ({run.repeat['results']['deleted']} deleted)",
        f"{run.full['wall_s']:.1f} s / {run.baseline['wall_s']:.1f} s "
        f"({run.full['wall_s'] / run.baseline['wall_s']:.2f}x)",
        (
            f"{run.baseline_conditional['wall_s']:.1f} s "
            f"({run.full['wall_s'] / run.baseline_conditional['wall_s']:.2f}x)"
            if run.baseline_conditional
            else "-"
        ),
        f"{run.full['rss_mb']:.0f} MB",
    ]


HEADERS = [
    "provider",
    "issues / comments",
    "full",
    "full requests",
    "floor (ratio)",
    "naive client (ratio)",
    "idle requests",
    "idle item writes",
    "repeat full requests",
    "wall: sync / bare (ratio)",
    "bare + conditional puts (ratio)",
    "peak RSS",
]


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    line = " | ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))
    sys.stdout.write(line + "\n" + "-+-".join("-" * w for w in widths) + "\n")
    for row in rows:
        sys.stdout.write(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + "\n")


def _start_aws() -> Any:
    from moto.server import ThreadedMotoServer

    from infra.local.provision import provision
    from trackbridge.runtime import container

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        os.environ[name] = value
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    resources = provision(endpoint_url=f"http://{host}:{port}", stage="bench")
    os.environ.update(resources.environment())
    container.reset()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sync_requests", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--provider", default="all", help="a registered sandbox tracker, or all (default)")
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=3, help="comments per issue")
    parser.add_argument(
        "--large",
        nargs="?",
        const="",
        metavar="PROVIDER",
        help="also run one tracker with 100,000 issues (peak RSS; default: the first registered, GitHub)",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive per-issue client")
    parser.add_argument(
        "--no-conditional-baseline",
        action="store_true",
        help="skip the engine's-conditional-puts baseline (the --large row always skips it)",
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
    server = _start_aws()
    try:
        providers = registered if args.provider == "all" else [args.provider]
        runs = []
        with_conditional = not args.no_conditional_baseline
        plan = [(p, args.issues, not args.no_naive, with_conditional) for p in providers]
        if args.large is not None:
            # The memory row: no naive client, no conditional baseline (each takes as long as the sync).
            plan.append((args.large or registered[0], 100_000, False, False))
        for provider, issues, naive, conditional in plan:
            runs.append(
                run_provider(provider, issues, args.comments, naive=naive, conditional_baseline=conditional)
            )
            # Each row as soon as it is measured: a long run shows its results as it goes.
            sys.stderr.write(" | ".join(_row(runs[-1])) + "\n")
    finally:
        server.stop()
    sys.stdout.write(
        f"\nsync benchmark {datetime.now().isoformat(timespec='seconds')} (sandbox + moto, loopback)\n"
    )
    _print_table([_row(r) for r in runs])
    ok = True
    for run in runs:
        full_requests = int(run.full_sandbox["total"])
        ok &= run.full["status"] == "Completed" and run.idle["status"] == "Completed"
        ok &= run.repeat["status"] == "Completed" and run.repeat["results"]["deleted"] == 0
        ok &= run.full["rss_mb"] < LAMBDA_MEMORY_MB
        if full_requests > TARGET_FLOOR_RATIO * run.floor:
            sys.stdout.write(f"note: {run.provider} full sync is above {TARGET_FLOOR_RATIO}x its floor\n")
        if run.full["wall_s"] > TARGET_WALL_RATIO * run.baseline["wall_s"]:
            sys.stdout.write(
                f"note: {run.provider} wall time is above {TARGET_WALL_RATIO}x the bare baseline\n"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
