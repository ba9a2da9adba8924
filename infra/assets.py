"""Lambda code and layer assets, staged as plain directories so synth needs no Docker and no network.

Three assets, each a directory CDK hashes and zips:

- code: a copy of the ``functions/`` package, so handler strings such as ``functions.api.handler`` resolve;
- the ``trackbridge`` layer: ``layers/trackbridge`` copied to ``python/trackbridge/`` (Lambda puts
  ``/opt/python`` on ``sys.path``);
- the third-party dependencies layer: the runtime dependencies of ``pyproject.toml`` (boto3 excluded, the
  Lambda runtime ships it) installed for Python 3.12 on arm64 with ``pip --platform``. Installing them needs
  the package index, so it runs only when asked for (context ``bundle_deps=true``, used for deploy). Without
  that flag the layer is a placeholder directory whose README says how to build it, which keeps tests and
  plain synth offline. Deploying the placeholder would leave the functions without their dependencies, so
  ``infra.app`` says loudly which one it synthesized.

Staging copies (never links) into a directory of the caller's choosing (the app uses its output directory),
so two synths into different output directories never share files. The bundled dependencies are cached under
``build/`` by a hash of what was asked for, because installing them is the slow part.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
DEPS_CACHE = ROOT / "build" / "deps-layer"

# What the Lambda runtime (Python 3.12, arm64) is; pip resolves wheels for it, not for the build machine.
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PYTHON_VERSION = "3.12"
# Distributions the Lambda Python runtime already provides. They are not asked for, and when a dependency
# pulls one in anyway (aws-xray-sdk needs botocore) it is removed again: a second botocore in the layer
# would shadow the runtime's and pair the runtime's boto3 with a botocore it was not released with.
PROVIDED_BY_RUNTIME = frozenset({"boto3", "botocore", "s3transfer"})
# How long one dependency install may take before the synth gives up (it downloads a few tens of MB).
PIP_TIMEOUT_S = 900

_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache", "*.egg-info"
)


@dataclass(frozen=True, slots=True)
class StagedAssets:
    """Directories ready for ``lambda.Code.from_asset``."""

    code: Path
    layer: Path
    deps: Path
    deps_bundled: bool


def _distribution_name(requirement: str) -> str:
    """``aws-lambda-powertools[tracer]>=3`` -> ``aws-lambda-powertools`` (enough for PEP 508 names we use)."""
    name = requirement
    for stop in ("[", "<", ">", "=", "!", "~", ";", " "):
        name = name.split(stop, 1)[0]
    return name.strip().lower().replace("_", "-")


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The project's runtime dependencies that the deps layer must carry."""
    with pyproject.open("rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
    return [req for req in dependencies if _distribution_name(req) not in PROVIDED_BY_RUNTIME]


def pip_install_command(
    target: Path, requirements: Sequence[str], *, python: str = sys.executable
) -> list[str]:
    """The pip invocation that installs ``requirements`` for Lambda's platform into ``target``."""
    return [
        python,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        # Wheels only, for the Lambda platform: nothing is compiled on the build machine.
        "--platform",
        LAMBDA_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        # Byte code compiled here would be for the build machine's Python, not 3.12: leave it out.
        "--no-compile",
        "--target",
        str(target),
        *requirements,
    ]


def _copy_package(source: Path, destination: Path) -> None:
    shutil.copytree(source, destination, ignore=_IGNORE)


def _fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _placeholder_deps(directory: Path, requirements: Sequence[str]) -> None:
    python_dir = directory / "python"
    python_dir.mkdir(parents=True)
    (python_dir / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    command = shlex.join(pip_install_command(Path("<target>/python"), requirements, python="python"))
    (directory / "README.md").write_text(
        "# Placeholder for the third-party dependencies layer\n\n"
        "This synth ran without `bundle_deps`, so the layer holds no packages and the functions would\n"
        "fail to import their dependencies if deployed. Synthesize for deploy with:\n\n"
        "    .venv/bin/python -m infra.app -c stage=<stage> -c bundle_deps=true\n\n"
        "(or `cdk deploy -c bundle_deps=true`), which installs `python/requirements.txt` for\n"
        f"Lambda's Python {LAMBDA_PYTHON_VERSION} on arm64:\n\n    {command}\n",
        encoding="utf-8",
    )


def _prune_provided(site: Path) -> list[str]:
    """Remove the distributions of ``PROVIDED_BY_RUNTIME`` (and console scripts) from an install target."""
    removed = []
    for dist_info in sorted(site.glob("*.dist-info")):
        if (
            _distribution_name(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
            not in PROVIDED_BY_RUNTIME
        ):
            continue
        for line in (dist_info / "RECORD").read_text(encoding="utf-8").splitlines():
            relative = line.rsplit(",", 2)[0]
            path = (site / relative).resolve()
            # RECORD paths are relative to the target; never follow one outside it.
            if path.is_relative_to(site.resolve()) and path.is_file():
                path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
        removed.append(dist_info.name)
    # Emptied package directories, and console scripts whose shebang names the build machine's Python.
    for directory in sorted(
        (d for d in site.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True
    ):
        if not any(directory.iterdir()):
            directory.rmdir()
    shutil.rmtree(site / "bin", ignore_errors=True)
    return removed


def _bundled_deps(requirements: Sequence[str], cache_root: Path) -> Path:
    """Install the dependencies once per distinct request; later synths reuse the cached directory."""
    key_source = json.dumps(
        {
            "requirements": sorted(requirements),
            "platform": LAMBDA_PLATFORM,
            "python": LAMBDA_PYTHON_VERSION,
            "pruned": sorted(PROVIDED_BY_RUNTIME),
        }
    )
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    final = cache_root / key
    if (final / "python").is_dir():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    # Install into a temporary sibling and rename, so an interrupted install never looks complete.
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_root))
    try:
        command = pip_install_command(work / "python", requirements)
        subprocess.run(command, check=True, timeout=PIP_TIMEOUT_S)  # noqa: S603 - argv built above, no shell
        _prune_provided(work / "python")
        try:
            os.replace(work, final)
        except OSError:
            # Another synth finished the same install first; its copy is as good as ours.
            if not (final / "python").is_dir():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work)
    return final


def stage_assets(staging_dir: Path, *, bundle_deps: bool, deps_cache: Path = DEPS_CACHE) -> StagedAssets:
    """Copy the code and layer packages under ``staging_dir`` (replacing what an earlier synth left)."""
    code = _fresh_dir(staging_dir / "code")
    _copy_package(ROOT / "functions", code / "functions")

    layer = _fresh_dir(staging_dir / "layer")
    _copy_package(ROOT / "layers" / "trackbridge", layer / "python" / "trackbridge")

    requirements = runtime_requirements()
    if bundle_deps:
        deps = _bundled_deps(requirements, deps_cache)
    else:
        deps = _fresh_dir(staging_dir / "deps")
        _placeholder_deps(deps, requirements)
    return StagedAssets(code=code, layer=layer, deps=deps, deps_bundled=bundle_deps)


__all__ = [
    "LAMBDA_PLATFORM",
    "LAMBDA_PYTHON_VERSION",
    "StagedAssets",
    "pip_install_command",
    "runtime_requirements",
    "stage_assets",
]
