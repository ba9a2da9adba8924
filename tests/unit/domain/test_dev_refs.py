"""Issue keys in commit messages, pull/merge request texts and branch names (``domain.dev_refs``)."""

from __future__ import annotations

import pytest

from trackbridge.domain.dev_refs import DevRef, extract_branch_refs, extract_refs, merge

JIRA = frozenset({"ACME", "OPS"})


def keys(text: str, jira: frozenset[str] = JIRA) -> list[tuple[str, bool]]:
    return [(ref.key, ref.closes) for ref in extract_refs(text, jira_projects=jira)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Add login form (#12)", [("#12", False)]),
        ("see acme/widgets#3", [("acme/widgets#3", False)]),
        ("see group/sub/project#44 too", [("group/sub/project#44", False)]),
        ("ACME-7: tidy the importer", [("ACME-7", False)]),
        ("branch feature/ACME-12 merged", [("ACME-12", False)]),
        ("(OPS-3)", [("OPS-3", False)]),
        ("#1 #2 #1", [("#1", False), ("#2", False)]),
    ],
)
def test_references_are_found(text: str, expected: list[tuple[str, bool]]) -> None:
    assert keys(text) == expected


@pytest.mark.parametrize(
    "keyword", ["close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"]
)
def test_every_closing_keyword_in_any_case_with_or_without_colon(keyword: str) -> None:
    assert keys(f"{keyword} #4") == [("#4", True)]
    assert keys(f"{keyword.upper()}: ACME-4") == [("ACME-4", True)]
    assert keys(f"This {keyword.title()} acme/widgets#4.") == [("acme/widgets#4", True)]


def test_a_keyword_governs_the_list_after_it_only() -> None:
    assert keys("Fixes #1, #2 and #3; see #4") == [("#1", True), ("#2", True), ("#3", True), ("#4", False)]
    assert keys("Closes #5 & ACME-6, relates to #7") == [("#5", True), ("ACME-6", True), ("#7", False)]


def test_a_reference_closed_anywhere_closes() -> None:
    assert keys("see #9. Fixes #9") == [("#9", True)]


def test_words_that_merely_contain_a_keyword_do_not_close() -> None:
    assert keys("prefix #8, unfixed #9, closeness #10, fixture #11") == [
        ("#8", False),
        ("#9", False),
        ("#10", False),
        ("#11", False),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Switch to UTF-8 and SHA-256 timestamps in ISO-8601 per RFC-2119 (CVE-2024-1234)",
        "see https://example.test/acme/widgets/issues#12 and www.example.test/x#13",
        "the `#14` in a code span, and `ACME-15`",
        "```\nfixes #16\nACME-17\n```\nafter the fence",
        "mail ops-team@example.test or ACME-18@example.test",
        "HTML entity &#123; and glued abc#19 and #20abc",
        "merge deadbeefcafe1234567890abcdef12345678 and #a1b2c3",
        "version ACME-2-3 and ACME-0 and #0",
        "a number too long for an issue #1234567890",
    ],
)
def test_false_positives_are_not_references(text: str) -> None:
    assert keys(text) == []


def test_jira_keys_need_a_known_project() -> None:
    assert keys("WIDGET-4 and ACME-5") == [("ACME-5", False)]
    assert keys("ACME-5", frozenset()) == []
    assert keys("acme-5 Acme-5") == []  # Jira keys are upper case


def test_nothing_in_nothing() -> None:
    assert extract_refs(None) == []
    assert extract_refs("") == []
    assert extract_branch_refs(None) == []


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        ("feature/ACME-12-login", ["ACME-12"]),
        ("12-fix-the-login", ["#12"]),
        ("fix/34-thing", ["#34"]),
        ("fix-#35", ["#35"]),
        ("main", []),
        ("release-1.2", []),
        ("2024-01-hotfix", []),
        ("UTF-8-cleanup", []),
    ],
)
def test_branch_names(branch: str, expected: list[str]) -> None:
    refs = extract_branch_refs(branch, jira_projects=JIRA)
    assert [ref.key for ref in refs] == expected
    assert not any(ref.closes for ref in refs)


def test_merge_keeps_first_order_and_any_close() -> None:
    merged = merge([DevRef("number", 1), DevRef("jira", 2, "ACME"), DevRef("number", 1, closes=True)])
    assert merged == [DevRef("number", 1, closes=True), DevRef("jira", 2, "ACME")]
    qualified = merge([DevRef("qualified", 3, "Acme/Widgets"), DevRef("qualified", 3, "acme/widgets")])
    assert len(qualified) == 1
