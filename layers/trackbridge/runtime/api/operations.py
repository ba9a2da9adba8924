"""What ``app`` must know about an operation before Powertools parses anything: its id, the scope it needs,
whether it takes a JSON body and whether it pages with a cursor.

The scope is declared on the route itself, ``openapi_extensions=requires(WRITE)``, which also documents it
as the operation's ``x-required-scope``; ``app`` checks it ahead of the resolver. It cannot be checked
later: Powertools validates the request before any middleware or dependency runs, so a key without the scope
that sent a bad body would get a 422 (and learn what a valid body looks like) instead of the 403 it is owed.
Routes keep their own ``caller.require(...)`` as well; when both run, the stricter one decides.

The table is built once per process from the resolver's routes and the parameters Powertools read from
their signatures (not from the OpenAPI document, which a cold start should not have to generate).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from re import Pattern
from typing import Any, Protocol

from aws_lambda_powertools.event_handler.openapi.params import Dependant, Form
from pydantic import TypeAdapter

REQUIRED_SCOPE = "x-required-scope"


def requires(scope: str) -> dict[str, Any]:
    """The route's ``openapi_extensions``: the API key scope it needs, checked before the body is read."""
    return {REQUIRED_SCOPE: scope}


class RouteLike(Protocol):
    """The part of a Powertools ``Route`` the table reads."""

    method: str
    rule: Pattern[str]
    openapi_path: str
    operation_id: str
    openapi_extensions: dict[str, Any] | None
    dependant: Dependant


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the OpenAPI path template, e.g. /v1/connections/{connection_id}
    operation_id: str
    scope: str | None
    body_type: Any  # the JSON body's type (a model, or a model | None), None without a JSON body
    paged: bool

    @property
    def json_body(self) -> bool:
        return self.body_type is not None

    @cached_property
    def body(self) -> TypeAdapter[Any]:
        """Validates the JSON body (built on first use: a cold start pays only for the routes it serves)."""
        return TypeAdapter(self.body_type)


def _json_body_type(dependant: Dependant) -> Any:
    # One body parameter that is not a form or file field: Powertools reads it from a JSON body.
    fields = [f for f in dependant.body_params if not isinstance(f.field_info, Form)]
    return fields[0].field_info.annotation if len(fields) == 1 else None


class OperationTable:
    """The operations of a resolver, matched by method and concrete path the way Powertools routes them."""

    def __init__(self, routes: Iterable[RouteLike]) -> None:
        self._entries: list[tuple[Pattern[str], Operation]] = []
        for route in routes:
            operation = Operation(
                method=route.method,
                path=route.openapi_path,
                operation_id=route.operation_id,
                scope=(route.openapi_extensions or {}).get(REQUIRED_SCOPE),
                body_type=_json_body_type(route.dependant),
                paged=any(f.alias == "cursor" for f in route.dependant.query_params),
            )
            self._entries.append((route.rule, operation))

    def match(self, method: str, path: str) -> Operation | None:
        """The operation Powertools would route ``method path`` to, or None (its 404 or 405)."""
        return next(
            (op for rule, op in self._entries if op.method == method.upper() and rule.match(path)), None
        )

    def __iter__(self) -> Iterator[Operation]:
        return (op for _, op in self._entries)


__all__ = ["REQUIRED_SCOPE", "Operation", "OperationTable", "requires"]
