"""JUnit XML reports read into test cases, and the issue keys each test names.

:func:`parse_report` reads a report's bytes with ``defusedxml`` (no DTD, no entity, no external reference: a
billion-laughs or XXE document is refused before anything expands or is fetched), streaming, and bounds what
a report may hold:

* :data:`MAX_REPORT_BYTES` (4 MiB): the API refuses a bigger body with 413 before parsing. Lambda takes at
  most 6 MB per request and a report travels inside a JSON event, where every ``"`` and newline doubles;
* :data:`MAX_ELEMENTS` elements, :data:`MAX_DEPTH` levels of nesting and :data:`MAX_CASES` test cases,
  else 400 while reading, before the whole tree is built.

Dialects (each as the tool writes it; samples in ``tests/fixtures/junit/``): pytest (``<testsuites>`` >
``<testsuite name="pytest">`` > ``<testcase classname name time>`` with ``<failure>``, ``<error>``,
``<skipped>`` and ``record_property``'s ``<properties>``), Maven Surefire and JUnit 5 (a ``<testsuite>`` root,
``<flakyFailure>``/``<flakyError>`` when a rerun passed, ``<rerunFailure>``/``<rerunError>`` when reruns
failed too; the JUnit Platform's legacy reporter's ``display-name:`` line in ``<system-out>``), and
jest-junit (``<testsuites name="jest tests">``, classname and name from its templates).

A case's status: ``failed`` with a ``<failure>`` (it wins over an ``<error>`` from a later teardown),
``error`` with an ``<error>``, ``skipped`` with ``<skipped>``, else ``passed``. A case that passed after
failing within the report is ``flaky``: Surefire's ``flakyFailure``, or the same test listed again after a
failure (rerun plugins). Cases are identified by ``(classname, name)`` within a report.

Issue keys (:func:`issue_keys`), in the forms a tracker or trackbridge names an issue: ``PROJ-123`` (Jira),
``#45`` (an issue of the suite's GitHub or GitLab repository), ``owner/repo#45`` and an issue ref
``conn_....45``. They are read from the test's name and classname (``test_PROJ_123_checkout`` reads as
``PROJ-123``; ``test_total[#45]`` as ``#45``), the JUnit Platform display name, and the case's properties
named in :data:`ISSUE_PROPERTIES` (comma or space separated values; a bare number is ``#N``), including
pytest marks exported as properties (``issue("PROJ-1")`` inside a ``mark``/``markers`` property).
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Iterable, Iterator
from typing import Final, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as safe_xml
from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.errors import InvalidInput, PayloadTooLarge
from trackbridge.domain.links import MAX_PART_LENGTH

MAX_REPORT_BYTES: Final = 4 * 1024 * 1024
MAX_ELEMENTS: Final = 250_000
MAX_DEPTH: Final = 32
MAX_CASES: Final = 20_000
MAX_MESSAGE_CHARS: Final = 500
MAX_TEXT_CHARS: Final = 1_000  # a name or classname kept for display
MAX_KEYS_PER_CASE: Final = 20

CaseStatus = Literal["passed", "failed", "error", "skipped"]
CASE_STATUSES: Final[tuple[str, ...]] = ("passed", "failed", "error", "skipped")
ISSUE_PROPERTIES: Final = frozenset({"issue", "issues", "requirement", "requirements", "jira"})
MARK_PROPERTIES: Final = frozenset({"mark", "marks", "marker", "markers"})
# Names that look like Jira keys in test names but are standards: UTF-8, SHA-256, ISO-8601, RFC-3339...
NOT_PROJECTS: Final = frozenset(
    {"AES", "CVE", "ECMA", "HTTP", "IPV", "ISO", "MD", "PEP", "RFC", "SHA", "SSL", "TLS", "UTF", "UUID", "X"}
)

_JIRA = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9_]{1,9})-([1-9][0-9]{0,8})(?![0-9]|-[0-9])")
_JIRA_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9]{1,9})_([1-9][0-9]{0,8})(?![0-9])")
_FORGE = re.compile(r"(?<![A-Za-z0-9_&/#])#([1-9][0-9]{0,8})(?![0-9A-Za-z])")
_FORGE_REPO = re.compile(r"(?<![A-Za-z0-9_./-])([A-Za-z0-9][\w.-]*(?:/[\w.-]+)+)#([1-9][0-9]{0,8})(?![0-9])")
_REF = re.compile(r"conn_[a-z2-7]{20}\.[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_MARK = re.compile(r"\b(?:issue|issues|jira|requirement)\(\s*([^)]*)\)")
_DISPLAY_NAME = re.compile(r"^\s*display-name:\s*(.+?)\s*$", re.MULTILINE)
_TOKEN_SPLIT = re.compile(r"[\s,;]+")


class InvalidReport(InvalidInput):
    """The body is no JUnit XML report trackbridge reads (400 ``INVALID_BODY``)."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            code="INVALID_BODY",
            guidance="Send the JUnit XML file as the tool wrote it (pytest --junitxml, Surefire, "
            "jest-junit), UTF-8, without a DOCTYPE.",
        )


class CaseResult(BaseModel):
    """One test case of a report."""

    model_config = ConfigDict(frozen=True)

    suite: str = Field(description="the report's <testsuite name> the case sat in")
    classname: str
    name: str
    status: CaseStatus
    duration: float | None = Field(None, description="seconds")
    message: str | None = Field(None, description=f"the failure's message, at most {MAX_MESSAGE_CHARS} chars")
    issue_keys: list[str] = Field(default_factory=list)
    flaky: bool = Field(False, description="failed, then passed on a rerun within this report")
    attempts: int = Field(1, ge=1)

    @property
    def identity(self) -> tuple[str, str]:
        return self.classname, self.name


class Report(BaseModel):
    """The cases of a report, in document order, one per ``(classname, name)``."""

    model_config = ConfigDict(frozen=True)

    cases: list[CaseResult]


# ---- issue keys -------------------------------------------------------------------------------------------


def _jira(project: str, number: str) -> str | None:
    return None if project in NOT_PROJECTS else f"{project}-{number}"


def keys_in_text(text: str) -> list[str]:
    """The issue keys a test name, classname or display name holds, in order of appearance."""
    found: list[tuple[int, str]] = []
    for match in _JIRA.finditer(text):
        key = _jira(match[1], match[2])
        if key:
            found.append((match.start(), key))
    for match in _JIRA_UNDERSCORE.finditer(text):
        key = _jira(match[1], match[2])
        if key:
            found.append((match.start(), key))
    for match in _FORGE_REPO.finditer(text):
        found.append((match.start(), f"{match[1]}#{match[2]}"))
    for match in _FORGE.finditer(text):
        found.append((match.start(), f"#{match[1]}"))
    return list(dict.fromkeys(key for _, key in sorted(found)))


def key_of_token(token: str) -> str | None:
    """A property value's token as a key: a ref, ``PROJ-1``, ``#1``, ``owner/repo#1`` or a bare ``1``."""
    token = token.strip().strip("'\"[]()")
    if not token:
        return None
    if _REF.fullmatch(token):
        return token
    if token.isdigit() and not token.startswith("0") and len(token) <= 9:
        return f"#{token}"
    for pattern in (_JIRA, _FORGE_REPO, _FORGE):
        match = pattern.fullmatch(token)
        if match is not None:
            if pattern is _JIRA:
                return _jira(match[1], match[2])
            return token
    return None


def keys_in_property(name: str, value: str) -> list[str]:
    """The keys a ``<property name value>`` names, when its name says it names issues or marks."""
    lowered = name.strip().lower()
    if lowered in ISSUE_PROPERTIES:
        tokens = _TOKEN_SPLIT.split(value)
    elif lowered in MARK_PROPERTIES:
        tokens = [t for args in _MARK.findall(value) for t in _TOKEN_SPLIT.split(args)]
    else:
        return []
    return [key for key in (key_of_token(t) for t in tokens) if key]


def issue_keys(texts: Iterable[str], properties: Iterable[tuple[str, str]]) -> list[str]:
    """Every key of a case, deduplicated, properties first (they are explicit), at most
    :data:`MAX_KEYS_PER_CASE`."""
    keys = [k for name, value in properties for k in keys_in_property(name, value)]
    keys += [k for text in texts for k in keys_in_text(text)]
    return list(dict.fromkeys(keys))[:MAX_KEYS_PER_CASE]


# ---- reading a report -------------------------------------------------------------------------------------


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(element: Element) -> str | None:
    message = element.get("message")
    if message and message.strip():
        return _clip(message, MAX_MESSAGE_CHARS)
    text = (element.text or "").strip()
    return _clip(text.splitlines()[0] if text else None, MAX_MESSAGE_CHARS)


def _duration(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.replace(",", ""))  # older Surefire writes 1,234.567
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _properties(case: Element) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for group in case:
        if _local(group.tag) != "properties":
            continue
        for prop in group:
            if _local(prop.tag) == "property":
                found.append((prop.get("name") or "", prop.get("value") or (prop.text or "")))
    return found


def read_case(case: Element, suite: str) -> CaseResult:
    """One ``<testcase>`` element, its children complete."""
    children: dict[str, list[Element]] = {}
    for child in case:
        children.setdefault(_local(child.tag), []).append(child)
    status: CaseStatus = "passed"
    decisive: Element | None = None
    for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        if tag in children:
            status, decisive = outcome, children[tag][0]  # type: ignore[assignment]
            break
    flaky_runs = children.get("flakyFailure", []) + children.get("flakyError", [])
    reruns = children.get("rerunFailure", []) + children.get("rerunError", [])
    if decisive is None and flaky_runs:
        decisive = flaky_runs[0]
    classname = _clip(case.get("classname"), MAX_TEXT_CHARS) or ""
    name = _clip(case.get("name"), MAX_TEXT_CHARS) or "(unnamed)"
    display = [m for out in children.get("system-out", []) for m in _DISPLAY_NAME.findall(out.text or "")]
    return CaseResult(
        suite=_clip(suite, MAX_TEXT_CHARS) or "",
        classname=classname,
        name=name,
        status=status,
        duration=_duration(case.get("time")),
        message=_message(decisive) if decisive is not None else None,
        issue_keys=issue_keys([name, classname, *display[:1]], _properties(case)),
        flaky=status == "passed" and bool(flaky_runs),
        attempts=1 + len(flaky_runs) + len(reruns),
    )


def _merged(first: CaseResult, then: CaseResult) -> CaseResult:
    """The same test listed twice (a rerun): the later outcome counts; a pass after a failure is flaky."""
    failed_before = first.status in ("failed", "error") or first.flaky
    return then.model_copy(
        update={
            "flaky": then.flaky or (then.status == "passed" and failed_before),
            "attempts": first.attempts + then.attempts,
            "issue_keys": list(dict.fromkeys([*first.issue_keys, *then.issue_keys]))[:MAX_KEYS_PER_CASE],
            "message": then.message or (first.message if then.status == "passed" else None),
        }
    )


def read_report(events: Iterator[tuple[str, Element]]) -> Report:
    """The cases of a report from its ``start``/``end`` parse events; :class:`InvalidReport` when it is no
    JUnit report or is over a limit."""
    depth = elements = 0
    suites: list[str] = []
    cases: dict[tuple[str, str], CaseResult] = {}
    root_seen = False
    for event, element in events:
        tag = _local(element.tag)
        if event == "start":
            depth += 1
            elements += 1
            if not root_seen:
                root_seen = True
                if tag not in ("testsuites", "testsuite"):
                    raise InvalidReport(f"not a JUnit report: the root element is <{tag[:40]}>")
            if depth > MAX_DEPTH:
                raise InvalidReport(f"the report nests deeper than {MAX_DEPTH} levels")
            if elements > MAX_ELEMENTS:
                raise InvalidReport(f"the report holds more than {MAX_ELEMENTS} elements")
            if tag == "testsuite":
                suites.append(element.get("name") or "")
            continue
        depth -= 1
        if tag == "testcase":
            case = read_case(element, suites[-1] if suites else "")
            previous = cases.get(case.identity)
            cases[case.identity] = case if previous is None else _merged(previous, case)
            if len(cases) > MAX_CASES:
                raise InvalidReport(f"the report holds more than {MAX_CASES} test cases")
            element.clear()  # its children are read: free them as the document streams by
        elif tag == "testsuite" and suites:
            suites.pop()
    if not root_seen:
        raise InvalidReport("the body is empty")
    return Report(cases=list(cases.values()))


def secure_events(data: bytes) -> Iterator[tuple[str, Element]]:
    """``start``/``end`` parse events of ``data`` through ``defusedxml``: a DTD, an entity declaration or an
    external reference stops the parse (:class:`InvalidReport`) before anything expands or is fetched."""
    try:
        yield from safe_xml.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
    except defusedxml.DefusedXmlException:
        raise InvalidReport(
            "the report declares a DTD, entities or external references: refused (XML bombs, XXE)"
        ) from None
    except ParseError as exc:
        raise InvalidReport(f"the body is not well-formed XML: {exc}") from None


def parse_report(data: bytes) -> Report:
    """The report in ``data``: 413 over :data:`MAX_REPORT_BYTES`, 400 when it is no
    JUnit XML trackbridge reads."""
    if len(data) > MAX_REPORT_BYTES:
        raise PayloadTooLarge(
            f"a report may be at most {MAX_REPORT_BYTES} bytes", details={"limit": MAX_REPORT_BYTES}
        )
    if not data.strip():
        raise InvalidReport("the body is empty: send the JUnit XML report")
    return read_report(secure_events(data))


# ---- test cases as link objects ---------------------------------------------------------------------------

# A part of an object key (``domain.links``) may not hold '/', '#', control characters or edge whitespace,
# and the whole key is at most 1000 bytes: each of classname and name gets MAX_PART_BYTES.
MAX_PART_BYTES: Final = 440
_UNSAFE = re.compile(r"[%/#\x00-\x1f\x7f]")


def object_part(text: str) -> str:
    """``text`` as one part of a test case's object key: ``%``, ``/``, ``#`` and control characters
    percent-encoded (so distinct names stay distinct), edge spaces as ``%20``, and a name over 255
    characters or :data:`MAX_PART_BYTES` bytes cut, with a hash of the whole so two long names that share
    a start stay apart."""
    encoded = _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", text)
    stripped = encoded.strip()
    if stripped != encoded:
        lead = len(encoded) - len(encoded.lstrip())
        trail = len(encoded) - len(encoded.rstrip())
        encoded = "%20" * lead + stripped + "%20" * trail
    if encoded in ("", "-"):
        encoded = "%2D" if encoded == "-" else "%20"
    if len(encoded) > MAX_PART_LENGTH or len(encoded.encode("utf-8")) > MAX_PART_BYTES:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        cut = encoded[: MAX_PART_LENGTH - 20].encode("utf-8")[: MAX_PART_BYTES - 20].decode("utf-8", "ignore")
        encoded = f"{cut}~{digest}"
    return encoded


def case_id(classname: str, name: str) -> str:
    """A short stable id of a test within its suite (DynamoDB sort keys, ``GET`` answers)."""
    return hashlib.sha256(f"{classname}\x00{name}".encode()).hexdigest()[:24]


__all__ = [
    "CASE_STATUSES",
    "ISSUE_PROPERTIES",
    "MARK_PROPERTIES",
    "MAX_CASES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "MAX_KEYS_PER_CASE",
    "MAX_MESSAGE_CHARS",
    "MAX_REPORT_BYTES",
    "CaseResult",
    "CaseStatus",
    "InvalidReport",
    "Report",
    "case_id",
    "issue_keys",
    "key_of_token",
    "keys_in_property",
    "keys_in_text",
    "object_part",
    "parse_report",
    "read_case",
    "read_report",
    "secure_events",
]
