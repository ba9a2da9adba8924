"""``trackbridge link <object> <issue>``, ``trackbridge links <object|issue> [--json] [--refresh]`` and
``trackbridge links scan <connection> [--since ISO] [--json]``.

Both talk to the REST API only, found as ``trackbridge sync`` finds it (``--api-url``/``--api-key``, the
``TRACKBRIDGE_API_URL``/``KEY`` environment, else ``.trackbridge/local.json``).

* ``<object>`` is an object key, ``kind:database/schema/name`` (``table:sales/public/orders``,
  ``alarm://HighCPU``, ``custom:etl_job://nightly``);
* ``<issue>`` is an issue ref (``conn_....12``), or ``<connection name>.<id or key>`` (``web.12``,
  ``ops.OPS-7``), the connection named as in local.json's ``connections`` or the API's listing.

An argument holding ``/`` is an object (an issue ref never does), anything else an issue. ``links <object>``
shows the object view (each issue's live status; ``--refresh`` pulls them from their trackers first);
``links <issue>`` lists the objects linked to it. ``--json`` prints ``{"items": [...], "next_cursor": null}``
with every page. ``links scan <connection>`` asks the API to scan the connection's repository for issue keys
in commits and pull/merge requests (``POST /v1/connections/{id}/scan-links``) and prints what it found. Exit
codes: 0 done, 1 refused by the API (the message says why), 2 bad input or no API.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from infra.commands.sync import ApiRefused, CliError, api_answer, api_client, resolve_connection

if TYPE_CHECKING:
    import httpx

MAX_PAGES = 1_000
OBJECT_COLUMNS = ("id", "issue_ref", "key", "status", "status_category", "assignees", "type", "state")
ISSUE_COLUMNS = ("id", "object", "type", "state", "created_at")


def add_link_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``link`` and ``links`` on the ``trackbridge`` parser."""
    from infra.commands.sync import add_api_arguments

    link = groups.add_parser("link", help="link an object (table, alarm, ...) to an issue")
    link.set_defaults(command="")
    link.add_argument("object", help="kind:database/schema/name, e.g. table:sales/public/orders")
    link.add_argument("issue", help="an issue ref (conn_....12) or <connection name>.<id or key>")
    link.add_argument("--json", action="store_true", help="print the link as the API returns it")
    add_api_arguments(link)

    links = groups.add_parser("links", help="the links of an object (with live issue status) or of an issue")
    links.set_defaults(command="")
    links.add_argument("target", metavar="object|issue|scan", help="an object key, an issue ref, or scan")
    links.add_argument("connection", nargs="?", help="scan: the GitHub or GitLab connection (name or id)")
    links.add_argument("--since", help="scan: commits and requests changed since (ISO 8601; default 30 days)")
    links.add_argument("--refresh", action="store_true", help="objects: pull the issues from their trackers")
    links.add_argument("--json", action="store_true", help='print {"items": [...]} as JSON')
    add_api_arguments(links)


def is_object_key(text: str) -> bool:
    return "/" in text


def issue_ref(client: httpx.Client, text: str) -> str:
    """``text`` as an issue ref: as given when it names a connection id, else ``<name>.<native>``."""
    if text.startswith("conn_"):
        return text
    name, dot, native = text.rpartition(".")
    if not dot or not name or not native:
        raise CliError(f"{text!r} is neither an issue ref (conn_....12) nor <connection name>.<id or key>")
    return f"{resolve_connection(client, name)}.{native}"


def object_path(key: str) -> str:
    """``/v1/objects/...`` of an object key, each part percent-encoded, empty parts as ``-``."""
    from trackbridge.domain.links import ObjectRef

    try:
        obj = ObjectRef.parse_key(key)
    except ValueError as exc:
        raise CliError(f"not an object key: {exc}") from None
    return "/v1/objects/" + "/".join(quote(part, safe=":") for part in obj.path.split("/", 3))


def _pages(client: httpx.Client, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = api_answer(
            client.get(path, params={**params, "limit": 100, **({"cursor": cursor} if cursor else {})})
        )
        yield from page.get("items", [])
        cursor = page.get("next_cursor")
        if not cursor:
            return
        # A refresh pulls the first page's issues; the following pages are read as they are.
        params = {k: v for k, v in params.items() if k != "refresh"}


def _cell(value: Any) -> str:
    if isinstance(value, dict) and "kind" in value:
        return f"{value['kind']}:{value.get('database') or ''}/{value.get('schema') or ''}/{value['name']}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return "-" if value is None or value == "" else str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    lines = [[c.upper() for c in columns], *([_cell(row.get(c)) for c in columns] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines
    )


def _run(action: Any) -> int:
    try:
        action()
    except CliError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except ApiRefused as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except Exception as exc:  # httpx's transport errors: the API is not reachable
        import httpx

        if not isinstance(exc, httpx.HTTPError):
            raise
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0


def link(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    def act() -> None:
        if not is_object_key(args.object):
            raise CliError(f"not an object key: {args.object!r} (kind:database/schema/name)")
        from trackbridge.domain.links import ObjectRef

        try:
            obj = ObjectRef.parse_key(args.object)
        except ValueError as exc:
            raise CliError(f"not an object key: {exc}") from None
        with client or api_client(args) as api:
            body = {"object": obj.model_dump(), "issue_ref": issue_ref(api, args.issue)}
            created = api_answer(api.post("/v1/links", json=body))
        if args.json:
            sys.stdout.write(json.dumps(created, indent=2) + "\n")
        else:
            sys.stdout.write(f"linked {obj.key} -> {created['issue_ref']} ({created['id']})\n")

    return _run(act)


SCAN_FIELDS = ("commits", "pull_requests", "links_created", "links_existing", "unresolved", "requests")


def scan(args: argparse.Namespace, api: httpx.Client) -> None:
    """``links scan <connection>``: one scan of the connection's repository."""
    if not args.connection:
        raise CliError("links scan needs a connection (its name or id)")
    connection_id = resolve_connection(api, args.connection)
    body = {"since": args.since} if args.since else {}
    result = api_answer(api.post(f"/v1/connections/{connection_id}/scan-links", json=body))
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    summary = ", ".join(f"{name.replace('_', ' ')} {result.get(name, 0)}" for name in SCAN_FIELDS)
    more = " (stopped at its budget: scan again from a later --since)" if result.get("truncated") else ""
    sys.stdout.write(f"scanned {args.connection}: {summary}{more}\n")


def links(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    def act() -> None:
        columns: Sequence[str]
        if args.target == "scan":
            with client or api_client(args) as api:
                scan(args, api)
            return
        if args.connection or args.since:
            raise CliError("a connection and --since go with links scan only")
        with client or api_client(args) as api:
            if is_object_key(args.target):
                params = {"refresh": "true"} if args.refresh else {}
                items = list(_pages(api, object_path(args.target), params))
                columns = OBJECT_COLUMNS
            else:
                ref = issue_ref(api, args.target)
                items = list(_pages(api, "/v1/links", {"issue": ref}))
                columns = ISSUE_COLUMNS
        if args.json:
            sys.stdout.write(json.dumps({"items": items, "next_cursor": None}, indent=2) + "\n")
        else:
            sys.stdout.write(table(items, columns))

    return _run(act)


__all__ = ["add_link_commands", "is_object_key", "issue_ref", "link", "links", "object_path", "scan", "table"]
