"""One error tree, one registry of codes, one body builder.

The tree is drawn in ``trackbridge.domain.errors``; these tests hold the code to it: every tracker error is a
``TrackbridgeError``, every code anything raises or answers is a row of ``domain.error_codes`` (found by
reading the source with ``ast``, so a new loose string fails here), and only ``error_body`` builds the
public ``{"error": {"code", "message", "details"}}`` shape.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.definition import GATEWAY_RESPONSES
from trackbridge.domain import errors as domain_errors
from trackbridge.domain.error_codes import (
    CODE_FAMILIES,
    ERROR_CODES,
    GENERIC_CODES,
    TRACKER_CODES,
    ErrorCode,
    code_for_status,
    error_info,
    is_registered,
)
from trackbridge.domain.errors import (
    DependencyFailure,
    NotFound,
    TrackbridgeError,
    ValidationFailed,
    error_body,
)
from trackbridge.providers import errors as tracker_errors
from trackbridge.providers.errors import (
    AuthenticationError,
    RateLimitedError,
    TrackerError,
    make_error,
)

ROOT = Path(__file__).resolve().parents[2]
# Where codes are raised or answered. The sandbox trackers (infra/local/trackers) speak the trackers' own
# error vocabularies, not trackbridge's, so they are not scanned.
SCANNED = (ROOT / "layers" / "trackbridge", ROOT / "functions", ROOT / "infra")
NOT_SCANNED = (ROOT / "infra" / "local" / "trackers",)
CODE_SHAPE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")
# Strings in a "code" slot that are not error codes, each with why.


def _sources() -> Iterator[Path]:
    for base in SCANNED:
        for path in sorted(base.rglob("*.py")):
            if not any(path.is_relative_to(skip) for skip in NOT_SCANNED):
                yield path


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "VALUE"`` assignments, so ``code=INVALID_CURSOR`` is resolved."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _code_of(node: ast.expr, constants: dict[str, str]) -> str | None:
    """The code an expression in a code slot stands for; ``PREFIX*`` for an f-string built on a code."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ErrorCode":
        return node.attr
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return f"{node.values[0].value!s}*"
    return None


def _used_codes(path: Path) -> Iterator[tuple[str, int]]:
    """Every code the module raises or answers: ``code=`` arguments, ``code = "..."`` class attributes,
    ``{"code": ...}`` literals, the code argument of ``error_body`` and ``error_response``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    constants = _constants(tree)
    for node in ast.walk(tree):
        slots: list[ast.expr] = []
        if isinstance(node, ast.Call):
            slots += [kw.value for kw in node.keywords if kw.arg == "code"]
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "error_body" and node.args:
                slots.append(node.args[0])
            if name == "error_response" and len(node.args) > 1:
                slots.append(node.args[1])
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets = [stmt.target]
                value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
                if value is not None and any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                    slots.append(value)
        elif isinstance(node, ast.Dict):
            slots += [v for k, v in zip(node.keys, node.values, strict=True) if _is_key(k, "code")]
        for slot in slots:
            code = _code_of(slot, constants)
            if code is not None and (code.endswith("*") or CODE_SHAPE.fullmatch(code)):
                yield code, slot.lineno


def _is_key(node: ast.expr | None, name: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == name


def _registered(code: str) -> bool:
    if code.endswith("*"):
        return code[:-1] in CODE_FAMILIES
    return is_registered(code)


# ---- the tree ----------------------------------------------------------------------------------------------


def _classes(module: object) -> list[type[BaseException]]:
    return [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, BaseException) and c.__module__ == getattr(module, "__name__", "")
    ]


def test_every_error_class_is_under_the_one_root() -> None:
    classes = _classes(domain_errors) + _classes(tracker_errors)
    assert len(classes) > 20
    assert all(issubclass(c, TrackbridgeError) for c in classes), classes


def test_a_tracker_error_is_a_trackbridge_error_with_its_codes_status() -> None:
    refused = AuthenticationError(
        "Bad credentials", code=ErrorCode.AUTH_INVALID, provider="github", status=401
    )
    with pytest.raises(TrackbridgeError) as caught:
        raise refused
    assert caught.value is refused
    # ``status`` stays the tracker's answer; the API's status is the code's row: 502, never the 401.
    assert (refused.status, refused.http_status) == (401, 502)
    assert refused.guidance == ERROR_CODES[ErrorCode.AUTH_INVALID].guidance
    body = refused.to_body()["error"]
    assert (body["code"], body["message"], body["details"]["tracker_status"]) == (
        "AUTH_INVALID",
        "Bad credentials",
        401,
    )
    assert body["guidance"] == refused.guidance


def test_catching_tracker_errors_first_keeps_them_apart() -> None:
    """The sync engine's order: tracker failures are parked or retried, other trackbridge errors fail."""

    def handled(exc: Exception) -> str:
        try:
            raise exc
        except RateLimitedError:
            return "park"
        except TrackerError:
            return "retry-or-fail"
        except TrackbridgeError:
            return "fail"

    assert handled(make_error(ErrorCode.RATE_LIMITED, "slow")) == "park"
    assert handled(make_error(ErrorCode.TIMEOUT, "late")) == "retry-or-fail"
    assert handled(ValidationFailed("bad")) == "fail"
    assert handled(DependencyFailure("down")) == "fail"


def test_trackbridge_errors_keep_their_class_status() -> None:
    assert NotFound("gone").http_status == 404
    # The class decides the status: an explicit code names the cause only.
    assert ValidationFailed("not authorized", code="AUTH_INVALID").http_status == 422
    assert NotFound("gone").to_body() == {"error": {"code": "NOT_FOUND", "message": "gone", "details": None}}


@pytest.mark.parametrize(
    "cls", [c for c in _classes(domain_errors) if c is not TrackbridgeError], ids=lambda c: c.__name__
)
def test_each_default_code_is_a_row_with_the_class_status(cls: type[TrackbridgeError]) -> None:
    assert is_registered(cls.code), cls.code
    assert error_info(cls.code).http_status == cls.status


# ---- the registry ------------------------------------------------------------------------------------------


def test_every_code_has_a_row_with_status_retryability_and_guidance() -> None:
    assert set(ERROR_CODES) == set(ErrorCode)
    assert set(ErrorCode) >= TRACKER_CODES
    for code, info in ERROR_CODES.items():
        assert 400 <= info.http_status < 600, code
        assert isinstance(info.retryable, bool), code
        assert info.guidance.endswith("."), code


def test_a_status_alone_maps_to_a_code_with_that_status() -> None:
    for status, code in GENERIC_CODES.items():
        assert ERROR_CODES[code].http_status == status, code
    assert code_for_status(418) is ErrorCode.INVALID_INPUT
    assert code_for_status(599) is ErrorCode.INTERNAL


def test_a_family_code_takes_its_inner_codes_advice() -> None:
    assert is_registered("OAUTH_TIMEOUT")
    assert not is_registered("OAUTH_NO_SUCH_THING")
    info = error_info("OAUTH_TIMEOUT")
    assert (info.http_status, info.retryable) == (503, ERROR_CODES[ErrorCode.TIMEOUT].retryable)


def test_every_code_used_in_the_source_is_registered() -> None:
    used: dict[str, list[str]] = {}
    for path in _sources():
        relative = str(path.relative_to(ROOT))
        for code, line in _used_codes(path):
            used.setdefault(code, []).append(f"{relative}:{line}")
    for _, (_status, code, _message) in GATEWAY_RESPONSES.items():
        used.setdefault(code, []).append("infra/definition.py:GATEWAY_RESPONSES")
    # The scan sees the codes it must (a broken scan would pass vacuously).
    assert {"VERSION_CONFLICT", "INVALID_CURSOR", "NOT_ATTEMPTED", "INVALID_JSON", "OAUTH_*"} <= set(used)
    unregistered = {code: where for code, where in used.items() if not _registered(code)}
    assert unregistered == {}, "codes used but not in domain.error_codes: " + repr(unregistered)


def test_the_scan_catches_a_loose_code(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        'class E(Exception):\n    code = "LOOSE_ONE"\n'
        'def f():\n    raise E("x", code="LOOSE_TWO")\n'
        'B = {"code": "LOOSE_THREE", "message": "m"}\n'
        'C = error_body(f"NEW_{x}", "m")\n'
    )
    found = {code for code, _ in _used_codes(module)}
    assert found == {"LOOSE_ONE", "LOOSE_TWO", "LOOSE_THREE", "NEW_*"}
    assert not any(_registered(code) for code in found)


# ---- one body builder --------------------------------------------------------------------------------------


# Builders left to convert, each with its owner's one-line fix (calling domain.errors.error_body).


def _builds_a_body(node: ast.AST) -> bool:
    """The public shape's envelope: ``{"error": <a dict literal with "code">}``, ``{"error": error}`` or
    ``{"error": self.error}``."""
    if not isinstance(node, ast.Dict) or len(node.keys) != 1 or not _is_key(node.keys[0], "error"):
        return False
    value = node.values[0]
    if isinstance(value, ast.Dict):
        return any(_is_key(k, "code") for k in value.keys)
    return isinstance(value, ast.Name) or (isinstance(value, ast.Attribute) and value.attr == "error")


def test_only_error_body_builds_the_error_shape() -> None:
    builders = []
    for path in _sources():
        relative = str(path.relative_to(ROOT))
        if path.name == "examples.py":  # examples show it, answer nothing
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        builders += [
            f"{relative}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Dict) and _builds_a_body(n)
        ]
    assert builders == [f"layers/trackbridge/domain/errors.py:{_error_body_line()}"], builders


def _error_body_line() -> int:
    source, start = inspect.getsourcelines(error_body)
    return start + next(i for i, line in enumerate(source) if '{"error"' in line)
