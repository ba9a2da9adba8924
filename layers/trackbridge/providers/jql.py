"""A typed JQL builder, the saved queries trackbridge runs, and the one door for raw JQL.

Why: JQL is the only way to list Jira issues (``/rest/api/3/search/jql``), and a value pasted into it
unquoted is an injection (``project = X OR project = SECRET``) or a silent mis-query. So every value is
rendered by this module: strings in double quotes with ``\\`` and ``"`` escaped and control characters
refused, numbers bare, times as epoch milliseconds (a bare number is read as UTC milliseconds, while a
date string is read in the API user's profile time zone: tracker-apis 1.5). User-written JQL enters
only as :class:`RawJql`, and only where the API accepts it (a connection's scope, a search request).

::

    q = Jql.project("ABC").and_(field("updated").ge(since)).order_by(asc("updated"), asc("key"))
    str(q)  ->  'project = "ABC" AND updated >= 1732877040000 ORDER BY updated ASC, key ASC'

Times are floored to the minute: JQL compares at minute precision, and flooring only widens the window
(the sync engine applies its own overlap on top).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from trackbridge.domain.errors import InvalidInput

MAX_ORDER_BY_FIELDS = 7  # Jira rejects more (search/jql, tracker-apis 1.3)
MAX_RAW_JQL_LENGTH = 10_000

# Words JQL reserves (Atlassian "JQL: reserved characters and words"); a field named like one of them
# must be quoted. Values are always quoted, so they can never collide.
_RESERVED_TEXT = """
    a an abort access add after alias all alter and any are as asc audit avg before begin between
    boolean break by byte catch cf char character check checkpoint collate collation column commit
    connect continue count create current date decimal declare decrement default defaults define delete
    delimiter desc difference distinct divide do double drop else empty encoding end equals escape
    exclusive exec execute exists explain false fetch file field first float for from function go goto
    grant greater group having identified if immediate in increment index initial inner inout input
    insert int integer intersect intersection into is isempty isnull join last left less like limit lock
    long max min minus mode modify modulo more multiply next noaudit not notin nowait null number object
    of on option or order outer output power previous prior privileges public raise raw remainder rename
    resource return returns revoke right row rowid rownum rows select session set share size sqrt start
    strict string subtract sum synonym table then to trans transaction trigger true uid union unique
    update user validate values view when whenever where while with
"""
RESERVED_WORDS = frozenset(_RESERVED_TEXT.split())

StatusCategory = Literal["todo", "in_progress", "done"]
# JQL matches status categories by name; these are Jira's three built-in category names.
STATUS_CATEGORY_NAMES: dict[str, str] = {"todo": "To Do", "in_progress": "In Progress", "done": "Done"}

_FIELD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.]*\Z")
_CUSTOM_FIELD_RE = re.compile(r"cf\[\d+\]\Z")
_FUNCTION_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class JqlError(InvalidInput, ValueError):
    """A value or query that cannot be rendered as safe JQL; reaching the API, it is a 400."""

    code = "INVALID_JQL"


def quote(value: str) -> str:
    """A JQL string literal: double quotes, ``\\`` and ``"`` escaped, control characters refused."""
    if not isinstance(value, str):
        raise JqlError(f"expected a string, got {type(value).__name__}")
    if _CONTROL_RE.search(value):
        raise JqlError("control characters (newlines, tabs, NUL...) are not allowed in a JQL value")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_field(name: str) -> str:
    """A field name, bare when JQL reads it as a name, quoted otherwise ("Story Points", reserved words)."""
    if _CUSTOM_FIELD_RE.match(name) or (_FIELD_RE.match(name) and name.lower() not in RESERVED_WORDS):
        return name
    if not name.strip():
        raise JqlError("a field name must not be empty")
    return quote(name)


def epoch_millis(moment: datetime) -> int:
    """UTC epoch milliseconds, floored to the minute (JQL's precision). Naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise JqlError("a JQL time must be timezone-aware (naive datetimes are ambiguous)")
    seconds = int(moment.timestamp())
    return (seconds - seconds % 60) * 1000


@dataclass(frozen=True)
class Function:
    """A JQL function call such as ``currentUser()`` or ``openSprints()``; arguments are quoted."""

    name: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _FUNCTION_RE.match(self.name):
            raise JqlError(f"not a JQL function name: {self.name!r}")

    def render(self) -> str:
        return f"{self.name}({', '.join(quote(arg) for arg in self.args)})"


Value = str | int | datetime | Function


def render_value(value: Value) -> str:
    if isinstance(value, bool):
        raise JqlError("booleans have no JQL literal")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return str(epoch_millis(value))
    if isinstance(value, Function):
        return value.render()
    return quote(value)


class Expr(ABC):
    """A JQL condition. Combine with ``&``, ``|``, ``~`` or :meth:`and_`/:meth:`or_`/:meth:`not_`."""

    precedence = 3  # clauses bind tightest; AND 2, OR 1, raw JQL 0 (always parenthesised)

    @abstractmethod
    def render(self) -> str: ...

    def and_(self, *others: Expr) -> Expr:
        return And((self, *others))

    def or_(self, *others: Expr) -> Expr:
        return Or((self, *others))

    def not_(self) -> Expr:
        return Not(self)

    def __and__(self, other: Expr) -> Expr:
        return self.and_(other)

    def __or__(self, other: Expr) -> Expr:
        return self.or_(other)

    def __invert__(self) -> Expr:
        return self.not_()

    def __str__(self) -> str:
        return self.render()


_OPERATORS = frozenset({"=", "!=", ">", ">=", "<", "<=", "~", "!~", "in", "not in", "is", "is not"})


@dataclass(frozen=True)
class Clause(Expr):
    field: str
    operator: str
    value: Value | tuple[Value, ...] | None

    def __post_init__(self) -> None:
        if self.operator not in _OPERATORS:
            raise JqlError(f"unsupported JQL operator {self.operator!r}")

    def render(self) -> str:
        operator = self.operator.upper() if self.operator[0].isalpha() else self.operator
        if self.operator in ("is", "is not"):
            return f"{render_field(self.field)} {operator} EMPTY"
        if self.operator in ("in", "not in") and isinstance(self.value, Function):
            return f"{render_field(self.field)} {operator} {self.value.render()}"  # IN openSprints()
        if isinstance(self.value, tuple):
            if not self.value:
                raise JqlError(f"{self.field} {operator} () needs at least one value")
            return f"{render_field(self.field)} {operator} ({', '.join(render_value(v) for v in self.value)})"
        if self.value is None or self.operator in ("in", "not in"):
            raise JqlError(f"{self.field} {operator} needs a value (a list or a function for IN)")
        return f"{render_field(self.field)} {operator} {render_value(self.value)}"


@dataclass(frozen=True)
class And(Expr):
    parts: tuple[Expr, ...]
    precedence = 2

    def render(self) -> str:
        return _join(self.parts, " AND ", self.precedence)


@dataclass(frozen=True)
class Or(Expr):
    parts: tuple[Expr, ...]
    precedence = 1

    def render(self) -> str:
        return _join(self.parts, " OR ", self.precedence)


@dataclass(frozen=True)
class Not(Expr):
    inner: Expr

    def render(self) -> str:
        return f"NOT ({self.inner.render()})"


class RawJql(Expr):
    """User-written JQL, passed through as is. Only for places the API documents as taking JQL.

    When combined with other conditions it is parenthesised, and it must be well-formed at the level that
    matters for that: balanced parentheses and closed quotes, so ``x) OR (project = OTHER`` cannot break
    out of the scope it is ANDed with; and no ``ORDER BY`` of its own (use :meth:`split_order_by`).
    Anything else (unknown fields, bad syntax) is Jira's to judge: its 400 comes back as a 400.
    """

    precedence = 0

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise JqlError("the JQL must not be empty")
        if len(text) > MAX_RAW_JQL_LENGTH:
            raise JqlError(f"the JQL is longer than {MAX_RAW_JQL_LENGTH} characters")
        if "\x00" in text:
            raise JqlError("the JQL contains a NUL character")
        self.text = text.strip()

    @property
    def has_order_by(self) -> bool:
        return _scan(self.text).order_by_at is not None

    def split_order_by(self) -> tuple[RawJql | None, str | None]:
        """``(condition, "field ASC, ...")``: either part may be missing (``ORDER BY key`` alone)."""
        at = _scan(self.text).order_by_at
        if at is None:
            return self, None
        condition = self.text[:at].strip()
        order = self.text[at:].strip()[len("order") :].strip()[len("by") :].strip()
        if order and not _ORDER_TEXT_RE.match(order):
            # Field names, ASC/DESC and commas: nothing after ORDER BY may reopen the condition.
            raise JqlError("ORDER BY takes field names and ASC/DESC only", details={"order_by": order[:200]})
        return (RawJql(condition) if condition else None), (order or None)

    def check_combinable(self) -> None:
        scan = _scan(self.text)
        if scan.problem:
            raise JqlError(f"the JQL cannot be combined with the connection's scope: {scan.problem}")
        if scan.order_by_at is not None:
            raise JqlError("JQL combined with other conditions must not contain ORDER BY")

    def render(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawJql) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RawJql({self.text!r})"


@dataclass(frozen=True)
class _Scan:
    order_by_at: int | None
    problem: str | None


_ORDER_BY_RE = re.compile(r"order\s+by\b", re.IGNORECASE)
_ORDER_TEXT_RE = re.compile(r"[\w\s.,\[\]\"'-]+\Z")


def _scan(text: str) -> _Scan:
    """Walk JQL outside its quoted strings: parenthesis depth, unclosed quotes, a top-level ORDER BY."""
    depth = 0
    quote_char: str | None = None
    escaped = False
    order_by_at: int | None = None
    problem: str | None = None
    for index, char in enumerate(text):
        if quote_char is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote_char:
                quote_char = None
            continue
        if char in "\"'":
            quote_char = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0 and problem is None:
                problem = "a ')' closes more than was opened"
        elif (
            order_by_at is None
            and depth == 0
            and char in "oO"
            and (index == 0 or not (text[index - 1].isalnum() or text[index - 1] == "_"))
            and _ORDER_BY_RE.match(text, index)
        ):
            order_by_at = index
    if quote_char is not None:
        problem = problem or "a quoted string is not closed"
    elif depth > 0:
        problem = problem or "a '(' is not closed"
    return _Scan(order_by_at, problem)


def _join(parts: tuple[Expr, ...], separator: str, precedence: int) -> str:
    if not parts:
        raise JqlError("an AND/OR needs at least one condition")
    rendered = []
    for part in parts:
        if isinstance(part, RawJql):
            part.check_combinable()
        text = part.render()
        rendered.append(f"({text})" if part.precedence < precedence else text)
    return separator.join(rendered)


@dataclass(frozen=True)
class FieldRef:
    """Builds clauses on one field: ``field("status").in_("Done", "Closed")``."""

    name: str

    def eq(self, value: Value) -> Clause:
        return Clause(self.name, "=", value)

    def ne(self, value: Value) -> Clause:
        return Clause(self.name, "!=", value)

    def gt(self, value: Value) -> Clause:
        return Clause(self.name, ">", value)

    def ge(self, value: Value) -> Clause:
        return Clause(self.name, ">=", value)

    def lt(self, value: Value) -> Clause:
        return Clause(self.name, "<", value)

    def le(self, value: Value) -> Clause:
        return Clause(self.name, "<=", value)

    def contains(self, text: str) -> Clause:
        return Clause(self.name, "~", text)

    def not_contains(self, text: str) -> Clause:
        return Clause(self.name, "!~", text)

    def in_(self, *values: Value) -> Clause:
        """``IN (a, b)``, or ``IN fn()`` when given one :class:`Function` (``openSprints()``)."""
        if len(values) == 1 and isinstance(values[0], Function):
            return Clause(self.name, "in", values[0])
        return Clause(self.name, "in", tuple(values))

    def not_in(self, *values: Value) -> Clause:
        if len(values) == 1 and isinstance(values[0], Function):
            return Clause(self.name, "not in", values[0])
        return Clause(self.name, "not in", tuple(values))

    def is_empty(self) -> Clause:
        return Clause(self.name, "is", None)

    def is_not_empty(self) -> Clause:
        return Clause(self.name, "is not", None)


def field(name: str) -> FieldRef:
    render_field(name)  # fail early on an empty name
    return FieldRef(name)


@dataclass(frozen=True)
class OrderBy:
    field: str
    direction: Literal["ASC", "DESC"] = "ASC"

    def render(self) -> str:
        return f"{render_field(self.field)} {self.direction}"


def asc(name: str) -> OrderBy:
    return OrderBy(name, "ASC")


def desc(name: str) -> OrderBy:
    return OrderBy(name, "DESC")


@dataclass(frozen=True)
class Jql:
    """A whole query: a condition and an ``ORDER BY``. Immutable; every method returns a new query."""

    where: Expr | None = None
    ordering: tuple[OrderBy, ...] = ()

    @classmethod
    def project(cls, key: str) -> Jql:
        return cls(Clause("project", "=", key))

    @classmethod
    def raw(cls, text: str) -> Jql:
        """A user's JQL as a whole query (its own ORDER BY is kept)."""
        return cls(RawJql(text))

    def and_(self, *conditions: Expr) -> Jql:
        """Narrow the query. (There is deliberately no ``or_`` here: OR-ing onto a scoped query would
        unbound it; build an :class:`Or` and AND it instead.)"""
        parts = tuple(c for c in (self.where, *conditions) if c is not None)
        if not parts:
            return self
        return Jql(parts[0] if len(parts) == 1 else And(parts), self.ordering)

    def order_by(self, *orders: OrderBy | str) -> Jql:
        resolved = tuple(o if isinstance(o, OrderBy) else OrderBy(o) for o in orders)
        if len(resolved) > MAX_ORDER_BY_FIELDS:
            raise JqlError(f"ORDER BY takes at most {MAX_ORDER_BY_FIELDS} fields")
        return Jql(self.where, resolved)

    def render(self) -> str:
        where = self.where.render() if self.where is not None else ""
        if not self.ordering:
            return where  # a whole query of the user's passes through as written
        if isinstance(self.where, RawJql):
            self.where.check_combinable()
            where = f"({where})"
        order = "ORDER BY " + ", ".join(o.render() for o in self.ordering)
        return f"{where} {order}" if where else order

    def __str__(self) -> str:
        return self.render()


# --------------------------------------------------------------------------------------------------------
# Saved templates. ``scope`` is what bounds the query (search/jql rejects unbounded JQL): a project key,
# a connection's RawJql, or any condition.
# --------------------------------------------------------------------------------------------------------

Scope = str | Expr


def scope_condition(scope: Scope) -> Expr:
    if isinstance(scope, Expr):
        return scope
    return Clause("project", "=", scope)


def full_sync(scope: Scope) -> Jql:
    """Every issue in scope, in an order that updates cannot reshuffle (DESIGN 10, pagination drift)."""
    return Jql(scope_condition(scope)).order_by(asc("key"))


def updated_since(scope: Scope, since: datetime) -> Jql:
    """Issues updated at or after ``since`` (minute precision), oldest first, for incremental sync."""
    return Jql(scope_condition(scope)).and_(field("updated").ge(since)).order_by(asc("updated"), asc("key"))


def open_issues(scope: Scope) -> Jql:
    return Jql(scope_condition(scope)).and_(field("statusCategory").ne(STATUS_CATEGORY_NAMES["done"]))


def by_status_category(scope: Scope, *categories: StatusCategory) -> Jql:
    names = []
    for category in categories:
        if category not in STATUS_CATEGORY_NAMES:
            raise JqlError(f"unknown status category {category!r} (todo, in_progress, done)")
        names.append(STATUS_CATEGORY_NAMES[category])
    return Jql(scope_condition(scope)).and_(field("statusCategory").in_(*names))


def assigned_to(scope: Scope, account_id: str | None) -> Jql:
    """Issues assigned to an Atlassian account id; ``None`` means unassigned."""
    condition = field("assignee").is_empty() if account_id is None else field("assignee").eq(account_id)
    return Jql(scope_condition(scope)).and_(condition)


def in_sprint(scope: Scope, sprint_id: int | None = None) -> Jql:
    """Issues in one sprint (by id), or in any open sprint when ``sprint_id`` is ``None``."""
    value: Value = Function("openSprints") if sprint_id is None else int(sprint_id)
    operator = field("sprint").in_(value) if sprint_id is None else field("sprint").eq(value)
    return Jql(scope_condition(scope)).and_(operator)


# The people fields a tracked user's issues are found by (issue 19): the Jira fields that take accountIds.
TRACKED_USER_FIELDS: tuple[str, ...] = ("assignee", "reporter", "worklogAuthor")


def involving(account_ids: Sequence[str]) -> Expr:
    """Issues where one of ``account_ids`` is assignee, reporter or worklog author:
    ``assignee in ("a") OR reporter in ("a") OR worklogAuthor in ("a")``, each id quoted. Ids are kept in
    the given order without repeats; an empty list is refused (``IN ()`` is not JQL, and "nobody" must never
    silently mean "everybody")."""
    ids = tuple(dict.fromkeys(account_ids))
    if not ids:
        raise JqlError("name at least one account id")
    return Or(tuple(Clause(name, "in", ids) for name in TRACKED_USER_FIELDS))


def text_search(scope: Scope, text: str) -> Jql:
    """Full-text search (``text ~``). The value is quoted for JQL; Jira's text-search syntax inside it
    (``*`` wildcards, ``"phrase"``) keeps its meaning, as in Jira's own search box."""
    if not text.strip():
        raise JqlError("the search text must not be empty")
    return Jql(scope_condition(scope)).and_(field("text").contains(text))


__all__ = [
    "MAX_ORDER_BY_FIELDS",
    "RESERVED_WORDS",
    "STATUS_CATEGORY_NAMES",
    "TRACKED_USER_FIELDS",
    "And",
    "Clause",
    "Expr",
    "FieldRef",
    "Function",
    "Jql",
    "JqlError",
    "Not",
    "Or",
    "OrderBy",
    "RawJql",
    "asc",
    "assigned_to",
    "by_status_category",
    "desc",
    "epoch_millis",
    "field",
    "full_sync",
    "in_sprint",
    "involving",
    "open_issues",
    "quote",
    "render_field",
    "render_value",
    "scope_condition",
    "text_search",
    "updated_since",
]
