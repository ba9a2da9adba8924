"""``trackbridge sync <connection> [--full] [--wait]`` and ``trackbridge status [<operation>]``.

Both talk to the REST API only (a script could do the same with curl). Where the API is: ``--api-url`` /
``--api-key``, else ``TRACKBRIDGE_API_URL`` / ``TRACKBRIDGE_API_KEY``, else ``.trackbridge/local.json``
written by ``trackbridge local up``. ``<connection>`` is an id (``conn_...``) or a connection's name.
With ``--wait`` a progress bar follows the operation until it ends; the exit code is 0 for Completed,
1 for Failed or Cancelled, 2 for bad input or an unreachable API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

POLL_S = 0.5
DEFAULT_STATE = ".trackbridge/local.json"


class CliError(Exception):
    """A problem the user must fix (exit 2)."""


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="the API base URL (default: env TRACKBRIDGE_API_URL or local.json)")
    parser.add_argument("--api-key", help="a tenant API key (default: env TRACKBRIDGE_API_KEY or local.json)")
    parser.add_argument("--local-state", default=DEFAULT_STATE, help="local.json of the embedded stack")


def api_client(args: argparse.Namespace) -> httpx.Client:
    import httpx  # imported here so `trackbridge --help` does not pay for it

    state: dict[str, Any] = {}
    path = Path(args.local_state or DEFAULT_STATE)
    if path.is_file():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {path}: {exc}") from exc
    url = args.api_url or os.environ.get("TRACKBRIDGE_API_URL") or state.get("api_url")
    key = args.api_key or os.environ.get("TRACKBRIDGE_API_KEY") or state.get("api_key")
    if not url or not key:
        raise CliError(
            "no API: pass --api-url and --api-key, set TRACKBRIDGE_API_URL/KEY, or run `trackbridge local up`"
        )
    base = str(url).rstrip("/")
    # local.json's api_url ends with the stage (/v1); the paths below carry it themselves.
    base = base.removesuffix("/v1")
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30.0,
        trust_env=False,
    )


def _json(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
    raise CliError(
        f"{response.status_code} {error.get('code', '')}: {error.get('message', response.text[:200])}"
    )


def resolve_connection(client: httpx.Client, ref: str) -> str:
    if ref.startswith("conn_"):
        return ref
    cursor: str | None = None
    for _ in range(1_000):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = _json(client.get("/v1/connections", params=params))
        for item in page.get("items", []):
            if item.get("name") == ref:
                return str(item["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    raise CliError(f"no connection named {ref!r}")


def _describe(op: dict[str, Any]) -> str:
    progress, results = op.get("progress") or {}, op.get("results") or {}
    return (
        f"{op['id']} {op['status']} stage={progress.get('stage')} processed={progress.get('processed')} "
        f"created={results.get('created')} updated={results.get('updated')} "
        f"unchanged={results.get('unchanged')} deleted={results.get('deleted')} "
        f"failed={results.get('failed')} requests={op.get('requests')}"
    )


def wait_for(client: httpx.Client, op: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    deadline = time.monotonic() + timeout_s
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("queued", total=None)
        while time.monotonic() < deadline:
            op = _json(client.get(f"/v1/sync-operations/{op['id']}"))
            progress = op.get("progress") or {}
            stage = str(progress.get("stage") or op["status"])
            if progress.get("resume_at"):
                stage += f" until {progress['resume_at']}"
            bar.update(
                task, description=stage, completed=progress.get("processed") or 0, total=progress.get("total")
            )
            if op["status"] in ("Completed", "Failed", "Cancelled"):
                return op
            time.sleep(POLL_S)
    raise CliError(
        f"still {op['status']} after {timeout_s:.0f} s; follow it with `trackbridge status {op['id']}`"
    )


def _http_error() -> type[Exception]:
    import httpx

    return httpx.HTTPError


def sync(args: argparse.Namespace) -> int:
    try:
        with api_client(args) as client:
            connection_id = resolve_connection(client, args.connection)
            body = {"mode": "full" if args.full else "incremental"}
            op = _json(client.post(f"/v1/connections/{connection_id}/syncs", json=body))
            sys.stdout.write(f"started {op['id']} ({body['mode']})\n")
            if not args.wait:
                return 0
            op = wait_for(client, op, timeout_s=args.timeout)
    except (CliError, _http_error()) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(_describe(op) + "\n")
    for error in (op.get("results") or {}).get("errors", [])[:5]:
        sys.stdout.write(f"  {error.get('code')}: {error.get('message')} -- {error.get('guidance')}\n")
    return 0 if op["status"] == "Completed" else 1


def status(args: argparse.Namespace) -> int:
    try:
        with api_client(args) as client:
            if args.operation:
                op = _json(client.get(f"/v1/sync-operations/{args.operation}"))
                sys.stdout.write(_describe(op) + "\n")
                return 1 if op["status"] == "Failed" else 0
            connections = _json(client.get("/v1/connections", params={"limit": 100})).get("items", [])
            for connection in connections:
                ops = _json(client.get(f"/v1/connections/{connection['id']}/syncs", params={"limit": 1}))
                latest = (ops.get("items") or [None])[0]
                line = _describe(latest) if latest else "never synced"
                sys.stdout.write(
                    f"{connection['name']} ({connection['provider']}, {connection['id']}): {line}\n"
                )
    except (CliError, _http_error()) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


__all__ = ["add_api_arguments", "status", "sync"]
