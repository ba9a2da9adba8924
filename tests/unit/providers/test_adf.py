"""Markdown <-> ADF: round trips, the spec examples' ADF, structure rules, and malformed input."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from trackbridge.providers.adf import (
    AdfError,
    adf_to_markdown,
    markdown_to_adf,
    mention_markdown,
    validate_adf,
)

SHARED = Path(__file__).resolve().parents[4] / "shared"
JIRA_FIXTURES = SHARED / "fixtures" / "jira"


def doc(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(content)}


def para(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def text(value: str, *marks: str | dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = [m if isinstance(m, dict) else {"type": m} for m in marks]
    return node


def link(href: str) -> dict[str, Any]:
    return {"type": "link", "attrs": {"href": href}}


# Canonical Markdown: what adf_to_markdown writes, so md -> adf -> md must give it back unchanged.
CANONICAL = {
    "headings": "# One\n\n## Two\n\n### Three\n\n#### Four\n\n##### Five\n\n###### Six",
    "inline marks": "Plain **bold** _italic_ ~~gone~~ `code`, **_both_** and in_word\\_ _emphasis_.",
    # Where a delimiter would not open or close by CommonMark's flanking rules, the neighbouring
    # letter is written as a character reference.
    "emphasis glued to words and punctuation": "a**b**c &#120;_y_&#122; **(p)**&#113; _é_.",
    "link with title": 'See [the docs](https://example.com/a?b=1 "Docs") and <https://example.com>.',
    "code block": "```python\ndef f():\n    return '**not bold**'\n```",
    "code block without language": "```\nplain\n```",
    "nested lists": "- a\n- b\n  - b1\n  - b2\n    1. deep\n- c\n\n1. one\n2. two",
    "ordered from 3": "3. three\n4. four",
    "adjacent lists": "- first list\n\n* second list",
    "blockquote": "> quoted **text**\\\n> second line\n>\n> - a list in a quote",
    "rule": "above\n\n---\n\nbelow",
    "hard break": "line one\\\nline two",
    "table": "| Name | Value |\n| --- | --- |\n| a \\| b | _x_ |\n| `c` |   |",
    "mention": "Ping @[Mia Krystof](accountid:5b10a2844c20165700ede21g) and "
    "@[Jo \\] Smith](accountid:557058:f58131cb-b67d-43c7-b30d-6b58d40bd077).",
    "escapes": "1\\. not a list, # mid-line, \\*not emphasis\\*, snake_case_name, \\_x\\_\\\n"
    "\\# not a heading",
    "list item with two paragraphs": "- first\n\n  second paragraph\n- next",
}


@pytest.mark.parametrize("markdown", CANONICAL.values(), ids=CANONICAL.keys())
def test_canonical_markdown_round_trips_unchanged(markdown: str) -> None:
    adf = markdown_to_adf(markdown)
    validate_adf(adf)
    assert adf_to_markdown(adf) == markdown
    assert markdown_to_adf(adf_to_markdown(adf)) == adf


NON_CANONICAL = {
    "soft break becomes a hard break": ("a\nb", "a\\\nb"),
    "two-space hard break": ("a  \nb", "a\\\nb"),
    "star bullets": ("* a\n* b", "- a\n- b"),
    "parenthesis ordered list": ("1) a\n2) b", "1. a\n2. b"),
    "setext heading": ("Title\n=====", "# Title"),
    "indented code": ("    code here", "```\ncode here\n```"),
    "star emphasis": ("__b__ *i* ***bi***", "**b** _i_ **_bi_**"),
    "image becomes a link": (
        "![alt text](https://img.example/x.png)",
        "[alt text](https://img.example/x.png)",
    ),
    "raw html stays text": ("<b>bold</b>", "\\<b>bold\\</b>"),
    "unsafe scheme is not a link": ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"),
    "heading inside a list item": ("- # title", "- title"),
    "entity is decoded": ("R&amp;D", "R&D"),
}


@pytest.mark.parametrize(("markdown", "expected"), NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_other_markdown_settles_on_its_canonical_form(markdown: str, expected: str) -> None:
    adf = markdown_to_adf(markdown)
    validate_adf(adf)
    assert adf_to_markdown(adf) == expected
    assert markdown_to_adf(expected) == adf


def test_markdown_renders_the_adf_jira_expects() -> None:
    adf = markdown_to_adf(
        "## Steps\n\n1. Open **orders**\n2. See `err`\n\n```sql\nselect 1;\n```\n\n"
        "Owner: @[Mia](accountid:abc123) [log](https://x.example/log)"
    )
    assert adf == doc(
        {"type": "heading", "attrs": {"level": 2}, "content": [text("Steps")]},
        {
            "type": "orderedList",
            "content": [
                {"type": "listItem", "content": [para(text("Open "), text("orders", "strong"))]},
                {"type": "listItem", "content": [para(text("See "), text("err", "code"))]},
            ],
        },
        {"type": "codeBlock", "attrs": {"language": "sql"}, "content": [text("select 1;")]},
        para(
            text("Owner: "),
            {"type": "mention", "attrs": {"id": "abc123", "text": "@Mia"}},
            text(" "),
            text("log", link("https://x.example/log")),
        ),
    )


def test_table_becomes_header_and_cell_rows() -> None:
    adf = markdown_to_adf("| h1 | h2 |\n| --- | --- |\n| a |\n")
    validate_adf(adf)
    table = adf["content"][0]
    assert table["type"] == "table"
    header, row = table["content"]
    assert [c["type"] for c in header["content"]] == ["tableHeader", "tableHeader"]
    assert [c["type"] for c in row["content"]] == ["tableCell", "tableCell"]
    # The missing cell is padded with an empty paragraph: ADF cells need at least one block.
    assert row["content"][1]["content"] == [{"type": "paragraph", "content": []}]


def test_list_starting_with_a_nested_list_gets_an_empty_first_paragraph() -> None:
    adf = markdown_to_adf("- - nested")
    validate_adf(adf)
    item = adf["content"][0]["content"][0]
    assert item["content"][0] == {"type": "paragraph", "content": []}
    assert item["content"][1]["type"] == "bulletList"


def test_code_mark_keeps_only_link_beside_it() -> None:
    adf = markdown_to_adf("**`x`** [`y`](https://e.example)")
    validate_adf(adf)
    nodes = adf["content"][0]["content"]
    assert nodes[0] == text("x", "code")
    assert nodes[2] == text("y", link("https://e.example"), "code")


def test_empty_markdown_is_an_empty_doc() -> None:
    assert markdown_to_adf("") == doc()
    assert markdown_to_adf(None) == doc()
    assert adf_to_markdown(doc()) == ""


# ---- the spec examples' ADF -----------------------------------------------------------------------------


def _adf_documents(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return [value]
        return [d for v in value.values() for d in _adf_documents(v)]
    if isinstance(value, list):
        return [d for v in value for d in _adf_documents(v)]
    return []


def _fixture_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(JIRA_FIXTURES.glob("rest_v3_*.json")):
        for index, document in enumerate(_adf_documents(json.loads(path.read_text()))):
            found.append((f"{path.stem}#{index}", document))
    return found


FIXTURE_DOCS = _fixture_documents()


def test_the_fixtures_hold_adf_documents() -> None:
    # issue create (description, environment), issue get (description, comment, worklog), comment add
    # (request and response) and the transition request's comment.
    assert len(FIXTURE_DOCS) >= 7


@pytest.mark.parametrize(("name", "document"), FIXTURE_DOCS, ids=[n for n, _ in FIXTURE_DOCS])
def test_fixture_adf_round_trips(name: str, document: dict[str, Any]) -> None:
    validate_adf(document)
    markdown = adf_to_markdown(document)
    assert markdown
    assert markdown_to_adf(markdown) == document


def test_fixture_description_reads_as_its_text() -> None:
    issue = json.loads((JIRA_FIXTURES / "rest_v3_issue_get.response.openapi-example.json").read_text())
    assert adf_to_markdown(issue["fields"]["description"]) == "Main order flow broken"


# ---- ADF that Markdown cannot hold degrades, never crashes -------------------------------------------------


DEGRADED = {
    "emoji": (
        doc(para(text("ok "), {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}})),
        "ok 😄",
    ),
    "emoji without text": (doc(para({"type": "emoji", "attrs": {"shortName": ":x:"}})), ":x:"),
    "status": (doc(para({"type": "status", "attrs": {"text": "IN REVIEW", "color": "blue"}})), "IN REVIEW"),
    "date": (doc(para({"type": "date", "attrs": {"timestamp": "1582152559000"}})), "2020-02-19"),
    "inline card": (
        doc(para({"type": "inlineCard", "attrs": {"url": "https://e.example/x"}})),
        "<https://e.example/x>",
    ),
    "panel": (
        doc({"type": "panel", "attrs": {"panelType": "info"}, "content": [para(text("note"))]}),
        "> note",
    ),
    "expand": (
        doc({"type": "expand", "attrs": {"title": "More"}, "content": [para(text("hidden"))]}),
        "**More**\n\nhidden",
    ),
    "file media": (
        doc(
            {
                "type": "mediaSingle",
                "content": [{"type": "media", "attrs": {"type": "file", "id": "u1", "alt": "a.png"}}],
            }
        ),
        "(attachment: a.png)",
    ),
    "unknown block with children": (
        doc({"type": "layoutSection", "content": [para(text("inside"))]}),
        "inside",
    ),
    "unknown block with text": (doc({"type": "futureThing", "attrs": {"text": "shown"}}), "shown"),
    "unknown inline": (doc(para(text("a "), {"type": "futureInline", "attrs": {"text": "b"}})), "a b"),
    "task list": (
        doc(
            {
                "type": "taskList",
                "content": [{"type": "taskItem", "attrs": {"state": "DONE"}, "content": [text("shipped")]}],
            }
        ),
        "- [x] shipped",
    ),
    "unsupported marks keep their text": (doc(para(text("u", "underline", {"type": "textColor"}))), "u"),
    "mention without a usable id": (
        doc(para({"type": "mention", "attrs": {"id": "bad id!", "text": "@Al"}})),
        "@Al",
    ),
    "headerless colspan table": (
        doc(
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {"type": "tableCell", "content": [para(text("a"))]},
                            {
                                "type": "tableCell",
                                "attrs": {"colspan": 2},
                                "content": [para(text("b")), para(text("c"))],
                            },
                        ],
                    }
                ],
            }
        ),
        "| a | b c |   |\n| --- | --- | --- |",
    ),
}


@pytest.mark.parametrize(("document", "expected"), DEGRADED.values(), ids=DEGRADED.keys())
def test_nodes_markdown_cannot_hold_degrade_to_text(document: dict[str, Any], expected: str) -> None:
    markdown = adf_to_markdown(document)
    assert markdown == expected
    validate_adf(markdown_to_adf(markdown))


@pytest.mark.parametrize(
    "junk",
    [
        None,
        42,
        [],
        {"type": "doc"},
        {"type": "doc", "content": "not a list"},
        {
            "type": "doc",
            "version": 1,
            "content": [None, 3, "x", {"no": "type"}, {"type": "text", "text": "stray"}],
        },
        doc(para(text("x", {"type": "link"}), {"type": "text", "text": 5}, {"type": "text"})),
        doc({"type": "heading", "attrs": {"level": 99}, "content": [text("h")]}),
        doc({"type": "orderedList", "attrs": {"order": "x"}, "content": [{"type": "listItem"}]}),
        doc(
            {
                "type": "table",
                "content": [
                    {"type": "tableRow", "content": [{"type": "tableCell", "attrs": {"colspan": 10**9}}]}
                ],
            }
        ),
        doc({"type": "codeBlock", "attrs": {"language": ["x"]}, "content": [{"type": "text"}]}),
    ],
)
def test_malformed_adf_never_raises(junk: Any) -> None:
    markdown = adf_to_markdown(junk)
    assert isinstance(markdown, str)
    validate_adf(markdown_to_adf(markdown))


def test_plain_string_bodies_pass_through() -> None:
    # Jira webhooks (REST v2 shape) deliver descriptions as strings.
    assert adf_to_markdown("Main order flow broken") == "Main order flow broken"


def test_mention_markdown_escapes_the_name() -> None:
    markdown = mention_markdown("abc", "A] \\ B")
    assert markdown == "@[A\\] \\\\ B](accountid:abc)"
    mention = markdown_to_adf(markdown)["content"][0]["content"][0]
    assert mention == {"type": "mention", "attrs": {"id": "abc", "text": "@A] \\ B"}}


# ---- the validator -----------------------------------------------------------------------------------------


INVALID = {
    "not a doc": ({"type": "paragraph"}, "$"),
    "wrong version": ({"type": "doc", "version": 2, "content": []}, "$"),
    "inline at top level": (doc(text("x")), "$.content[0]"),
    "empty text": (doc(para({"type": "text", "text": ""})), "$.content[0].content[0]"),
    "heading level": (doc({"type": "heading", "attrs": {"level": 7}, "content": []}), "$.content[0]"),
    "code with strong": (doc(para(text("x", "code", "strong"))), "$.content[0].content[0]"),
    "marked code block text": (
        doc({"type": "codeBlock", "content": [text("x", "strong")]}),
        "$.content[0].content[0]",
    ),
    "empty list": (doc({"type": "bulletList", "content": []}), "$.content[0]"),
    "list item starting with a list": (
        doc(
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "bulletList", "content": [{"type": "listItem", "content": [para()]}]}
                        ],
                    }
                ],
            }
        ),
        "$.content[0].content[0]",
    ),
    "mention without id": (doc(para({"type": "mention", "attrs": {}})), "$.content[0].content[0]"),
    "unknown mark": (doc(para(text("x", "blink"))), "$.content[0].content[0]"),
    "table cell without blocks": (
        doc(
            {
                "type": "table",
                "content": [{"type": "tableRow", "content": [{"type": "tableCell", "content": []}]}],
            }
        ),
        "$.content[0].content[0].content[0]",
    ),
    "quote with a heading": (
        doc({"type": "blockquote", "content": [{"type": "heading", "attrs": {"level": 1}, "content": []}]}),
        "$.content[0].content[0]",
    ),
}


@pytest.mark.parametrize(("document", "path"), INVALID.values(), ids=INVALID.keys())
def test_validator_names_the_broken_node(document: dict[str, Any], path: str) -> None:
    with pytest.raises(AdfError) as caught:
        validate_adf(document)
    assert caught.value.path == path


# ---- property: any marked text survives ADF -> Markdown -> ADF -------------------------------------------

ALPHABET = list("abcxyz019 ") + list("\\`*_[]<>#-+=!@&|~().:;'\"{}^$%/") + ["é", "😄", "&amp;", "1.", " -"]
MARK_SETS = [
    (),
    ("strong",),
    ("em",),
    ("strike",),
    ("strong", "em"),
    ("em", "strike"),
    ("code",),
    ("link",),
    ("link", "strong"),
]


def _random_paragraph(rng: random.Random) -> dict[str, Any]:
    nodes = []
    for _ in range(rng.randint(1, 6)):
        value = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8)))
        marks = rng.choice(MARK_SETS)
        built = [link("https://example.com/p?q=1") if m == "link" else {"type": m} for m in marks]
        nodes.append(text(value, *built) if built else text(value))
    return para(*nodes)


def _styled_chars(document: dict[str, Any]) -> list[list[tuple[str, frozenset[str]]]]:
    """Per paragraph, each character with the marks it carries (marks on whitespace are not compared:
    Markdown cannot put emphasis on leading or trailing spaces, so the renderer moves them out)."""
    paragraphs = []
    for block in document["content"]:
        chars: list[tuple[str, frozenset[str]]] = []
        for node in block.get("content", []):
            kinds = frozenset(m["type"] for m in node.get("marks", []))
            for char in node.get("text", ""):
                chars.append((char, frozenset() if char.isspace() else kinds))
        paragraphs.append(chars)
    return paragraphs


def _strip_edges(chars: list[tuple[str, frozenset[str]]]) -> list[tuple[str, frozenset[str]]]:
    # Markdown drops a paragraph's trailing whitespace (leading whitespace is kept as &#32;).
    while chars and chars[-1][0] == " ":
        chars = chars[:-1]
    return chars


@pytest.mark.parametrize("seed", range(60))
def test_random_marked_text_survives_the_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    original = doc(*(_random_paragraph(rng) for _ in range(5)))
    markdown = adf_to_markdown(original)
    back = markdown_to_adf(markdown)
    validate_adf(back)
    expected = [_strip_edges(p) for p in _styled_chars(original)]
    assert [_strip_edges(p) for p in _styled_chars(back)] == expected, markdown


def test_absurdly_deep_adf_keeps_its_words() -> None:
    node: dict[str, Any] = para(text("deepest *"))
    for level in range(3000):
        node = {
            "type": "bulletList",
            "content": [{"type": "listItem", "content": [para(text(f"level {level}")), node]}],
        }
    document = doc(node)
    markdown = adf_to_markdown(document)
    assert markdown.startswith("level 2999\n\nlevel 2998")
    assert markdown.endswith("deepest \\*")
    with pytest.raises(AdfError, match="nested too deeply"):
        validate_adf(document)


def test_deeply_nested_markdown_keeps_its_text() -> None:
    markdown = "".join("  " * level + "- item\n" for level in range(30)) + "\n" + ">" * 60 + " quoted"
    adf = markdown_to_adf(markdown)
    validate_adf(adf)
    rendered = adf_to_markdown(adf)
    assert rendered.count("item") == 30
    assert rendered.endswith("> quoted")
