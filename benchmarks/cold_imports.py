"""Cold-import benchmark: each Lambda handler's import against a bare handler importing the same libraries.

``make bench`` (or ``python -m benchmarks.cold_imports [--runs N] [--top K] [--handler NAME]``) times
``import functions.<name>`` for every handler module in ``functions/`` in a fresh interpreter, against a
baseline interpreter that imports only the third-party modules the handler needs (:data:`NEEDS`: boto3,
pydantic, the Powertools utilities it uses). The runs are interleaved (baseline, handler, handler,
baseline, ...) so that a noisy machine slows both alike, and each side's median is reported. The target
(issue 14) is a ratio of at most :data:`TARGET_RATIO`.

Each timing is taken inside the child (``time.perf_counter`` around the imports), so interpreter start-up,
the same on both sides, is not counted. Packages installed for local tooling but not shipped in the Lambda
layer (:data:`NOT_SHIPPED`) are hidden from both sides: a runtime package that imports one when present
(httpx its command line) would otherwise time work no function does. The children get the environment the
embedded stack gives its functions (``infra/local/provision.py``: stage, table, queues, fake credentials,
tracing and metrics off), an endpoint nobody listens on, and a socket that refuses to connect: an import that
reached the network would fail the run instead of timing it.

Below the table, one ``-X importtime`` run per handler names where the time goes: trackbridge's modules by
cumulative time, third-party packages by their own modules' total, and any third-party package the handler
imports beyond its declared needs (what to look at first when a ratio grows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
OWN_PREFIXES = ("trackbridge", "functions", "__editable__")

# What every handler imports from Powertools: Logger, Metrics and Tracer, and the LambdaContext type.
_POWERTOOLS = ("aws_lambda_powertools", "aws_lambda_powertools.utilities.typing")

# The third-party modules each handler needs to do its job, as a bare handler would import them. A handler
# not named here (a new one) is compared with the Powertools basics alone. ``pydantic.main`` (BaseModel), not
# ``pydantic``: pydantic 2's package imports almost nothing until a name is asked of it.
NEEDS: dict[str, tuple[str, ...]] = {
    # REST resolver with validation (Body/Query/Path params), storage, sealed cursors.
    "api": (
        *_POWERTOOLS,
        "boto3",
        "pydantic.main",
        "aws_lambda_powertools.event_handler",
        "aws_lambda_powertools.event_handler.openapi.params",
        "cryptography.hazmat.primitives.ciphers.aead",
    ),
    "authorizer": (
        *_POWERTOOLS,
        "boto3",
        "pydantic.main",
        "aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event",
    ),
    # SQS batch processing, storage, and an HTTP client for the trackers.
    "sync": (*_POWERTOOLS, "boto3", "pydantic.main", "httpx", "aws_lambda_powertools.utilities.batch"),
    # SQS FIFO batch processing, storage, and the adapters' HTTP client (a payload may need one fetch).
    "apply": (*_POWERTOOLS, "boto3", "pydantic.main", "httpx", "aws_lambda_powertools.utilities.batch"),
    # SQS batch processing, storage, the trackers' HTTP client and the Jinja2 sandbox for templates.
    "auto_issue": (
        *_POWERTOOLS,
        "boto3",
        "pydantic.main",
        "httpx",
        "jinja2.sandbox",
        "aws_lambda_powertools.utilities.batch",
    ),
    # Storage and the trackers' HTTP client (webhook liveness asks each tracker about its hook).
    "scheduler_maintenance": (*_POWERTOOLS, "boto3", "pydantic.main", "httpx"),
    # Storage, Secrets Manager and SQS through boto3, and pydantic for the queue message.
    "webhook": (*_POWERTOOLS, "boto3", "pydantic.main"),
}

# The embedded stack's function environment (infra/local/provision.py), with values that lead nowhere.
ENVIRONMENT = {
    "TB_STAGE": "bench",
    "TB_TABLE_NAME": "trackbridge-bench",
    "TB_INBOUND_QUEUE_URL": "http://127.0.0.1:9/000000000000/inbound",
    "TB_SYNC_QUEUE_URL": "http://127.0.0.1:9/000000000000/sync",
    "TB_SYNC_QUEUE_ARN": "arn:aws:sqs:us-east-1:000000000000:sync",
    "TB_AUTO_ISSUE_QUEUE_URL": "http://127.0.0.1:9/000000000000/auto-issue",
    "TB_EVENT_BUS_NAME": "trackbridge-bench",
    "TB_SCHEDULE_GROUP": "trackbridge-bench",
    "TB_SCHEDULER_ROLE_ARN": "arn:aws:iam::000000000000:role/scheduler",
    "TB_ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:alerts",
    "TB_SECRETS_PREFIX": "trackbridge/bench/",
    "TB_OAUTH_STATE_KEY_SECRET": "trackbridge/bench/oauth-state-key",
    "TB_JIRA_OAUTH_APP_SECRET": "trackbridge/bench/jira-oauth-app",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "trackbridge",
    "POWERTOOLS_METRICS_NAMESPACE": "trackbridge",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}

# Installed here for the local tooling (``trackbridge[local]``: rich, with its click and pygments), not in the
# Lambda layer (``pyproject.toml``'s runtime dependencies), yet imported by a runtime package when present:
# ``import httpx`` loads its command line (``httpx._main``) with them, doubling its import time. The children
# see them as absent, as a function does, so neither side of a row pays for what no function ships.
NOT_SHIPPED = ("rich", "click", "pygments")

# Run in the child: hide what the layer does not ship, refuse connections, time the imports, report the time
# and the top-level packages loaded.
_CHILD = """
import importlib, json, socket, sys, time
for hidden in json.loads(sys.argv[2]):
    sys.modules[hidden] = None  # an import of it raises ImportError, as where it is not installed
def _refuse(*args, **kwargs):
    raise OSError("cold-import benchmark: no network at import")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
modules = json.loads(sys.argv[1])
start = time.perf_counter()
for name in modules:
    importlib.import_module(name)
elapsed = time.perf_counter() - start
loaded = (name for name, module in sys.modules.items() if module is not None)
print(json.dumps({"ms": elapsed * 1000, "roots": sorted({m.split(".")[0] for m in loaded})}))
"""


def handler_names() -> list[str]:
    """Every handler module in ``functions/`` (private helpers such as ``_pending`` are not handlers)."""
    return sorted(p.stem for p in (ROOT / "functions").glob("*.py") if not p.stem.startswith("_"))


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TB_", "POWERTOOLS_"))}
    env.update(ENVIRONMENT)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a Lambda package ships compiled files; so do warm runs here
    return env


def _run(modules: tuple[str, ...], env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", _CHILD, json.dumps(list(modules)), json.dumps(NOT_SHIPPED)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def timed(modules: tuple[str, ...], env: dict[str, str]) -> tuple[float, set[str]]:
    """One fresh interpreter: milliseconds spent importing ``modules``, and the top-level packages loaded."""
    out = json.loads(_run(modules, env).stdout)
    return float(out["ms"]), set(out["roots"])


@dataclass
class Profile:
    own: list[tuple[str, float]]  # trackbridge modules by cumulative ms
    third_party: list[tuple[str, float]]  # packages by the sum of their modules' own ms


def profile(module: str, env: dict[str, str], top: int) -> Profile:
    """Where ``import module`` spends its time, from one ``-X importtime`` run."""
    stderr = _run((module,), env, "-X", "importtime").stderr
    own: list[tuple[str, float]] = []
    packages: dict[str, float] = defaultdict(float)
    stdlib = set(sys.stdlib_module_names)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, self_us, cumulative_us, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
        root = name.split(".")[0]
        if name.startswith(OWN_PREFIXES):
            if name != module and name.startswith(("trackbridge.", "functions.")):
                own.append((name, int(cumulative_us) / 1000))
        elif root not in stdlib and not root.startswith("_"):
            packages[root] += int(self_us) / 1000
    own.sort(key=lambda item: -item[1])
    third = sorted(packages.items(), key=lambda item: -item[1])
    return Profile(own=own[:top], third_party=third[:top])


@dataclass
class Row:
    handler: str
    handler_ms: float
    baseline_ms: float
    extra_roots: list[str]

    @property
    def ratio(self) -> float:
        return self.handler_ms / self.baseline_ms if self.baseline_ms else float("inf")


def measure(handler: str, runs: int, env: dict[str, str]) -> Row:
    needs = NEEDS.get(handler, _POWERTOOLS)
    own: list[float] = []
    base: list[float] = []
    roots: set[str] = set()
    base_roots: set[str] = set()
    for i in range(runs):
        # Alternate which side goes first, so neither always follows the other's page-cache warm-up.
        order = ("base", "own") if i % 2 == 0 else ("own", "base")
        for side in order:
            if side == "base":
                ms, base_roots = timed(needs, env)
                base.append(ms)
            else:
                ms, roots = timed((f"functions.{handler}",), env)
                own.append(ms)
    stdlib = set(sys.stdlib_module_names)
    extra = sorted(
        r
        for r in roots - base_roots
        if r not in stdlib and not r.startswith(("_", *OWN_PREFIXES)) and r not in sys.builtin_module_names
    )
    return Row(handler, statistics.median(own), statistics.median(base), extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per side and handler")
    parser.add_argument("--top", type=int, default=4, help="modules named per handler under the table")
    parser.add_argument("--handler", action="append", help="only this handler (repeatable)")
    args = parser.parse_args(argv)

    env = child_env()
    handlers = args.handler or handler_names()
    _run(("functions." + handlers[0],), env)  # warm the page cache and compile bytecode once, untimed
    for handler in handlers:
        _run(("functions." + handler,), env)
    rows = [measure(handler, args.runs, env) for handler in handlers]

    python = sys.version.split()[0]
    print(f"cold imports: median of {args.runs} fresh interpreters per side, interleaved; Python {python}")
    print(f"{'handler':<22} {'import ms':>10} {'baseline ms':>12} {'ratio':>7} {'target':>7}  status")
    for row in rows:
        status = "ok" if row.ratio <= TARGET_RATIO else "OVER"
        print(
            f"{row.handler:<22} {row.handler_ms:>10.0f} {row.baseline_ms:>12.0f} {row.ratio:>6.2f}x "
            f"{TARGET_RATIO:>6.1f}x  {status}"
        )
    print("\nbaselines (NEEDS in benchmarks/cold_imports.py):")
    for row in rows:
        print(f"  {row.handler}: {', '.join(NEEDS.get(row.handler, _POWERTOOLS))}")
    print("\nwhere the time goes (one -X importtime run each; cumulative ms for trackbridge's modules, own")
    print("ms summed per third-party package; 'beyond needs': packages the baseline does not import):")
    for row in rows:
        found = profile(f"functions.{row.handler}", env, args.top)
        own = ", ".join(f"{name} {ms:.0f}" for name, ms in found.own) or "-"
        third = ", ".join(f"{name} {ms:.0f}" for name, ms in found.third_party) or "-"
        print(f"  {row.handler}:")
        print(f"    trackbridge: {own}")
        print(f"    third-party: {third}")
        print(f"    beyond needs: {', '.join(row.extra_roots) or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
