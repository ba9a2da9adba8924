"""Webhooks end to end on the embedded stack: tracker mutation -> signed delivery -> webhook Lambda -> inbound
FIFO queue -> apply Lambda -> DynamoDB -> ``GET /v1/issues/{ref}``, for GitHub, GitLab and Jira.

``LocalStack`` starts what ``trackbridge local up`` starts (about 2 s here). Hooks are registered at each
sandbox through its own provider API (GitHub ``POST /repos/{o}/{r}/hooks``, GitLab ``POST
/projects/{id}/hooks``, Jira admin ``POST /rest/webhooks/1.0/webhook``) with the connection's webhook secret,
not through trackbridge's registration route. Each hook points at a :class:`Relay` on loopback that forwards
to the stack's webhook URL and can drop, duplicate or hold deliveries: the sandboxes have no knob for their
outgoing deliveries (their ``/_sandbox/faults`` rules act on requests *to* them). A dropped delivery is
answered 200 by the relay, so no tracker retries it: for trackbridge it never happened.

The stack's apply function is wrapped (:class:`AppliedLog`) to record which deliveries the apply Lambda took
off the queue successfully; the wrapper calls ``functions.apply.handler`` unchanged. Waits are bounded on a
condition, generously (a loaded machine runs the stack's threads late); no test asserts a duration.

The storm's GitLab and Jira cases are strict expected failures for one known gap of the polling fallback
(see ``_COMMENTS_HIDDEN_BY_CURRENT_ISSUE``): they fail the suite as soon as the sync closes it.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

import functions.apply
from infra.cli import main as cli
from infra.local.stack import DEMO_TENANT, LocalStack
from infra.local.trackers.core import SandboxCluster, SandboxTracker
from trackbridge.runtime.webhooks.messages import InboundDelivery

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("webhooks-e2e"), pytest.mark.timeout(900)]

PROVIDERS = ("github", "gitlab", "jira")
WAIT_S = 120.0
STORM_MUTATIONS = 60
STORM_ISSUES = 4

# ---- the relay: a loopback hop between the sandbox's hook and the stack, which can lose or repeat ----------

PASS, DROP, DUPLICATE, HOLD = "pass", "drop", "duplicate", "hold"
_HOP_BY_HOP = frozenset({"host", "content-length", "connection", "transfer-encoding", "accept-encoding"})


@dataclass
class Relayed:
    """One delivery the relay received, and what the stack answered to each copy it forwarded."""

    n: int
    path: str
    headers: dict[str, str]
    body: bytes
    action: str
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class Relay:
    """Forwards ``POST {relay}/v1/webhooks/...`` to the stack's gateway; ``plans[path](n)`` decides what
    happens to the ``n``-th delivery (0-based) to ``path``: pass, drop, duplicate or hold (kept unsent)."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.plans: dict[str, Callable[[int], str]] = {}
        self._records: list[Relayed] = []
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=120, trust_env=False)
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = relay.receive(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            n = self._counts[path]
            self._counts[path] += 1
            action = self.plans.get(path, lambda _: PASS)(n)
            record = Relayed(n, path, headers, body, action)
            self._records.append(record)
        if action in (DROP, HOLD):
            return 200
        for _ in range(2 if action == DUPLICATE else 1):
            record.answers.append(self.forward(record))
        return record.answers[0][0]

    def forward(self, record: Relayed, *, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
        """Send ``record`` (or its headers with another body) to the stack; the answer's status and JSON."""
        headers = {k: v for k, v in record.headers.items() if k.lower() not in _HOP_BY_HOP}
        response = self._client.post(
            f"{self.target}{record.path}", content=record.body if body is None else body, headers=headers
        )
        return response.status_code, response.json() if response.content else {}

    def records(self, path: str) -> list[Relayed]:
        with self._lock:
            return [r for r in self._records if r.path == path]


# ---- what the apply Lambda took off the queue -------------------------------------------------------------


class AppliedLog:
    """Wraps the apply handler: every record it did not report as failed, by (connection, delivery id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.bodies: list[bytes] = []

    def handler(self, event: dict[str, Any], context: Any) -> Any:
        result = functions.apply.handler(event, context)
        failed = {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
        for record in event.get("Records", []):
            if record["messageId"] in failed:
                continue
            delivery = InboundDelivery.model_validate_json(record["body"])
            with self._lock:
                self.counts[(delivery.connection_id, delivery.delivery_id)] += 1
                self.bodies.append(delivery.raw_body)
        return result

    def times(self, connection_id: str, delivery_id: str) -> int:
        with self._lock:
            return self.counts[(connection_id, delivery_id)]


# ---- registering hooks through each tracker's own API -----------------------------------------------------


class HookApi(ABC):
    """Register, re-key and remove a hook at a sandbox through the provider's API (no trackbridge code)."""

    provider: ClassVar[str]
    # The key of a ``create`` mutation's answer that is the issue's native id in trackbridge's refs.
    native_key: ClassVar[str]
    # Whether the tracker sends a webhook when an issue or a comment is deleted (GitLab sends none).
    delivers_deletions: ClassVar[bool] = True

    def __init__(self, tracker: SandboxTracker[Any]) -> None:
        self.tracker = tracker
        self.info = tracker.describe()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.tracker.url, timeout=30, trust_env=False, headers=self.auth())

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tracker.token}"}

    @abstractmethod
    def register(self, url: str, secret: str) -> str:
        """Create the hook; its id."""

    @abstractmethod
    def rekey(self, hook_id: str, url: str, secret: str) -> None:
        """Make the hook sign with ``secret`` from now on."""

    @abstractmethod
    def remove(self, hook_id: str) -> None:
        """Delete the hook."""


class GitHubHooks(HookApi):
    provider = "github"
    native_key = "number"

    def _hook_config(self, url: str, secret: str) -> dict[str, Any]:
        return {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"}

    def register(self, url: str, secret: str) -> str:
        body = {
            "name": "web",
            "events": ["issues", "issue_comment"],
            "config": self._hook_config(url, secret),
        }
        with self.client() as client:
            answer = client.post(f"/repos/{self.info['repo']}/hooks", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def rekey(self, hook_id: str, url: str, secret: str) -> None:
        with self.client() as client:
            answer = client.patch(
                f"/repos/{self.info['repo']}/hooks/{hook_id}", json={"config": self._hook_config(url, secret)}
            )
        assert answer.status_code == 200, answer.text

    def remove(self, hook_id: str) -> None:
        with self.client() as client:
            assert client.delete(f"/repos/{self.info['repo']}/hooks/{hook_id}").status_code == 204


class GitLabHooks(HookApi):
    provider = "gitlab"
    native_key = "iid"
    delivers_deletions = False

    def auth(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.tracker.token}

    @property
    def hooks(self) -> str:
        return f"/api/v4/projects/{self.info['project_id']}/hooks"

    def register(self, url: str, secret: str) -> str:
        # The secret is both the plain token and the signing token (Standard Webhooks): with a signing
        # token GitLab signs the body, and trackbridge then judges the delivery by that signature.
        body = {
            "url": url,
            "token": secret,
            "signing_token": secret,
            "issues_events": True,
            "note_events": True,
            "push_events": False,
        }
        with self.client() as client:
            answer = client.post(self.hooks, json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def rekey(self, hook_id: str, url: str, secret: str) -> None:
        with self.client() as client:
            answer = client.put(f"{self.hooks}/{hook_id}", json={"token": secret, "signing_token": secret})
        assert answer.status_code == 200, answer.text

    def remove(self, hook_id: str) -> None:
        with self.client() as client:
            assert client.delete(f"{self.hooks}/{hook_id}").status_code == 204


class JiraHooks(HookApi):
    provider = "jira"
    native_key = "id"
    path = "/rest/webhooks/1.0/webhook"

    def auth(self) -> dict[str, str]:
        pair = f"{self.info['email']}:{self.tracker.token}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def register(self, url: str, secret: str) -> str:
        body = {
            "name": f"trackbridge e2e {secrets.token_hex(4)}",
            "url": url,
            "events": [
                "jira:issue_created",
                "jira:issue_updated",
                "jira:issue_deleted",
                "comment_created",
                "comment_updated",
                "comment_deleted",
            ],
            "filters": {"issue-related-events-section": f"project = {self.info['project']}"},
            "excludeBody": False,
            "secret": secret,
        }
        with self.client() as client:
            answer = client.post(self.path, json=body)
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["self"]).rstrip("/").rsplit("/", 1)[-1]

    def rekey(self, hook_id: str, url: str, secret: str) -> None:
        with self.client() as client:
            answer = client.put(f"{self.path}/{hook_id}", json={"secret": secret})
        assert answer.status_code == 200, answer.text

    def remove(self, hook_id: str) -> None:
        with self.client() as client:
            assert client.delete(f"{self.path}/{hook_id}").status_code in (200, 204)


HOOK_APIS: dict[str, type[HookApi]] = {api.provider: api for api in (GitHubHooks, GitLabHooks, JiraHooks)}


# ---- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def applied() -> AppliedLog:
    return AppliedLog()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, applied: AppliedLog) -> Iterator[LocalStack]:
    running = LocalStack(
        port=0,
        state_dir=tmp_path_factory.mktemp("state"),
        stage="hookse2e",
        functions={"apply": applied.handler},
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def relay(stack: LocalStack) -> Iterator[Relay]:
    assert stack.gateway is not None
    running = Relay(stack.gateway.url)
    try:
        yield running
    finally:
        running.stop()


def new_secret() -> str:
    """A secret in GitLab's signing-token format (``whsec_`` + base64 of 32 bytes), as rotation issues."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Hooked:
    """A connection of the demo tenant with a hook at its sandbox pointing at the relay."""

    provider: str
    tracker: SandboxTracker[Any]
    hooks: HookApi
    connection_id: str
    secret: str
    hook_id: str
    path: str
    relay_url: str

    def ref(self, created: dict[str, Any]) -> str:
        return f"{self.connection_id}.{created[self.hooks.native_key]}"

    def handle(self, created: dict[str, Any]) -> Any:
        """What the sandbox's mutations take to name the issue ``created`` answered for."""
        return created[self.tracker.issue_ref_key]

    def create(self, title: str) -> dict[str, Any]:
        return self.tracker.mutate("create", fields={self.tracker.title_field: title})

    def delivered(self) -> None:
        assert self.tracker.wait_for_deliveries(WAIT_S), "the sandbox did not finish its deliveries"


@pytest.fixture
def connect(stack: LocalStack, api: httpx.Client, relay: Relay) -> Iterator[Callable[[str], Hooked]]:
    """``connect(provider)``: a new connection with its own secret, and its hook at the sandbox; the hooks
    are removed after the test, so no later test's mutations are delivered to this connection."""
    made: list[Hooked] = []

    def make(provider: str) -> Hooked:
        assert isinstance(stack.sandboxes, SandboxCluster)
        tracker = stack.sandboxes.trackers[provider]
        secret = new_secret()
        body = {
            **tracker.connection_request(name=f"{provider}-hooks-{secrets.token_hex(4)}"),
            "webhook_secret": secret,
        }
        created = api.post("/connections", json=body)
        assert created.status_code == 201, created.text
        connection_id = created.json()["id"]
        path = f"/v1/webhooks/{provider}/{connection_id}"
        hooks = HOOK_APIS[provider](tracker)
        hook_id = hooks.register(f"{relay.url}{path}", secret)
        hooked = Hooked(provider, tracker, hooks, connection_id, secret, hook_id, path, f"{relay.url}{path}")
        made.append(hooked)
        return hooked

    yield make
    for hooked in made:
        hooked.hooks.remove(hooked.hook_id)


# ---- helpers -----------------------------------------------------------------------------------------------


def eventually(probe: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    """``probe()``'s first truthy answer; fails the test after ``timeout_s`` (a bound, not an expectation)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout_s:g} s: {what}")


def stored(api: httpx.Client, ref: str) -> dict[str, Any] | None:
    answer = api.get(f"/issues/{ref}")
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def shows(api: httpx.Client, ref: str, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """Wait until ``GET /v1/issues/{ref}`` answers an issue ``check`` accepts."""
    return dict(eventually(lambda: (issue := stored(api, ref)) is not None and check(issue) and issue, what))


def queued(record: Relayed) -> list[str]:
    """The delivery ids the stack queued for the copies of ``record`` the relay forwarded."""
    return [body["delivery_id"] for status, body in record.answers if body.get("status") == "queued"]


def run_sync(api: httpx.Client, connection_id: str, mode: str) -> dict[str, Any]:
    started = api.post(f"/connections/{connection_id}/syncs", json={"mode": mode})
    assert started.status_code == 202, started.text
    op_id = started.json()["id"]
    op: dict[str, Any] = eventually(
        lambda: (
            (body := api.get(f"/sync-operations/{op_id}").json())["status"]
            in ("Completed", "Failed", "Cancelled")
            and body
        ),
        f"{mode} sync {op_id} ends",
        timeout_s=300,
    )
    assert op["status"] == "Completed", op
    return op


def verify(stack: LocalStack, connection_id: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """``trackbridge verify <connection> --json`` against the stack's local.json."""
    capsys.readouterr()
    code = cli(
        ["verify", connection_id, "--tenant", DEMO_TENANT, "--json", "--local-state", str(stack.state_file)]
    )
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == (0 if report["ok"] else 1), report
    return report


# ---- the tests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tracker_changes_become_visible_through_the_api_without_a_sync(
    provider: str, api: httpx.Client, connect: Callable[[str], Hooked]
) -> None:
    # Given: a connection that has never synced, with its hook registered at the tracker
    hooked = connect(provider)
    tracker = hooked.tracker

    # When/Then: each change made at the tracker shows in GET /v1/issues/{ref}
    created = hooked.create("Webhook lifecycle: opened")
    ref, handle = hooked.ref(created), hooked.handle(created)
    shows(api, ref, lambda i: i["title"] == "Webhook lifecycle: opened", "the new issue")

    tracker.retitle_issue(handle, "Webhook lifecycle: renamed")
    shows(api, ref, lambda i: i["title"] == "Webhook lifecycle: renamed", "the new title")

    tracker.close_issue(handle)
    shows(api, ref, lambda i: i["status_category"] == "done", "the issue closed")

    comment_id = tracker.comment_on_issue(handle, "a comment sent by webhook")
    issue = shows(api, ref, lambda i: [c["id"] for c in i["comments"]] == [comment_id], "the comment")
    assert issue["comments"][0]["body"] == "a comment sent by webhook"

    deliveries_before = len(tracker.deliveries())
    tracker.remove_comment(comment_id)
    tracker.remove_issue(handle)
    hooked.delivered()
    if hooked.hooks.delivers_deletions:
        gone = shows(api, ref, lambda i: i["deleted_at"] is not None, "the issue deleted")
        assert gone["comments"] == []
    else:
        # GitLab sends no webhook when an issue or a note is deleted: finding deletions is the fallback's job.
        assert len(tracker.deliveries()) == deliveries_before

    # And no sync ever ran for this connection: all of it came by webhook
    assert api.get(f"/connections/{hooked.connection_id}/syncs").json()["items"] == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_replayed_delivery_is_acknowledged_and_applied_once(
    provider: str, api: httpx.Client, relay: Relay, applied: AppliedLog, connect: Callable[[str], Hooked]
) -> None:
    # Given: an issue created at the tracker and stored from its delivery
    hooked = connect(provider)
    created = hooked.create("Replayed delivery")
    ref = hooked.ref(created)
    shows(api, ref, lambda i: i["title"] == "Replayed delivery", "the new issue")
    first = next(r for r in relay.records(hooked.path) if queued(r))
    (delivery_id,) = queued(first)

    # When: the same delivery (bytes and headers) arrives again
    status, answer = relay.forward(first)

    # Then: it is acknowledged as a duplicate; after a later change of the same issue (same FIFO group, so
    # anything queued before it is applied before it), the delivery was applied exactly once
    assert (status, answer) == (202, {"delivery_id": delivery_id, "status": "duplicate"})
    hooked.tracker.retitle_issue(hooked.handle(created), "Replayed delivery, then renamed")
    shows(api, ref, lambda i: i["title"] == "Replayed delivery, then renamed", "the later change")
    assert applied.times(hooked.connection_id, delivery_id) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tampered_body_with_the_old_signature_is_refused_and_stores_nothing(
    provider: str,
    api: httpx.Client,
    relay: Relay,
    applied: AppliedLog,
    connect: Callable[[str], Hooked],
) -> None:
    hooked = connect(provider)
    created = hooked.create("Genuine title")
    ref = hooked.ref(created)
    shows(api, ref, lambda i: i["title"] == "Genuine title", "the new issue")
    genuine = next(r for r in relay.records(hooked.path) if queued(r))
    tampered = genuine.body.replace(b"Genuine title", b"Tampered title")
    assert tampered != genuine.body

    # When: the body is changed in transit, the signature headers left as the tracker made them
    refused = relay.forward(genuine, body=tampered)

    # Then: 401, exactly the answer an unknown connection gets (no hint which check failed)
    unknown = Relayed(
        0, f"/v1/webhooks/{provider}/conn_aaaaaaaaaaaaaaaaaaaa", genuine.headers, tampered, PASS
    )
    assert refused[0] == 401
    assert relay.forward(unknown) == refused
    # and nothing of it is stored: after a later change of the same issue is applied, no applied body ever
    # carried the tampered title, and the issue shows the tracker's
    hooked.tracker.retitle_issue(hooked.handle(created), "Genuine title, renamed")
    issue = shows(api, ref, lambda i: i["title"] == "Genuine title, renamed", "the later change")
    assert not any(b"Tampered title" in body for body in applied.bodies)
    assert issue["title"] == "Genuine title, renamed"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_after_a_rotation_old_and_new_secrets_pass_until_the_next_rotation(
    provider: str, api: httpx.Client, relay: Relay, connect: Callable[[str], Hooked]
) -> None:
    hooked = connect(provider)
    created = hooked.create("Rotation")
    ref, handle = hooked.ref(created), hooked.handle(created)
    shows(api, ref, lambda i: i["title"] == "Rotation", "the new issue")

    # When: the secret is rotated, the tracker's hook still signing with the first secret
    rotated = api.post(f"/connections/{hooked.connection_id}/webhook/rotate")
    assert rotated.status_code == 201, rotated.text
    second = rotated.json()
    assert second["previous_secret_kept"] is True
    assert second["webhook_secret"] != hooked.secret

    # Then: a delivery signed with the old secret still passes
    hooked.tracker.retitle_issue(handle, "Rotation: signed with the first secret")
    shows(api, ref, lambda i: i["title"].endswith("the first secret"), "old-secret delivery")
    signed_with_first = relay.records(hooked.path)[-1]
    assert queued(signed_with_first)

    # and so does one signed with the new secret, once the hook has it
    hooked.hooks.rekey(hooked.hook_id, hooked.relay_url, second["webhook_secret"])
    hooked.tracker.retitle_issue(handle, "Rotation: signed with the second secret")
    shows(api, ref, lambda i: i["title"].endswith("the second secret"), "new-secret delivery")

    # When: it is rotated again, the first secret is no longer accepted; the second (now previous) still is
    third = api.post(f"/connections/{hooked.connection_id}/webhook/rotate")
    assert third.status_code == 201, third.text
    assert relay.forward(signed_with_first)[0] == 401
    hooked.tracker.retitle_issue(handle, "Rotation: the second secret after another rotation")
    shows(api, ref, lambda i: i["title"].endswith("after another rotation"), "previous-secret delivery")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_older_event_delivered_after_a_newer_one_leaves_the_newer_state(
    provider: str, api: httpx.Client, relay: Relay, applied: AppliedLog, connect: Callable[[str], Hooked]
) -> None:
    hooked = connect(provider)
    created = hooked.create("Ordering")
    ref, handle = hooked.ref(created), hooked.handle(created)
    shows(api, ref, lambda i: i["title"] == "Ordering", "the new issue")
    held_from = len(relay.records(hooked.path))
    relay.plans[hooked.path] = lambda n: HOLD if n >= held_from else PASS

    # Given: two edits held back by the network, the second made two seconds (tracker time) after the
    # first: trackers stamp updates to the second, and two versions within one second are told apart only
    # by their hashes (DESIGN section 10), not by which is newer
    hooked.tracker.retitle_issue(handle, "Ordering: older")
    hooked.tracker.clock.advance(2)
    hooked.tracker.retitle_issue(handle, "Ordering: newer")
    hooked.delivered()
    older, newer = relay.records(hooked.path)[held_from:]

    # When: the newer arrives first, then the older
    status, answer = relay.forward(newer)
    assert (status, answer["status"]) == (202, "queued")
    shows(api, ref, lambda i: i["title"] == "Ordering: newer", "the newer edit")
    status, late = relay.forward(older)
    assert (status, late["status"]) == (202, "queued")
    eventually(lambda: applied.times(hooked.connection_id, late["delivery_id"]), "the older edit applied")

    # Then: the newer state stays
    issue = stored(api, ref)
    assert issue is not None
    assert issue["title"] == "Ordering: newer"


class LostAfterTheFallback(AssertionError):
    """The differential checker still finds items lost, duplicated or stale after the fallback's sync."""


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_storm_with_lost_and_doubled_deliveries_ends_consistent_after_one_incremental_sync(
    provider: str,
    stack: LocalStack,
    api: httpx.Client,
    relay: Relay,
    applied: AppliedLog,
    connect: Callable[[str], Hooked],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given: a synced connection whose deliveries go through a network that drops one in ten and sends
    # another one in ten twice
    hooked = connect(provider)
    tracker = hooked.tracker
    run_sync(api, hooked.connection_id, "full")
    relay.plans[hooked.path] = lambda n: {3: DROP, 7: DUPLICATE}.get(n % 10, PASS)

    # When: a storm of mutations over a few issues
    issues = [hooked.handle(hooked.create(f"Storm issue {n}")) for n in range(STORM_ISSUES)]
    comments: dict[int, list[str]] = {n: [] for n in range(STORM_ISSUES)}
    steps = ("retitle", "comment", "edit_comment", "retitle", "comment", "delete_comment")
    for step in range(STORM_MUTATIONS - STORM_ISSUES - 2):
        which = step % STORM_ISSUES
        action = steps[(step // STORM_ISSUES) % len(steps)]
        handle = issues[which]
        if action == "retitle":
            tracker.retitle_issue(handle, f"Storm issue {which}, edit {step}")
        elif action == "comment" or not comments[which]:
            comments[which].append(tracker.comment_on_issue(handle, f"storm comment {step}"))
        elif action == "edit_comment":
            tracker.mutate("edit_comment", comment_id=int(comments[which][-1]), body=f"edited at {step}")
        else:
            tracker.remove_comment(comments[which].pop(0))
    tracker.close_issue(issues[0])
    tracker.remove_issue(issues[1])
    hooked.delivered()
    # and one last comment whose delivery is lost for certain, then a change of its issue that is delivered:
    # the stored issue is then as new as the tracker's, and only the comment is missing
    relay.plans[hooked.path] = lambda n: DROP
    lost_comment = tracker.comment_on_issue(issues[2], "this comment's delivery is lost")
    hooked.delivered()
    relay.plans[hooked.path] = lambda n: PASS
    tracker.retitle_issue(issues[2], "Storm issue 2, renamed after its lost comment")
    hooked.delivered()

    # Then: every copy the stack queued was applied once, and no second copy was queued again
    records = relay.records(hooked.path)
    assert {r.action for r in records} >= {PASS, DROP, DUPLICATE}
    ids = [delivery_id for record in records for delivery_id in queued(record)]
    assert len(ids) == len(set(ids))
    for record in records:
        if record.action == DUPLICATE:
            assert len(queued(record)) <= 1, record.answers
    eventually(
        lambda: all(applied.times(hooked.connection_id, d) == 1 for d in ids), "every queued delivery applied"
    )
    # the checker sees what the lost deliveries left out
    before = verify(stack, hooked.connection_id, capsys)
    assert f"comment {lost_comment}" in before["examples"]["lost"]

    # When: the polling fallback's job, one incremental sync
    run_sync(api, hooked.connection_id, "incremental")

    # Then: nothing lost, duplicated or stale
    after = verify(stack, hooked.connection_id, capsys)
    counts = (after["lost"], after["duplicated"], after["stale"], after["wrongly_deleted"])
    if counts != (0, 0, 0, 0) or not after["ok"]:
        raise LostAfterTheFallback(f"lost, duplicated, stale, wrongly deleted: {counts}: {after['examples']}")
