"""The OAuth routes' contract without AWS: what the callback answers whom, and what the OpenAPI says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trackbridge.runtime.api.app import app
from trackbridge.runtime.api.oauth import prefers_html

FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7"
)


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (FIREFOX, True),
        (CHROME, True),
        ("text/*", True),
        ("*/*", False),  # curl, httpx, SDKs: JSON
        ("", False),
        ("application/json", False),
        ("application/json, text/html", False),  # a tie goes to JSON
        ("text/html;q=0.5, application/json", False),
        ("application/json;q=0.1, text/html", True),
        ("text/html;q=0", False),
        ("text/html;q=oops, application/json;q=0.2", False),
    ],
)
def test_the_callback_answers_a_page_only_to_callers_that_prefer_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def _operation(path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = json.loads(app.get_openapi_json_schema())["paths"][path][method]
    return operation


def test_the_callback_documents_its_refusals_its_nonce_and_both_answers() -> None:
    callback = _operation("/v1/oauth/jira/callback", "get")

    responses = callback["responses"]
    assert {"200", "400", "404", "409", "422", "429", "503"} <= set(responses)
    for status in ("200", "400"):
        assert set(responses[status]["content"]) == {"application/json", "text/html"}
    for code in ("OAUTH_STATE_USED", "OAUTH_NONCE_MISSING", "OAUTH_NONCE_MISMATCH", "OAUTH_STATE_EXPIRED"):
        assert code in responses["400"]["description"]
    parameters = {(p["name"].lower(), p["in"]) for p in callback["parameters"]}
    assert ("x-trackbridge-oauth-nonce", "header") in parameters
    assert ("tb_oauth_nonce", "cookie") in parameters
    assert callback["security"] == [{}]


def test_start_and_revoke_document_the_cookie_and_their_4xx() -> None:
    start = _operation("/v1/oauth/jira/start", "post")
    revoke = _operation("/v1/oauth/jira/revoke", "post")

    assert {"200", "400", "401", "403", "404", "422", "503"} <= set(start["responses"])
    assert {"200", "400", "401", "403", "404", "409", "422", "503"} <= set(revoke["responses"])
    set_cookie = start["responses"]["200"]["headers"]["Set-Cookie"]["description"]
    for attribute in ("tb_oauth_nonce=", "HttpOnly", "Secure", "SameSite=Lax", "Path=/v1/oauth/jira"):
        assert attribute in set_cookie
    schemas = json.loads(app.get_openapi_json_schema())["components"]["schemas"]
    assert "nonce" in schemas["AuthorizationStarted"]["required"]
    # The callback's answer cannot carry a connection.
    assert set(schemas["OAuthCallbackResult"]["properties"]) == {"status", "message"}
