"""Asset staging (offline by default), the deps-layer build command, and the app's entry point."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from infra.app import AppSettings, main
from infra.assets import (
    LAMBDA_PLATFORM,
    StagedAssets,
    _prune_provided,
    pip_install_command,
    runtime_requirements,
    stage_assets,
)
from infra.definition import FUNCTIONS, FunctionSpec

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]


def test_staging_copies_the_packages_where_lambda_looks_for_them(tmp_path: Path) -> None:
    staged = stage_assets(tmp_path / "staging", bundle_deps=False, deps_cache=tmp_path / "unused")

    assert (staged.code / "functions" / "__init__.py").is_file()
    assert (staged.layer / "python" / "trackbridge" / "__init__.py").is_file()
    assert (staged.layer / "python" / "trackbridge" / "runtime" / "settings.py").is_file()
    assert not list(staged.code.rglob("__pycache__"))
    assert not list(staged.layer.rglob("__pycache__"))
    assert staged.deps_bundled is False
    assert not (tmp_path / "unused").exists()  # nothing was installed


def test_offline_dependencies_layer_is_a_placeholder_that_says_how_to_build_it(tmp_path: Path) -> None:
    staged = stage_assets(tmp_path / "staging", bundle_deps=False)
    readme = (staged.deps / "README.md").read_text()
    requirements = (staged.deps / "python" / "requirements.txt").read_text().split()

    assert "bundle_deps=true" in readme
    assert LAMBDA_PLATFORM in readme
    assert any(req.startswith("aws-lambda-powertools") for req in requirements)
    assert not any(req.startswith(("boto3", "botocore")) for req in requirements)
    assert [path.name for path in (staged.deps / "python").iterdir()] == ["requirements.txt"]


def test_restaging_replaces_what_an_earlier_synth_left(tmp_path: Path) -> None:
    stale = tmp_path / "staging" / "code" / "functions" / "removed_module.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("x = 1\n")

    stage_assets(tmp_path / "staging", bundle_deps=False)

    assert not stale.exists()


def test_runtime_requirements_leave_out_what_the_lambda_runtime_ships() -> None:
    names = [req.split("[")[0].split(">")[0].split("<")[0].split("=")[0] for req in runtime_requirements()]

    assert "boto3" not in names
    assert {"aws-lambda-powertools", "pydantic", "httpx", "jinja2", "markdown-it-py"} <= set(names)


def test_pip_command_installs_wheels_for_python_312_on_arm64(tmp_path: Path) -> None:
    command = pip_install_command(tmp_path / "python", ["pydantic>=2"], python="py")

    assert command[:4] == ["py", "-m", "pip", "install"]
    for flag, value in (
        ("--platform", "manylinux2014_aarch64"),
        ("--implementation", "cp"),
        ("--python-version", "3.12"),
    ):
        assert command[command.index(flag) + 1] == value
    assert "--only-binary=:all:" in command
    assert command[command.index("--target") + 1] == str(tmp_path / "python")
    assert command[-1] == "pydantic>=2"


def test_pruning_removes_runtime_provided_distributions_and_keeps_the_rest(tmp_path: Path) -> None:
    site = tmp_path / "python"

    def install(name: str, version: str, files: list[str]) -> None:
        dist_info = site / f"{name}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        for relative in files:
            (site / relative).parent.mkdir(parents=True, exist_ok=True)
            (site / relative).write_text("")
        record = [f"{relative},sha256=x,0" for relative in files] + [f"{dist_info.name}/RECORD,,"]
        (dist_info / "RECORD").write_text("\n".join(record) + "\n")

    install("botocore", "1.44.5", ["botocore/__init__.py", "botocore/data/endpoints.json"])
    install("pydantic", "2.14.3", ["pydantic/__init__.py"])
    (site / "bin").mkdir()
    (site / "bin" / "jp.py").write_text("#!/usr/bin/python\n")

    removed = _prune_provided(site)

    assert removed == ["botocore-1.44.5.dist-info"]
    assert sorted(path.name for path in site.iterdir()) == ["pydantic", "pydantic-2.14.3.dist-info"]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, AppSettings("dev", False)),
        ({"stage": "prod", "bundle_deps": "true"}, AppSettings("prod", True)),
        ({"stage": "qa-2", "bundle_deps": False}, AppSettings("qa-2", False)),
    ],
)
def test_app_settings_come_from_context(context: dict[str, object], expected: AppSettings) -> None:
    from aws_cdk import App

    assert AppSettings.from_app(App(context=context)) == expected


@pytest.mark.parametrize("context", [{"stage": "Prod"}, {"stage": "x" * 21}, {"bundle_deps": "maybe"}])
def test_bad_context_is_refused_with_a_clear_message(context: dict[str, object]) -> None:
    from aws_cdk import App

    with pytest.raises(ValueError, match="context"):
        AppSettings.from_app(App(context=context))


def test_main_synthesizes_and_says_where_the_template_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-o", str(tmp_path / "out"), "-c", "stage=dev"])
    output = capsys.readouterr().out

    assert code == 0
    assert "template: " in output
    template = Path(output.split("template: ")[1].splitlines()[0])
    assert template.name == "trackbridge-dev.template.json"
    assert json.loads(template.read_text())["Resources"]
    assert "placeholder" in output


def test_main_rejects_a_bad_stage_before_synthesizing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-o", str(tmp_path / "out"), "-c", "stage=Bad_Stage"])

    assert code == 2
    assert "stage" in capsys.readouterr().err
    assert not (tmp_path / "out" / "build").exists()


# What the Lambda runtime provides, beyond the standard library, plus the import names of the deps layer.
RUNTIME_MODULES = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
DEPS_LAYER_MODULES = {
    "aws_lambda_powertools",
    "aws_xray_sdk",
    "cryptography",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "httpx",
    "httpcore",
    "anyio",
    "jinja2",
    "markupsafe",
    "markdown_it",
    "mdurl",
    "defusedxml",
}
SHIPPED = {"functions", "trackbridge"} | RUNTIME_MODULES | DEPS_LAYER_MODULES | set(sys.stdlib_module_names)


def _runtime_imports(path: Path) -> set[str]:
    """Top-level modules a file imports at run time (``if TYPE_CHECKING:`` blocks are for type checkers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> StagedAssets:
    return stage_assets(tmp_path_factory.mktemp("staged"), bundle_deps=False)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.key)
def test_handler_string_resolves_in_the_code_asset(staged: StagedAssets, spec: FunctionSpec) -> None:
    module, _, attribute = spec.handler.rpartition(".")
    source = staged.code / Path(*module.split(".")).with_suffix(".py")

    assert source.is_file(), f"{spec.handler}: {source.name} is not in the code asset"
    defined = {
        node.name
        for node in ast.parse(source.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef)
    }
    assert attribute in defined


def test_shipped_code_imports_only_what_lambda_will_have(staged: StagedAssets) -> None:
    files = [*staged.code.rglob("*.py"), *(staged.layer / "python").rglob("*.py")]
    missing = {
        f"{path.relative_to(staged.code if path.is_relative_to(staged.code) else staged.layer)}: {name}"
        for path in files
        for name in _runtime_imports(path) - SHIPPED
    }

    assert files
    assert missing == set()
