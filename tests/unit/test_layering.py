"""The import direction ``functions -> runtime -> providers | storage -> domain`` is a build failure to break,
and so is an import cycle among the modules of a layer (``runtime``'s composition root above all).

Every module's imports are read with ``ast`` (no module is executed), including imports inside functions,
so a lazy import cannot sneak a dependency past the rules. An import is resolved to the absolute name it
stands for before it is judged, so none of these gets through:

* a relative import that climbs into another layer (``from ..storage import keys`` inside ``providers``);
* a layer imported as a name of the package (``from trackbridge import runtime`` inside ``domain``): a
  from-import is judged by ``module.name``, not by ``module`` alone;
* ``importlib.import_module("trackbridge.runtime...")`` (also with ``package=`` for a relative name) and
  ``__import__("...")`` with a literal name. A dynamic import whose name is not a literal cannot be checked,
  so it is itself a violation: name the module in the source.

The cycle check builds the import graph of each layer's modules (``runtime`` first of all): an edge for
every import, at the top or inside a function, except those under ``if TYPE_CHECKING:`` (they never run).
``from package import name`` is an edge to ``package.name`` when that is a module, else to ``package``.
Importing ``a.b.c`` also runs the ``__init__`` of ``a.b`` first, so that is an edge too, unless ``a.b``
encloses the importing module (it is then already in ``sys.modules``, and a submodule import does not wait
for its ``__init__`` to finish). Every elementary cycle is reported, with the line of each import on it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "trackbridge"

# For each layer: the trackbridge layers and third-party roots it may import. Stdlib is always allowed.
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    # defusedxml: the JUnit report parser (domain.junit), pure parsing with DTDs and entities refused.
    "domain": (set(), {"pydantic", "pydantic_core", "jinja2", "markupsafe", "annotated_types", "defusedxml"}),
    # httpcore is httpx's own engine: the outbound policy plugs its network backend in (providers.egress).
    "providers": ({"domain"}, {"httpx", "httpcore", "pydantic", "markdown_it", "mdurl"}),
    "storage": ({"domain"}, {"boto3", "botocore", "pydantic"}),
    # cryptography seals the API's pagination cursors (AES-GCM, HKDF): runtime.api.cursors.
    "runtime": (
        {"domain", "providers", "storage", "runtime"},
        {"boto3", "botocore", "httpx", "pydantic", "aws_lambda_powertools", "jinja2", "cryptography"},
    ),
}
FORBIDDEN_EVERYWHERE = {"functions", "infra", "tests", "moto"}
# More elementary cycles than this are not listed: the first ones are enough to start breaking them.
MAX_CYCLES = 200


# ------------------------------------------------------------------------------------------ reading imports


@dataclass(frozen=True)
class Imported:
    """One import as the module's source states it, resolved to an absolute dotted name.

    ``name`` is what is imported: the module of ``import a.b``; ``module.name`` for each name of
    ``from module import name`` (``name`` may be a module or an attribute). ``how`` says which statement
    or call it was; an unresolvable one (non-literal name, a relative import above the top package) has
    ``name`` set to what could be read and ``resolved`` False.
    """

    name: str
    line: int
    how: str  # "import", "from", "relative", "importlib", "__import__"
    type_only: bool = False
    resolved: bool = True

    def __str__(self) -> str:
        state = "" if self.resolved else ", cannot be checked"
        return f"{self.name} (line {self.line}, {self.how}{state})"


def module_name(path: Path, directory: Path, package: str) -> str:
    """The dotted name of ``path``, a file below ``directory``, which is the package ``package``."""
    parts = list(path.relative_to(directory).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str | None:
    """The absolute name of a relative ``from``-import base, or None when it climbs above the top."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(base):
        return None
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


_DYNAMIC_IMPORTS = {"import_module": "importlib", "__import__": "__import__"}


def _dynamic_import(call: ast.Call) -> str | None:
    """``"importlib"`` or ``"__import__"`` when ``call`` imports a module by name (``import_module(...)``,
    ``importlib.import_module(...)``, ``__import__(...)``, ``builtins.__import__(...)``), else None."""
    func = call.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return _DYNAMIC_IMPORTS.get(called)


class _ImportReader(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.found: list[Imported] = []
        self._type_only = 0

    def _add(self, name: str, node: ast.AST, how: str, *, resolved: bool = True) -> None:
        line = getattr(node, "lineno", 0)
        self.found.append(Imported(name, line, how, type_only=self._type_only > 0, resolved=resolved))

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        if _is_type_checking(node.test):
            self._type_only += 1
            for child in node.body:
                self.visit(child)
            self._type_only -= 1
        else:
            for child in node.body:
                self.visit(child)
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node, "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = _absolute(self.module, self.is_package, node.level, node.module)
            if base is None:
                self._add("." * node.level + (node.module or ""), node, "relative", resolved=False)
                return
            how = "relative"
        else:
            base, how = node.module or "", "from"
        for alias in node.names:
            self._add(base if alias.name == "*" else f"{base}.{alias.name}", node, how)

    def visit_Call(self, node: ast.Call) -> None:
        how = _dynamic_import(node)
        if how is not None:
            name = _literal(node.args[0]) if node.args else None
            package = next((_literal(k.value) for k in node.keywords if k.arg == "package"), None)
            if name is not None and name.startswith(".") and how == "importlib":
                level = len(name) - len(name.lstrip("."))
                base = _absolute(package, True, level, name.lstrip(".") or None) if package else None
                if base is None:
                    self._add(name, node, how, resolved=False)
                else:
                    self._add(base, node, how)
            elif name is not None:
                self._add(name, node, how)
            else:
                self._add(
                    f"{how}({ast.unparse(node.args[0]) if node.args else ''})", node, how, resolved=False
                )
        self.generic_visit(node)


def imports(path: Path, module: str) -> list[Imported]:
    """Every import of the file ``path``, whose dotted name is ``module``, in source order."""
    tree = ast.parse(path.read_text(), filename=str(path))
    reader = _ImportReader(module, is_package=path.name == "__init__.py")
    reader.visit(tree)
    return sorted(reader.found, key=lambda i: i.line)


# --------------------------------------------------------------------------------------------- the layers


def _is_stdlib(root: str) -> bool:
    return root in sys.stdlib_module_names or root == "__future__"


def violations(layer: str, path: Path, module: str | None = None) -> list[Imported]:
    """The imports of ``path`` (a module of ``layer``; ``module`` its dotted name, by default read from
    its place below ``layers/``) that point outward, leave the allowed third parties, or cannot be read."""
    inner_layers, third_party = ALLOWED[layer]
    module = module or module_name(path, PACKAGE, "trackbridge")
    found = []
    for imported in imports(path, module):
        parts = imported.name.split(".")
        root = parts[0]
        if not imported.resolved or root in FORBIDDEN_EVERYWHERE:
            found.append(imported)
        elif root == "trackbridge":
            if len(parts) > 1 and parts[1] in ALLOWED and parts[1] != layer and parts[1] not in inner_layers:
                found.append(imported)
        elif not _is_stdlib(root) and root not in third_party:
            found.append(imported)
    return found


def _names(found: list[Imported]) -> list[str]:
    return [i.name for i in found]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_point_inward(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"layer {layer} has no modules"
    problems = {str(f.relative_to(ROOT)): [str(i) for i in v] for f in files if (v := violations(layer, f))}
    assert problems == {}, f"{layer} imports what it must not: {problems}"


def test_functions_never_import_infra_or_tests() -> None:
    problems = {}
    for f in sorted((ROOT / "functions").rglob("*.py")):
        found = imports(f, module_name(f, ROOT / "functions", "functions"))
        bad = [str(i) for i in found if not i.resolved or i.name.split(".")[0] in {"infra", "tests", "moto"}]
        if bad:
            problems[f.name] = bad
    assert problems == {}


# ---------------------------------------------------------------------------------------------- the cycles

Graph = dict[str, dict[str, int]]  # module -> {imported module of the same package: line of the import}


def import_graph(directory: Path, package: str) -> Graph:
    """The imports among the modules below ``directory`` (the package ``package``), as run at import or
    call time: ``if TYPE_CHECKING:`` imports left out."""
    files = {module_name(f, directory, package): f for f in sorted(directory.rglob("*.py"))}
    graph: Graph = {module: {} for module in files}
    for module, path in files.items():
        for imported in imports(path, module):
            if imported.type_only or not imported.resolved:
                continue
            # The longest prefix that is one of the package's modules: ``from a.b import c`` is a.b.c when
            # c is a module, else a.b.
            target = imported.name
            while target and target not in graph:
                target = target.rpartition(".")[0]
            # The packages whose __init__ the import runs first, but not those already running it.
            enclosing = {module, *_packages_of(module)}
            for runs in [target, *(package for package in _packages_of(target) if package not in enclosing)]:
                if runs in graph:
                    graph[module].setdefault(runs, imported.line)
    return graph


def _packages_of(module: str) -> list[str]:
    """The packages enclosing ``module``, innermost first: ``a.b.c`` -> ``a.b``, ``a``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def cycles(graph: Mapping[str, Mapping[str, int]]) -> list[tuple[str, ...]]:
    """Every elementary cycle of ``graph``, each once, starting at its least module (at most MAX_CYCLES)."""
    found: list[tuple[str, ...]] = []
    for start in sorted(graph):
        path = [start]
        pending: list[Iterator[str]] = [iter(sorted(graph[start]))]
        while pending and len(found) < MAX_CYCLES:
            nxt = next(pending[-1], None)
            if nxt is None:
                pending.pop()
                path.pop()
            elif nxt == start:
                found.append(tuple(path))
            elif nxt > start and nxt not in path and nxt in graph:
                path.append(nxt)
                pending.append(iter(sorted(graph[nxt])))
    return found


def describe(cycle: tuple[str, ...], graph: Mapping[str, Mapping[str, int]]) -> str:
    """``a:12 -> b:30 -> a``: each module with the line of its import of the next."""
    hops = [f"{m}:{graph[m][cycle[(i + 1) % len(cycle)]]}" for i, m in enumerate(cycle)]
    return " -> ".join([*hops, cycle[0]])


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_has_no_import_cycle(layer: str) -> None:
    # runtime is the layer issue 13 is about (the composition root passes collaborators in; nothing inside
    # imports it back); the inner layers are held to the same rule, which they meet.
    graph = import_graph(PACKAGE / layer, f"trackbridge.{layer}")
    assert len(graph) > 10, f"the {layer} package was not read"
    found = [describe(c, graph) for c in cycles(graph)]
    assert found == [], f"import cycles in {layer}:\n" + "\n".join(found)


# ------------------------------------------------------------------ the checker, shown failing on each case


def _module(tmp_path: Path, relative: str, source: str) -> Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


def test_checker_catches_an_outward_import(tmp_path: Path) -> None:
    # Given a domain module that imports boto3 and storage, one of them lazily
    bad = _module(
        tmp_path,
        "bad.py",
        "import boto3\nfrom trackbridge.storage import keys\n\ndef f():\n    import httpx\n",
    )
    # Then the checker reports all three, including the lazy one
    assert _names(violations("domain", bad, "trackbridge.domain.bad")) == [
        "boto3",
        "trackbridge.storage.keys",
        "httpx",
    ]


@pytest.mark.parametrize(
    ("module", "source", "reported"),
    [
        ("trackbridge.providers.github", "from ..storage import keys\n", "trackbridge.storage.keys"),
        ("trackbridge.providers.github", "from .. import storage\n", "trackbridge.storage"),
        (
            "trackbridge.providers.github",
            "from ..runtime.container import build\n",
            "trackbridge.runtime.container.build",
        ),
        (
            "trackbridge.providers.sub.deep",
            "def f():\n    from ...storage.table import Table\n",
            "trackbridge.storage.table.Table",
        ),
        # A package's __init__ is the package itself: one dot is the package, two climb out of it.
        ("trackbridge.providers", "from ..storage import keys\n", "trackbridge.storage.keys"),
    ],
)
def test_checker_catches_a_relative_import_that_climbs_a_layer(
    tmp_path: Path, module: str, source: str, reported: str
) -> None:
    # Given a providers module whose relative import resolves into an outer or sibling layer
    name = "__init__.py" if module == "trackbridge.providers" else "mod.py"
    bad = _module(tmp_path, name, source)
    # Then the checker reports it under its absolute name
    found = violations("providers", bad, module)
    assert _names(found) == [reported]
    assert found[0].how == "relative"


def test_checker_allows_a_relative_import_inside_its_layer(tmp_path: Path) -> None:
    good = _module(tmp_path, "mod.py", "from .base import HttpTracker\nfrom . import pagination\n")
    assert violations("providers", good, "trackbridge.providers.github") == []


def test_checker_catches_a_relative_import_above_the_top_package(tmp_path: Path) -> None:
    bad = _module(tmp_path, "mod.py", "from .... import anything\n")
    found = violations("providers", bad, "trackbridge.providers.github")
    assert [(i.name, i.resolved) for i in found] == [("....", False)]


@pytest.mark.parametrize(
    ("layer", "source", "reported"),
    [
        ("domain", "from trackbridge import runtime\n", "trackbridge.runtime"),
        ("domain", "from trackbridge import errors_helper, storage\n", "trackbridge.storage"),
        ("providers", "def f():\n    from trackbridge import storage as s\n", "trackbridge.storage"),
        ("storage", "from trackbridge import providers\n", "trackbridge.providers"),
    ],
)
def test_checker_catches_a_layer_imported_from_the_package(
    tmp_path: Path, layer: str, source: str, reported: str
) -> None:
    # Given ``from trackbridge import <outer layer>``
    bad = _module(tmp_path, "mod.py", source)
    # Then the checker reports the layer it names
    assert _names(violations(layer, bad, f"trackbridge.{layer}.mod")) == [reported]


@pytest.mark.parametrize(
    ("source", "reported", "how"),
    [
        (
            'import importlib\nimportlib.import_module("trackbridge.runtime.container")\n',
            "trackbridge.runtime.container",
            "importlib",
        ),
        (
            "from importlib import import_module\n\n"
            "def f():\n    return import_module('trackbridge.storage.keys')\n",
            "trackbridge.storage.keys",
            "importlib",
        ),
        (
            'import importlib\nimportlib.import_module(".container", package="trackbridge.runtime")\n',
            "trackbridge.runtime.container",
            "importlib",
        ),
        ('__import__("trackbridge.runtime")\n', "trackbridge.runtime", "__import__"),
        ('import builtins\nbuiltins.__import__("boto3")\n', "boto3", "__import__"),
    ],
)
def test_checker_catches_an_import_by_literal_name(
    tmp_path: Path, source: str, reported: str, how: str
) -> None:
    # Given a domain module that imports an outer layer (or a third party) by a literal name
    bad = _module(tmp_path, "mod.py", source)
    # Then the checker reports it like any import statement
    found = violations("domain", bad, "trackbridge.domain.mod")
    assert [(i.name, i.how) for i in found] == [(reported, how)]


def test_checker_catches_an_import_it_cannot_read(tmp_path: Path) -> None:
    # Given a dynamic import whose name is computed
    bad = _module(
        tmp_path,
        "mod.py",
        'import importlib\nlayer = "runtime"\nimportlib.import_module(f"trackbridge.{layer}")\n',
    )
    # Then it is reported: a name the checker cannot read could be any layer
    found = violations("domain", bad, "trackbridge.domain.mod")
    assert [(i.how, i.resolved) for i in found] == [("importlib", False)]


def _package(tmp_path: Path, modules: Mapping[str, str]) -> Path:
    root = tmp_path / "runtime"
    _module(tmp_path, "runtime/__init__.py", "")
    for relative, source in modules.items():
        _module(root, relative, source)
    return root


def _cycles_of(root: Path) -> list[str]:
    graph = import_graph(root, "trackbridge.runtime")
    return [describe(c, graph) for c in cycles(graph)]


def test_cycle_check_finds_a_cycle_closed_by_an_import_inside_a_function(tmp_path: Path) -> None:
    # Given container -> actions at the top, and actions -> container inside a function
    root = _package(
        tmp_path,
        {
            "container.py": "from trackbridge.runtime.actions import Actions\n",
            "actions.py": "class Actions:\n    def pool(self):\n"
            "        from trackbridge.runtime import container\n",
        },
    )
    # Then the cycle is reported, with the line of each import
    assert _cycles_of(root) == [
        "trackbridge.runtime.actions:3 -> trackbridge.runtime.container:1 -> trackbridge.runtime.actions"
    ]


def test_cycle_check_finds_the_runtime_cycle_as_it_was(tmp_path: Path) -> None:
    # Given the shape of the cycle issue 13 names: container -> actions -> sync.adapters -> container, and
    # api_keys and sync.handler importing the container
    root = _package(
        tmp_path,
        {
            "container.py": "from trackbridge.runtime import actions\n"
            "from trackbridge.runtime.api_keys import Keys\n",
            "actions.py": "from trackbridge.runtime.sync.adapters import pool\n",
            "api_keys.py": "class Keys:\n    def f(self):\n"
            "        from trackbridge.runtime.container import container\n",
            "sync/__init__.py": "",
            "sync/adapters.py": "from ..container import container\n",
            "sync/handler.py": "from trackbridge.runtime.container import container\n",
        },
    )
    # Then both cycles through the container are reported (handler only imports it: no cycle of its own)
    assert _cycles_of(root) == [
        "trackbridge.runtime.actions:1 -> trackbridge.runtime.sync.adapters:1 "
        "-> trackbridge.runtime.container:1 -> trackbridge.runtime.actions",
        "trackbridge.runtime.api_keys:3 -> trackbridge.runtime.container:2 -> trackbridge.runtime.api_keys",
    ]


def test_cycle_check_follows_relative_and_literal_dynamic_imports(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from . import b\n",
            "b.py": "import importlib\n\n"
            'def load():\n    return importlib.import_module("trackbridge.runtime.a")\n',
        },
    )
    assert _cycles_of(root) == ["trackbridge.runtime.a:1 -> trackbridge.runtime.b:4 -> trackbridge.runtime.a"]


def test_cycle_check_ignores_type_checking_imports_and_plain_chains(tmp_path: Path) -> None:
    # Given a back edge only under ``if TYPE_CHECKING:`` (both spellings) and a chain without a way back
    root = _package(
        tmp_path,
        {
            "container.py": "from trackbridge.runtime.actions import Actions\n"
            "import trackbridge.runtime.chain\n",
            "actions.py": (
                "from typing import TYPE_CHECKING\nimport typing\n"
                "if TYPE_CHECKING:\n    from trackbridge.runtime.container import Container\n"
                "if typing.TYPE_CHECKING:\n    from trackbridge.runtime import container\n"
                "else:\n    import json\n"
            ),
            "chain.py": "from trackbridge.runtime.actions import Actions\n",
        },
    )
    # Then there is no cycle
    assert _cycles_of(root) == []


def test_cycle_check_reports_an_import_made_in_the_else_of_type_checking(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from trackbridge.runtime import b\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\n"
            "else:\n    from trackbridge.runtime import a\n",
        },
    )
    assert _cycles_of(root) == ["trackbridge.runtime.a:1 -> trackbridge.runtime.b:5 -> trackbridge.runtime.a"]


def test_cycle_check_follows_the_init_a_submodule_import_runs(tmp_path: Path) -> None:
    # Given container importing sync.handler, whose package's __init__ imports sync.engine, which imports
    # the container back: importing the container first runs sync/__init__ and engine before it is done
    root = _package(
        tmp_path,
        {
            "container.py": "def build():\n    from trackbridge.runtime.sync.handler import handle\n",
            "sync/__init__.py": "from trackbridge.runtime.sync.engine import Engine\n",
            "sync/engine.py": "from trackbridge.runtime.container import build\n",
            "sync/handler.py": "from . import queue\nfrom trackbridge.runtime.sync.queue import send\n",
            "sync/queue.py": "",
        },
    )
    # Then that cycle is reported; the submodules' imports of their own package (already running) are not
    assert _cycles_of(root) == [
        "trackbridge.runtime.container:2 -> trackbridge.runtime.sync:1 -> trackbridge.runtime.sync.engine:1 "
        "-> trackbridge.runtime.container"
    ]


def test_cycle_check_reports_every_cycle_and_a_module_importing_itself(tmp_path: Path) -> None:
    # Given a <-> b, b <-> c, a -> b -> c -> a, and d importing itself
    root = _package(
        tmp_path,
        {
            "a.py": "from trackbridge.runtime import b\n",
            "b.py": "from trackbridge.runtime import a, c\n",
            "c.py": "from trackbridge.runtime import a, b\n",
            "d.py": "def f():\n    import trackbridge.runtime.d\n",
        },
    )
    graph = import_graph(root, "trackbridge.runtime")
    # Then each elementary cycle is listed once
    assert sorted(cycles(graph)) == [
        ("trackbridge.runtime.a", "trackbridge.runtime.b"),
        ("trackbridge.runtime.a", "trackbridge.runtime.b", "trackbridge.runtime.c"),
        ("trackbridge.runtime.b", "trackbridge.runtime.c"),
        ("trackbridge.runtime.d",),
    ]
