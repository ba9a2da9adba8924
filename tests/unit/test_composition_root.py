"""The composition root passes collaborators in: nothing it builds imports it back.

``runtime/container.py`` imports the modules whose objects it builds (inside its factories). None of those,
nor anything they import inside ``trackbridge``, may import the container: only the edges do (the handlers
in ``functions/``, the API routes, the CLI). Imports are read with ``ast``, lazy ones included.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers"
CONTAINER = "trackbridge.runtime.container"


def _path(module: str) -> Path | None:
    base = LAYER.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str) -> set[str]:
    path = _path(module)
    if path is None:
        return set()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found.update(n for n in names if n.startswith("trackbridge.") and _path(n) is not None)
    return found


def _reachable_from(start: set[str]) -> dict[str, str]:
    """Every trackbridge module reachable from ``start``, each with the module that first imported it."""
    seen = {module: "container" for module in start}
    todo = list(start)
    while todo:
        module = todo.pop()
        for imported in _imports(module):
            if imported not in seen and imported != CONTAINER:
                seen[imported] = module
                todo.append(imported)
    return seen


def test_nothing_the_container_builds_imports_it() -> None:
    built = _imports(CONTAINER) - {CONTAINER}
    assert "trackbridge.runtime.tracker_actions" in built
    assert "trackbridge.runtime.sync.adapters" in built
    reachable = _reachable_from(built)
    back = sorted(module for module in reachable if CONTAINER in _imports(module))
    assert back == [], f"imports the composition root it is built by: {back}"


def test_the_edges_may_call_the_container() -> None:
    # The sync and authorizer handlers take their collaborators from the container in functions/.
    functions = LAYER.parent / "functions"
    for name in ("sync.py", "authorizer.py"):
        assert "from trackbridge.runtime import container" in (functions / name).read_text(), name


def test_reset_forgets_every_cached_service() -> None:
    """A cached factory that ``reset`` misses keeps serving the previous stack's table and settings: the
    scan-links example of the README failed that way after other tests had run in the same process."""
    from trackbridge.runtime import container

    resets = inspect.getsource(container.reset)
    missed = [
        name
        for name, value in vars(container).items()
        if getattr(value, "__module__", "") == container.__name__
        and callable(getattr(value, "cache_clear", None))
        and value not in container._FACTORIES
        and f"{name}.cache_clear()" not in resets
    ]

    assert missed == []
