"""Seeded Azure DevOps state (one project of the Agile process) and the WIQL subset the sandbox answers.

Timestamps are epoch milliseconds (Azure DevOps writes ``2026-01-02T03:04:05.678Z``); work item ids grow
with creation. The WIQL evaluator reads ``SELECT [System.Id] FROM WorkItems WHERE ... ORDER BY ...`` with
``AND``/``OR``/``NOT``, parentheses, ``= <> > >= < <=``, ``[NOT] IN (...)``, ``CONTAINS`` and the
``@project`` macro; a time in a date literal without ``timePrecision=true`` is refused as the service does.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .._clock import SEED_EPOCH
from .._seeding import draw_issue, issue_slots, next_touch, seed_person

ORGANIZATION = "acme"
PROJECT = "Widgets"
PROJECT_ID = "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c"
# The Agile process: work item type -> its states in order, with their categories.
STATES: dict[str, tuple[tuple[str, str], ...]] = {
    kind: (
        ("New", "Proposed"),
        ("Active", "InProgress"),
        ("Resolved", "Resolved"),
        ("Closed", "Completed"),
        ("Removed", "Removed"),
    )
    for kind in ("Issue", "Bug", "Task", "User Story")
}
LABELS = ("bug", "ops", "backend", "ui", "docs")
SENTENCES = ("", "It fails on every second run.", "Seen in production since Monday.", "See the attached log.")


@dataclass(slots=True)
class WorkItemComment:
    id: int
    work_item: int
    text: str
    author: str
    created: int
    modified: int


@dataclass(slots=True)
class WorkItem:
    id: int
    kind: str
    title: str
    description: str
    state: str
    assignee: str | None
    tags: list[str]
    priority: int
    created: int
    changed: int
    rev: int = 1
    comments: list[int] = field(default_factory=list)


@dataclass
class AdoState:
    items: dict[int, WorkItem] = field(default_factory=dict)
    comments: dict[int, WorkItemComment] = field(default_factory=dict)
    people: list[str] = field(default_factory=list)
    hooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_item: int = 1
    next_comment: int = 1

    def live_issues(self) -> list[WorkItem]:
        """Every work item not deleted (a deleted one leaves ``items``), in id order."""
        return [self.items[number] for number in sorted(self.items)]


def seed_state(
    rng: random.Random, *, issues: int, comments_per_issue: int, closed_ratio: float, users: int
) -> AdoState:
    state = AdoState(people=[f"{seed_person(i).handle('.')}@acme.example" for i in range(max(users, 1))])
    start = (SEED_EPOCH - 365 * 86_400) * 1000
    step, gap = issue_slots(start, SEED_EPOCH * 1000, issues, comments_per_issue + 1)
    for index in range(issues):
        draw = draw_issue(rng, state.people, SENTENCES, LABELS, 0.5)
        created = start + index * step
        closed = rng.random() < closed_ratio
        item = WorkItem(
            id=state.next_item,
            kind="Issue",
            title=draw.title,
            description=draw.body or "",
            state="Closed" if closed else ("Active" if rng.random() < 0.3 else "New"),
            assignee=draw.assignee,
            tags=draw.labels,
            priority=2,
            created=created,
            changed=created,
        )
        state.next_item += 1
        last = created
        for _ in range(comments_per_issue):
            last = next_touch(rng.randrange, last, gap, created + step - 1)
            comment = WorkItemComment(state.next_comment, item.id, "Looked into it.", draw.author, last, last)
            state.next_comment += 1
            state.comments[comment.id] = comment
            item.comments.append(comment.id)
        item.changed = next_touch(rng.randrange, last, gap, created + step - 1)
        state.items[item.id] = item
    return state


def iso_ms(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000)) + f".{epoch_ms % 1000:03d}Z"


# ---- WIQL ------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(\[[^\]]+\])|('(?:[^']|'')*')|(@\w+)|(-?\d+)|(>=|<=|<>|=|>|<|\(|\)|,)|([A-Za-z]+))", re.S
)


class WiqlError(ValueError):
    """A query the service refuses (400 with its TF/VS message)."""


def _date_ms(text: str, time_precision: bool) -> int:
    if not time_precision and "T" in text:
        raise WiqlError(
            "VS402336: You cannot supply a time with the date when running a query using date precision."
        )
    value = text[:-1] + "+00:00" if text.endswith("Z") else text
    moment = datetime.fromisoformat(value)
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


class Wiql:
    """A parsed flat query: ``matches(item)`` and ``order`` (field names, each ascending or not)."""

    FIELDS: dict[str, Callable[[WorkItem], Any]] = {
        "system.id": lambda i: i.id,
        "system.teamproject": lambda i: PROJECT,
        "system.state": lambda i: i.state,
        "system.title": lambda i: i.title,
        "system.description": lambda i: i.description,
        "system.workitemtype": lambda i: i.kind,
        "system.changeddate": lambda i: i.changed,
        "system.createddate": lambda i: i.created,
    }

    def __init__(self, text: str, *, time_precision: bool) -> None:
        self.time_precision = time_precision
        self.tokens = self._lex(text)
        self.pos = 0
        self._expect_words("SELECT")
        while not self._peek_word("FROM"):
            self._next()
        self._expect_words("FROM", "WORKITEMS")
        self.where: Callable[[WorkItem], bool] = lambda _: True
        if self._peek_word("WHERE"):
            self._next()
            self.where = self._or()
        self.order: list[tuple[str, bool]] = []
        if self._peek_word("ORDER"):
            self._expect_words("ORDER", "BY")
            while self.pos < len(self.tokens):
                name = self._field()
                ascending = True
                if self._peek_word("ASC") or self._peek_word("DESC"):
                    ascending = self._next()[1].upper() == "ASC"
                self.order.append((name, ascending))
                if self.pos < len(self.tokens) and self.tokens[self.pos][1] == ",":
                    self._next()
        if self.pos != len(self.tokens):
            raise WiqlError("TF51006: The query statement is missing a clause or is malformed.")

    @staticmethod
    def _lex(text: str) -> list[tuple[int, str]]:
        tokens, pos = [], 0
        text = text.rstrip()
        while pos < len(text):
            found = _TOKEN.match(text, pos)
            if found is None or found.end() == pos:
                raise WiqlError(
                    f"TF51005: The query references an unexpected token near {text[pos : pos + 20]!r}."
                )
            kind = found.lastindex or 0
            tokens.append((kind, found.group(kind)))
            pos = found.end()
        return tokens

    def _next(self) -> tuple[int, str]:
        if self.pos >= len(self.tokens):
            raise WiqlError("TF51006: The query statement is missing a clause or is malformed.")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def _peek_word(self, word: str) -> bool:
        return (
            self.pos < len(self.tokens)
            and self.tokens[self.pos] == (6, self.tokens[self.pos][1])
            and (self.tokens[self.pos][1].upper() == word)
        )

    def _expect_words(self, *words: str) -> None:
        for word in words:
            if not self._peek_word(word):
                raise WiqlError(f"TF51006: Expecting {word}.")
            self._next()

    def _field(self) -> str:
        kind, text = self._next()
        name = text.strip("[]").lower()
        if kind != 1 or name not in self.FIELDS:
            raise WiqlError(f"TF51005: The query references a field that does not exist. {text}")
        return name

    def _or(self) -> Callable[[WorkItem], bool]:
        parts = [self._and()]
        while self._peek_word("OR"):
            self._next()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda item: any(p(item) for p in parts)

    def _and(self) -> Callable[[WorkItem], bool]:
        parts = [self._term()]
        while self._peek_word("AND"):
            self._next()
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else lambda item: all(p(item) for p in parts)

    def _term(self) -> Callable[[WorkItem], bool]:
        if self._peek_word("NOT"):
            self._next()
            inner = self._term()
            return lambda item: not inner(item)
        if self.pos < len(self.tokens) and self.tokens[self.pos][1] == "(":
            self._next()
            inner = self._or()
            if self._next()[1] != ")":
                raise WiqlError("TF51006: Expecting ).")
            return inner
        name = self._field()
        read = self.FIELDS[name]
        negate = False
        if self._peek_word("NOT"):
            self._next()
            negate = True
        _, op = self._next()
        if op.upper() == "IN":
            if self._next()[1] != "(":
                raise WiqlError("TF51006: Expecting (.")
            values = [self._value(name)]
            while self._next()[1] == ",":
                values.append(self._value(name))
            return lambda item: (read(item) in values) != negate
        if op.upper() == "CONTAINS":
            text = str(self._value(name)).lower()
            return lambda item: (text in str(read(item)).lower()) != negate
        value = self._value(name)
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b,
            "<>": lambda a, b: a != b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }
        if op not in compare:
            raise WiqlError(f"TF51005: unexpected operator {op}")
        check = compare[op]
        if name == "system.changeddate" or name == "system.createddate":
            # A literal names a whole second (time precision) or a whole day: compare at that grain.
            grain = 1000 if self.time_precision else 86_400_000
            return lambda item: check(read(item) // grain * grain, value)
        return lambda item: check(read(item), value)

    def _value(self, name: str) -> Any:
        kind, text = self._next()
        if kind == 3:
            if text.lower() != "@project":
                raise WiqlError(f"TF51011: The specified macro {text} is not supported here.")
            return PROJECT
        if kind == 4:
            return int(text)
        if kind != 2:
            raise WiqlError(f"TF51005: Expecting a value near {text}.")
        literal = text[1:-1].replace("''", "'")
        if name in ("system.changeddate", "system.createddate"):
            try:
                return _date_ms(literal, self.time_precision)
            except WiqlError:
                raise
            except ValueError as exc:
                raise WiqlError(f"TF51009: invalid date {literal!r}") from exc
        return literal

    def run(self, items: list[WorkItem]) -> list[WorkItem]:
        found = [item for item in items if self.where(item)]
        for name, ascending in reversed(self.order or [("system.id", True)]):
            found.sort(key=self.FIELDS[name], reverse=not ascending)
        return found
