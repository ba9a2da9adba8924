"""The import direction ``functions -> runtime -> providers | storage -> domain`` is a build failure to break.

Every module's imports are read with ``ast`` (no module is executed), including imports inside functions,
so a lazy import cannot sneak a dependency past the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "trackbridge"

# For each layer: the trackbridge layers and third-party roots it may import. Stdlib is always allowed.
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "domain": (set(), {"pydantic", "pydantic_core", "jinja2", "markupsafe", "annotated_types"}),
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


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _is_stdlib(root: str) -> bool:
    import sys

    return root in sys.stdlib_module_names or root == "__future__"


def _violations(layer: str, path: Path) -> list[str]:
    inner_layers, third_party = ALLOWED[layer]
    found = []
    for name in _imports(path):
        parts = name.split(".")
        root = parts[0]
        if root in FORBIDDEN_EVERYWHERE:
            found.append(name)
        elif root == "trackbridge":
            if len(parts) > 1 and parts[1] in ALLOWED and parts[1] != layer and parts[1] not in inner_layers:
                found.append(name)
        elif not _is_stdlib(root) and root not in third_party:
            found.append(name)
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_point_inward(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"layer {layer} has no modules"
    problems = {str(f.relative_to(ROOT)): v for f in files if (v := _violations(layer, f))}
    assert problems == {}, f"{layer} imports what it must not: {problems}"


def test_functions_never_import_infra_or_tests() -> None:
    problems = {}
    for f in sorted((ROOT / "functions").rglob("*.py")):
        bad = [n for n in _imports(f) if n.split(".")[0] in {"infra", "tests", "moto"}]
        if bad:
            problems[f.name] = bad
    assert problems == {}


def test_checker_catches_an_outward_import(tmp_path: Path) -> None:
    # Given a domain module that imports boto3 and storage
    bad = tmp_path / "bad.py"
    bad.write_text("import boto3\nfrom trackbridge.storage import keys\n\ndef f():\n    import httpx\n")
    # Then the checker reports all three, including the lazy one
    assert _violations("domain", bad) == ["boto3", "trackbridge.storage", "httpx"]
