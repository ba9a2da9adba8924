"""JUnit XML reports: the dialects as their tools write them, XML bombs and limits, issue keys in names."""

from __future__ import annotations

from pathlib import Path

import pytest

from trackbridge.domain import junit
from trackbridge.domain.errors import PayloadTooLarge
from trackbridge.domain.junit import InvalidReport, parse_report
from trackbridge.domain.links import ObjectRef

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "junit"


def _cases(name: str) -> dict[str, junit.CaseResult]:
    report = parse_report((FIXTURES / name).read_bytes())
    return {case.name: case for case in report.cases}


# ---- dialects ---------------------------------------------------------------------------------------------


def test_pytest_report() -> None:
    cases = _cases("pytest.xml")

    assert list(cases) == [
        "test_PROJ_12_empty_cart_is_refused",
        "test_discount_applies",
        "test_total[#45]",
        "test_decode[UTF-8]",
        "test_refund_rounds_to_cent",
        "test_refund_by_card",
    ]
    failed = cases["test_PROJ_12_empty_cart_is_refused"]
    assert (failed.suite, failed.classname, failed.status, failed.duration) == (
        "pytest",
        "tests.test_checkout",
        "failed",
        0.004,
    )
    assert failed.message is not None
    assert failed.message.startswith("AssertionError: assert 200 == 422")
    assert failed.issue_keys == ["PROJ-12"]
    assert cases["test_discount_applies"].issue_keys == ["PROJ-14"]  # record_property("issue", ...)
    assert cases["test_total[#45]"].issue_keys == ["#45"]
    assert cases["test_decode[UTF-8]"].issue_keys == []  # a standard, not a project
    error = cases["test_refund_rounds_to_cent"]
    assert (error.status, error.message) == (
        "error",
        'failed on setup with "RuntimeError: the database is down"',
    )
    skipped = cases["test_refund_by_card"]
    assert (skipped.status, skipped.message, skipped.issue_keys) == (
        "skipped",
        "needs the payment sandbox",
        ["PROJ-999"],  # @pytest.mark.issue exported as a property
    )
    assert {c.status for n, c in cases.items() if n in ("test_discount_applies", "test_total[#45]")} == {
        "passed"
    }


def test_surefire_report_with_reruns() -> None:
    cases = _cases("surefire.xml")

    always = cases["refusesEmptyCart_OPS_7"]
    assert (always.status, always.flaky, always.attempts, always.issue_keys) == (
        "failed",
        False,
        2,
        ["OPS-7"],
    )
    assert always.message == "expected: <422> but was: <200>"
    flaky = cases["appliesDiscount"]
    assert (flaky.status, flaky.flaky, flaky.attempts, flaky.message) == (
        "passed",
        True,
        2,
        "Timed out after 200 ms",
    )
    assert (cases["connectsToDatabase"].status, cases["connectsToDatabase"].message) == (
        "error",
        "Connection refused",
    )
    assert cases["legacyTotals"].status == "skipped"
    assert cases["computesTax"].duration == 1204.5  # older Surefire writes thousands with a comma
    # The suite's own <properties> are the JVM's: they name no test's issue
    assert all("OPS-1" not in c.issue_keys for c in cases.values())
    assert {c.suite for c in cases.values()} == {"com.acme.checkout.CheckoutTest"}


def test_junit_platform_display_names() -> None:
    cases = _cases("junit5-console.xml")

    assert cases["refundRoundsToCent()"].issue_keys == ["PROJ-13"]
    assert cases["refundByCard()"].issue_keys == []
    assert cases["refundRoundsToCent()"].classname == "com.acme.refunds.RefundTest"


def test_jest_junit_report() -> None:
    cases = _cases("jest-junit.xml")

    refused = cases["Checkout refuses an empty cart (#12)"]
    assert (refused.suite, refused.status, refused.issue_keys) == ("Checkout", "failed", ["#12"])
    assert refused.message == "Error: expect(received).toBe(expected) // Object.is equality"
    assert cases["Checkout applies PROJ-14 discounts"].issue_keys == ["PROJ-14"]
    assert cases["Checkout skips gift cards"].status == "skipped"
    assert cases["Refunds rounds to the cent"].suite == "Refunds"


def test_a_test_listed_again_after_a_failure_is_flaky() -> None:
    report = parse_report(
        b'<testsuite name="s"><testcase classname="c" name="t"><failure message="boom"/></testcase>'
        b'<testcase classname="c" name="t"/><testcase classname="c" name="u"><failure/></testcase>'
        b'<testcase classname="c" name="u"><failure/></testcase></testsuite>'
    )

    by_name = {c.name: c for c in report.cases}
    assert (by_name["t"].status, by_name["t"].flaky, by_name["t"].attempts) == ("passed", True, 2)
    assert (by_name["u"].status, by_name["u"].flaky) == ("failed", False)


# ---- refused documents ------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<testsuite name="s"><testcase classname="c" name="&lol4;"/></testsuite>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE testsuite [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="s"><testcase classname="c" name="&xxe;"/></testsuite>"""
DTD_ONLY = b'<?xml version="1.0"?><!DOCTYPE testsuite SYSTEM "http://127.0.0.1:9/x.dtd"><testsuite/>'


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (BILLION_LAUGHS, "DTD"),
        (XXE, "DTD"),
        (DTD_ONLY, "DTD"),
        (b'{"not": "xml"}', "not well-formed XML"),
        (b"<testsuite><testcase name='x'>", "not well-formed XML"),
        (b"<html><body/></html>", "not a JUnit report"),
        (b"   ", "empty"),
    ],
    ids=["billion-laughs", "xxe", "external-dtd", "json", "truncated", "html", "blank"],
)
def test_refused_documents_are_a_400(body: bytes, says: str) -> None:
    with pytest.raises(InvalidReport) as refused:
        parse_report(body)

    assert refused.value.http_status == 400
    assert refused.value.code == "INVALID_BODY"
    assert says in refused.value.message


def test_a_report_over_the_size_limit_is_a_413() -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        parse_report(b"<testsuite>" + b" " * junit.MAX_REPORT_BYTES + b"</testsuite>")

    assert refused.value.details == {"limit": junit.MAX_REPORT_BYTES}


def test_element_count_and_depth_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(junit, "MAX_ELEMENTS", 10)
    many = b"<testsuite>" + b"<testcase name='t'/>" * 10 + b"</testsuite>"
    with pytest.raises(InvalidReport, match="more than 10 elements"):
        parse_report(many)
    monkeypatch.undo()

    deep = b"<testsuites>" + b"<testsuite>" * 40 + b"</testsuite>" * 40 + b"</testsuites>"
    with pytest.raises(InvalidReport, match=f"deeper than {junit.MAX_DEPTH}"):
        parse_report(deep)


def test_case_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(junit, "MAX_CASES", 3)
    body = b"<testsuite>" + b"".join(b"<testcase name='t%d'/>" % n for n in range(4)) + b"</testsuite>"

    with pytest.raises(InvalidReport, match="more than 3 test cases"):
        parse_report(body)


def test_messages_are_truncated() -> None:
    body = b'<testsuite><testcase name="t"><failure message="' + b"x" * 5000 + b'"/></testcase></testsuite>'

    (case,) = parse_report(body).cases

    assert case.message is not None
    assert len(case.message) == junit.MAX_MESSAGE_CHARS


# ---- issue keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("test_PROJ_123_checkout", ["PROJ-123"]),
        ("PROJ-123 refuses an empty cart", ["PROJ-123"]),
        ("checkout [#45]", ["#45"]),
        ("fixes acme/web#12 and OPS-7", ["acme/web#12", "OPS-7"]),
        ("test_decode[UTF-8]", []),
        ("hashes with SHA-256 and ISO-8601 dates", []),
        ("CVE-2021-44228 is patched", []),
        ("see https://example.test/page#3", []),
        ("html entity &#12;", []),
        ("test_lowercase_proj_12", []),
        ("A-1 is too short a project", []),
    ],
)
def test_keys_in_test_names(text: str, keys: list[str]) -> None:
    assert junit.keys_in_text(text) == keys


@pytest.mark.parametrize(
    ("name", "value", "keys"),
    [
        ("issue", "PROJ-1", ["PROJ-1"]),
        ("issues", "PROJ-1, #2 45", ["PROJ-1", "#2", "#45"]),
        ("Requirement", "acme/web#9", ["acme/web#9"]),
        ("jira", "conn_abcdefghijklmnopqrst.12", ["conn_abcdefghijklmnopqrst.12"]),
        ("issue", "not a key, 0", []),
        ("markers", "issue('PROJ-9'), slow, jira(\"OPS-2\")", ["PROJ-9", "OPS-2"]),
        ("owner", "PROJ-1", []),
    ],
)
def test_keys_in_properties(name: str, value: str, keys: list[str]) -> None:
    assert junit.keys_in_property(name, value) == keys


# ---- test cases as link objects ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["test_total[#45]", "returns a/b", " padded ", "-", "%41 literal", "tab\there", "é" * 400, "x" * 2000],
)
def test_any_test_name_makes_a_valid_distinct_object_key(name: str) -> None:
    part = junit.object_part(name)

    obj = ObjectRef(kind="test_case", database="web-unit", schema=junit.object_part("c" * 1000), name=part)

    assert ObjectRef.parse_key(obj.key) == obj
    assert part != junit.object_part(name + "!")


def test_percent_encoding_keeps_names_apart() -> None:
    assert junit.object_part("a/b") != junit.object_part("a%2Fb")
    assert junit.object_part("a/b") == "a%2Fb"
    assert junit.object_part("a%2Fb") == "a%252Fb"
