"""A GraphQL document's complexity, scored as Linear documents it (linear.app/developers/rate-limiting):
each object one point, each scalar field 0.1, a connection's selection multiplied by its ``first``
(50 when not given), the total rounded up. ``X-Complexity`` reports it; the complexity bucket spends it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

DEFAULT_FIRST = 50


def _first(node: FieldNode, variables: Mapping[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return given if isinstance(given, int) else DEFAULT_FIRST
    return None


def _score(
    selection: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    depth: int = 0,
) -> float:
    if depth > 20:  # bounded: validation already refuses fragment cycles
        return 0.0
    total = 0.0
    for node in selection.selections:
        if isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                total += _score(fragment.selection_set, fragments, variables, depth + 1)
        elif isinstance(node, InlineFragmentNode):
            total += _score(node.selection_set, fragments, variables, depth + 1)
        elif isinstance(node, FieldNode):
            if node.selection_set is None:
                total += 0.1
                continue
            inner = _score(node.selection_set, fragments, variables, depth + 1)
            is_connection = any(
                isinstance(s, FieldNode) and s.name.value in ("nodes", "edges")
                for s in node.selection_set.selections
            )
            first = _first(node, variables)
            multiplier = first if first is not None else (DEFAULT_FIRST if is_connection else 1)
            total += 1 + inner * max(multiplier, 1) if is_connection else 1 + inner
    return total


def complexity(document: DocumentNode, variables: Mapping[str, Any], operation: str | None = None) -> int:
    """The points one operation of ``document`` costs (the named one, or the only one)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next((o for o in operations if o.name and o.name.value == operation), None) or (
        operations[0] if operations else None
    )
    if chosen is None:
        return 0
    return max(1, math.ceil(_score(chosen.selection_set, fragments, variables)))


__all__ = ["complexity"]
