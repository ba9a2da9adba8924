"""GitLab project hooks: registration through python-gitlab, deliveries checked on the wire.

``hook_receiver`` (conftest) is an ``http.server`` endpoint independent of the sandbox core; the Standard
Webhooks signature is recomputed here from the received bytes with ``hmac``, not with sandbox code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab as pygitlab
import httpx
import pytest

from infra.local.trackers.gitlab import GitLabSandbox

from .conftest import HookReceiver, Received

pytestmark = pytest.mark.integration

SECRET = "s3cret-token-for-tests"
SIGNING_KEY = bytes(range(32))
SIGNING_TOKEN = "whsec_" + base64.b64encode(SIGNING_KEY).decode()


@pytest.fixture
def project(gitlab: GitLabSandbox) -> Iterator[Any]:
    gl = pygitlab.Gitlab(gitlab.url, private_token=gitlab.token)
    try:
        yield gl.projects.get("acme/widgets")
    finally:
        gl.session.close()


def register(project: Any, receiver: HookReceiver, **events: bool) -> Any:
    flags = events or {"issues_events": True, "note_events": True}
    return project.hooks.create(
        {"url": receiver.url, "token": SECRET, "signing_token": SIGNING_TOKEN, **flags}
    )


def header(received: Received, name: str) -> str:
    for key, value in received.headers.items():
        if key.lower() == name.lower():
            return value
    raise AssertionError(f"no {name} header")


def verify_standard_webhook(received: Received, key: bytes) -> None:
    """What a Standard Webhooks receiver does: HMAC-SHA256 over "{id}.{timestamp}.{body}", base64, "v1,"."""
    message_id = header(received, "webhook-id")
    timestamp = header(received, "webhook-timestamp")
    expected = base64.b64encode(
        hmac.new(key, f"{message_id}.{timestamp}.".encode() + received.body, hashlib.sha256).digest()
    ).decode()
    offered = [part.removeprefix("v1,") for part in header(received, "webhook-signature").split()]
    assert any(hmac.compare_digest(expected, candidate) for candidate in offered)
    assert abs(time.time() - int(timestamp)) < 300


def test_hook_registration_hides_secrets_and_defaults(
    gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver
) -> None:
    hook = register(project, hook_receiver)

    assert hook.url == hook_receiver.url
    assert hook.push_events is True  # the web_hooks.push_events column defaults to true
    assert hook.issues_events is True
    assert hook.note_events is True
    assert hook.confidential_issues_events is False
    assert hook.token_present is True
    assert hook.signing_token_present is True
    assert "token" not in hook.attributes
    assert "signing_token" not in hook.attributes
    assert SECRET not in json.dumps(project.hooks.get(hook.id).attributes)
    assert hook.alert_status == "executable"


def test_issue_open_delivery_headers_and_signatures(
    gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver
) -> None:
    register(project, hook_receiver)

    issue = project.issues.create({"title": "Webhook me", "labels": "bug"})

    (received,) = hook_receiver.wait_for(1)
    assert hmac.compare_digest(header(received, "X-Gitlab-Token"), SECRET)  # plain secret, no HMAC
    verify_standard_webhook(received, SIGNING_KEY)
    assert header(received, "X-Gitlab-Event") == "Issue Hook"
    assert header(received, "User-Agent").startswith("GitLab/")
    assert header(received, "X-Gitlab-Instance") == gitlab.url
    assert header(received, "webhook-id") == header(received, "Idempotency-Key")
    for name in ("Idempotency-Key", "X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID"):
        uuid.UUID(header(received, name))
    payload = json.loads(received.body)
    assert payload["object_kind"] == "issue"
    assert payload["event_type"] == "issue"
    attributes = payload["object_attributes"]
    assert (attributes["action"], attributes["iid"], attributes["id"]) == ("open", issue.iid, issue.id)
    assert attributes["state"] == "opened"
    assert attributes["created_at"].endswith(" UTC")
    assert [label["title"] for label in payload["labels"]] == ["bug"]
    assert payload["changes"]["title"] == {"previous": None, "current": "Webhook me"}


def test_payloads_carry_the_documented_fields(
    gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver, shared_dir: Path
) -> None:
    register(project, hook_receiver)
    issue = project.issues.create({"title": "Shape check"})
    issue.notes.create({"body": "Hello world"})
    issue_hook, note_hook = (json.loads(r.body) for r in hook_receiver.wait_for(2))

    fixtures = shared_dir / "fixtures" / "gitlab"
    documented_issue = json.loads((fixtures / "issue_hook.open.docs.json").read_text())
    documented_note = json.loads((fixtures / "note_hook.issue.docs.json").read_text())
    # Incident-only fields (escalation_*) do not apply to a plain issue.
    incident_only = {"escalation_status", "escalation_policy"}
    assert set(documented_issue) - {"assignees", "assignee"} <= set(issue_hook)
    assert set(documented_issue["object_attributes"]) - incident_only <= set(issue_hook["object_attributes"])
    assert set(documented_note) <= set(note_hook)
    assert set(documented_note["object_attributes"]) <= set(note_hook["object_attributes"])
    assert note_hook["object_attributes"]["noteable_type"] == "Issue"
    assert note_hook["object_attributes"]["action"] == "create"
    assert note_hook["issue"]["iid"] == issue.iid


def test_one_request_shares_the_event_uuid_per_hook(project: Any, hook_receiver: HookReceiver) -> None:
    register(project, hook_receiver)
    issue = project.issues.get(3)

    issue.title = "Retitled and closed in one request"
    issue.state_event = "close"
    issue.save()

    update, close = hook_receiver.wait_for(2)
    assert [json.loads(r.body)["object_attributes"]["action"] for r in (update, close)] == ["update", "close"]
    assert header(update, "X-Gitlab-Event-UUID") == header(close, "X-Gitlab-Event-UUID")
    assert header(update, "X-Gitlab-Webhook-UUID") != header(close, "X-Gitlab-Webhook-UUID")
    assert header(update, "Idempotency-Key") != header(close, "Idempotency-Key")
    changes = json.loads(close.body)["changes"]
    assert changes["state_id"] == {"previous": 1, "current": 2}


def test_a_webhook_consumers_uuid_is_recycled(
    gitlab: GitLabSandbox, gitlab_http: httpx.Client, project: Any, hook_receiver: HookReceiver
) -> None:
    register(project, hook_receiver)
    incoming = str(uuid.uuid4())

    gitlab_http.post(
        "/projects/4242/issues", json={"title": "From a hook"}, headers={"X-Gitlab-Event-UUID": incoming}
    )

    (received,) = hook_receiver.wait_for(1)
    assert header(received, "X-Gitlab-Event-UUID") == incoming  # GitLab's recursion detection


def test_system_notes_and_unsubscribed_events_send_nothing(
    gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver
) -> None:
    register(project, hook_receiver, issues_events=True)  # no note_events
    issue = project.issues.get(5)

    issue.notes.create({"body": "not delivered"})
    issue.description = "edited: writes a system note, which fires no Note Hook"
    issue.save()

    assert gitlab.wait_for_deliveries()
    events = [header(r, "X-Gitlab-Event") for r in hook_receiver.received]
    assert events == ["Issue Hook"]


def test_confidential_events_need_their_own_flags(
    gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver
) -> None:
    register(project, hook_receiver, issues_events=True, note_events=True)
    project.issues.create({"title": "secret", "confidential": True})
    assert gitlab.wait_for_deliveries()
    assert hook_receiver.received == []

    register(project, hook_receiver, confidential_issues_events=True, confidential_note_events=True)
    secret = project.issues.create({"title": "still secret", "confidential": True})
    secret.notes.create({"body": "internal"})

    first, second = hook_receiver.wait_for(2)
    assert header(first, "X-Gitlab-Event") == "Confidential Issue Hook"
    assert json.loads(first.body)["event_type"] == "confidential_issue"
    assert header(second, "X-Gitlab-Event") == "Confidential Note Hook"


def test_mutations_fire_the_same_hooks(
    gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver
) -> None:
    register(project, hook_receiver)

    gitlab.mutate("update", iid=9, fields={"state": "closed"})
    gitlab.mutate("comment", iid=9, body="closing note")

    close, note = hook_receiver.wait_for(2)
    assert json.loads(close.body)["object_attributes"]["action"] == "close"
    assert header(note, "X-Gitlab-Event") == "Note Hook"
    assert header(close, "X-Gitlab-Event-UUID") != header(note, "X-Gitlab-Event-UUID")  # two requests


def test_no_automatic_retry_backoff_and_resend(
    gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver
) -> None:
    hook = register(project, hook_receiver)
    hook_receiver.status = 500

    for number in range(4):
        project.issues.create({"title": f"failing {number}"})
        assert gitlab.wait_for_deliveries()
    assert len(hook_receiver.received) == 4  # one attempt each: GitLab does not retry by itself

    disabled = project.hooks.get(hook.id)
    assert disabled.alert_status == "temporarily_disabled"
    assert disabled.disabled_until is not None
    project.issues.create({"title": "not sent while disabled"})
    assert gitlab.wait_for_deliveries()
    assert len(hook_receiver.received) == 4

    logs = project.manager.gitlab.http_list(f"/projects/4242/hooks/{hook.id}/events", get_all=True)
    assert [log["response_status"] for log in logs] == [500] * 4
    assert all(log["request_headers"]["X-Gitlab-Token"] == "[REDACTED]" for log in logs)

    hook_receiver.status = 200
    oldest = logs[-1]
    resent = project.manager.gitlab.http_post(f"/projects/4242/hooks/{hook.id}/events/{oldest['id']}/resend")
    assert resent == {"response_status": 200}
    again = hook_receiver.wait_for(5)[-1]
    first = hook_receiver.received[0]
    assert header(again, "Idempotency-Key") == header(first, "Idempotency-Key") == oldest["idempotency_key"]
    assert header(again, "X-Gitlab-Webhook-UUID") != header(first, "X-Gitlab-Webhook-UUID")
    assert again.body == first.body
    verify_standard_webhook(again, SIGNING_KEY)
    assert project.hooks.get(hook.id).alert_status == "executable"


def test_hook_validation_errors(gitlab: GitLabSandbox, gitlab_http: httpx.Client) -> None:
    hooks = "/projects/4242/hooks"

    missing = gitlab_http.post(hooks, json={"issues_events": True})
    remote = gitlab_http.post(hooks, json={"url": "https://example.com/hook"})
    bad_key = gitlab_http.post(hooks, json={"url": "http://127.0.0.1:9/h", "signing_token": "whsec_nope"})
    unknown = gitlab_http.get(f"{hooks}/424242")
    anonymous = httpx.get(f"{gitlab.url}/api/v4{hooks}", trust_env=False)

    assert (missing.status_code, missing.json()) == (400, {"error": "url is missing"})
    assert (remote.status_code, remote.json()) == (422, {"error": "Invalid url given"})
    assert bad_key.status_code == 400
    assert list(bad_key.json()["message"]) == ["signing_token"]
    assert (unknown.status_code, unknown.json()) == (404, {"message": "404 Not found"})
    assert anonymous.status_code == 401
    assert gitlab.state.hooks == {}


def test_hook_update_and_delete(gitlab: GitLabSandbox, project: Any, hook_receiver: HookReceiver) -> None:
    hook = register(project, hook_receiver, issues_events=True)
    public = next(i.iid for i in gitlab.state.live_issues() if not i.confidential)

    hook.issues_events = False
    hook.note_events = True
    hook.token = "rotated-secret"
    hook.save()
    project.issues.get(public).notes.create({"body": "goes to the updated hook"})
    project.issues.create({"title": "issues_events is off now"})

    (received,) = hook_receiver.wait_for(1)
    assert header(received, "X-Gitlab-Event") == "Note Hook"
    assert header(received, "X-Gitlab-Token") == "rotated-secret"
    refreshed = project.hooks.get(hook.id)
    assert (refreshed.issues_events, refreshed.note_events) == (False, True)

    project.hooks.delete(hook.id)
    project.issues.get(public).notes.create({"body": "nobody listens"})
    assert gitlab.wait_for_deliveries()
    assert len(hook_receiver.received) == 1
    with pytest.raises(pygitlab.GitlabGetError):
        project.hooks.get(hook.id)
