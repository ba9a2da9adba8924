"""``trackbridge keys create|list|revoke``: tenant API keys.

``keys create --tenant T [--scopes a,b] [--local-state F]`` issues a key and prints it once. It writes to the
table directly (a tenant's first key cannot come from the API): with an existing local-state file (written
by ``trackbridge local up``) the key goes to that embedded stack: its endpoint, region and table replace the
environment's, with moto's fake credentials so no real account is ever addressed. Without the file the
ambient AWS environment is used (``TB_TABLE_NAME``, credentials).

``keys rate-limit --tenant T [--per-minute N | --default]`` shows or sets (audited, ``rate_limit.update``) a
tenant's API request limit, straight on the table (``runtime.rate_limits``).

``keys list [--json]`` and ``keys revoke <id>`` go through the REST API (``GET /v1/keys``,
``DELETE /v1/keys/{id}``) as the tenant of the API key found like ``trackbridge sync`` finds it
(``--api-key``, ``TRACKBRIDGE_API_KEY``, else local.json's ``api_key``, which has every scope); that key
needs the ``admin`` scope. With ``--tenant T`` they act as the operator on any tenant instead, straight on
the table like ``keys create`` (a revocation is audited with the actor ``cli``).

stdout carries the result and nothing else (the key alone for ``create``, so
``KEY=$(trackbridge keys create --tenant acme)`` works); logs and notes go to stderr. Exit codes: 0 done,
1 refused (unknown key, missing scope, AWS failed), 2 bad input or no API / state to talk to.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.commands.sync import ApiRefused, api_answer

if TYPE_CHECKING:
    pass

# moto accepts any credentials; these never reach AWS because the endpoint is local.
_FAKE_CREDENTIAL = "testing"


def _use_local_state(path: Path) -> None:
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    region = str(state.get("region") or "us-east-1")
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": str(state["aws_endpoint_url"]),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": _FAKE_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": _FAKE_CREDENTIAL,
            "TB_TABLE_NAME": str(state["table"]),
        }
    )
    # Credentials live under the stack's secrets prefix: without it a command reads the default prefix and
    # finds no credentials for any connection (local.json of an older stack may lack it: derive it).
    stage = str(state.get("stage") or "local")
    os.environ["TB_STAGE"] = stage
    os.environ["TB_SECRETS_PREFIX"] = str(state.get("secrets_prefix") or f"trackbridge/{stage}/")
    # The sandboxes' loopback ports, which the outbound policy refuses unless allowlisted (`verify`).
    os.environ["TB_ALLOWED_PRIVATE_NETWORKS"] = str(state.get("allowed_private_networks") or "")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def _logs_on_stderr(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``command`` with the runtime's logger on stderr: it writes to stdout (Lambda's convention), and a
    command's stdout is its output. The stream is put back afterwards, for callers in the same process."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        import logging

        from trackbridge.runtime.observability import logger

        handler = logger.registered_handler
        if not isinstance(handler, logging.StreamHandler):
            return command(args)
        previous = handler.setStream(sys.stderr)
        try:
            return command(args)
        finally:
            if previous is not None:
                handler.setStream(previous)

    return run


def _use_table(args: argparse.Namespace) -> bool:
    """Aim the runtime at the state file's stack (else the AWS environment); False (reported) if unusable."""
    from trackbridge.runtime import container

    state_file = Path(args.local_state) if args.local_state else None
    if state_file is not None and state_file.is_file():
        try:
            _use_local_state(state_file)
        except (OSError, ValueError, KeyError) as exc:
            sys.stderr.write(f"error: cannot use {state_file}: {type(exc).__name__}: {exc}\n")
            return False
    container.reset()
    return True


@_logs_on_stderr
def create(args: argparse.Namespace) -> int:
    from trackbridge.domain.errors import TrackbridgeError, ValidationFailed
    from trackbridge.runtime import container

    if not _use_table(args):
        return 2
    scopes = tuple(s.strip() for s in str(args.scopes).split(",") if s.strip())
    try:
        token = container.api_key_service().issue(args.tenant, scopes)
    except ValidationFailed as exc:
        sys.stderr.write(f"error: {exc.message}: {exc.details}\n")
        return 2
    except TrackbridgeError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 1
    sys.stdout.write(token + "\n")
    return 0


# ------------------------------------------------------------------------------------------ list, revoke

_COLUMNS = ("id", "tenant", "scopes", "created_at", "last_used_at", "revoked_at")


def _table(keys: list[dict[str, Any]]) -> str:
    rows = [[str(c).upper() for c in _COLUMNS]]
    for key in keys:
        cells = {**key, "scopes": ",".join(key.get("scopes") or [])}
        rows.append([str(cells.get(c) or "-") for c in _COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n" for row in rows
    )


def _keys_through_api(args: argparse.Namespace) -> list[dict[str, Any]]:
    from infra.commands.sync import api_client

    keys: list[dict[str, Any]] = []
    cursor: str | None = None
    with api_client(args) as client:
        for _ in range(10_000):  # a bound, not a limit anyone reaches: 100 keys a page
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = api_answer(client.get("/v1/keys", params=params))
            keys.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return keys


def _keys_from_table(tenant: str) -> list[dict[str, Any]]:
    from trackbridge.runtime import container

    service = container.api_key_service()
    keys: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10_000):
        page = service.list(tenant, limit=100, cursor=cursor)
        keys.extend(key.model_dump(mode="json") for key in page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    return keys


def _run(args: argparse.Namespace, through_api: Callable[[], None], on_table: Callable[[], None]) -> int:
    """The API variant of a command, or with ``--tenant`` the operator's, with failures as exit codes."""
    import httpx

    from infra.commands.sync import CliError
    from trackbridge.domain.errors import TrackbridgeError, ValidationFailed

    try:
        if args.tenant is None:
            try:
                through_api()
            except httpx.HTTPError as exc:
                raise CliError(f"the API could not be reached: {exc}") from exc
        else:
            if not _use_table(args):
                return 2
            on_table()
    except CliError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except ValidationFailed as exc:
        sys.stderr.write(f"error: {exc.message}: {exc.details}\n")
        return 2
    except (ApiRefused, TrackbridgeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


def _print_keys(args: argparse.Namespace, keys: list[dict[str, Any]]) -> None:
    if args.json:
        sys.stdout.write(json.dumps({"items": keys, "next_cursor": None}, indent=2) + "\n")
    else:
        sys.stdout.write(_table(keys))


@_logs_on_stderr
def list_keys(args: argparse.Namespace) -> int:
    return _run(
        args,
        through_api=lambda: _print_keys(args, _keys_through_api(args)),
        on_table=lambda: _print_keys(args, _keys_from_table(args.tenant)),
    )


def _key_id(text: str) -> str | None:
    """The key id named on the command line; a whole key is accepted and only its id is used."""
    from trackbridge.domain.api_keys import is_key_id, parse_token

    parsed = parse_token(text)
    if parsed is not None:
        sys.stderr.write(f"note: that is a whole key; revoking its id {parsed[0]}\n")
        return parsed[0]
    return text if is_key_id(text) else None


@_logs_on_stderr
def revoke(args: argparse.Namespace) -> int:
    from infra.commands.sync import api_client
    from infra.definition import AUTHORIZER_CACHE_TTL_S

    key_id = _key_id(args.key_id)
    if key_id is None:
        sys.stderr.write("error: not a key id: expected the <key_id> of tb_<key_id>_<secret>\n")
        return 2

    def through_api() -> None:
        with api_client(args) as client:
            api_answer(client.delete(f"/v1/keys/{key_id}"))

    def on_table() -> None:
        from trackbridge.runtime import container

        container.api_key_service().revoke(args.tenant, key_id)

    code = _run(args, through_api, on_table)
    if code == 0:
        sys.stdout.write(f"revoked {key_id}\n")
        sys.stderr.write(
            f"note: API Gateway may go on accepting the key for up to {AUTHORIZER_CACHE_TTL_S} s "
            "(its authorizer cache TTL)\n"
        )
    return code


# ------------------------------------------------------------------------------------------ rate-limit


def add_rate_limit_command(keys_cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    limit = keys_cmds.add_parser(
        "rate-limit",
        help="show or set a tenant's API request limit per minute (operator; applies within 2 minutes)",
    )
    limit.add_argument("--tenant", required=True)
    value = limit.add_mutually_exclusive_group()
    value.add_argument("--per-minute", type=int, help="requests a minute; 0: unlimited")
    value.add_argument("--default", action="store_true", help="back to TB_TENANT_REQUESTS_PER_MINUTE")
    limit.add_argument(
        "--local-state", default=".trackbridge/local.json", help="local.json of the embedded stack"
    )


@_logs_on_stderr
def rate_limit(args: argparse.Namespace) -> int:
    """``keys rate-limit --tenant T [--per-minute N | --default]``: set (audited) or show the limit."""

    def on_table() -> None:
        from trackbridge.runtime import container
        from trackbridge.runtime.api_keys import CLI_ACTOR

        limiter = container.rate_limiter()
        if args.per_minute is not None and args.per_minute < 0:
            raise ApiRefused("--per-minute is 0 (unlimited) or more")
        if args.per_minute is not None or args.default:
            shown = limiter.set_limit(args.tenant, None if args.default else args.per_minute, actor=CLI_ACTOR)
        else:
            shown = limiter.limit_of(args.tenant)
        sys.stdout.write(shown.model_dump_json() + "\n")

    return _run(args, through_api=lambda: None, on_table=on_table)


__all__ = ["add_rate_limit_command", "create", "list_keys", "rate_limit", "revoke"]
