"""Fault rules for the control API (``POST /_sandbox/faults``): which requests fail, and how.

A rule matches a route key (``"GET /repos/{owner}/{repo}/issues"``), a path template on any method
(``"/repos/{owner}/{repo}/issues"``), a shell-style pattern (``"GET /repos/*"``) or ``"*"``. Every matching
request counts toward the rule; the rule fires on every ``every``-th one and expires after firing
``times`` times (``None``: never expires). Rules are checked in order and the first rule whose turn it is
applies. A fired rule may delay the request, reset the connection, answer with ``status`` in the
provider's error shape (with ``Retry-After`` when ``retry_after_s`` is set), truncate the JSON body, or
exhaust the primary rate limit for ``rate_limit_reset_s`` seconds.

One route serving every query (GraphQL's ``POST /graphql``) defeats route matching alone, so a rule may also
name an ``operation``: a shell-style pattern matched against the request's GraphQL operation name (the body's
``operationName``, else the name of the document's first operation, see :func:`graphql_operation`). A rule
with an ``operation`` never matches a request that names none.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any

MAX_DELAY_S = 60.0

_FIELDS = {
    "route",
    "method",
    "status",
    "times",
    "every",
    "delay_s",
    "reset_connection",
    "malformed_body",
    "rate_limit_reset_s",
    "retry_after_s",
    "message",
    "operation",
}

# The name of a document's first operation: ``query Issues(...)``, ``mutation IssueCreate {``.
_OPERATION = re.compile(rb"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def graphql_operation(body: bytes) -> str | None:
    """The GraphQL operation a request body runs: ``operationName``, else its document's first named one.

    A body that is not a GraphQL request (not JSON, no ``query``) names none. The regex is enough for what a
    fault rule targets and keeps the core free of a GraphQL parser; the provider's handler still parses.
    """
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    named = document.get("operationName")
    if isinstance(named, str) and named:
        return named
    query = document.get("query")
    found = _OPERATION.search(query.encode()) if isinstance(query, str) else None
    return found.group(1).decode() if found else None


@dataclass(slots=True)
class FaultRule:
    route: str = "*"
    method: str | None = None
    status: int | None = None
    times: int | None = None
    every: int = 1
    delay_s: float = 0.0
    reset_connection: bool = False
    malformed_body: bool = False
    rate_limit_reset_s: float | None = None
    retry_after_s: int | None = None
    message: str | None = None
    operation: str | None = None
    # bookkeeping, reported by GET /_sandbox/faults
    id: int = 0
    seen: int = 0
    fired: int = 0

    @property
    def expired(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, template: str, operation: str | None = None) -> bool:
        pattern = self.route.strip()
        if self.method and self.method.upper() != method:
            return False
        if self.operation and not (operation and fnmatchcase(operation, self.operation)):
            return False
        if pattern == "*":
            return True
        head, _, rest = pattern.partition(" ")
        if rest and head.isalpha() and head.isupper():
            return fnmatchcase(f"{method} {template}", f"{head} {rest.strip()}")
        return fnmatchcase(template, pattern)

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def parse_rule(raw: Any) -> FaultRule:
    """Validate one rule from the control API; ``ValueError`` says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("each rule must be a JSON object")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown rule fields: {', '.join(unknown)}")
    rule = FaultRule()
    rule.route = _typed(raw, "route", str, "*")
    rule.method = _typed(raw, "method", str, None)
    rule.status = _typed(raw, "status", int, None)
    if rule.status is not None and not 400 <= rule.status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    rule.times = _typed(raw, "times", int, None)
    if rule.times is not None and rule.times < 1:
        raise ValueError("times must be >= 1 (omit it for a rule that never expires)")
    rule.every = _typed(raw, "every", int, 1)
    if rule.every < 1:
        raise ValueError("every must be >= 1")
    rule.delay_s = float(_typed(raw, "delay_s", (int, float), 0.0))
    if not 0 <= rule.delay_s <= MAX_DELAY_S:
        raise ValueError(f"delay_s must be between 0 and {MAX_DELAY_S:g}")
    rule.reset_connection = _typed(raw, "reset_connection", bool, False)
    rule.malformed_body = _typed(raw, "malformed_body", bool, False)
    reset_s = _typed(raw, "rate_limit_reset_s", (int, float), None)
    rule.rate_limit_reset_s = None if reset_s is None else float(reset_s)
    if rule.rate_limit_reset_s is not None and not 0 < rule.rate_limit_reset_s <= 86_400:
        raise ValueError("rate_limit_reset_s must be between 0 and 86400")
    rule.retry_after_s = _typed(raw, "retry_after_s", int, None)
    rule.message = _typed(raw, "message", str, None)
    rule.operation = _typed(raw, "operation", str, None)
    if rule.operation is not None and not rule.operation.strip():
        raise ValueError("operation must name a GraphQL operation (or a pattern of names)")
    actions = (
        rule.status,
        rule.delay_s or None,
        rule.reset_connection or None,
        rule.malformed_body or None,
        rule.rate_limit_reset_s,
    )
    if all(action is None for action in actions):
        raise ValueError(
            "a rule needs at least one of status, delay_s, reset_connection, malformed_body, "
            "rate_limit_reset_s"
        )
    return rule


def _typed(raw: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = raw.get(name, default)
    if value is None or value is default:
        return value
    # bool is an int in Python; a rule field that wants a number must not take true/false.
    if isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{name} must be a number")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{name} must be of type {names}")
    return value


@dataclass(slots=True)
class FaultBook:
    """The active rules of one sandbox, safe to use from many request threads."""

    _rules: list[FaultRule] = field(default_factory=list)
    _next_id: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rules: list[FaultRule]) -> list[FaultRule]:
        with self._lock:
            for rule in rules:
                rule.id = self._next_id
                self._next_id += 1
                self._rules.append(rule)
            return list(self._rules)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    @property
    def names_operations(self) -> bool:
        """Whether a rule names a GraphQL operation: only then is a request's body worth reading to match."""
        with self._lock:
            return any(rule.operation for rule in self._rules)

    def match(self, method: str, template: str, operation: str | None = None) -> FaultRule | None:
        """Count the request against every matching rule; return the first whose turn it is."""
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if rule.expired or not rule.matches(method, template, operation):
                    continue
                rule.seen += 1
                if chosen is None and rule.seen % rule.every == 0:
                    rule.fired += 1
                    chosen = rule
            self._rules = [rule for rule in self._rules if not rule.expired]
        return chosen
