"""One synth per stage for the whole infra suite, shared by every test in the ``cdk`` xdist group.

Synthesizing costs seconds (jsii starts node once per process, about 2.5 s, then each synth 1-3 s), so the
fixtures are session-scoped and every infra test is marked ``xdist_group("cdk")`` to run in one worker
(each worker that does run infra tests synthesizes once; nothing is shared between processes).
The dev synth runs with the cdk-nag plugin, so an unacknowledged finding fails it before any test runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def _silence_node_banner() -> None:
    """jsii's end-of-life banner is silenced per node major version ("20"), not by "1"."""
    name = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
    node = shutil.which("node")
    if node is None:
        return
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)
    major = version.stdout.strip().lstrip("v").split(".")[0]
    values = [value for value in os.environ.get(name, "").split(",") if value]
    if major and major not in values:
        os.environ[name] = ",".join([*values, major])


_silence_node_banner()


@dataclass(frozen=True)
class SynthResult:
    app: Any
    stack: Any
    template: dict[str, Any]
    template_path: Path
    outdir: Path
    seconds: float


def synthesize(outdir: Path, context: Mapping[str, Any], *, nag: bool = True) -> SynthResult:
    from infra.app import build_app

    started = time.perf_counter()
    app, stack = build_app(context, outdir=outdir, nag=nag)
    assembly = app.synth()
    seconds = time.perf_counter() - started
    path = Path(assembly.directory) / stack.template_file
    return SynthResult(app, stack, json.loads(path.read_text()), path, outdir, seconds)


@pytest.fixture(scope="session")
def dev_synth(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), {"stage": "dev"})


@pytest.fixture(scope="session")
def dev_template(dev_synth: SynthResult) -> dict[str, Any]:
    return dev_synth.template


@pytest.fixture(scope="session")
def prod_synth(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), {"stage": "prod"})


@pytest.fixture(scope="session")
def prod_template(prod_synth: SynthResult) -> dict[str, Any]:
    return prod_synth.template
