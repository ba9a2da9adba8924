"""Schemathesis against the running API: every operation of the served OpenAPI, with generated requests.

The embedded stack runs in this process behind its real gateway and authorizer; the ``st`` command reads
``/v1/openapi.json`` from it and sends each operation generated valid and invalid requests (its examples,
coverage and fuzzing phases) with the demo tenant's key. No answer may be a 5xx, every status must be
documented, and an undeclared method must be a 405 with ``Allow``. Examples are bounded per operation and
the generation is deterministic, so the run ends by itself and a failure reproduces. No name is resolved in
this process (``tests/conftest.py``), so a generated base URL goes nowhere.

Schemathesis' own pytest plugin does not run under pytest 9 (it reads ``Function._nodeid``), hence the CLI.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("api-schema")]

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "unsupported_method",
    "allow_header_conformance",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = LocalStack(
        port=0, state_dir=Path(tmp_path_factory.mktemp("state")), stage="schema", region="sa-east-1"
    ).start()
    try:
        yield running
    finally:
        running.stop()


def test_every_answer_is_documented_and_none_is_a_server_error(stack: LocalStack, tmp_path: Path) -> None:
    # Given: the stack's served document and the demo key
    st = Path(sys.executable).with_name("st")
    command = [
        str(st),
        "run",
        f"{stack.api_url}/openapi.json",
        "--origin",
        stack.api_url.removesuffix("/v1"),  # the document's paths carry /v1 themselves
        "--header",
        f"Authorization: Bearer {stack.api_key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "20",
        "--generation-deterministic",
        "--seed",
        "11",
        "--workers",
        "1",
        "--rate-limit",
        "40/s",  # under the stage throttle (50/s): 429s are documented, but they would hide the handlers
        "--request-timeout",
        "60",
        "--no-color",
        "--report-dir",
        str(tmp_path),
    ]

    # When: schemathesis runs over every operation
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1200, check=False)

    # Then: it found nothing
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]
    assert "Tested:" in run.stdout
