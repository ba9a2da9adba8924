"""The Makefile's set-up logic, read with `make -n` in a copy: the install steps each order of commands runs.

Two locked sets share one .venv: `make up` needs the runtime set (requirements/local.lock), `make test` the
dev set (requirements/dev.lock). Each is installed when its lock is newer than its stamp, installs only add
(`uv pip install -r`, never `uv pip sync`), so either order works and neither command undoes the other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BEFORE, AFTER = 1_700_000_000, 1_700_000_100
STAMPS = (".uv-0.13.8", ".editable", ".runtime-installed", ".dev-installed")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The files the Makefile reads, as in a fresh clone; everything dated BEFORE."""
    (tmp_path / "requirements").mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements/dev.lock", "requirements/local.lock"):
        shutil.copyfile(ROOT / name, tmp_path / name)
        os.utime(tmp_path / name, (BEFORE, BEFORE))
    return tmp_path


def installed(clone: Path, *stamps: str) -> None:
    """As if these steps had run after the files were last changed."""
    (clone / ".venv").mkdir(exist_ok=True)
    for stamp in stamps:
        (clone / ".venv" / stamp).touch()
        os.utime(clone / ".venv" / stamp, (AFTER, AFTER))


def changed(clone: Path, name: str) -> None:
    os.utime(clone / name, (AFTER + 100, AFTER + 100))


def dry_run(clone: Path, target: str, *variables: str) -> str:
    result = subprocess.run(
        ["make", "-n", target, "PYTHON=python3", *variables],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def steps(output: str) -> set[str]:
    """Which set-up steps a dry run would take."""
    found = set()
    if "-m venv .venv" in output:
        found.add("venv")
    if "-r requirements/local.lock" in output:
        found.add("runtime")
    if "-r requirements/dev.lock" in output:
        found.add("dev")
    if "--no-deps -e ." in output:
        found.add("editable")
    return found


def test_fresh_clone_make_up_installs_the_runtime_set_only(clone: Path) -> None:
    output = dry_run(clone, "up")

    assert steps(output) == {"venv", "runtime", "editable"}
    assert "uv==0.13.8" in output
    assert "trackbridge local up --port 8000 --seed demo" in output


def test_fresh_clone_make_test_installs_the_dev_set(clone: Path) -> None:
    output = dry_run(clone, "test")

    assert steps(output) == {"venv", "dev", "editable"}
    assert "pytest -n 2" in output


def test_make_test_after_make_up_only_adds_the_dev_set(clone: Path) -> None:
    installed(clone, ".uv-0.13.8", ".editable", ".runtime-installed")

    assert steps(dry_run(clone, "test")) == {"dev"}


def test_make_up_after_make_test_installs_the_runtime_set_on_top(clone: Path) -> None:
    # The dev set holds the runtime set at the same versions: this install finds everything in place.
    installed(clone, ".uv-0.13.8", ".editable", ".dev-installed")

    assert steps(dry_run(clone, "up")) == {"runtime"}


def test_nothing_is_installed_again_while_the_locks_are_unchanged(clone: Path) -> None:
    installed(clone, *STAMPS)

    assert steps(dry_run(clone, "up")) == set()
    assert steps(dry_run(clone, "setup")) == set()


@pytest.mark.parametrize(
    ("changed_file", "up_steps", "test_steps"),
    [
        ("requirements/local.lock", {"runtime"}, set()),
        ("requirements/dev.lock", set(), {"dev"}),
        ("pyproject.toml", {"editable"}, {"editable"}),
    ],
)
def test_a_changed_lock_or_project_reinstalls_what_depends_on_it(
    clone: Path, changed_file: str, up_steps: set[str], test_steps: set[str]
) -> None:
    installed(clone, *STAMPS)
    changed(clone, changed_file)

    assert steps(dry_run(clone, "up")) == up_steps
    assert steps(dry_run(clone, "setup")) == test_steps


def test_a_new_uv_version_installs_uv_and_checks_both_sets_again(clone: Path) -> None:
    installed(clone, *STAMPS)

    output = dry_run(clone, "setup", "UV_VERSION=9.9.9")

    assert "uv==9.9.9" in output
    assert steps(output) == {"venv", "dev", "editable"}


@pytest.mark.parametrize("target", ["up", "test", "setup", "setup-local"])
def test_installs_never_remove_packages(clone: Path, target: str) -> None:
    output = dry_run(clone, target)

    assert "pip sync" not in output
    assert "uninstall" not in output
    # Progress is shown, not silenced.
    assert " -q " not in output


def test_lock_compiles_the_runtime_set_at_the_dev_sets_versions(clone: Path) -> None:
    installed(clone, ".uv-0.13.8")

    lines = [line for line in dry_run(clone, "lock").splitlines() if "pip compile" in line]

    assert len(lines) == 2
    assert "--extra dev" in lines[0]
    assert "-o requirements/dev.lock" in lines[0]
    assert "--extra local" in lines[1]
    assert "-c requirements/dev.lock" in lines[1]
