"""The boundary seals a page's ``next_cursor`` in place, without decoding the page, and still seals every one.

A page as Powertools and pydantic write it ends with its cursor, which is replaced where it stands; any
other layout (indented, the cursor not last, a name that only looks like it) is decoded and sealed as
before. Whatever the layout, the answer's top-level ``next_cursor`` opens to storage's cursor and nothing
else in the body changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, rest_event
from trackbridge.domain.pagination import Page
from trackbridge.runtime import container
from trackbridge.runtime.api import app as app_module
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api.context import Principal
from trackbridge.runtime.api.cursors import CursorSealer, cursor_sealer
from trackbridge.runtime.issues import IssueView
from trackbridge.storage.cursors import encode_cursor

PLAIN = encode_cursor({"pk": "T#acme#CONN#conn_abcdefghijklmnopqrst", "sk": "ISSUE#github:x:12"})
PATH = "/v1/issues"
CALLER = Principal(tenant="acme", key_id="k", scopes=("*",))
# What the issue of an item might say: text that reads like a cursor member, which JSON escapes.
TRICKY = 'see ,"next_cursor":"' + PLAIN + '"} and {"next_cursor":null}'


class Sealer(CursorSealer):
    """A real sealer that counts what it seals."""

    def __init__(self) -> None:
        super().__init__(lambda: b"s" * 48)
        self.sealed: list[str] = []

    def seal(self, cursor: str, *, tenant: str, path: str) -> str:
        self.sealed.append(cursor)
        return super().seal(cursor, tenant=tenant, path=path)


@pytest.fixture
def sealer() -> Iterator[Sealer]:
    instance = Sealer()
    app.dependency_overrides[cursor_sealer] = lambda: instance
    yield instance
    app.dependency_overrides.clear()


def _answer(body: str, status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "body": body, "isBase64Encoded": False, "multiValueHeaders": {}}


def _sealed(body: str, status: int = 200) -> dict[str, Any]:
    return app_module._sealed(_answer(body, status), {"path": PATH}, CALLER)


def _page(cursor: str | None, **extra: Any) -> dict[str, Any]:
    items = [{"title": TRICKY, "details": {"next_cursor": PLAIN}}, {"title": "plain"}]
    return {"items": items, **extra, "next_cursor": cursor}


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda page: json.dumps(page, separators=(",", ":")), id="compact, cursor last"),
        pytest.param(lambda page: json.dumps(page, indent=2), id="indented"),
        pytest.param(
            lambda page: json.dumps({"next_cursor": page["next_cursor"], "items": page["items"]}),
            id="cursor first",
        ),
        pytest.param(
            lambda page: json.dumps({**page, 'q"next_cursor': None}, separators=(",", ":")),
            id="a look-alike name last",
        ),
    ],
)
def test_the_top_level_cursor_is_sealed_whatever_the_layout(sealer: Sealer, layout: Any) -> None:
    body = layout(_page(PLAIN))

    sealed = json.loads(_sealed(body)["body"])

    # Then: the top-level cursor opens, for this tenant and listing, to storage's; nothing else changed
    token = sealed.pop("next_cursor")
    assert token != PLAIN
    assert sealer.open(token, tenant="acme", path=PATH) == PLAIN
    original = json.loads(body)
    original.pop("next_cursor")
    assert sealed == original
    assert sealer.sealed == [PLAIN]


def test_a_compact_page_is_sealed_in_place(sealer: Sealer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: a page as the API writes it, and a JSON decoder that must not be used
    body = json.dumps(_page(PLAIN), separators=(",", ":"))

    def no_decoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the page was decoded")

    monkeypatch.setattr(app_module.json, "loads", no_decoding)

    # When: it is sealed
    sealed = _sealed(body)["body"]

    # Then: only the cursor changed, where it stood
    prefix = body[: body.rindex(PLAIN)]
    assert sealed.startswith(prefix)
    assert sealed.endswith('"}')
    token = sealed[len(prefix) : -2]
    monkeypatch.undo()
    assert sealer.open(token, tenant="acme", path=PATH) == PLAIN


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(json.dumps(_page(None), separators=(",", ":")), 200, id="last page"),
        pytest.param(json.dumps(_page(None), indent=1), 200, id="last page, indented"),
        pytest.param(json.dumps(_page(PLAIN)), 404, id="an error answer"),
        pytest.param(json.dumps({"items": []}), 200, id="no cursor member"),
    ],
)
def test_what_has_no_cursor_to_seal_is_left_as_it_is(sealer: Sealer, body: str, status: int) -> None:
    response = _answer(body, status)

    assert app_module._sealed(response, {"path": PATH}, CALLER) is response
    assert sealer.sealed == []


class Issues:
    """The synced issues with one page of two issues and a next page."""

    def list(self, tenant: str, **filters: Any) -> Page[IssueView]:
        from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES

        issue = {**SCHEMA_EXAMPLES["IssueView"], "links": None, "title": TRICKY}
        issue.pop("body")
        items = [IssueView.model_validate(issue), IssueView.model_validate({**issue, "key": "#13"})]
        return Page[IssueView](items=items, next_cursor=PLAIN)


def test_a_listing_answers_a_sealed_cursor_and_its_issues_untouched(shared_dir: Path, sealer: Sealer) -> None:
    app.dependency_overrides[container.synced_issues] = Issues
    event = rest_event(shared_dir, "GET", PATH, query={"limit": "2"})

    answer = handler(event, FakeLambdaContext())

    assert answer["statusCode"] == 200, body_of(answer)
    page = body_of(answer)
    assert sealer.open(page["next_cursor"], tenant="acme", path=PATH) == PLAIN
    assert [item["title"] for item in page["items"]] == [TRICKY, TRICKY]
    assert [item["key"] for item in page["items"]] == ["#12", "#13"]
    assert not any("body" in item for item in page["items"])
    assert sealer.sealed == [PLAIN]
