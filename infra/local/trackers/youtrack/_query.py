"""The three small languages a YouTrack client speaks: ``fields=``, search queries and commands.

- **fields** (developer portal, "Fields Syntax"): ``id,summary,customFields(name,value(name))``; an
  answer holds exactly what is named (plus ``$type`` on every object), and only ``id`` and ``$type`` when
  nothing is: :func:`project` applies a parsed selection to a rendered entity.
- **search** ("Search Query Reference"): the subset trackbridge and people use here: ``project: ACME``,
  ``#Unresolved``/``#Resolved``, ``updated:``/``created:`` ranges ``<from> .. <to>`` whose ends are
  ``YYYY-MM-DD[THH:MM[:SS]]`` (UTC here: the sandbox user's profile time zone) or ``*``, ``sort by: <field>
  [asc|desc]`` and free words matched in summary and description. An attribute the sandbox does not know is
  YouTrack's 400 for an unparsable query.
- **commands** ("Commands"): ``tag X``, ``untag X``, ``State X``, ``Priority X``, ``Type X``,
  ``Assignee X``; a value with blanks is braced (``State {In Progress}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Selection = dict[str, "Selection"]


def parse_fields(text: str | None) -> Selection:
    """``a,b(c,d(e))`` -> ``{"a": {}, "b": {"c": {}, "d": {"e": {}}}}``; ``ValueError`` when unbalanced."""
    root: Selection = {}
    stack = [root]
    name = ""
    last: str | None = None
    for char in text or "":
        if char == "(":
            if not (name or last):
                raise ValueError("a field list opens without a field name")
            key = name.strip() or str(last)
            stack[-1].setdefault(key, {})
            stack.append(stack[-1][key])
            name, last = "", None
        elif char in ",)":
            if name.strip():
                stack[-1].setdefault(name.strip(), {})
                last = name.strip()
            name = ""
            if char == ")":
                if len(stack) == 1:
                    raise ValueError("unbalanced ) in fields")
                stack.pop()
        else:
            name += char
    if len(stack) != 1:
        raise ValueError("unbalanced ( in fields")
    if name.strip():
        root.setdefault(name.strip(), {})
    return root


def project(value: Any, selection: Selection) -> Any:
    """``value`` (rendered JSON) cut down to ``selection``; entities keep ``$type``."""
    if isinstance(value, list):
        return [project(item, selection) for item in value]
    if not isinstance(value, Mapping):
        return value
    picked: dict[str, Any] = {}
    wanted = selection or {"id": {}}
    for key, sub in wanted.items():
        if key in value:
            picked[key] = project(value[key], sub)
    if "$type" in value:
        picked["$type"] = value["$type"]
    return picked


class QueryError(ValueError):
    """A query YouTrack cannot parse: the API answers 400."""


@dataclass
class Query:
    project: str | None = None
    resolved: bool | None = None
    ranges: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    sort: tuple[str, bool] = ("created", False)  # (field, descending): YouTrack's default is newest first
    words: tuple[str, ...] = ()

    def key(self) -> tuple[Any, ...]:
        return (self.project, self.resolved, tuple(sorted(self.ranges.items())), self.sort, self.words)


_TOKEN = re.compile(r"\{[^}]*\}|#\w+|\S+")
_MOMENT = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?")


def _moment(text: str, *, upper: bool) -> int | None:
    """Epoch ms of a range end; the upper end of a day or minute is its last millisecond."""
    if text == "*":
        return None
    match = _MOMENT.fullmatch(text)
    if not match:
        raise QueryError(f"Cannot parse date: {text}")
    year, month, day, hour, minute, second = match.groups()
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC
    )
    start = int(moment.timestamp() * 1000)
    if not upper:
        return start
    span = 1000 if second else 60_000 if minute else 86_400_000
    return start + span - 1


def parse_query(text: str | None) -> Query:
    query = Query()
    tokens = _TOKEN.findall(text or "")
    words: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        lowered = token.lower()
        if lowered in ("#unresolved", "#resolved"):
            query.resolved = lowered == "#resolved"
        elif lowered == "sort" and index + 2 < len(tokens) and tokens[index + 1].lower() == "by:":
            name = tokens[index + 2].lower().rstrip(",")
            if name not in ("created", "updated"):
                raise QueryError(f"Unsupported sort field: {name}")
            descending = index + 3 < len(tokens) and tokens[index + 3].lower() == "desc"
            explicit = index + 3 < len(tokens) and tokens[index + 3].lower() in ("asc", "desc")
            query.sort = (name, descending)
            index += 3 + int(explicit)
            continue
        elif lowered.endswith(":"):
            attribute = lowered[:-1]
            if index + 1 >= len(tokens):
                raise QueryError(f"Missing value for {attribute}")
            value = tokens[index + 1].strip("{}")
            if attribute == "project":
                query.project = value
                index += 2
                continue
            if attribute in ("updated", "created"):
                if index + 3 < len(tokens) and tokens[index + 2] == "..":
                    low = _moment(value, upper=False)
                    high = _moment(tokens[index + 3], upper=True)
                    index += 4
                else:
                    low, high = _moment(value, upper=False), _moment(value, upper=True)
                    index += 2
                query.ranges[attribute] = (low, high)
                continue
            raise QueryError(f"Unknown attribute: {attribute}")
        else:
            words.append(lowered.strip("{}"))
        index += 1
    query.words = tuple(words)
    return query


_COMMAND_FIELDS = ("tag", "untag", "state", "priority", "type", "assignee")


def parse_command(text: str) -> list[tuple[str, str]]:
    """``tag ops State {In Progress}`` -> ``[("tag", "ops"), ("state", "In Progress")]``."""
    tokens = _TOKEN.findall(text or "")
    if not tokens or len(tokens) % 2:
        raise QueryError(f"Command [{text}] is invalid")
    pairs: list[tuple[str, str]] = []
    for name, value in zip(tokens[::2], tokens[1::2], strict=True):
        if name.lower() not in _COMMAND_FIELDS:
            raise QueryError(f"Unknown command: {name}")
        pairs.append((name.lower(), value[1:-1] if value.startswith("{") else value))
    return pairs
