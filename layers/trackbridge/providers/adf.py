"""Markdown <-> Atlassian Document Format (ADF), the rich-text format of Jira Cloud's REST API v3.

Why this exists: trackbridge's API speaks Markdown (what GitHub and GitLab store and what templates
produce), while Jira v3 accepts and returns only ADF for descriptions, comments and worklog comments.
Markdown is parsed by markdown-it-py (CommonMark plus GFM tables and strikethrough) and the token stream
is rendered into ADF; the way back walks the ADF tree. Neither direction hand-parses Markdown.

Conventions (the parts Markdown has no standard for):

- **Mentions** are written ``@[Display Name](accountid:<accountId>)`` and become an ADF ``mention`` node
  ``{"id": accountId, "text": "@Display Name"}``; ``]`` and ``\\`` in the name are backslash-escaped.
- **Line breaks**: a single newline inside a paragraph is a line break (ADF ``hardBreak``), the way
  GitHub and GitLab render issue text. ``hardBreak`` is written back as a backslash line end, the one
  hard-break form every CommonMark renderer understands.
- **Tables** are GFM pipe tables; the first row is the header. A Markdown cell holds one line of inline
  content, so richer ADF cells are flattened to one line and headerless ADF tables gain a header row.
- **Raw HTML is never interpreted** (it stays visible text) and unsafe link schemes never become links:
  markdown-it's link validation rejects ``javascript:``, ``vbscript:``, ``file:`` and ``data:``.
- **Degrading**: images become linked text; ADF emoji, status, date, cards, media, panels, expands, task
  and decision lists and any unknown node degrade to text or to their children. Unknown or malformed ADF
  never raises from :func:`adf_to_markdown`.
- **Emphasis** is written ``**strong**``, ``_em_`` and ``~~strike~~``: one delimiter character per mark,
  so adjacent marks never form an ambiguous ``***`` run. Where CommonMark's flanking rules would not let
  a delimiter open or close (``**(x)**y``), the neighbouring letter is written as a character reference
  (``**(x)**&#121;``): odd to read, exact to parse. Spaces at the edge of a marked run move outside it.
- ADF allows only a ``link`` mark beside ``code``; other marks on inline code are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

Node = dict[str, Any]

MENTION_SCHEME = "accountid"
# Atlassian account ids look like "5b10a2844c20165700ede21g" or "557058:f58131cb-b67d-...".
_ACCOUNT_ID = r"[A-Za-z0-9][A-Za-z0-9:_.\-]*"
_ACCOUNT_ID_RE = re.compile(_ACCOUNT_ID + r"\Z")
_MENTION_RE = re.compile(r"@\[((?:[^\]\\\n]|\\.)*)\]\(" + MENTION_SCHEME + r":(" + _ACCOUNT_ID + r")\)")


class AdfError(ValueError):
    """A document breaks the ADF structure rules; ``path`` points at the offending node."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def mention_markdown(account_id: str, display_name: str) -> str:
    """The Markdown for a mention, e.g. for templates that address a Jira user."""
    return f"@[{_escape_mention_name(display_name)}]({MENTION_SCHEME}:{account_id})"


# --------------------------------------------------------------------------------------------------------
# Markdown -> ADF
# --------------------------------------------------------------------------------------------------------


def _mention_rule(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "@":
        return False
    match = _MENTION_RE.match(state.src, state.pos, state.posMax)
    if match is None:
        return False
    if not silent:
        token = state.push("mention", "", 0)
        token.meta = {"id": match.group(2), "name": re.sub(r"\\(.)", r"\1", match.group(1))}
    state.pos = match.end()
    return True


@cache
def _parser() -> MarkdownIt:
    # maxNesting: markdown-it drops what is nested deeper (its guard against recursion); 20 would lose
    # the text of a quote in a list in a quote... well before any real document gets there.
    md = MarkdownIt("commonmark", {"html": False, "maxNesting": 100}).enable(["table", "strikethrough"])
    md.inline.ruler.before("link", "mention", _mention_rule)
    return md


def markdown_to_adf(markdown: str | None) -> Node:
    """Render Markdown as an ADF ``doc`` (version 1). Empty input gives a doc with no content."""
    root: Node = {"type": "doc", "version": 1, "content": []}
    stack: list[Node] = [root]
    for token in _parser().parse(markdown or ""):
        kind = token.type
        if kind in ("thead_open", "thead_close", "tbody_open", "tbody_close"):
            continue  # ADF tables have rows only; the header is the first row's cell type
        if kind.endswith("_open"):
            stack.append(_open_block(token))
        elif kind.endswith("_close"):
            node = _finish_block(stack.pop())
            stack[-1]["content"].append(node)
        elif kind == "inline":
            inline = _inline_nodes(token.children or [])
            parent = stack[-1]
            if parent["type"] in ("tableHeader", "tableCell"):
                parent["content"].append({"type": "paragraph", "content": inline})
            else:
                parent["content"].extend(inline)
        elif kind in ("fence", "code_block"):
            stack[-1]["content"].append(_code_block(token))
        elif kind == "hr":
            stack[-1]["content"].append({"type": "rule"})
        elif token.content:
            # Any other block (html_block if ever enabled) is shown as the text it is.
            stack[-1]["content"].append(
                {"type": "paragraph", "content": [{"type": "text", "text": token.content.rstrip("\n")}]}
            )
    return root


_OPEN_TYPES = {
    "paragraph_open": "paragraph",
    "bullet_list_open": "bulletList",
    "ordered_list_open": "orderedList",
    "list_item_open": "listItem",
    "blockquote_open": "blockquote",
    "table_open": "table",
    "tr_open": "tableRow",
    "th_open": "tableHeader",
    "td_open": "tableCell",
}


def _open_block(token: Token) -> Node:
    if token.type == "heading_open":
        return {"type": "heading", "attrs": {"level": int(token.tag[1])}, "content": []}
    node_type = _OPEN_TYPES.get(token.type, "paragraph")
    node: Node = {"type": node_type, "content": []}
    if node_type == "orderedList":
        start = token.attrs.get("start")
        if start is not None and int(start) != 1:
            node["attrs"] = {"order": int(start)}
    elif node_type == "table":
        node["attrs"] = {"isNumberColumnEnabled": False, "layout": "default"}
    return node


_LIST_ITEM_CHILDREN = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"})
_QUOTE_CHILDREN = frozenset({"paragraph", "bulletList", "orderedList", "codeBlock"})


def _finish_block(node: Node) -> Node:
    """Bend what Markdown allows into what ADF allows (lists and quotes hold fewer kinds of blocks)."""
    node_type = node["type"]
    if node_type == "listItem":
        content = _coerce_blocks(node["content"], _LIST_ITEM_CHILDREN)
        if not content or content[0]["type"] not in ("paragraph", "codeBlock"):
            # ADF forbids a nested list as an item's first child; an empty paragraph is the usual fix.
            content.insert(0, {"type": "paragraph", "content": []})
        node["content"] = content
    elif node_type == "blockquote":
        node["content"] = _coerce_blocks(node["content"], _QUOTE_CHILDREN) or [
            {"type": "paragraph", "content": []}
        ]
    elif node_type in ("tableHeader", "tableCell") and not node["content"]:
        node["content"] = [{"type": "paragraph", "content": []}]
    return node


def _coerce_blocks(nodes: list[Node], allowed: frozenset[str]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        node_type = node["type"]
        if node_type in allowed:
            out.append(node)
        elif node_type == "heading":
            out.append({"type": "paragraph", "content": node["content"]})
        elif node_type == "blockquote":
            out.extend(_coerce_blocks(node["content"], allowed))
        elif node_type == "table":
            for row in node["content"]:
                line: list[Node] = []
                for index, cell in enumerate(row["content"]):
                    if index:
                        line.append({"type": "text", "text": " | "})
                    for block in cell["content"]:
                        line.extend(block.get("content", []))
                out.append({"type": "paragraph", "content": line})
        # A rule has no place in a list item or quote in ADF and carries no text: it is dropped.
    return out


def _code_block(token: Token) -> Node:
    text = token.content[:-1] if token.content.endswith("\n") else token.content
    node: Node = {"type": "codeBlock", "content": [{"type": "text", "text": text}] if text else []}
    language = token.info.strip().split(" ")[0] if token.type == "fence" else ""
    if language:
        node["attrs"] = {"language": language}
    return node


_MARK_ORDER = {"link": 0, "strong": 1, "em": 2, "strike": 3, "code": 4}
_PAIRED_MARKS = {"strong": "strong", "em": "em", "s": "strike"}


def _inline_nodes(tokens: Sequence[Token]) -> list[Node]:
    out: list[Node] = []
    marks: list[Node] = []
    for token in tokens:
        kind = token.type
        if kind == "text":
            _push_text(out, token.content, marks)
        elif kind in ("softbreak", "hardbreak"):
            out.append({"type": "hardBreak"})
        elif kind == "code_inline":
            _push_text(out, token.content, [m for m in marks if m["type"] == "link"] + [{"type": "code"}])
        elif kind.endswith("_open") and kind[: -len("_open")] in _PAIRED_MARKS:
            marks.append({"type": _PAIRED_MARKS[kind[: -len("_open")]]})
        elif kind.endswith("_close") and kind[: -len("_close")] in _PAIRED_MARKS:
            _drop_last(marks, _PAIRED_MARKS[kind[: -len("_close")]])
        elif kind == "link_open":
            marks.append(_link_mark(str(token.attrs.get("href", "")), token.attrs.get("title")))
        elif kind == "link_close":
            _drop_last(marks, "link")
        elif kind == "image":
            src = str(token.attrs.get("src", ""))
            alt = "".join(child.content for child in token.children or []) or token.content or src
            _push_text(out, alt, [*(m for m in marks if m["type"] != "link"), _link_mark(src, None)])
        elif kind == "mention":
            attrs: dict[str, str] = {"id": token.meta["id"]}
            if token.meta["name"]:
                attrs["text"] = "@" + token.meta["name"]
            out.append({"type": "mention", "attrs": attrs})
        elif token.content:
            _push_text(out, token.content, marks)
    return out


def _link_mark(href: str, title: Any) -> Node:
    attrs: dict[str, str] = {"href": href}
    if title:
        attrs["title"] = str(title)
    return {"type": "link", "attrs": attrs}


def _drop_last(marks: list[Node], mark_type: str) -> None:
    for index in range(len(marks) - 1, -1, -1):
        if marks[index]["type"] == mark_type:
            del marks[index]
            return


def _push_text(out: list[Node], text: str, marks: Iterable[Node]) -> None:
    if not text:
        return  # ADF text nodes must not be empty
    by_type: dict[str, Node] = {}
    for mark in marks:
        by_type[mark["type"]] = dict(mark)  # nested **a **b** c** would repeat a mark; the inner one wins
    ordered = sorted(by_type.values(), key=lambda m: _MARK_ORDER.get(m["type"], 9))
    previous = out[-1] if out else None
    if previous is not None and previous["type"] == "text" and previous.get("marks", []) == ordered:
        previous["text"] += text  # markdown-it splits text at every special character; ADF need not
        return
    node: Node = {"type": "text", "text": text}
    if ordered:
        node["marks"] = ordered
    out.append(node)


# --------------------------------------------------------------------------------------------------------
# ADF validation (the structure rules of the subset this module emits)
# --------------------------------------------------------------------------------------------------------

_INLINE_TYPES = frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"})
_TOP_BLOCKS = frozenset(
    {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "blockquote", "rule", "table"}
)
_CELL_BLOCKS = frozenset(
    {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "blockquote", "rule"}
)
_KNOWN_MARKS = frozenset(
    {"strong", "em", "strike", "code", "link", "underline", "subsup", "textColor", "backgroundColor"}
)


def validate_adf(doc: Any) -> None:
    """Raise :class:`AdfError` unless ``doc`` is a well-formed ADF document of the emitted subset."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        raise AdfError('the root must be {"type": "doc", "version": 1, "content": [...]}', "$")
    try:
        for index, child in enumerate(_children(doc, "$", required=True)):
            _validate_block(child, f"$.content[{index}]", _TOP_BLOCKS)
    except RecursionError:
        raise AdfError("the document is nested too deeply", "$") from None


def _children(node: Node, path: str, *, required: bool = False, min_items: int = 0) -> list[Any]:
    content = node.get("content")
    if content is None and not required and min_items == 0:
        return []
    if not isinstance(content, list):
        raise AdfError("content must be an array", path)
    if len(content) < min_items:
        raise AdfError(f"content needs at least {min_items} node(s)", path)
    return content


def _validate_block(node: Any, path: str, allowed: frozenset[str]) -> None:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise AdfError("a node must be an object with a type", path)
    node_type = node["type"]
    if node_type not in allowed:
        raise AdfError(f"{node_type!r} is not allowed here (allowed: {sorted(allowed)})", path)
    if node_type in ("paragraph", "heading"):
        if node_type == "heading":
            level = (node.get("attrs") or {}).get("level")
            if not isinstance(level, int) or not 1 <= level <= 6:
                raise AdfError("heading.attrs.level must be an integer from 1 to 6", path)
        for index, child in enumerate(_children(node, path)):
            _validate_inline(child, f"{path}.content[{index}]")
    elif node_type == "codeBlock":
        language = (node.get("attrs") or {}).get("language")
        if language is not None and not isinstance(language, str):
            raise AdfError("codeBlock.attrs.language must be a string", path)
        for index, child in enumerate(_children(node, path)):
            child_path = f"{path}.content[{index}]"
            _validate_inline(child, child_path)
            if child.get("type") != "text" or child.get("marks"):
                raise AdfError("a codeBlock holds only text without marks", child_path)
    elif node_type in ("bulletList", "orderedList"):
        order = (node.get("attrs") or {}).get("order")
        if order is not None and (not isinstance(order, int) or order < 0):
            raise AdfError("orderedList.attrs.order must be a non-negative integer", path)
        for index, child in enumerate(_children(node, path, min_items=1)):
            _validate_list_item(child, f"{path}.content[{index}]")
    elif node_type == "blockquote":
        for index, child in enumerate(_children(node, path, min_items=1)):
            _validate_block(child, f"{path}.content[{index}]", _QUOTE_CHILDREN)
    elif node_type == "rule":
        if node.get("content"):
            raise AdfError("a rule has no content", path)
    elif node_type == "table":
        for index, row in enumerate(_children(node, path, min_items=1)):
            _validate_row(row, f"{path}.content[{index}]")


def _validate_list_item(node: Any, path: str) -> None:
    if not isinstance(node, dict) or node.get("type") != "listItem":
        raise AdfError("a list holds only listItem nodes", path)
    children = _children(node, path, min_items=1)
    for index, child in enumerate(children):
        _validate_block(child, f"{path}.content[{index}]", _LIST_ITEM_CHILDREN)
    if children[0]["type"] not in ("paragraph", "codeBlock"):
        raise AdfError("a listItem must start with a paragraph or a codeBlock", path)


def _validate_row(node: Any, path: str) -> None:
    if not isinstance(node, dict) or node.get("type") != "tableRow":
        raise AdfError("a table holds only tableRow nodes", path)
    for index, cell in enumerate(_children(node, path, min_items=1)):
        cell_path = f"{path}.content[{index}]"
        if not isinstance(cell, dict) or cell.get("type") not in ("tableHeader", "tableCell"):
            raise AdfError("a tableRow holds only tableHeader or tableCell nodes", cell_path)
        for block_index, block in enumerate(_children(cell, cell_path, min_items=1)):
            _validate_block(block, f"{cell_path}.content[{block_index}]", _CELL_BLOCKS)


def _validate_inline(node: Any, path: str) -> None:
    if not isinstance(node, dict) or node.get("type") not in _INLINE_TYPES:
        raise AdfError(f"expected an inline node ({sorted(_INLINE_TYPES)})", path)
    node_type = node["type"]
    if node_type == "text":
        if not isinstance(node.get("text"), str) or not node["text"]:
            raise AdfError("a text node needs a non-empty text", path)
        marks = node.get("marks", [])
        if not isinstance(marks, list):
            raise AdfError("marks must be an array", path)
        kinds = [m.get("type") if isinstance(m, dict) else None for m in marks]
        for kind in kinds:
            if kind not in _KNOWN_MARKS:
                raise AdfError(f"unknown mark {kind!r}", path)
        if len(set(kinds)) != len(kinds):
            raise AdfError("a mark appears twice", path)
        if "code" in kinds and set(kinds) - {"code", "link"}:
            raise AdfError("the code mark combines only with link", path)
        for mark in marks:
            if mark["type"] == "link" and not isinstance((mark.get("attrs") or {}).get("href"), str):
                raise AdfError("a link mark needs attrs.href", path)
    elif node_type == "mention":
        account_id = (node.get("attrs") or {}).get("id")
        if not isinstance(account_id, str) or not account_id:
            raise AdfError("a mention needs attrs.id", path)
    elif node_type == "hardBreak" and node.get("content"):
        raise AdfError("a hardBreak has no content", path)


# --------------------------------------------------------------------------------------------------------
# ADF -> Markdown
# --------------------------------------------------------------------------------------------------------


def adf_to_markdown(doc: Any) -> str:
    """Render an ADF document (or any ADF node) as Markdown. Never raises on unknown or malformed nodes.

    A plain string is returned as it is: Jira webhooks and some v2-shaped payloads carry text, not ADF.
    """
    if doc is None:
        return ""
    if isinstance(doc, str):
        return doc
    if not isinstance(doc, dict):
        return ""
    nodes = _content(doc) if doc.get("type") == "doc" else [doc]
    try:
        return _render_blocks(nodes).strip("\n")
    except RecursionError:
        # Only a crafted document nests deeper than the stack: keep its words, drop its structure.
        lines = [line for line in _plain_lines(doc) if line.strip()]
        return "\n\n".join(
            _escape_line_start(_escape_text(line, in_table=False, followed_by_text=False)) for line in lines
        )


def _plain_lines(doc: Node) -> list[str]:
    """Every text of a document in reading order, one entry per block, without recursion."""
    lines: list[str] = []
    current: list[str] = []
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            current.append(node["text"].replace("\n", " "))
            continue
        content = node.get("content")
        if (
            isinstance(content, list)
            and content
            and not all(isinstance(c, dict) and c.get("type") in _INLINE_TYPES for c in content)
        ):
            stack.extend(reversed(content))  # a container: its blocks come next, in order
            continue
        if current:
            lines.append("".join(current))
            current = []
        if isinstance(content, list):
            lines.append("".join(str(c.get("text", "")) for c in content if isinstance(c, dict)))
    if current:
        lines.append("".join(current))
    return lines


def _content(node: Any) -> list[Node]:
    content = node.get("content") if isinstance(node, dict) else None
    if not isinstance(content, list):
        return []
    return [child for child in content if isinstance(child, dict)]


def _attrs(node: Node) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


_BULLETS = ("-", "*")
_ORDERED_DELIMITERS = (".", ")")


def _render_blocks(nodes: Sequence[Node]) -> str:
    rendered: list[str] = []
    previous_list: str | None = None
    alternate = 0
    for block in _group_inline(nodes):
        node_type = block.get("type")
        if node_type in ("bulletList", "orderedList"):
            # Two adjacent lists of one kind would merge in Markdown unless their markers differ.
            alternate = 1 - alternate if previous_list == node_type else 0
            text = _render_list(block, ordered=node_type == "orderedList", variant=alternate)
        else:
            text = _render_block(block)
        if not text:
            continue
        previous_list = node_type if node_type in ("bulletList", "orderedList") else None
        rendered.append(text)
    return "\n\n".join(rendered)


def _group_inline(nodes: Sequence[Node]) -> list[Node]:
    """Wrap stray inline nodes (malformed input) into paragraphs so blocks can be rendered uniformly."""
    grouped: list[Node] = []
    run: list[Node] = []
    for node in nodes:
        if node.get("type") in _INLINE_TYPES or node.get("type") == "mediaInline":
            run.append(node)
            continue
        if run:
            grouped.append({"type": "paragraph", "content": run})
            run = []
        grouped.append(node)
    if run:
        grouped.append({"type": "paragraph", "content": run})
    return grouped


def _render_block(node: Node) -> str:
    node_type = node.get("type")
    if node_type == "paragraph":
        return _render_paragraph(_content(node))
    if node_type == "heading":
        level = _attrs(node).get("level")
        level = level if isinstance(level, int) and 1 <= level <= 6 else 1
        text = _render_inline(_content(node), single_line=True)
        if text.endswith("#"):
            text = text[:-1] + "\\#"  # a trailing '#' would be read as the closing sequence
        return "#" * level + (" " + text if text else "")
    if node_type == "codeBlock":
        return _render_code_block(node)
    if node_type in ("bulletList", "orderedList"):
        return _render_list(node, ordered=node_type == "orderedList", variant=0)
    if node_type in ("blockquote", "panel"):
        inner = _render_blocks(_content(node))
        return "\n".join("> " + line if line else ">" for line in inner.split("\n")) if inner else ""
    if node_type == "rule":
        return "---"
    if node_type == "table":
        return _render_table(node)
    if node_type in ("expand", "nestedExpand"):
        title = _attrs(node).get("title")
        head = (
            _render_paragraph([{"type": "text", "text": title, "marks": [{"type": "strong"}]}])
            if title
            else ""
        )
        return "\n\n".join(part for part in (head, _render_blocks(_content(node))) if part)
    if node_type in ("mediaSingle", "mediaGroup"):
        return "\n\n".join(_render_paragraph([media]) for media in _content(node))
    if node_type in ("blockCard", "embedCard"):
        return _render_paragraph([{"type": "inlineCard", "attrs": _attrs(node)}])
    if node_type in ("taskList", "decisionList"):
        return _render_list(node, ordered=False, variant=0)
    if node_type == "media":
        return _render_paragraph([node])
    # Unknown blocks (layouts, extensions, future nodes): their children, or their text.
    children = _content(node)
    if children:
        return _render_blocks(children)
    fallback = node.get("text") if isinstance(node.get("text"), str) else _attrs(node).get("text")
    return (
        _render_paragraph([{"type": "text", "text": fallback}])
        if isinstance(fallback, str) and fallback
        else ""
    )


def _render_paragraph(inline: Sequence[Node]) -> str:
    text = _render_inline(inline)
    return "\n".join(_escape_line_start(line) for line in text.split("\n")) if text else ""


def _render_code_block(node: Node) -> str:
    code = "".join(str(child.get("text", "")) for child in _content(node))
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    language = _attrs(node).get("language")
    info = language.split()[0] if isinstance(language, str) and language.split() else ""
    info = info.replace("`", "")
    return f"{fence}{info}\n{code}\n{fence}" if code else f"{fence}{info}\n{fence}"


def _render_list(node: Node, *, ordered: bool, variant: int) -> str:
    start = _attrs(node).get("order", 1) if ordered else 1
    number = start if isinstance(start, int) and 0 <= start < 10**9 else 1
    lines: list[str] = []
    for item in _content(node):
        if ordered:
            marker = f"{number}{_ORDERED_DELIMITERS[variant]} "
            number += 1
        else:
            marker = f"{_BULLETS[variant]} "
            if item.get("type") == "taskItem":
                marker += "[x] " if _attrs(item).get("state") == "DONE" else "[ ] "
        body = _render_list_item(item).split("\n")
        lines.append(marker + body[0] if body[0] else marker.rstrip())
        indent = " " * len(marker)
        lines.extend(indent + line if line else "" for line in body[1:])
    return "\n".join(lines)


def _render_list_item(item: Node) -> str:
    children = _group_inline(_content(item))
    out = ""
    for index, child in enumerate(children):
        text = _render_block(child) if child.get("type") not in ("bulletList", "orderedList") else ""
        if child.get("type") in ("bulletList", "orderedList"):
            text = _render_list(child, ordered=child["type"] == "orderedList", variant=0)
        if index == 0:
            out = text
            continue
        if not text:
            continue
        # A nested list may follow its paragraph directly; other blocks need a blank line to stay apart.
        separator = "\n" if child.get("type") in ("bulletList", "orderedList") else "\n\n"
        out += separator + text
    return out


def _render_table(node: Node) -> str:
    rows: list[list[str]] = []
    for row in _content(node):
        cells: list[str] = []
        for cell in _content(row):
            cells.append(_cell_text(cell))
            span = _attrs(cell).get("colspan")
            if isinstance(span, int) and 1 < span <= 64:
                cells.extend([""] * (span - 1))
        rows.append(cells)
    if not rows:
        return ""
    width = max(1, *(len(cells) for cells in rows))
    lines = []
    for index, cells in enumerate(rows):
        padded = cells + [""] * (width - len(cells))
        lines.append("| " + " | ".join(cell or " " for cell in padded) + " |")
        if index == 0:
            lines.append("|" + "|".join(" --- " for _ in range(width)) + "|")
    return "\n".join(lines)


def _cell_text(cell: Node) -> str:
    parts: list[str] = []

    def collect(nodes: Sequence[Node]) -> None:
        for node in nodes:
            children = _content(node)
            if node.get("type") in _INLINE_TYPES:
                parts.append(_render_inline([node], single_line=True, in_table=True))
            elif node.get("type") == "codeBlock":
                code = " ".join(str(c.get("text", "")) for c in children)
                parts.append(_render_inline([{"type": "text", "text": code, "marks": [{"type": "code"}]}]))
            elif children and all(child.get("type") in _INLINE_TYPES for child in children):
                parts.append(_render_inline(children, single_line=True, in_table=True))
            else:
                collect(children)

    collect(_content(cell))
    return " ".join(part for part in parts if part)


# Inline ------------------------------------------------------------------------------------------------

# One delimiter character per mark, so a strong run can never pair with an emphasis run: "**" and "_"
# never merge into one ambiguous "***" the way "**" and "*" do.
_DELIMITERS = {"strong": "**", "em": "_", "strike": "~~"}


def _render_inline(nodes: Sequence[Node], *, single_line: bool = False, in_table: bool = False) -> str:
    items, keys = _prepare_inline(nodes)
    out: list[str] = []
    # Indexes into ``out`` of emphasis delimiters: (True for an opener, the delimiter). See _fix_flanking.
    delimiters: dict[int, tuple[bool, str]] = {}
    open_marks: list[tuple[str, ...]] = []
    for index, node in enumerate(items):
        if node.get("type") != "text":
            _close(out, open_marks, 0, delimiters)
            out.append(_render_atom(node, single_line=single_line, last=index == len(items) - 1))
            continue
        wanted = keys[index]
        keep = 0
        while keep < len(open_marks) and open_marks[keep] in wanted:
            keep += 1
        _close(out, open_marks, keep, delimiters)
        text = node["text"]
        new_marks = [key for key in wanted if key not in open_marks and key[0] != "code"]
        if (
            len(wanted) == 1
            and new_marks == wanted
            and wanted[0] == ("link", text, "")
            and _AUTOLINK_RE.match(text)
        ):
            out.append(f"<{text}>")  # an autolink reads better than [url](url)
            continue
        # Marks that go on longest open first (outermost), so fewer have to close and reopen later.
        new_marks.sort(key=lambda key: (-_run_length(keys, index, key), _MARK_ORDER[key[0]]))
        for mark in new_marks:
            open_marks.append(mark)
            if mark[0] == "link":
                out.append("[")
            else:
                delimiters[len(out)] = (True, _DELIMITERS[mark[0]])
                out.append(_DELIMITERS[mark[0]])
        if ("code",) in wanted:
            out.append(_code_span(text))
            continue
        followed_by_text = index < len(items) - 1 and items[index + 1].get("type") == "text"
        out.append(_escape_text(text, in_table=in_table, followed_by_text=followed_by_text))
    _close(out, open_marks, 0, delimiters)
    _fix_flanking(out, delimiters)
    return "".join(out)


def _run_length(keys: list[list[tuple[str, ...]]], start: int, key: tuple[str, ...]) -> int:
    length = 0
    while start + length < len(keys) and key in keys[start + length]:
        length += 1
    return length


def _fix_flanking(out: list[str], delimiters: dict[int, tuple[bool, str]]) -> None:
    """Make every emphasis delimiter open or close where it stands, by CommonMark's flanking rules.

    A closer preceded by punctuation and followed by a letter (``_x!_y``) is not right-flanking, an
    opener preceded by a letter and followed by punctuation (``a**[link]``) is not left-flanking, and
    ``_`` never opens or closes inside a word. Writing that neighbouring letter as a numeric character
    reference (``&#121;``) makes the neighbour punctuation, which fixes all three without changing the
    text. Delimiter characters differ per mark, so a fixed delimiter cannot pair with the wrong mark.
    """
    # Fixing one delimiter can change another's neighbour (``c**c_"``), so the delimiters next to a
    # changed piece are checked again. Each fix turns a piece's first or last letter into a character
    # reference, which is punctuation, so there are at most two fixes per piece: this ends, in linear time.
    pending = sorted(delimiters, reverse=True)
    while pending:
        index = pending.pop()
        opener, marker = delimiters[index]
        before = _neighbour(out, index - 1, -1)
        after = _neighbour(out, index + 1, 1)
        prev_char = before[1] if before else " "
        next_char = after[1] if after else " "
        if _delimiter_works(marker, opener, prev_char, next_char):
            continue
        if opener and before is not None and _is_word_char(prev_char):
            changed = before[0]
            out[changed] = _encode_last(out[changed])
        elif not opener and after is not None and _is_word_char(next_char):
            changed = after[0]
            out[changed] = _encode_first(out[changed])
        else:
            continue
        for step in (-1, 1):
            neighbour = _neighbour(out, changed + step, step)
            if neighbour is not None and neighbour[0] in delimiters:
                pending.append(neighbour[0])


def _encode_last(piece: str) -> str:
    body, char = piece[:-1], piece[-1]
    if body.endswith("_") and not _escaped_at(body, len(body) - 1):
        # An underscore left unescaped because it sat inside a word is no longer inside one.
        body = body[:-1] + "\\_"
    return f"{body}&#{ord(char)};"


def _escaped_at(text: str, index: int) -> bool:
    backslashes = len(text[:index]) - len(text[:index].rstrip("\\"))
    return backslashes % 2 == 1


def _encode_first(piece: str) -> str:
    char, rest = piece[0], piece[1:]
    if rest.startswith("_"):
        rest = "\\" + rest
    return f"&#{ord(char)};{rest}"


def _delimiter_works(marker: str, opener: bool, prev_char: str, next_char: str) -> bool:
    prev_space, next_space = _is_space(prev_char), _is_space(next_char)
    prev_punct, next_punct = _is_punctuation(prev_char), _is_punctuation(next_char)
    left = not next_space and (not next_punct or prev_space or prev_punct)
    right = not prev_space and (not prev_punct or next_space or next_punct)
    intraword_ok = marker != "_"
    if opener:
        return left and (intraword_ok or not right or prev_punct)
    return right and (intraword_ok or not left or next_punct)


def _neighbour(out: list[str], index: int, step: int) -> tuple[int, str] | None:
    while 0 <= index < len(out):
        if out[index]:
            return index, out[index][-1] if step < 0 else out[index][0]
        index += step
    return None


def _is_space(char: str) -> bool:
    return char in "\t\n\x0b\x0c\r" or unicodedata.category(char) == "Zs"


def _is_punctuation(char: str) -> bool:
    # CommonMark: ASCII punctuation, or a Unicode punctuation (P*) or symbol (S*) character.
    return unicodedata.category(char).startswith(("P", "S"))


def _is_word_char(char: str) -> bool:
    return not _is_space(char) and not _is_punctuation(char)


_AUTOLINK_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>\x00-\x1f]*\Z")


def _close(
    out: list[str], open_marks: list[tuple[str, ...]], keep: int, delimiters: dict[int, tuple[bool, str]]
) -> None:
    while len(open_marks) > keep:
        mark = open_marks.pop()
        if mark[0] == "link":
            out.append(_link_tail(mark[1], mark[2]))
        else:
            delimiters[len(out)] = (False, _DELIMITERS[mark[0]])
            out.append(_DELIMITERS[mark[0]])


def _link_tail(href: str, title: str) -> str:
    if not href or re.search(r"[\s()<>]", href):
        destination = "<" + href.replace("\\", "\\\\").replace("<", "\\<").replace(">", "\\>") + ">"
    else:
        destination = href.replace("\\", "\\\\")
    if title:
        destination += ' "' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"]({destination})"


def _mark_keys(node: Node) -> list[tuple[str, ...]]:
    """Marks Markdown can express, outermost first (link, strong, em, strike, code)."""
    keys: list[tuple[str, ...]] = []
    marks = node.get("marks")
    for mark in marks if isinstance(marks, list) else []:
        kind = mark.get("type") if isinstance(mark, dict) else None
        if kind == "link":
            attrs = _attrs(mark)
            href, title = attrs.get("href"), attrs.get("title")
            if isinstance(href, str):
                keys.append(("link", href.replace("\n", ""), title if isinstance(title, str) else ""))
        elif kind in ("strong", "em", "strike", "code"):
            keys.append((kind,))
    keys = list(dict.fromkeys(keys))
    if ("code",) in keys:
        keys = [key for key in keys if key[0] in ("link", "code")]
    return sorted(keys, key=lambda key: _MARK_ORDER[key[0]])


def _prepare_inline(nodes: Sequence[Node]) -> tuple[list[Node], list[list[tuple[str, ...]]]]:
    """Normalize an inline run: newlines become hard breaks, adjacent equal-mark text merges, and spaces
    move outside emphasis (``** a**`` would not parse as bold). Returns the nodes and their mark keys."""
    split: list[Node] = []
    for node in nodes:
        if node.get("type") != "text":
            split.append(node)
            continue
        text = node.get("text")
        if not isinstance(text, str) or not text:
            continue
        raw_marks = node.get("marks")
        marks: list[Any] = raw_marks if isinstance(raw_marks, list) else []
        is_code = any(isinstance(m, dict) and m.get("type") == "code" for m in marks)
        if is_code:
            split.append(
                {"type": "text", "text": text.replace("\r\n", " ").replace("\n", " "), "marks": marks}
            )
            continue
        for index, line in enumerate(text.replace("\r\n", "\n").split("\n")):
            if index:
                split.append({"type": "hardBreak"})
            if line:
                split.extend(_unpad_emphasis(line, marks))
    merged: list[Node] = []
    keys: list[list[tuple[str, ...]]] = []
    texts: list[list[str]] = []  # the pieces of each merged text node, joined once at the end
    for node in split:
        is_text = node.get("type") == "text"
        node_keys = _mark_keys(node) if is_text else []
        if is_text and merged and merged[-1].get("type") == "text" and keys[-1] == node_keys:
            texts[-1].append(node["text"])
            continue
        merged.append(node)
        keys.append(node_keys)
        texts.append([node["text"]] if is_text else [])
    items = [
        {**node, "text": "".join(parts)} if node.get("type") == "text" else node
        for node, parts in zip(merged, texts, strict=True)
    ]
    return items, keys


def _unpad_emphasis(text: str, marks: list[Any]) -> list[Node]:
    emphasis = {"strong", "em", "strike"}
    kinds = {m.get("type") for m in marks if isinstance(m, dict)}
    core = text.strip()
    if not kinds & emphasis or core == text:
        return [{"type": "text", "text": text, "marks": marks}]
    plain = [m for m in marks if isinstance(m, dict) and m.get("type") not in emphasis]
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    parts = []
    if lead:
        parts.append({"type": "text", "text": lead, "marks": plain})
    if core:
        parts.append({"type": "text", "text": core, "marks": marks})
    if trail and core:
        parts.append({"type": "text", "text": trail, "marks": plain})
    return parts


def _render_atom(node: Node, *, single_line: bool, last: bool) -> str:
    node_type = node.get("type")
    attrs = _attrs(node)
    if node_type == "hardBreak":
        if last:
            return ""  # a trailing backslash would be literal text, not a break
        return " " if single_line else "\\\n"
    if node_type == "mention":
        account_id = attrs.get("id")
        raw_name = attrs.get("text")
        name: str = raw_name if isinstance(raw_name, str) else ""
        name = name.removeprefix("@")
        if isinstance(account_id, str) and _ACCOUNT_ID_RE.match(account_id):
            return mention_markdown(account_id, name)
        return _escape_text("@" + name, in_table=single_line, followed_by_text=False)
    if node_type == "emoji":
        text = attrs.get("text") or attrs.get("shortName") or ""
        return _escape_text(str(text), in_table=single_line, followed_by_text=False)
    if node_type == "inlineCard":
        url = attrs.get("url")
        if isinstance(url, str) and _AUTOLINK_RE.match(url):
            return f"<{url}>"
        return _escape_text(str(url or ""), in_table=single_line, followed_by_text=False)
    if node_type == "date":
        return _escape_text(
            _format_date(attrs.get("timestamp")), in_table=single_line, followed_by_text=False
        )
    if node_type in ("media", "mediaInline"):
        url = attrs.get("url")
        label = attrs.get("alt") or attrs.get("name") or ""
        if isinstance(url, str) and url:
            return _render_inline(
                [{"type": "text", "text": str(label or url), "marks": [_link_mark(url, None)]}]
            )
        return _escape_text(
            f"(attachment{': ' + str(label) if label else ''})", in_table=single_line, followed_by_text=False
        )
    # status, placeholder, inlineExtension and anything unknown: whatever text it carries.
    text = node.get("text") if isinstance(node.get("text"), str) else attrs.get("text")
    if isinstance(text, str) and text:
        return _escape_text(text, in_table=single_line, followed_by_text=False)
    children = _content(node)
    return _render_inline(children, single_line=single_line, in_table=single_line) if children else ""


def _format_date(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(str(timestamp)) / 1000, tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(timestamp or "")


def _code_span(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A span that starts or ends with a backtick, or with a space on both sides, needs one padding
    # space on each side: CommonMark strips exactly one.
    pad = text.startswith("`") or text.endswith("`") or (text[0] == " " and text[-1] == " " and text.strip())
    return f"{fence} {text} {fence}" if pad else f"{fence}{text}{fence}"


_ALWAYS_ESCAPED = frozenset("\\`*[]<~")
_ENTITY_RE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def _escape_text(text: str, *, in_table: bool, followed_by_text: bool) -> str:
    out: list[str] = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char in _ALWAYS_ESCAPED or (char == "|" and in_table):
            out.append("\\" + char)
        elif char == "_":
            before = text[index - 1] if index else ""
            after = text[index + 1] if index < last else ""
            # Intraword underscores never make emphasis; escaping them would only hurt readability.
            out.append("_" if before.isalnum() and after.isalnum() else "\\_")
        elif char in "!@" and index == last and followed_by_text:
            out.append("\\" + char)  # '!' or '@' right before a link would read as an image or mention
        elif char == "&" and _ENTITY_RE.match(text, index):
            out.append("\\&")
        else:
            out.append(char)
    return "".join(out)


_LINE_START_RE = re.compile(r"[#>+=\-]|\d{1,9}[.)]")


def _escape_line_start(line: str) -> str:
    """Escape what would turn a paragraph line into another block (heading, quote, list, setext, code)."""
    if not line:
        return line
    if line[0] in " \t":
        return ("&#32;" if line[0] == " " else "&#9;") + line[1:]
    match = _LINE_START_RE.match(line)
    if match is None:
        return line
    if line[0].isdigit():
        end = match.end() - 1
        return line[:end] + "\\" + line[end:]
    return "\\" + line


def _escape_mention_name(name: str) -> str:
    return name.replace("\\", "\\\\").replace("]", "\\]").replace("\n", " ")


__all__ = [
    "MENTION_SCHEME",
    "AdfError",
    "adf_to_markdown",
    "markdown_to_adf",
    "mention_markdown",
    "validate_adf",
]
