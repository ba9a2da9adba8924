"""The CDK app: ``python -m infra.app [-c stage=prod] [-c bundle_deps=true]`` (also what ``cdk.json`` runs).

Synth needs no AWS account, no Docker and no network (the stack is environment-agnostic and its assets are
staged directories, see ``infra.assets``). cdk-nag's AwsSolutions pack runs as a CDK validation plugin,
so synth fails on any finding that is not acknowledged in code with its reason.

Context: ``stage`` (default ``dev``; ``prod`` retains data and protects it from deletion) and
``bundle_deps`` (install the third-party dependencies layer for Lambda; needs the package index; use it
for deploy). Run by the CDK CLI, the app honours the CLI's context and output directory; run directly, it
writes to ``cdk.out`` at the repository root and prints where the template went.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.assets import ROOT, stage_assets
from infra.definition import APP
from infra.stack import TrackbridgeStack

DEFAULT_STAGE = "dev"
DEFAULT_OUTDIR = ROOT / "cdk.out"
# Lower-case, starts with a letter, short enough for every derived name (function names stop at 64 chars).
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# Feature flags set in code rather than only in cdk.json, so `python -m infra.app`, the CDK CLI and the
# tests synthesize the same template. The CLI's context still wins over these.
FEATURE_FLAGS: dict[str, Any] = {
    # Merge statements of the same effect, so roles stay short and readable.
    "@aws-cdk/aws-iam:minimizePolicies": True,
    # A layer change produces a new function version hash.
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
}
# Sub-directory of the output directory where assets are staged before CDK copies them.
STAGING_SUBDIR = "build"


@dataclass(frozen=True, slots=True)
class AppSettings:
    stage: str
    bundle_deps: bool

    @classmethod
    def from_app(cls, app: App) -> AppSettings:
        stage = app.node.try_get_context("stage") or DEFAULT_STAGE
        if not isinstance(stage, str) or not STAGE_PATTERN.fullmatch(stage):
            raise ValueError(f"context stage={stage!r}: use 1-20 of a-z, 0-9 and '-', starting with a letter")
        return cls(stage=stage, bundle_deps=_flag("bundle_deps", app.node.try_get_context("bundle_deps")))


def _flag(name: str, value: object) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no", ""}:
        return False
    raise ValueError(f"context {name}={value!r}: use true or false")


def stack_name(stage: str) -> str:
    return f"{APP}-{stage}"


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | os.PathLike[str] | None = None,
    nag: bool = True,
) -> tuple[App, TrackbridgeStack]:
    """The app and its one stack, not yet synthesized; ``nag`` adds the cdk-nag gate to synth."""
    app = App(
        context={**FEATURE_FLAGS, **(context or {})},
        outdir=str(outdir) if outdir else None,
        analytics_reporting=False,
    )
    settings = AppSettings.from_app(app)
    assets = stage_assets(Path(app.outdir) / STAGING_SUBDIR, bundle_deps=settings.bundle_deps)
    stack = TrackbridgeStack(app, stack_name(settings.stage), stage=settings.stage, assets=assets)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def _context_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.app", description="synthesize the trackbridge stack"
    )
    parser.add_argument(
        "-c", "--context", type=_context_pair, action="append", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument(
        "-o", "--outdir", default=None, help=f"output directory (default {DEFAULT_OUTDIR.name}/)"
    )
    args = parser.parse_args(argv)

    # Under the CDK CLI, App() reads the CLI's output directory and context from the environment.
    outdir = args.outdir or (None if "CDK_OUTDIR" in os.environ else DEFAULT_OUTDIR)
    started = time.perf_counter()
    try:
        app, stack = build_app(dict(args.context), outdir=outdir)
        assembly = app.synth()
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except RuntimeError as exc:
        # cdk-nag's gate: jsii raises the validation failure as a RuntimeError; the report says what failed.
        if "ValidationFailed" not in str(exc):
            raise
        sys.stderr.write(f"{exc}\n")
        return 1
    seconds = time.perf_counter() - started
    template = Path(assembly.directory) / stack.template_file
    sys.stdout.write(
        f"synthesized {stack.stack_name} in {seconds:.1f} s; cdk-nag AwsSolutions: nothing unacknowledged\n"
        f"template: {_shown(template)}\n"
    )
    if not AppSettings.from_app(app).bundle_deps:
        sys.stdout.write(
            "dependencies layer: placeholder (offline synth); -c bundle_deps=true makes a deployable build\n"
        )
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
