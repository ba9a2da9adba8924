"""A JQL subset for the Jira sandbox: tokenizer, parser, and a compiler to a filter and a sort key.

What is understood (the rest is a 400 in Jira's shape, never a silent wrong answer):

- Clauses on ``project``, ``key``/``issuekey``/``id``/``issue``, ``status``, ``statusCategory``,
  ``assignee``, ``reporter``, ``creator``, ``labels``, ``issuetype``/``type``, ``priority``, ``resolution``,
  ``sprint`` (and ``cf[10020]``), ``parent``, the dates ``created``, ``updated``,
  ``resolved``/``resolutiondate``, and the text fields ``summary``, ``description``, ``environment``,
  ``comment``, ``text``.
- Operators ``= != < <= > >= ~ !~ IN (NOT IN) IS (NOT) EMPTY|NULL``; ``AND``/``&&``, ``OR``/``||``,
  ``NOT``/``!``, parentheses; ``ORDER BY`` with up to 7 fields, ``ASC``/``DESC``.
- Functions ``currentUser()``, ``now()``, ``startOfDay()``/``endOfDay()``/``startOfWeek()``/``endOfWeek()``/
  ``startOfMonth()``/``endOfMonth()`` (optionally with an offset such as ``"-1"`` or ``"+2d"``),
  ``openSprints()``, ``closedSprints()``, ``futureSprints()``.
- Dates as Jira reads them: ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"``, ``"yyyy-MM-dd"``
  in the *searching user's* profile time zone; relative periods (``-5d``, ``-2h``, ``-30m``, ``"-1w 2d"``,
  minutes when no unit); an unquoted unsigned number is epoch milliseconds (UTC). Every date value is
  floored to the minute (JQL's precision), so ``updated >= 1732877091000`` also returns what changed at
  10:04:10 when the literal says 10:04:51.

Semantics reproduced because clients trip on them: ``!=`` and ``NOT IN`` never match an empty field
(``assignee != X`` leaves out unassigned issues); ``key = ACME-999`` for a missing issue is a 400, not an
empty result; a project or user the caller cannot see "does not exist". Error texts follow the ones Jira
sends (``Error in the JQL Query: Expecting operator but got 'x'. ... (line 1, character 12)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ._render import adf_to_text
from ._state import CATEGORIES, ISSUE_TYPES, PRIORITIES, RESOLUTIONS, STATUSES, Issue, JiraState

MAX_ORDER_BY = 7
SYNTAX = "Error in the JQL Query: "
VALID_OPERATORS = "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"
DATE_FORMATS = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)
# Atlassian's list of words JQL reserves ("JQL: reserved characters and words"); unquoted, they are errors.
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
RESERVED_CHARS = frozenset("+.;?|*/%^$#@[]")
KEYWORDS = frozenset(
    {"and", "or", "not", "in", "is", "order", "by", "asc", "desc", "empty", "null", "was", "changed"}
)
_WORD_STOP = frozenset(" \t\r\n\"'(),=!<>~&|")


class JqlError(ValueError):
    """Jira's 400: every message goes into ``errorMessages``."""

    def __init__(self, *messages: str) -> None:
        self.messages = list(messages)
        super().__init__("; ".join(messages))


def _syntax(message: str, pos: int | None = None) -> JqlError:
    where = f" (line 1, character {pos + 1})" if pos is not None else ""
    return JqlError(f"{SYNTAX}{message}{where}")


# ------------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # word | string | op | ( | ) | , | and | or | not | eof
    text: str
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n":
            i += 1
            continue
        if char in "\"'":
            start, quote, buf = i, char, []
            i += 1
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n:
                    nxt = text[i + 1]
                    if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                        buf.append(chr(int(text[i + 2 : i + 6], 16)))
                        i += 6
                        continue
                    buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                    i += 2
                    continue
                buf.append(text[i])
                i += 1
            if i >= n:
                raise _syntax(f"The quoted string '{text[start + 1 :]}' has not been completed.", start)
            tokens.append(Token("string", "".join(buf), start))
            i += 1
            continue
        if char in "(),":
            tokens.append(Token(char, char, i))
            i += 1
            continue
        two = text[i : i + 2]
        if two in ("!=", ">=", "<=", "!~"):
            tokens.append(Token("op", two, i))
            i += 2
            continue
        if char in "=<>~":
            tokens.append(Token("op", char, i))
            i += 1
            continue
        if two in ("&&", "||"):
            tokens.append(Token("and" if two == "&&" else "or", two, i))
            i += 2
            continue
        if char in "&|!":
            tokens.append(Token({"&": "and", "|": "or", "!": "not"}[char], char, i))
            i += 1
            continue
        start = i
        if text[i : i + 3].lower() == "cf[":
            close = text.find("]", i)
            if close != -1 and text[i + 3 : close].isdigit():
                tokens.append(Token("word", f"cf[{text[i + 3 : close]}]", start))
                i = close + 1
                continue
        while i < n and text[i] not in _WORD_STOP:
            current = text[i]
            # Dates and times may go unquoted (2025/01/31); elsewhere these characters are reserved.
            if current in RESERVED_CHARS and not (current == "/" and text[start].isdigit()):
                raise _syntax(
                    f"The character '{current}' is a reserved JQL character. You must enclose it in a string "
                    f"or use the escape '\\u{ord(current):04x}' instead.",
                    i,
                )
            i += 1
        tokens.append(Token("word", text[start:i], start))
    tokens.append(Token("eof", "", n))
    return tokens


# -------------------------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Value:
    text: str
    quoted: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    args: tuple[str, ...]
    pos: int

    def render(self) -> str:
        return f"{self.name}({', '.join(self.args)})"


@dataclass(frozen=True, slots=True)
class Empty:
    pos: int


Operand = Value | Function | Empty | tuple[Value | Function | Empty, ...]


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    field_pos: int
    op: str  # = != < <= > >= ~ !~ in "not in" is "is not"
    operand: Operand
    op_pos: int


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True, slots=True)
class SortField:
    field: str
    descending: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Query:
    where: Node | None
    order: tuple[SortField, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at_order_by(self) -> bool:
        return self.tok.is_word("order")

    def parse(self) -> Query:
        where: Node | None = None
        if self.tok.kind != "eof" and not self.at_order_by():
            where = self.parse_or()
        order: tuple[SortField, ...] = ()
        if self.at_order_by():
            order = self.parse_order_by()
        token = self.tok
        if token.kind != "eof":
            raise _syntax(f"Expecting either 'OR' or 'AND' but got '{token.text}'.", token.pos)
        return Query(where, order)

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.tok.kind == "or" or self.tok.is_word("or"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while self.tok.kind == "and" or self.tok.is_word("and"):
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_not(self) -> Node:
        token = self.tok
        if token.kind == "not" or token.is_word("not"):
            self.take()
            return Not(self.parse_not())
        if token.kind == "(":
            self.take()
            inner = self.parse_or()
            closing = self.take()
            if closing.kind != ")":
                if closing.kind == "eof":
                    raise _syntax("Expecting ')' before the end of the query.")
                raise _syntax(f"Expecting ')' but got '{closing.text}'.", closing.pos)
            return inner
        return self.parse_clause()

    def parse_field(self) -> Token:
        token = self.take()
        if token.kind == "eof":
            raise _syntax("Expecting a field name before the end of the query.")
        if token.kind == "string":
            return token
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            raise _syntax(
                f"Expecting a field name but got '{token.text}'. You must surround '{token.text}' in "
                "quotation marks to use it as a field name.",
                token.pos,
            )
        if token.text.lower() in RESERVED_WORDS:
            raise _syntax(
                f"'{token.text}' is a reserved JQL word. You must surround it in quotation marks to use it "
                "in a query.",
                token.pos,
            )
        return token

    def parse_clause(self) -> Clause:
        name = self.parse_field()
        op_token = self.take()
        op_pos = op_token.pos
        if op_token.kind == "op":
            op = op_token.text
        elif op_token.is_word("in"):
            op = "in"
        elif op_token.is_word("not") or op_token.kind == "not":
            nxt = self.take()
            if not nxt.is_word("in"):
                raise _syntax(f"Expecting 'IN' but got '{nxt.text}'.", nxt.pos)
            op = "not in"
        elif op_token.is_word("is"):
            op = "is"
            if self.tok.is_word("not") or self.tok.kind == "not":
                self.take()
                op = "is not"
        elif op_token.is_word("was", "changed"):
            raise _syntax(
                f"The sandbox does not support the '{op_token.text.upper()}' operator.", op_token.pos
            )
        elif op_token.kind == "eof":
            raise _syntax(
                f"Expecting operator before the end of the query. The valid operators are {VALID_OPERATORS}."
            )
        else:
            raise _syntax(
                f"Expecting operator but got '{op_token.text}'. The valid operators are {VALID_OPERATORS}.",
                op_pos,
            )
        if op in ("is", "is not"):
            operand_token = self.take()
            if not operand_token.is_word("empty", "null"):
                text = operand_token.text or "the end of the query"
                raise _syntax(f"Expecting 'EMPTY' but got '{text}'.", operand_token.pos)
            return Clause(name.text, name.pos, op, Empty(operand_token.pos), op_pos)
        if op in ("in", "not in"):
            if self.tok.kind == "(":
                return Clause(name.text, name.pos, op, self.parse_list(), op_pos)
            operand = self.parse_value()
            return Clause(name.text, name.pos, op, operand, op_pos)
        return Clause(name.text, name.pos, op, self.parse_value(), op_pos)

    def parse_list(self) -> tuple[Value | Function | Empty, ...]:
        self.take()  # (
        items = [self.parse_value()]
        while self.tok.kind == ",":
            self.take()
            items.append(self.parse_value())
        closing = self.take()
        if closing.kind != ")":
            if closing.kind == "eof":
                raise _syntax("Expecting ')' before the end of the query.")
            raise _syntax(f"Expecting ',' or ')' but got '{closing.text}'.", closing.pos)
        return tuple(items)

    def parse_value(self) -> Value | Function | Empty:
        token = self.take()
        if token.kind == "string":
            return Value(token.text, True, token.pos)
        if token.kind == "eof":
            raise _syntax("Expecting either a value, list or function before the end of the query.")
        if token.kind != "word":
            raise _syntax(
                f"Expecting either a value, list or function but got '{token.text}'. You must surround "
                f"'{token.text}' in quotation marks to use it as a value.",
                token.pos,
            )
        lowered = token.text.lower()
        if lowered in ("empty", "null"):
            return Empty(token.pos)
        if lowered in KEYWORDS:
            raise _syntax(
                f"Expecting either a value, list or function but got '{token.text}'. You must surround "
                f"'{token.text}' in quotation marks to use it as a value.",
                token.pos,
            )
        if self.tok.kind == "(":
            return self.parse_function(token)
        if lowered in RESERVED_WORDS:
            raise _syntax(
                f"'{token.text}' is a reserved JQL word. You must surround it in quotation marks to use it "
                "in a query.",
                token.pos,
            )
        return Value(token.text, False, token.pos)

    def parse_function(self, name: Token) -> Function:
        self.take()  # (
        args: list[str] = []
        while self.tok.kind != ")":
            arg = self.take()
            if arg.kind not in ("word", "string"):
                text = arg.text or "the end of the query"
                raise _syntax(f"Expecting a function argument or ')' but got '{text}'.", arg.pos)
            args.append(arg.text)
            if self.tok.kind == ",":
                self.take()
        self.take()  # )
        return Function(name.text, tuple(args), name.pos)

    def parse_order_by(self) -> tuple[SortField, ...]:
        self.take()  # order
        by = self.take()
        if not by.is_word("by"):
            raise _syntax(f"Expecting 'BY' but got '{by.text or 'the end of the query'}'.", by.pos)
        fields: list[SortField] = []
        while True:
            name = self.parse_field()
            descending = False
            if self.tok.is_word("asc", "desc"):
                descending = self.take().text.lower() == "desc"
            fields.append(SortField(name.text, descending, name.pos))
            if self.tok.kind != ",":
                break
            self.take()
        return tuple(fields)


def parse(text: str) -> Query:
    """The syntax tree of ``text``; ``JqlError`` with Jira's message when it does not parse."""
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------- compiler

Predicate = Callable[[Issue], bool]

FIELD_ALIASES = {
    "issuekey": "key",
    "id": "key",
    "issue": "key",
    "key": "key",
    "project": "project",
    "status": "status",
    "statuscategory": "statusCategory",
    "assignee": "assignee",
    "reporter": "reporter",
    "creator": "creator",
    "labels": "labels",
    "label": "labels",
    "issuetype": "issuetype",
    "type": "issuetype",
    "priority": "priority",
    "resolution": "resolution",
    "sprint": "sprint",
    "cf[10020]": "sprint",
    "parent": "parent",
    "created": "created",
    "createddate": "created",
    "updated": "updated",
    "updateddate": "updated",
    "resolved": "resolutiondate",
    "resolutiondate": "resolutiondate",
    "summary": "summary",
    "description": "description",
    "environment": "environment",
    "comment": "comment",
    "text": "text",
    "rank": "rank",
    "worklogauthor": "worklogAuthor",
}
# field -> the operators Jira accepts for it
_EQUALITY = frozenset({"=", "!=", "in", "not in"})
_EMPTY = frozenset({"is", "is not"})
_RANGE = frozenset({"<", "<=", ">", ">="})
OPERATORS: dict[str, frozenset[str]] = {
    "key": _EQUALITY | _RANGE,
    "project": _EQUALITY | _EMPTY,
    "status": _EQUALITY | _EMPTY,
    "statusCategory": _EQUALITY | _EMPTY,
    "assignee": _EQUALITY | _EMPTY,
    "reporter": _EQUALITY | _EMPTY,
    "creator": _EQUALITY | _EMPTY,
    "labels": _EQUALITY | _EMPTY,
    "issuetype": _EQUALITY | _EMPTY,
    "priority": _EQUALITY | _EMPTY,
    "resolution": _EQUALITY | _EMPTY,
    "sprint": _EQUALITY | _EMPTY,
    "parent": _EQUALITY,
    "created": frozenset({"=", "!="}) | _RANGE | _EMPTY,
    "updated": frozenset({"=", "!="}) | _RANGE | _EMPTY,
    "resolutiondate": frozenset({"=", "!="}) | _RANGE | _EMPTY,
    "summary": frozenset({"~", "!~"}) | _EMPTY,
    "description": frozenset({"~", "!~"}) | _EMPTY,
    "environment": frozenset({"~", "!~"}) | _EMPTY,
    "comment": frozenset({"~", "!~"}),
    "text": frozenset({"~"}),
    "rank": frozenset(),
    # As Jira: equality and lists only ("issues nobody logged work on" is no worklogAuthor query).
    "worklogAuthor": _EQUALITY,
}
SORT_FIELDS = frozenset(
    {
        "key",
        "project",
        "status",
        "statusCategory",
        "assignee",
        "reporter",
        "creator",
        "issuetype",
        "priority",
        "resolution",
        "created",
        "updated",
        "resolutiondate",
        "summary",
        "sprint",
        "rank",
    }
)
DATE_FUNCTIONS = frozenset(
    {"now", "startofday", "endofday", "startofweek", "endofweek", "startofmonth", "endofmonth"}
)
SPRINT_FUNCTIONS = {"opensprints": "active", "closedsprints": "closed", "futuresprints": "future"}


@dataclass(slots=True)
class Context:
    """What a query is evaluated against: the data, the searching user and their clock and zone."""

    state: JiraState
    account_id: str
    tz: tzinfo
    now_ms: int
    visible_projects: frozenset[int] | None = None  # None: every project

    def may_see(self, project_id: int) -> bool:
        return self.visible_projects is None or project_id in self.visible_projects


@dataclass(slots=True)
class Compiled:
    """A checked query: ``matches`` filters issues, ``sort_key`` orders them (ties broken by id)."""

    matches: Predicate
    sort_key: Callable[[Issue], tuple[Any, ...]]
    bounded: bool
    raw_key: Callable[[Issue], list[Any]] = field(default=lambda issue: [])
    comparable: Callable[[Sequence[Any]], tuple[Any, ...]] = field(default=lambda raw: tuple(raw))


class _Reversed:
    """Inverts comparison: how a DESC field sorts inside one ascending tuple key."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.value < self.value)

    def __gt__(self, other: _Reversed) -> bool:
        return bool(other.value > self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def compile_query(
    query: Query, ctx: Context, *, default_order: Sequence[tuple[str, bool]] = (("key", True),)
) -> Compiled:
    """Resolve names against the data; build the filter and the ordering. ``JqlError`` lists every problem."""
    errors: list[str] = []
    matches: Predicate = (
        _compile(query.where, ctx, errors) if query.where is not None else (lambda issue: True)
    )
    order = [(s.field, s.descending, s.pos) for s in query.order]
    if len(order) > MAX_ORDER_BY:
        errors.append(f"{SYNTAX}The ORDER BY clause can't contain more than {MAX_ORDER_BY} fields.")
    extractors: list[tuple[Callable[[Issue], Any], bool]] = []
    seen: set[str] = set()
    for name, descending, _pos in order or [(f, d, 0) for f, d in default_order]:
        canonical = FIELD_ALIASES.get(name.lower())
        if canonical is None:
            errors.append(f"Field '{name}' does not exist or you do not have permission to view it.")
            continue
        if canonical not in SORT_FIELDS:
            errors.append(f"Not able to sort using field '{name}'.")
            continue
        if canonical in seen:
            errors.append(f"The sort field '{name}' is referenced multiple times in the JQL sort.")
            continue
        seen.add(canonical)
        extractors.append((_sort_value(canonical, ctx.state), descending))
    if errors:
        raise JqlError(*errors)
    directions = [descending for _, descending in extractors]

    def raw_key(issue: Issue) -> list[Any]:
        return [extract(issue) for extract, _ in extractors] + [issue.id]

    def comparable(raw: Sequence[Any]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for value, descending in zip(raw, [*directions, False], strict=True):
            # Empty values sort last ascending (and so first descending), as in Jira.
            element = (1, 0) if value is None else (0, value)
            parts.append(_Reversed(element) if descending else element)
        return tuple(parts)

    def sort_key(issue: Issue) -> tuple[Any, ...]:
        return comparable(raw_key(issue))

    return Compiled(matches, sort_key, query.where is not None, raw_key, comparable)


def _sort_value(name: str, state: JiraState) -> Callable[[Issue], Any]:
    users = state.users
    projects = state.projects
    if name == "key":
        return lambda issue: [projects[issue.project_id].key, issue.number]
    if name == "project":
        return lambda issue: projects[issue.project_id].key
    if name == "status":
        return lambda issue: STATUSES[issue.status_id].order
    if name == "statusCategory":
        order = {2: 0, 4: 1, 3: 2, 1: 3}
        return lambda issue: order[STATUSES[issue.status_id].category]
    if name in ("assignee", "reporter", "creator"):

        def person(issue: Issue) -> str | None:
            account = getattr(issue, name)
            return users[account].display_name.lower() if account in users else None

        return person
    if name == "issuetype":
        return lambda issue: ISSUE_TYPES[issue.type_id].name.lower()
    if name == "priority":
        # Jira ranks priorities: ASC puts the lowest first.
        return lambda issue: len(PRIORITIES) - PRIORITIES[issue.priority_id].order
    if name == "resolution":
        return lambda issue: RESOLUTIONS[issue.resolution_id].name.lower() if issue.resolution_id else None
    if name == "resolutiondate":
        return lambda issue: issue.resolved
    if name == "summary":
        return lambda issue: issue.summary.lower()
    if name == "sprint":
        return lambda issue: issue.sprint_id
    if name == "rank":
        # The sandbox never re-ranks: the backlog order is creation order (Jira Software's Rank field).
        return lambda issue: issue.id
    return lambda issue: getattr(issue, name)


def _compile(node: Node, ctx: Context, errors: list[str]) -> Predicate:
    if isinstance(node, And):
        parts = [_compile(part, ctx, errors) for part in node.parts]
        return lambda issue: all(part(issue) for part in parts)
    if isinstance(node, Or):
        parts = [_compile(part, ctx, errors) for part in node.parts]
        return lambda issue: any(part(issue) for part in parts)
    if isinstance(node, Not):
        inner = _compile(node.inner, ctx, errors)
        return lambda issue: not inner(issue)
    return _clause(node, ctx, errors)


def _never(issue: Issue) -> bool:
    return False


def _clause(clause: Clause, ctx: Context, errors: list[str]) -> Predicate:
    name = FIELD_ALIASES.get(clause.field.lower())
    if name is None:
        errors.append(f"Field '{clause.field}' does not exist or you do not have permission to view it.")
        return _never
    op = clause.op
    if op not in OPERATORS[name]:
        errors.append(f"The operator '{op.upper()}' is not supported by the '{clause.field}' field.")
        return _never
    if name in ("created", "updated", "resolutiondate"):
        return _date_clause(clause, name, ctx, errors)
    if name in ("summary", "description", "environment", "comment", "text"):
        return _text_clause(clause, name, ctx)
    if name == "key" and op in _RANGE:
        return _key_range(clause, ctx, errors)

    getter = _worklog_authors(ctx) if name == "worklogAuthor" else _getter(name)
    multi = name in ("labels", "worklogAuthor")
    if op in _EMPTY:

        def is_empty(issue: Issue) -> bool:
            value = getter(issue)
            return not value if multi else value is None

        return is_empty if op == "is" else (lambda issue: not is_empty(issue))

    operands = clause.operand if isinstance(clause.operand, tuple) else (clause.operand,)
    wanted: set[Any] = set()
    want_empty = False
    for operand in operands:
        if isinstance(operand, Empty):
            want_empty = True
            continue
        wanted.update(_resolve(name, clause.field, operand, ctx, errors))
    positive = op in ("=", "in")

    def check(issue: Issue) -> bool:
        value = getter(issue)
        if multi:
            present = {v.lower() for v in value} if name == "labels" else set(value)
            if not present:
                return positive and want_empty
            hit = bool(present & wanted)
        else:
            if value is None:
                return positive and want_empty
            hit = value in wanted
        # != and NOT IN never match an empty field (Jira's rule); a non-empty field matches if no value hits.
        return hit if positive else not hit

    return check


def _worklog_authors(ctx: Context) -> Callable[[Issue], set[str]]:
    """The authors of an issue's worklogs (``worklogAuthor`` matches any of them)."""
    worklogs = ctx.state.worklogs

    def authors(issue: Issue) -> set[str]:
        return {worklogs[w].author for w in issue.worklogs if w in worklogs}

    return authors


def _getter(name: str) -> Callable[[Issue], Any]:
    if name == "key":
        return lambda issue: issue.id
    if name == "project":
        return lambda issue: issue.project_id
    if name == "status":
        return lambda issue: issue.status_id
    if name == "statusCategory":
        return lambda issue: STATUSES[issue.status_id].category
    if name == "issuetype":
        return lambda issue: issue.type_id
    if name == "priority":
        return lambda issue: issue.priority_id
    if name == "resolution":
        return lambda issue: issue.resolution_id
    if name == "sprint":
        return lambda issue: issue.sprint_id
    if name == "parent":
        return lambda issue: issue.parent_id
    return lambda issue: getattr(issue, name)


def _missing(field_name: str, text: str) -> str:
    return f"The value '{text}' does not exist for the field '{field_name}'."


def _resolve(
    name: str, field_name: str, operand: Value | Function, ctx: Context, errors: list[str]
) -> set[Any]:
    """The stored values ``operand`` stands for; unknown names are reported, as Jira does."""
    state = ctx.state
    if isinstance(operand, Function):
        fn = operand.name.lower()
        if fn == "currentuser" and name in ("assignee", "reporter", "creator", "worklogAuthor"):
            return {ctx.account_id}
        if fn in SPRINT_FUNCTIONS and name == "sprint":
            wanted_state = SPRINT_FUNCTIONS[fn]
            return {s.id for s in state.sprints.values() if s.state == wanted_state}
        errors.append(f"Unable to find JQL function '{operand.render()}'.")
        return set()
    text = operand.text
    lowered = text.strip().lower()
    if name == "project":
        project = state.project_by_key_or_id(text)
        if project is None:
            project = next((p for p in state.projects.values() if p.name.lower() == lowered), None)
        if project is None or not ctx.may_see(project.id):
            errors.append(_missing(field_name, text))
            return set()
        return {project.id}
    if name in ("key", "parent"):
        issue = state.find(text)
        if issue is None or not ctx.may_see(issue.project_id):
            errors.append(f"An issue with key '{text}' does not exist for field '{field_name}'.")
            return set()
        return {issue.id}
    found: set[Any]
    if name == "status":
        found = {s.id for s in STATUSES.values() if s.name.lower() == lowered or s.id == lowered}
    elif name == "statusCategory":
        found = {
            c.id for c in CATEGORIES.values() if lowered in (c.name.lower(), c.key, str(c.id)) and c.id != 1
        }
    elif name in ("assignee", "reporter", "creator", "worklogAuthor"):
        found = {text} if text in state.users else set()
    elif name == "labels":
        return {lowered}
    elif name == "issuetype":
        found = {t.id for t in ISSUE_TYPES.values() if t.name.lower() == lowered or t.id == lowered}
    elif name == "priority":
        found = {p.id for p in PRIORITIES.values() if p.name.lower() == lowered or p.id == lowered}
    elif name == "resolution":
        if lowered == "unresolved":
            return {None}
        found = {r.id for r in RESOLUTIONS.values() if r.name.lower() == lowered or r.id == lowered}
    elif name == "sprint":
        found = {s.id for s in state.sprints.values() if s.name.lower() == lowered or str(s.id) == lowered}
    else:
        found = set()
    if not found:
        errors.append(_missing(field_name, text))
    return found


def _key_range(clause: Clause, ctx: Context, errors: list[str]) -> Predicate:
    operand = clause.operand
    if not isinstance(operand, Value):
        errors.append(
            f"The operator '{clause.op}' is not supported by the '{clause.field}' field for a list."
        )
        return _never
    ids = _resolve("key", clause.field, operand, ctx, errors)
    if not ids:
        return _never
    target = ctx.state.issue(next(iter(ids)))
    assert target is not None
    compare = _COMPARE[clause.op]
    project_id, number = target.project_id, target.number
    return lambda issue: issue.project_id == project_id and compare(issue.number, number)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _date_clause(clause: Clause, name: str, ctx: Context, errors: list[str]) -> Predicate:
    def value_of(issue: Issue) -> int | None:
        return issue.resolved if name == "resolutiondate" else getattr(issue, name)

    if clause.op in _EMPTY:
        empty = clause.op == "is"
        return lambda issue: (value_of(issue) is None) == empty
    operand = clause.operand
    if isinstance(operand, tuple | Empty):
        errors.append(f"The operator '{clause.op}' is not supported by the '{clause.field}' field.")
        return _never
    moment = date_value(operand, clause.field, ctx, errors)
    if moment is None:
        return _never
    if clause.op == "=":
        return lambda issue: (v := value_of(issue)) is not None and v - v % 60_000 == moment
    if clause.op == "!=":
        return lambda issue: (v := value_of(issue)) is not None and v - v % 60_000 != moment
    compare = _COMPARE[clause.op]
    return lambda issue: (v := value_of(issue)) is not None and compare(v, moment)


_ABSOLUTE = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?\Z")
_PERIOD = re.compile(r"([+-]?)\s*((?:\d+\s*[wdhm]?\s*)+)\Z", re.IGNORECASE)
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm]?)", re.IGNORECASE)
_PERIOD_MS = {"w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "": 60_000}


def period_ms(text: str) -> int | None:
    """``-5d`` -> -5 days in ms; ``None`` if ``text`` is not a period."""
    match = _PERIOD.match(text.strip())
    if match is None:
        return None
    total = sum(int(n) * _PERIOD_MS[unit.lower()] for n, unit in _PERIOD_PART.findall(match[2]))
    return -total if match[1] == "-" else total


def date_value(operand: Value | Function, field_name: str, ctx: Context, errors: list[str]) -> int | None:
    """Epoch ms (floored to the minute) that a JQL date operand means for this user; ``None`` if invalid."""
    if isinstance(operand, Function):
        moment = _date_function(operand, ctx)
        if moment is None:
            errors.append(f"Unable to find JQL function '{operand.render()}'.")
            return None
        return moment - moment % 60_000
    text = operand.text.strip()
    if not operand.quoted and text.isdigit():
        ms = int(text)  # an unquoted number is epoch milliseconds
        return ms - ms % 60_000
    match = _ABSOLUTE.match(text)
    if match:
        year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
        try:
            local = datetime(year, month, day, hour, minute, tzinfo=ctx.tz)
        except ValueError:
            local = None
        if local is not None:
            return int(local.timestamp()) * 1000
    period = period_ms(text)
    if period is not None:
        moment = ctx.now_ms + period
        return moment - moment % 60_000
    errors.append(f"Date value '{operand.text}' for field '{field_name}' is invalid. {DATE_FORMATS}")
    return None


def _date_function(function: Function, ctx: Context) -> int | None:
    fn = function.name.lower()
    if fn not in DATE_FUNCTIONS or len(function.args) > 1:
        return None
    offset = 0
    if function.args:
        raw = function.args[0].strip()
        # startOfDay("-1") is one day back: a bare number counts the function's own unit.
        unit = {"day": "d", "week": "w", "month": "d"}.get(
            fn.removeprefix("startof").removeprefix("endof"), "m"
        )
        parsed = period_ms(raw + unit if raw.lstrip("+-").isdigit() else raw)
        if parsed is None:
            return None
        offset = parsed * (30 if fn.endswith("month") and raw.lstrip("+-").isdigit() else 1)
    now = datetime.fromtimestamp(ctx.now_ms / 1000, ctx.tz)
    if fn == "now":
        moment = now
    else:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if fn.endswith("week"):
            day -= timedelta(days=(day.weekday() + 1) % 7)  # Jira's weeks start on Sunday
        elif fn.endswith("month"):
            day = day.replace(day=1)
        if fn.startswith("endof"):
            span = {"day": timedelta(days=1), "week": timedelta(days=7)}.get(fn[5:])
            if span is None:  # month
                following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
                span = following - day
            moment = day + span - timedelta(minutes=1)
        else:
            moment = day
    return int(moment.timestamp() * 1000) + offset


def _text_clause(clause: Clause, name: str, ctx: Context) -> Predicate:
    comments = ctx.state.comments

    def text_of(issue: Issue) -> str:
        if name == "summary":
            return issue.summary
        if name == "description":
            return adf_to_text(issue.description)
        if name == "environment":
            return adf_to_text(issue.environment)
        parts = [adf_to_text(comments[c].body) for c in issue.comments if c in comments]
        if name == "comment":
            return "\n".join(parts)
        return "\n".join(
            [issue.summary, adf_to_text(issue.description), adf_to_text(issue.environment), *parts]
        )

    if clause.op in _EMPTY:
        empty = clause.op == "is"
        return lambda issue: (not text_of(issue)) == empty
    operand = clause.operand
    phrase = operand.text if isinstance(operand, Value) else ""
    # Jira's text search matches words, not substrings of them; wildcards (*, ?) stretch a word.
    terms = [t.replace("?", ".") for t in re.findall(r"[\w*?]+", phrase.lower())]
    patterns = [
        re.compile(r"\b" + re.escape(t).replace(r"\*", r"\w*").replace(r"\.", r"\w") + r"\b") for t in terms
    ]

    def contains(issue: Issue) -> bool:
        text = text_of(issue).lower()
        return bool(patterns) and all(p.search(text) for p in patterns)

    return contains if clause.op == "~" else (lambda issue: not contains(issue))


# ----------------------------------------------------------------------------- webhook JQL filters

WEBHOOK_FIELDS = frozenset(
    {"issuekey", "key", "project", "issuetype", "type", "status", "assignee", "reporter"}
)


def check_webhook_filter(text: str) -> list[str]:
    """Problems with an app webhook's ``jqlFilter``: only a few fields and ``= != IN NOT IN`` are allowed."""
    try:
        query = parse(text)
    except JqlError as exc:
        return exc.messages
    problems: list[str] = []
    if query.order:
        problems.append("The JQL filter must not contain ORDER BY.")

    def walk(node: Node | None) -> None:
        if node is None:
            return
        if isinstance(node, And | Or):
            for part in node.parts:
                walk(part)
        elif isinstance(node, Not):
            walk(node.inner)
        else:
            if node.field.lower() not in WEBHOOK_FIELDS and not node.field.lower().startswith("cf["):
                problems.append(f"The clause {node.field} is unsupported")
            elif node.op not in _EQUALITY:
                problems.append(f"The operator {node.op.upper()} is unsupported")

    walk(query.where)
    if query.where is None:
        problems.append("The JQL filter is empty.")
    return problems
