"""``trackbridge maintenance run`` against the embedded stack, for a Jira connection authorized through OAuth.

``LocalStack`` runs what ``trackbridge local up`` runs, with the Jira sandbox only. The connection is
authorized through the sandbox's 3LO flow, so ``POST /v1/connections/{id}/webhook`` registers a REST
("dynamic") webhook (``POST /rest/api/3/webhook``), the only kind an OAuth app may register, delivering to
the stack's own webhook route on loopback.

Jira signs those deliveries with a JWT of the app's client secret, which the webhook route accepts for a
connection authorized through that app. A delivery Jira gave up on (here: signed with another secret, so
refused with 401) is read back by the maintenance run from ``GET /rest/api/3/webhook/failed`` and replayed
through the webhook route's dedup-and-enqueue path: either way the change reaches ``GET /v1/issues``
without any sync. The run also refreshes the hook (``PUT /rest/api/3/webhook/refresh``) once its expiry is
within the margin (``TB_JIRA_WEBHOOK_REFRESH_BEFORE_S``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from infra.cli import main as cli
from infra.local.stack import LocalStack
from infra.local.trackers import SandboxCluster, start_sandboxes
from infra.local.trackers.jira import JiraSandbox

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("maintenance-stack")]

STAGE = "maintjira"
REFRESH_ENV = "TB_JIRA_WEBHOOK_REFRESH_BEFORE_S"


def _jira_only(seed: str) -> SandboxCluster:
    return start_sandboxes(providers=["jira"], seed=seed, issues=4, comments_per_issue=0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    running = LocalStack(
        port=0,
        state_dir=tmp_path_factory.mktemp("state"),
        stage=STAGE,
        start_sandboxes=_jira_only,
        seeders=(),
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def jira(stack: LocalStack) -> JiraSandbox:
    assert isinstance(stack.sandboxes, SandboxCluster)
    sandbox = stack.sandboxes["jira"]
    assert isinstance(sandbox, JiraSandbox)
    return sandbox


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30, trust_env=False) as client:
        yield client


def connect_through_oauth(api: httpx.Client, jira: JiraSandbox) -> str:
    body = {
        "name": "jira-hooks",
        "provider": "jira",
        "base_url": jira.url,
        "scope": {"project": "ACME"},
        "credentials": {"auth": "oauth"},
    }
    created = api.post("/connections", json=body)
    assert created.status_code == 201, created.text
    cid = str(created.json()["id"])
    started = api.post("/oauth/jira/start", json={"connection_id": cid})
    assert started.status_code == 200, started.text
    with httpx.Client(timeout=30, trust_env=False, follow_redirects=False) as browser:
        redirect = browser.get(started.json()["authorization_url"])
        callback = browser.get(
            redirect.headers["Location"], headers={"Cookie": f"tb_oauth_nonce={started.json()['nonce']}"}
        )
    assert callback.status_code == 200, callback.text
    return cid


def maintenance(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    code = cli(["maintenance", "run", "--json", "--local-state", str(stack.state_file)])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0, report
    return report


def hook_of(report: dict[str, Any], connection_id: str) -> dict[str, Any]:
    (hook,) = [h for h in report["hooks"] if h["connection_id"] == connection_id]
    return dict(hook)


def wait_for_title(api: httpx.Client, title: str) -> list[str]:
    """The stored issues' titles once ``title`` is among them (or after a generous bound)."""
    deadline = time.monotonic() + 60
    titles: list[str] = []
    while time.monotonic() < deadline:
        titles = [i["title"] for i in api.get("/issues", params={"limit": 50}).json()["items"]]
        if title in titles:
            break
        time.sleep(0.1)
    return titles


def test_jira_app_deliveries_are_accepted_failed_ones_replayed_and_the_rest_hook_refreshed(
    stack: LocalStack,
    jira: JiraSandbox,
    api: httpx.Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a Jira connection authorized through OAuth, with a REST webhook registered through the API
    cid = connect_through_oauth(api, jira)
    registered = api.post(f"/connections/{cid}/webhook")
    assert registered.status_code == 201, registered.text
    view = registered.json()
    assert view["kind"] == "jira_app"
    assert view["url"] == f"{stack.api_url}/webhooks/jira/{cid}"
    (app_hook,) = jira.state.app_hooks.values()
    assert (str(app_hook.id), app_hook.url, app_hook.jql) == (
        view["hook_id"],
        view["url"],
        'project = "ACME"',
    )
    first_expiry = datetime.fromisoformat(view["expires_at"])
    assert int(first_expiry.timestamp() * 1000) == app_hook.expires

    # When an issue is created at Jira: its JWT-signed delivery is accepted and applied, with no sync
    jira.open_issue("delivered with the app's JWT")
    assert jira.wait_for_deliveries()
    (delivered,) = [d for d in jira.deliveries() if d.request.hook_id.startswith("app:")]
    assert [a.status for a in delivered.attempts] == [202]
    assert "delivered with the app's JWT" in wait_for_title(api, "delivered with the app's JWT")

    # When another one's delivery is signed with a secret trackbridge does not know, and refused
    monkeypatch.setattr(type(jira), "client_secret", property(lambda _self: "not-the-apps-secret"))
    created = jira.open_issue("replayed from Jira's failed deliveries")
    assert jira.wait_for_deliveries()
    refused = [d for d in jira.deliveries() if d.request.hook_id.startswith("app:") and d is not delivered]
    assert [[a.status for a in d.attempts] for d in refused] == [[401]]
    monkeypatch.undo()

    # And maintenance runs now
    report = maintenance(stack, capsys)

    # Then the failed delivery is replayed and applied: the issue is visible without any sync
    assert hook_of(report, cid)["actions"] == ["replayed:1"]
    assert hook_of(report, cid)["status"] == "active"
    titles = wait_for_title(api, "replayed from Jira's failed deliveries")
    assert "replayed from Jira's failed deliveries" in titles, (created, titles)
    assert api.get(f"/connections/{cid}/syncs").json()["items"] == []

    # When a later run sees the same failure again, nothing is replayed twice
    assert hook_of(maintenance(stack, capsys), cid)["actions"] == []

    # When ten minutes pass at Jira and the hook is within the refresh margin
    jira.clock.freeze()
    jira.clock.advance(600)
    expected = (jira.clock.now() + 30 * 86_400) * 1000
    os.environ[REFRESH_ENV] = str(31 * 86_400)
    try:
        refreshed = hook_of(maintenance(stack, capsys), cid)
    finally:
        os.environ.pop(REFRESH_ENV, None)
        jira.clock.unfreeze()

    # Then it was refreshed for 30 days from Jira's now, and the connection shows the new expiry
    assert refreshed["actions"] == ["refreshed"]
    assert app_hook.expires == expected
    assert app_hook.expires >= int(first_expiry.timestamp() * 1000) + 600_000
    shown = api.get(f"/connections/{cid}").json()["webhook"]
    assert int(datetime.fromisoformat(shown["expires_at"]).timestamp() * 1000) == app_hook.expires
