"""Jira webhooks from the sandbox: admin hooks (HMAC ``X-Hub-Signature``) and OAuth apps' hooks (JWT).

Signatures are checked here with an independent verifier (``hmac`` over the exact bytes the receiver got),
never with the sandbox's own signing code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.local.trackers.jira import JiraSandbox

from .conftest import HookReceiver, Received

pytestmark = pytest.mark.integration

HOOKS = "/rest/webhooks/1.0/webhook"
SECRET = "It's a Secret to Everybody"


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def verify_hub_signature(secret: str, delivery: Received) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, delivery.headers.get("X-Hub-Signature", ""))


def verify_jwt(token: str, secret: str) -> dict[str, Any]:
    """HS256 check written from RFC 7519/7515, independent of the sandbox (and of any JWT library)."""
    header, payload, signature = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(decode(signature), expected), "JWT signature does not verify"
    assert json.loads(decode(header)) == {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, Any] = json.loads(decode(payload))
    assert claims["exp"] > time.time() >= claims["iat"] - 5
    return claims


def register(http: httpx.Client, receiver: HookReceiver, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "trackbridge",
        "url": receiver.url,
        "events": ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "comment_created"],
        "filters": {"issue-related-events-section": "project = ACME"},
        "excludeBody": False,
        "secret": SECRET,
        **overrides,
    }
    response = http.post(HOOKS, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_issue(http: httpx.Client, **fields: Any) -> str:
    body = {"project": {"key": "ACME"}, "issuetype": {"name": "Task"}, "summary": "From a test", **fields}
    response = http.post("/rest/api/3/issue", json={"fields": body})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def events(deliveries: list[Received]) -> list[str]:
    return [json.loads(d.body)["webhookEvent"] for d in deliveries]


# ------------------------------------------------------------------------------------------ admin hooks


def test_admin_hook_deliveries_are_signed_and_shaped_like_jiras(
    jira: JiraSandbox, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    hook = register(jira_http, hook_receiver)
    assert "secret" not in hook

    key = create_issue(jira_http, description=adf("Disk is full"))
    (delivery,) = hook_receiver.wait_for(1)

    assert verify_hub_signature(SECRET, delivery)
    assert "X-Hub-Signature-256" not in delivery.headers
    assert delivery.headers["X-Atlassian-Webhook-Flow"] == "Primary"
    assert delivery.headers["X-Atlassian-Webhook-Identifier"]
    assert "X-Atlassian-Webhook-Retry" not in delivery.headers
    body = json.loads(delivery.body)
    assert body["webhookEvent"] == "jira:issue_created"
    assert body["issue_event_type_name"] == "issue_created"
    assert body["user"]["accountId"] == jira.state.api_user
    assert body["issue"]["key"] == key
    assert body["issue"]["fields"]["description"] == "Disk is full"  # webhooks carry REST v2 shapes
    assert body["issue"]["self"].endswith(f"/rest/api/2/issue/{body['issue']['id']}")
    assert {item["field"] for item in body["changelog"]["items"]} == {"summary", "status"}
    assert isinstance(body["timestamp"], int)


def test_a_comment_sends_comment_created_and_issue_commented(
    jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    register(jira_http, hook_receiver, events=["comment_created", "jira:issue_updated"])

    jira_http.post("/rest/api/3/issue/ACME-3/comment", json={"body": adf("Seen again")})
    deliveries = hook_receiver.wait_for(2)

    by_event = {json.loads(d.body)["webhookEvent"]: json.loads(d.body) for d in deliveries}
    assert by_event["comment_created"]["comment"]["body"] == "Seen again"
    assert by_event["comment_created"]["issue"]["key"] == "ACME-3"
    assert set(by_event["comment_created"]["issue"]["fields"]) == {
        "summary",
        "issuetype",
        "project",
        "assignee",
        "priority",
        "status",
    }
    assert by_event["jira:issue_updated"]["issue_event_type_name"] == "issue_commented"
    assert by_event["jira:issue_updated"]["comment"]["id"] == by_event["comment_created"]["comment"]["id"]


def test_failed_deliveries_are_retried_with_the_same_identifier(
    jira: JiraSandbox, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    register(jira_http, hook_receiver, events=["jira:issue_created"])
    hook_receiver.status = 503

    create_issue(jira_http)
    assert jira.wait_for_deliveries(10)
    attempts = hook_receiver.wait_for(6)

    assert len({d.headers["X-Atlassian-Webhook-Identifier"] for d in attempts}) == 1
    assert [d.headers.get("X-Atlassian-Webhook-Retry") for d in attempts] == [None, "1", "2", "3", "4", "5"]
    assert all(d.body == attempts[0].body for d in attempts)
    assert not jira.deliveries()[-1].ok


def test_a_client_error_is_not_retried(
    jira: JiraSandbox, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    register(jira_http, hook_receiver, events=["jira:issue_created"])
    hook_receiver.status = 400

    create_issue(jira_http)
    assert jira.wait_for_deliveries()

    assert len(hook_receiver.received) == 1


def test_filters_exclude_body_and_url_variables(
    jira: JiraSandbox, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    register(
        jira_http,
        hook_receiver,
        url=hook_receiver.url + "/${project.key}/${issue.key}",
        events=["jira:issue_created"],
        filters={"issue-related-events-section": "project = ACME AND labels = urgent"},
        excludeBody=True,
    )

    create_issue(jira_http, summary="routine")
    urgent = create_issue(jira_http, summary="urgent one", labels=["urgent"])
    assert jira.wait_for_deliveries()

    (delivery,) = hook_receiver.received
    assert delivery.path == f"/hook/ACME/{urgent}"
    assert delivery.body == b""
    assert verify_hub_signature(SECRET, delivery)


def test_deleting_an_issue_cascades_on_the_secondary_flow(
    jira: JiraSandbox, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    register(jira_http, hook_receiver, events=["jira:issue_deleted", "comment_deleted"], filters={})

    assert jira_http.delete("/rest/api/3/issue/ACME-2").status_code == 204
    deliveries = hook_receiver.wait_for(4)  # the issue and its three comments

    assert events(deliveries) == ["jira:issue_deleted"] + ["comment_deleted"] * 3
    assert [d.headers["X-Atlassian-Webhook-Flow"] for d in deliveries] == ["Primary"] + ["Secondary"] * 3


def test_control_api_mutations_send_the_same_webhooks(
    jira: JiraSandbox, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    register(jira_http, hook_receiver, events=["jira:issue_updated", "worklog_created"], filters={})
    key = next(jira.state.key(i) for i in jira.state.live_issues() if i.status_id != "10001")

    transitioned = httpx.post(
        f"{jira.url}/_sandbox/mutate",
        json={"action": "transition", "key": key, "to": "Done"},
        trust_env=False,
    )
    jira.mutate("worklog", key=key, seconds=1800)
    deliveries = hook_receiver.wait_for(2)

    assert transitioned.json()["status"] == "Done"
    bodies = [json.loads(d.body) for d in deliveries]
    assert bodies[0]["issue_event_type_name"] == "issue_generic"
    assert {item["field"] for item in bodies[0]["changelog"]["items"]} == {"status", "resolution"}
    assert bodies[1]["webhookEvent"] == "worklog_created"
    assert bodies[1]["worklog"]["timeSpentSeconds"] == 1800


def test_admin_hook_management(jira_http: httpx.Client, hook_receiver: HookReceiver) -> None:
    hook = register(jira_http, hook_receiver)
    hook_id = hook["self"].rsplit("/", 1)[-1]

    listed = jira_http.get(HOOKS).json()
    updated = jira_http.put(f"{HOOKS}/{hook_id}", json={"events": ["comment_created"]}).json()
    foreign = jira_http.post(HOOKS, json={"name": "x", "url": "https://example.com/hook", "events": ["a"]})
    bad_filter = jira_http.post(
        HOOKS,
        json={
            "name": "x",
            "url": hook_receiver.url,
            "events": ["a"],
            "filters": {"issue-related-events-section": "project ="},
        },
    )

    assert [h["name"] for h in listed] == ["trackbridge"]
    assert updated["events"] == ["comment_created"]
    assert foreign.status_code == 400
    assert foreign.json()["errors"] == {"url": "The sandbox delivers webhooks to loopback URLs only."}
    assert bad_filter.status_code == 400
    assert jira_http.delete(f"{HOOKS}/{hook_id}").status_code == 204
    assert jira_http.get(f"{HOOKS}/{hook_id}").status_code == 404


# -------------------------------------------------------------------------------------------- app hooks


def app_client(jira: JiraSandbox) -> httpx.Client:
    """An OAuth app's API client: a fresh 3LO token (authorize, exchange) used through the gateway."""
    callback = "http://127.0.0.1:9/callback"
    with httpx.Client(base_url=jira.oauth_url, trust_env=False, follow_redirects=False, timeout=60) as auth:
        location = auth.get(
            "/authorize",
            params={
                "audience": "api.atlassian.com",
                "client_id": jira.client_id,
                "scope": "read:jira-work write:jira-work manage:jira-webhook",
                "redirect_uri": callback,
                "state": "s",
                "response_type": "code",
            },
        ).headers["Location"]
        code = parse_qs(urlsplit(location).query)["code"][0]
        token = auth.post(
            "/oauth/token",
            json={
                "grant_type": "authorization_code",
                "client_id": jira.client_id,
                "client_secret": jira.client_secret,
                "code": code,
                "redirect_uri": callback,
            },
        ).json()["access_token"]
    return httpx.Client(
        base_url=jira.gateway_url, headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=60
    )


@pytest.fixture
def app_http(jira: JiraSandbox) -> Iterator[httpx.Client]:
    with app_client(jira) as client:
        yield client


def register_app(
    app_http: httpx.Client, receiver: HookReceiver, *webhooks: dict[str, Any]
) -> list[dict[str, Any]]:
    response = app_http.post("/rest/api/3/webhook", json={"url": receiver.url, "webhooks": list(webhooks)})
    assert response.status_code == 200, response.text
    return list(response.json()["webhookRegistrationResult"])


def test_only_apps_may_register_dynamic_webhooks(
    jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    response = jira_http.post(
        "/rest/api/3/webhook",
        json={
            "url": hook_receiver.url,
            "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = ACME"}],
        },
    )

    assert response.status_code == 403
    assert response.json()["errorMessages"] == ["Only Connect and OAuth 2.0 apps can use this operation."]


def test_app_hooks_deliver_with_a_jwt_signed_by_the_client_secret(
    jira: JiraSandbox, app_http: httpx.Client, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    results = register_app(
        app_http,
        hook_receiver,
        {"events": ["jira:issue_created", "comment_created"], "jqlFilter": "project = ACME"},
        {"events": ["jira:issue_created"], "jqlFilter": "summary ~ crash"},
    )
    hook_id = results[0]["createdWebhookId"]
    assert results[1] == {"errors": ["The clause summary is unsupported"]}

    key = create_issue(jira_http)
    (delivery,) = hook_receiver.wait_for(1)

    scheme, _, token = delivery.headers["Authorization"].partition(" ")
    assert scheme == "JWT"
    claims = verify_jwt(token, jira.client_secret)
    assert claims["aud"] == jira.client_id
    assert claims["iss"] == f"jira:{jira.state.cloud_id}"
    assert claims["sub"] == jira.state.api_user
    assert "X-Hub-Signature" not in delivery.headers
    body = json.loads(delivery.body)
    assert body["matchedWebhookIds"] == [hook_id]
    assert body["issue"]["key"] == key


def test_app_hooks_expire_after_thirty_days_unless_refreshed(
    jira: JiraSandbox, app_http: httpx.Client, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    jira.clock.freeze()
    (result,) = register_app(
        app_http, hook_receiver, {"events": ["jira:issue_created"], "jqlFilter": "project = ACME"}
    )
    hook_id = result["createdWebhookId"]
    listed = app_http.get("/rest/api/3/webhook").json()
    assert listed["values"][0]["expirationDate"] == (jira.clock.now() + 30 * 86_400) * 1000

    jira.clock.advance(29 * 86_400)
    with app_client(jira) as app:  # a month on, the app's hour-long access token has long expired
        refreshed = app.put("/rest/api/3/webhook/refresh", json={"webhookIds": [hook_id]}).json()
    assert refreshed["expirationDate"] == (jira.clock.now() + 30 * 86_400) * 1000
    jira.clock.advance(29 * 86_400)  # 58 days after registration, 29 after the refresh
    create_issue(jira_http)
    assert jira.wait_for_deliveries()
    assert len(hook_receiver.received) == 1
    jira.clock.advance(2 * 86_400)
    create_issue(jira_http)
    assert jira.wait_for_deliveries()

    assert len(hook_receiver.received) == 1  # expired: nothing more


def test_field_filters_and_deletion_of_app_hooks(
    jira: JiraSandbox, app_http: httpx.Client, jira_http: httpx.Client, hook_receiver: HookReceiver
) -> None:
    (result,) = register_app(
        app_http,
        hook_receiver,
        {"events": ["jira:issue_updated"], "jqlFilter": "project = ACME", "fieldIdsFilter": ["summary"]},
    )

    jira_http.put("/rest/api/3/issue/ACME-1", json={"update": {"labels": [{"add": "noise"}]}})
    jira_http.put("/rest/api/3/issue/ACME-1", json={"fields": {"summary": "Signal"}})
    assert jira.wait_for_deliveries()
    deleted = app_http.request(
        "DELETE", "/rest/api/3/webhook", json={"webhookIds": [result["createdWebhookId"]]}
    )
    jira_http.put("/rest/api/3/issue/ACME-1", json={"fields": {"summary": "After deletion"}})
    assert jira.wait_for_deliveries()

    (delivery,) = hook_receiver.received
    assert json.loads(delivery.body)["issue"]["fields"]["summary"] == "Signal"
    assert deleted.status_code == 202
    assert app_http.get("/rest/api/3/webhook").json()["total"] == 0


def test_one_url_per_app(app_http: httpx.Client, hook_receiver: HookReceiver) -> None:
    register_app(app_http, hook_receiver, {"events": ["jira:issue_created"], "jqlFilter": "project = ACME"})

    other = app_http.post(
        "/rest/api/3/webhook",
        json={
            "url": hook_receiver.url + "/other",
            "webhooks": [{"events": ["comment_created"], "jqlFilter": "project = ACME"}],
        },
    )

    assert other.status_code == 400
    assert other.json()["errorMessages"] == ["Only a single URL per app is allowed to be registered."]
