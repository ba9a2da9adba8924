"""``POST|GET|DELETE /v1/connections/{id}/webhook`` and the connection view's ``webhook``, end to end on moto
against the GitHub, GitLab and Jira sandboxes on loopback.

The API runs in-process (``functions.api.handler`` behind the real authorizer). Its requests arrive at
``127.0.0.1:<port>`` of a small bridge that hands every delivery to the webhook Lambda's own work
(``container.webhook_ingest()``), so the hook a sandbox records points at a live webhook route: a delivery
that verifies proves the secret registered at the tracker is the one trackbridge stored, and it moves the
connection's ``last_delivery_at``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from functions.api import handler as api_handler
from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import Answer, ApiClient
from tests.support.sandboxes import egress_allowed
from tests.unit.api.support import FakeLambdaContext, rest_event
from trackbridge.domain.connections import Connection
from trackbridge.runtime import container
from trackbridge.runtime.api_keys import issue_api_key
from trackbridge.storage.webhooks import WebhookRoutes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("webhook-registration")]

PROVIDER_NAMES = ("github", "gitlab", "jira")
KINDS = {"github": "github", "gitlab": "gitlab", "jira": "jira_admin"}


@dataclass
class Bridge:
    """A loopback HTTP endpoint in front of the webhook Lambda's work: what API Gateway does for it."""

    host: str = ""
    answers: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def statuses(self, path: str) -> list[int]:
        with self.lock:
            return [status for p, status in self.answers if p == path]


@pytest.fixture(scope="module")
def bridge(stack: Any) -> Iterator[Bridge]:
    state = Bridge()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = self.path.strip("/").split("/")  # v1/webhooks/{provider}/{connection_id}
            event = {
                "path": self.path,
                "pathParameters": {"provider": parts[-2], "connection_id": parts[-1]},
                "headers": dict(self.headers.items()),
                "body": body.decode("utf-8"),
                "isBase64Encoded": False,
            }
            answer = container.webhook_ingest().answer_event(event)
            with state.lock:
                state.answers.append((self.path, answer.status))
            self.send_response(answer.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.host = f"127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def sandboxes(stack: Any, bridge: Bridge) -> Iterator[dict[str, SandboxTracker[Any]]]:
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for name in PROVIDER_NAMES:
            started[name] = SANDBOXES[name](seed="hooks", issues=3, comments_per_issue=0).start()
        with egress_allowed(*[url for sandbox in started.values() for url in sandbox.urls()]):
            yield started
    finally:
        for sandbox in started.values():
            sandbox.stop()
        container.reset()


@pytest.fixture(params=PROVIDER_NAMES)
def tracker(request: pytest.FixtureRequest, sandboxes: dict[str, SandboxTracker[Any]]) -> SandboxTracker[Any]:
    sandbox = sandboxes[request.param]
    sandbox.reset()
    sandbox.clear_faults()
    return sandbox


@dataclass
class HookApi:
    """The API as a caller reaches it on ``bridge.host`` (so the webhook URL it derives is the bridge)."""

    client: ApiClient
    host: str

    def call(self, method: str, path: str, *, body: Any = None) -> Answer:
        event = rest_event(
            self.client.shared_dir,
            method,
            path,
            body=body,
            tenant=None,
            authorizer=self.client.authorize(),
            headers={"Host": self.host, "X-Forwarded-Proto": "http"},
            request_id=f"req-{uuid.uuid4().hex[:8]}",
        )
        event["requestContext"]["domainName"] = self.host
        raw = api_handler(event, FakeLambdaContext())
        return Answer(raw["statusCode"], json.loads(raw["body"]) if raw.get("body") else None, raw)


@pytest.fixture
def hooks_api(api: ApiClient, bridge: Bridge) -> HookApi:
    return HookApi(api, bridge.host)


def create(hooks_api: HookApi, tracker: SandboxTracker[Any], **extra: Any) -> Answer:
    body = {**tracker.connection_request(name=f"{tracker.kind} hooks"), **extra}
    answer = hooks_api.call("POST", "/v1/connections", body=body)
    assert answer.status == 201, answer.body
    return answer


def tracker_hook(tenant: str, connection_id: str, hook_id: str) -> dict[str, Any] | None:
    """The hook as the tracker's own API shows it, read with the connection's adapter."""
    connection = container.connection_repository().get(tenant, connection_id)
    assert isinstance(connection, Connection)
    credentials = container.connection_secrets().credentials(tenant, connection_id) or {}
    with container.adapter_factory()(connection, credentials) as adapter:
        reader = getattr(adapter, "admin_webhook", None) or adapter.webhook_info  # type: ignore[attr-defined]
        found: dict[str, Any] | None = reader(hook_id)
        return found


def wait_for_delivery(hooks_api: HookApi, connection_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = hooks_api.call("GET", f"/v1/connections/{connection_id}/webhook").body
        if view["last_delivery_at"] is not None:
            return dict(view)
        time.sleep(0.05)
    raise AssertionError("no verified delivery arrived")


def test_register_show_and_remove_a_webhook(
    hooks_api: HookApi, tracker: SandboxTracker[Any], bridge: Bridge, tenant: str
) -> None:
    # Given a connection without a webhook
    cid = create(hooks_api, tracker).body["id"]
    assert hooks_api.call("GET", f"/v1/connections/{cid}").body["webhook"] == {
        "status": "unregistered",
        "last_delivery_at": None,
        "fallback": False,
        "reason": None,
        "hook_id": None,
        "kind": None,
        "url": None,
        "registered_at": None,
        "checked_at": None,
        "expires_at": None,
    }

    # When a webhook is registered
    registered = hooks_api.call("POST", f"/v1/connections/{cid}/webhook")

    # Then it is active, delivering to this API's webhook route, and the tracker has it
    assert registered.status == 201, registered.body
    view = registered.body
    url = f"http://{bridge.host}/v1/webhooks/{tracker.kind}/{cid}"
    assert (view["status"], view["kind"], view["url"], view["fallback"]) == (
        "active",
        KINDS[tracker.kind],
        url,
        False,
    )
    at_tracker = tracker_hook(tenant, cid, view["hook_id"])
    assert at_tracker is not None
    assert at_tracker.get("url") == url or at_tracker.get("config", {}).get("url") == url
    connection = hooks_api.call("GET", f"/v1/connections/{cid}").body
    assert connection["has_webhook_secret"] is True
    assert connection["webhook"]["hook_id"] == view["hook_id"]

    # When the tracker changes an issue, its signed delivery verifies with the secret trackbridge stored
    tracker.open_issue("delivered through the registered hook")
    delivered = wait_for_delivery(hooks_api, cid)
    assert delivered["status"] == "active"
    assert set(bridge.statuses(f"/v1/webhooks/{tracker.kind}/{cid}")) <= {200, 202}
    assert hooks_api.call("GET", f"/v1/connections/{cid}").body["webhook"]["last_delivery_at"] is not None

    # When it is removed
    removed = hooks_api.call("DELETE", f"/v1/connections/{cid}/webhook")

    # Then the tracker no longer has it and the connection shows none (the last delivery is still known)
    assert removed.status == 204
    assert tracker_hook(tenant, cid, view["hook_id"]) is None
    after = hooks_api.call("GET", f"/v1/connections/{cid}/webhook").body
    assert after["status"] == "unregistered"
    assert after["last_delivery_at"] == delivered["last_delivery_at"]
    assert hooks_api.call("DELETE", f"/v1/connections/{cid}/webhook").status == 404

    # And both changes are audited with dotted names
    entries = container.audit_repository().list(tenant, limit=20).items
    actions = [e.action for e in entries if e.target == cid]
    assert actions[:2] == ["webhook.unregister", "webhook.register"]


def test_a_second_registration_is_a_conflict(hooks_api: HookApi, sandboxes: dict[str, Any]) -> None:
    tracker = sandboxes["gitlab"]
    cid = create(hooks_api, tracker).body["id"]
    first = hooks_api.call("POST", f"/v1/connections/{cid}/webhook")

    second = hooks_api.call("POST", f"/v1/connections/{cid}/webhook")

    assert second.status == 409
    assert second.body["error"]["code"] == "ALREADY_EXISTS"
    assert second.body["error"]["details"] == {"hook_id": first.body["hook_id"]}


def test_creation_registers_the_webhook_when_asked(
    hooks_api: HookApi, sandboxes: dict[str, Any], tenant: str
) -> None:
    tracker = sandboxes["github"]

    created = create(hooks_api, tracker, register_webhook=True).body

    assert created["webhook"]["status"] == "active"
    assert created["webhook"]["kind"] == "github"
    assert tracker_hook(tenant, created["id"], created["webhook"]["hook_id"]) is not None
    # GitHub pings a new hook at once: the ping verifies too
    assert wait_for_delivery(hooks_api, created["id"])["status"] == "active"


def test_a_refused_registration_leaves_nothing_recorded(
    hooks_api: HookApi, sandboxes: dict[str, Any]
) -> None:
    tracker = sandboxes["gitlab"]
    tracker.reset()
    tracker.add_faults([{"route": "POST */hooks", "status": 403, "times": 2}])
    try:
        # On creation the connection is created and the answer says why the hook is not there
        created = create(hooks_api, tracker, register_webhook=True).body
        assert created["webhook"]["status"] == "unregistered"
        assert created["webhook"]["reason"].startswith("registration failed (PERMISSION_DENIED)")

        # Asked on its own, the tracker's refusal is the answer
        refused = hooks_api.call("POST", f"/v1/connections/{created['id']}/webhook")
        assert refused.status == 403, refused.body
        assert refused.body["error"]["code"] == "PERMISSION_DENIED"
        route = WebhookRoutes(container.table()).lookup(created["id"])
        assert route is not None
        assert route.hook is None
    finally:
        tracker.clear_faults()


def test_reading_needs_read_and_changing_needs_write(
    hooks_api: HookApi, sandboxes: dict[str, Any], tenant: str, shared_dir: Any
) -> None:
    cid = create(hooks_api, sandboxes["github"]).body["id"]
    reader = HookApi(ApiClient(shared_dir, issue_api_key(tenant, ("connections:read",))), hooks_api.host)

    assert reader.call("GET", f"/v1/connections/{cid}/webhook").status == 200
    assert reader.call("POST", f"/v1/connections/{cid}/webhook").status == 403
    assert reader.call("DELETE", f"/v1/connections/{cid}/webhook").status == 403


def test_another_tenants_connection_is_not_found(
    hooks_api: HookApi, other_api: ApiClient, sandboxes: dict[str, Any]
) -> None:
    cid = create(hooks_api, sandboxes["github"]).body["id"]
    other = HookApi(other_api, hooks_api.host)

    for method in ("GET", "POST", "DELETE"):
        assert other.call(method, f"/v1/connections/{cid}/webhook").status == 404


def test_deleting_a_connection_removes_its_hook_at_the_tracker(
    hooks_api: HookApi, sandboxes: dict[str, Any], tenant: str
) -> None:
    tracker = sandboxes["gitlab"]
    created = create(hooks_api, tracker, register_webhook=True).body
    hook_id = created["webhook"]["hook_id"]
    assert tracker_hook(tenant, created["id"], hook_id) is not None
    connection = container.connection_repository().get(tenant, created["id"])
    credentials = container.connection_secrets().credentials(tenant, created["id"]) or {}

    assert hooks_api.call("DELETE", f"/v1/connections/{created['id']}").status == 204

    with container.adapter_factory()(connection, credentials) as adapter:
        assert adapter.webhook_info(hook_id) is None  # type: ignore[attr-defined]
