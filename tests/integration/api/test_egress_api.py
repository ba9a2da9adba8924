"""The outbound policy through the API: 422 for a refused base_url, and ``/test`` in trackbridge's own words.

Every server here is a scripted one on 127.0.0.1, allowlisted for the test that uses it (``egress_allowed``);
refused addresses are refused before any packet leaves (at create, by their literal spelling).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.api.conftest import ApiClient
from tests.support.loopback import Reply, Server, serve
from tests.support.sandboxes import egress_allowed

pytestmark = pytest.mark.integration

SENTINEL = "SENTINEL-7f3a-the-servers-own-words"


def connection(provider: str, base_url: str, **overrides: Any) -> dict[str, Any]:
    scope, credentials = {
        "github": ({"repo": "acme/web"}, {"token": "fake-token-egress"}),
        "gitlab": ({"project": "1"}, {"token": "fake-token-egress"}),
        "jira": ({"project": "OPS"}, {"email": "me@example.com", "api_token": "fake-token-egress"}),
    }[provider]
    body = {"name": "egress", "provider": provider, "base_url": base_url, "scope": scope}
    body["credentials"] = credentials
    body.update(overrides)
    return body


def only_error(answer: Any) -> dict[str, Any]:
    errors = answer.body["error"]["details"]["errors"]
    assert len(errors) == 1, errors
    return dict(errors[0])


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8080",
        "http://2130706433",
        "http://0x7f000001:8080",
        "http://0177.0.0.1",
        "http://127.1",
        "http://localhost:8080",
        "http://tracker.localhost",
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]",
        "http://169.254.169.254",
        "http://[::ffff:169.254.169.254]",
        "https://10.0.0.1",
        "https://192.168.1.20",
        "https://[fd00::1]",
        "https://100.64.0.1",
        "http://0.0.0.0:8080",
    ],
)
def test_create_refuses_a_base_url_on_a_refused_literal_address(api: ApiClient, base_url: str) -> None:
    answer = api.call("POST", "/v1/connections", body=connection("gitlab", base_url))

    assert answer.status == 422, answer.body
    error = only_error(answer)
    assert error["path"] == "body.base_url"
    assert "not a public address" in error["message"]
    assert api.call("GET", "/v1/connections").body["items"] == []


def test_the_guidance_names_the_allowlist_setting(api: ApiClient) -> None:
    answer = api.call("POST", "/v1/connections", body=connection("github", "http://169.254.169.254"))

    assert answer.status == 422
    assert "TB_ALLOWED_PRIVATE_NETWORKS" in answer.body["error"]["guidance"]
    assert "(link-local)" in answer.body["error"]["message"]


def test_an_allowlisted_address_and_port_may_be_used_and_only_that_port(api: ApiClient) -> None:
    with egress_allowed("http://127.0.0.1:9"):
        allowed = api.call("POST", "/v1/connections", body=connection("gitlab", "http://127.0.0.1:9"))
        other_port = api.call("POST", "/v1/connections", body=connection("gitlab", "http://127.0.0.1:10"))

    assert allowed.status == 201, allowed.body
    assert allowed.body["base_url"] == "http://127.0.0.1:9"
    assert other_port.status == 422
    assert only_error(other_port)["path"] == "body.base_url"


def test_names_are_not_resolved_at_create(api: ApiClient) -> None:
    answer = api.call("POST", "/v1/connections", body=connection("gitlab", "https://gitlab.internal.invalid"))

    assert answer.status == 201, answer.body


def test_patch_cannot_move_a_connection_to_another_base_url(api: ApiClient) -> None:
    cid = api.call("POST", "/v1/connections", body=connection("github", "https://api.github.com")).body["id"]

    moved = api.call("PATCH", f"/v1/connections/{cid}", body={"base_url": "http://169.254.169.254"})

    assert moved.status == 422
    assert only_error(moved)["path"] == "body.base_url"
    assert api.call("GET", f"/v1/connections/{cid}").body["base_url"] == "https://api.github.com"


@pytest.mark.parametrize("name", ["web\r\nadmin", "web\x00", "\x1b[31mred", "line\u2028two"])
def test_names_with_control_characters_are_refused_on_create_and_patch(api: ApiClient, name: str) -> None:
    created = api.call(
        "POST", "/v1/connections", body=connection("github", "https://api.github.com", name=name)
    )
    cid = api.call("POST", "/v1/connections", body=connection("github", "https://api.github.com")).body["id"]
    renamed = api.call("PATCH", f"/v1/connections/{cid}", body={"name": name})

    assert created.status == 422
    assert only_error(created)["path"] == "body.name"
    assert "control characters" in only_error(created)["message"]
    assert renamed.status == 422
    assert only_error(renamed)["path"] == "body.name"
    assert api.call("GET", f"/v1/connections/{cid}").body["name"] == "egress"


# ---- /test: what failed, in trackbridge's words -------------------------------------------------------

GITHUB_USER = Reply(body=json.dumps({"login": "octo"}).encode(), headers={"Content-Type": "application/json"})
GITHUB_REPO = Reply(body=json.dumps({"has_issues": True, "permissions": {"admin": True}}).encode())


def _json(status: int, body: Any) -> Reply:
    return Reply(status, json.dumps(body).encode())


def _text(status: int, content_type: str = "text/html") -> Reply:
    return Reply(
        status, f"<html><body><h1>{SENTINEL}</h1></body></html>".encode(), {"Content-Type": content_type}
    )


# provider, routes, the check that fails, the status and code it reports
SCENARIOS: dict[str, tuple[str, dict[str, Reply], str, int, str]] = {
    "github-401-json": (
        "github",
        {"/user": _json(401, {"message": SENTINEL, "documentation_url": SENTINEL})},
        "auth",
        401,
        "AUTH_INVALID",
    ),
    "github-500-html": ("github", {"/user": _text(500)}, "auth", 500, "PROVIDER_UNAVAILABLE"),
    "github-hooks-403": (
        "github",
        {
            "/user": GITHUB_USER,
            "/repos/acme/web": GITHUB_REPO,
            "/repos/acme/web/hooks": _json(403, {"message": SENTINEL}),
        },
        "webhooks",
        403,
        "PERMISSION_DENIED",
    ),
    "gitlab-401-text": ("gitlab", {"/api/v4/user": _text(401, "text/plain")}, "auth", 401, "AUTH_INVALID"),
    "gitlab-404-project": (
        "gitlab",
        {
            "/api/v4/user": _json(200, {"username": "me"}),
            "/api/v4/personal_access_tokens/self": _json(200, {"scopes": ["api"]}),
            "/api/v4/projects/1": _json(404, {"message": f"404 {SENTINEL} Not Found"}),
        },
        "project",
        404,
        "NOT_FOUND",
    ),
    "jira-500-errors": (
        "jira",
        {"/rest/api/3/myself": _json(500, {"errorMessages": [SENTINEL], "errors": {}})},
        "auth",
        500,
        "PROVIDER_UNAVAILABLE",
    ),
    "jira-400-scope": (
        "jira",
        {
            "/rest/api/3/myself": _json(200, {"displayName": "Me"}),
            "/rest/api/3/project/OPS": _json(400, {"errorMessages": [SENTINEL], "errors": {"key": SENTINEL}}),
        },
        "scope",
        400,
        "INVALID_REQUEST",
    ),
}


@pytest.fixture
def tracker() -> Iterator[Server]:
    with serve("127.0.0.1") as server, egress_allowed(server.url):
        yield server


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_connection_test_never_echoes_the_servers_reply(
    api: ApiClient, tracker: Server, scenario: str
) -> None:
    provider, routes, failing, status, code = SCENARIOS[scenario]
    tracker.routes.update(routes)
    cid = api.call("POST", "/v1/connections", body=connection(provider, tracker.url)).body["id"]

    answer = api.call("POST", f"/v1/connections/{cid}/test")

    assert answer.status == 200, answer.body
    assert tracker.requests(), "the test must have reached the scripted tracker"
    assert SENTINEL not in json.dumps(answer.raw)
    assert answer.body["ok"] is False
    check = next(c for c in answer.body["checks"] if c["name"] == failing)
    assert check["ok"] is False
    assert check["code"] == code
    assert check["message"] == f"the tracker answered HTTP {status} ({code})"
    assert check["guidance"]


def test_a_connection_test_reports_a_refused_address_before_any_request(api: ApiClient) -> None:
    with serve("127.0.0.1", {"/user": GITHUB_USER}) as server:
        with egress_allowed(server.url):
            cid = api.call("POST", "/v1/connections", body=connection("github", server.url)).body["id"]
        # The operator took the allowlist entry away (the block above ended): the stored connection may no
        # longer be contacted.
        answer = api.call("POST", f"/v1/connections/{cid}/test")
        seen = server.requests()

    assert answer.status == 200
    assert seen == []
    auth = answer.body["checks"][0]
    assert (auth["name"], auth["ok"], auth["code"]) == ("auth", False, "EGRESS_DENIED")
    assert "is not a public address (loopback)" in auth["message"]
    assert "TB_ALLOWED_PRIVATE_NETWORKS" in auth["guidance"]
    assert [c["message"] for c in answer.body["checks"][1:]] == ["skipped: authentication failed"] * 3
