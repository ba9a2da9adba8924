"""The two lock files: the runtime set `make up` installs is the dev set's subset, at the same versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {_name(name): version for name, version in re.findall(r"^(\S+)==(\S+)", text, re.MULTILINE)}


def test_the_runtime_lock_pins_what_the_dev_lock_pins() -> None:
    runtime, dev = pins("local.lock"), pins("dev.lock")

    assert runtime
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_runtime_lock_holds_the_package_and_its_local_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in [*project["dependencies"], *project["optional-dependencies"]["local"]]}

    assert wanted <= set(pins("local.lock"))


def test_the_runtime_lock_is_smaller_than_the_dev_lock() -> None:
    # The point of two sets: pytest, mypy, the CDK and the tracker clients are not in the runtime set.
    runtime = pins("local.lock")

    assert not {"pytest", "mypy", "aws-cdk-lib", "pygithub", "schemathesis"} & set(runtime)
    assert len(runtime) < len(pins("dev.lock"))


def test_the_runtime_lock_was_compiled_against_the_dev_lock() -> None:
    header = (ROOT / "requirements" / "local.lock").read_text().splitlines()[1]

    assert "--extra local" in header
    assert "-c requirements/dev.lock" in header
