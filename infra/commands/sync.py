"""``trackbridge sync <connection> [--full] [--wait] [--json]`` and ``trackbridge status [<target>] [--json]``
(a target is an operation id, a connection id or a connection name).

Both talk to the REST API only (a script could do the same with curl). Where the API is: ``--api-url`` /
``--api-key``, else ``TRACKBRIDGE_API_URL`` / ``TRACKBRIDGE_API_KEY``, else ``.trackbridge/local.json``
written by ``trackbridge local up``. ``<connection>`` is an id (``conn_...``) or a connection's name.
With ``--wait`` a progress bar follows the operation until it ends (:mod:`infra.commands.sync_view`) and a
per-entity summary follows; the exit code is 0 for Completed, 1 for Failed or Cancelled, 2 for bad input or
an unreachable API.

``status`` shows one operation (``op_...``), the latest operation of one connection (id or name), or the
latest operation of every connection. ``--json`` prints what the API answers and nothing else on stdout:
the operation object of DESIGN section 9 (``sync``; ``status op_...``), or ``{"items": [...]}`` of the
latest operation per connection (``status``, ``status <connection>``; a connection never synced has none).
With ``--json --wait`` the bar goes to stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.commands.sync_view import FINAL, ProgressView, summary_lines

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


class ApiRefused(Exception):
    """The API said no (exit 1): the message names the status, the error code and the API's message."""


def api_answer(response: httpx.Response) -> Any:
    """The JSON of a successful answer (None when it has no body), else :class:`ApiRefused`; an existing
    link's id (409 on a duplicate link) is named too."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if response.is_success:
        return body
    error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
    message = f"{response.status_code} {error.get('code', '')}: {error.get('message', response.text[:200])}"
    details = error.get("details")
    if isinstance(details, dict) and details.get("link_id"):
        message += f" (existing link {details['link_id']})"
    raise ApiRefused(message)


def _json(response: httpx.Response) -> Any:
    try:
        return api_answer(response)
    except ApiRefused as exc:
        raise CliError(str(exc)) from None


def resolve_connection(client: httpx.Client, ref: str) -> str:
    """A connection id as given, or the id of the connection named ``ref``."""
    if ref.startswith("conn_"):
        return ref
    for item in _connections(client):
        if item.get("name") == ref:
            return str(item["id"])
    raise CliError(f"no connection named {ref!r}")


def _connections(client: httpx.Client) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    for _ in range(1_000):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = _json(client.get("/v1/connections", params=params))
        yield from page.get("items", [])
        cursor = page.get("next_cursor")
        if not cursor:
            return


def _describe(op: dict[str, Any]) -> str:
    progress, results = op.get("progress") or {}, op.get("results") or {}
    return (
        f"{op['id']} {op['status']} stage={progress.get('stage')} processed={progress.get('processed')} "
        f"created={results.get('created')} updated={results.get('updated')} "
        f"unchanged={results.get('unchanged')} deleted={results.get('deleted')} "
        f"failed={results.get('failed')} requests={op.get('requests')}"
    )


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def wait_for(
    client: httpx.Client,
    op: dict[str, Any],
    *,
    timeout_s: float,
    view: ProgressView | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the operation until it ends, showing each snapshot on ``view`` (if any); the final operation."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        op = _json(client.get(f"/v1/sync-operations/{op['id']}"))
        if view is not None:
            view.show(op)
        if op["status"] in FINAL:
            return op
        sleep(POLL_S)
    raise CliError(
        f"still {op['status']} after {timeout_s:.0f} s; follow it with `trackbridge status {op['id']}`"
    )


def _view(*, as_json: bool) -> ProgressView | None:
    """The bar: on stdout, or with --json on stderr when it is a terminal (else none at all)."""
    from rich.console import Console

    if not as_json:
        return ProgressView(Console())
    if sys.stderr.isatty():
        return ProgressView(Console(stderr=True))
    return None


def _http_error() -> type[Exception]:
    import httpx

    return httpx.HTTPError


def sync(
    args: argparse.Namespace,
    *,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    as_json = bool(getattr(args, "json", False))
    try:
        with client or api_client(args) as api:
            connection_id = resolve_connection(api, args.connection)
            body = {"mode": "full" if args.full else "incremental"}
            op = _json(api.post(f"/v1/connections/{connection_id}/syncs", json=body))
            if not as_json:
                sys.stdout.write(f"started {op['id']} ({body['mode']})\n")
            if not args.wait:
                if as_json:
                    _print_json(op)
                return 0
            view = _view(as_json=as_json)
            if view is None:
                op = wait_for(api, op, timeout_s=args.timeout, sleep=sleep)
            else:
                with view:
                    op = wait_for(api, op, timeout_s=args.timeout, view=view, sleep=sleep)
    except (CliError, _http_error()) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if as_json:
        _print_json(op)
    else:
        sys.stdout.write("\n".join(summary_lines(op)) + "\n")
    return 0 if op["status"] == "Completed" else 1


def _latest(client: httpx.Client, connection_id: str) -> dict[str, Any] | None:
    ops = _json(client.get(f"/v1/connections/{connection_id}/syncs", params={"limit": 1}))
    items = ops.get("items") or []
    return dict(items[0]) if items else None


def status(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    """One operation (``op_...``), one connection's latest (id or name), or every connection's latest."""
    as_json = bool(getattr(args, "json", False))
    target: str | None = getattr(args, "target", None)
    try:
        with client or api_client(args) as api:
            if target and target.startswith("op_"):
                op = _json(api.get(f"/v1/sync-operations/{target}"))
                if as_json:
                    _print_json(op)
                else:
                    sys.stdout.write("\n".join(summary_lines(op)) + "\n")
                return 1 if op["status"] == "Failed" else 0
            if target:
                connections = [_json(api.get(f"/v1/connections/{resolve_connection(api, target)}"))]
            else:
                connections = list(_connections(api))
            latest = [(connection, _latest(api, connection["id"])) for connection in connections]
    except (CliError, _http_error()) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if as_json:
        _print_json({"items": [op for _, op in latest if op is not None]})
        return 0
    for connection, op in latest:
        line = _describe(op) if op else "never synced"
        sys.stdout.write(f"{connection['name']} ({connection['provider']}, {connection['id']}): {line}\n")
        if op and target:
            sys.stdout.write("\n".join(summary_lines(op)) + "\n")
    return 0


__all__ = ["add_api_arguments", "status", "sync"]
