"""Operator alerts on the local stack: the policy and channels through ``functions.api.handler`` on moto,
incidents observed on the SNS alerts topic (through an SQS subscription in moto) and on Slack and webhook
receivers on loopback (real HTTP servers on 127.0.0.1), retries of a failing receiver, and bad input.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.api.conftest import ApiClient
from tests.support.alerts_topic import published, subscribed_queue
from tests.support.loopback import Reply, Server, serve
from tests.support.sandboxes import egress_allowed
from trackbridge.domain.connections import Connection
from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.providers.signatures import StandardWebhooks
from trackbridge.runtime import aws, container
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES

pytestmark = pytest.mark.integration

HOOK = "/services/T0/B0/" + "f" * 24  # the path a Slack URL keeps its credential in (fake)
OK = Reply(200, b"ok", {"Content-Type": "text/plain"})
FAILED = Reply(500, b"rollup_error", {"Content-Type": "text/plain"})


@pytest.fixture
def receiver(stack: Any) -> Iterator[Server]:
    """A Slack-like receiver on loopback, reachable under the outbound policy (as the embedded stack's)."""
    with serve(routes={HOOK: OK}) as server, egress_allowed(server.url):
        yield server


@pytest.fixture
def connection() -> Connection:
    return Connection.model_validate({**SCHEMA_EXAMPLES["Connection"], "id": new_id(IdPrefix.CONNECTION)})


def _slack(api: ApiClient, receiver: Server, name: str = "oncall") -> None:
    answer = api.call("PUT", f"/v1/alert-channels/{name}", body={"kind": "slack", "url": receiver.url + HOOK})
    assert answer.status == 200, answer.body


def _route(api: ApiClient, codes: list[str], channels: list[str]) -> None:
    answer = api.call("PUT", "/v1/alert-policy", body={"routes": [{"codes": codes, "channels": channels}]})
    assert answer.status == 200, answer.body


def _health(tenant: str, name: str) -> Any:
    return next(h for h in container.operator_alerts().channel_health(tenant) if h.name == name)


def _posts(receiver: Server) -> list[Any]:
    return [json.loads(seen.body) for seen in receiver.requests() if seen.method == "POST"]


# ---- channels and policy ---------------------------------------------------------------------------


def test_a_channel_s_url_lives_only_in_secrets_manager_and_shows_masked(
    api: ApiClient, tenant: str, receiver: Server
) -> None:
    # When: a Slack channel is configured
    _slack(api, receiver)

    # Then: every answer shows the URL masked, with the health of the channel beside it
    shown = api.call("GET", "/v1/alert-channels/oncall").body
    assert shown["url"] == f"{receiver.url}/****"
    listed = api.call("GET", "/v1/alert-channels").body["items"]
    assert [c["name"] for c in listed] == ["email", "oncall"]
    assert listed[1]["health"]["ok"] is True
    # ...the path (the credential) is in no answer and no table item, only in Secrets Manager
    assert HOOK not in json.dumps(listed)
    stored = container.table().get(f"T#{tenant}", "ALERTCH#oncall")
    assert stored is not None
    assert HOOK not in json.dumps(stored)
    assert container.alert_channel_secrets().channel(tenant, "oncall") == {"url": receiver.url + HOOK}
    # ...and the change is audited
    actions = [e.action for e in container.audit_repository().list(tenant).items]
    assert "alert_channel.put" in actions
    # A channel turned into an e-mail one keeps no URL anywhere
    email = api.call("PUT", "/v1/alert-channels/oncall", body={"kind": "email"})
    assert email.status == 200, email.body
    assert email.body["url"] is None
    assert email.body["version"] == 2
    assert container.alert_channel_secrets().channel(tenant, "oncall") is None


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://hooks.example.com/services/x", "https_required"),  # plain http to a public host
        ("https://10.1.2.3/services/x", "egress_denied"),  # a private address
        ("https://169.254.169.254/latest/meta-data", "egress_denied"),  # the metadata service
        ("https://localhost/hook", "egress_denied"),
        ("https://user:pw@hooks.example.com/x", "value_error"),  # credentials in the URL
        ("ftp://hooks.example.com/x", "value_error"),
        ("https://hooks.example.com/a b\r\nX-Injected: 1", "value_error"),
    ],
)
def test_a_url_trackbridge_must_not_post_to_is_a_422_and_nothing_is_stored(
    api: ApiClient, tenant: str, url: str, kind: str
) -> None:
    answer = api.call("PUT", "/v1/alert-channels/bad", body={"kind": "slack", "url": url})
    assert answer.status == 422, answer.body
    (error,) = answer.body["error"]["details"]["errors"]
    assert error["path"] == "body.url"
    assert error["type"] == kind
    assert api.call("GET", "/v1/alert-channels/bad").status == 404
    with pytest.raises(ClientError):
        aws.client("secretsmanager").describe_secret(
            SecretId=container.alert_channel_secrets().channel_secret_name(tenant, "bad")
        )


def test_the_policy_names_only_known_codes_and_configured_channels(
    api: ApiClient, tenant: str, receiver: Server
) -> None:
    # Given: no stored policy: every code goes to the built-in e-mail channel
    default = api.call("GET", "/v1/alert-policy").body
    assert default["version"] == 0
    assert default["routes"] == [{"codes": ["*"], "channels": ["email"]}]

    # When: the policy names a channel that is not configured, or a code that does not exist: 422 at its path
    ghost = api.call(
        "PUT", "/v1/alert-policy", body={"routes": [{"codes": ["*"], "channels": ["email", "ghost"]}]}
    )
    assert ghost.status == 422
    assert ghost.body["error"]["details"]["errors"][0]["path"] == "body.routes.0.channels.1"
    bogus = api.call(
        "PUT", "/v1/alert-policy", body={"routes": [{"codes": ["NO_SUCH_CODE"], "channels": ["email"]}]}
    )
    assert bogus.status == 422
    assert bogus.body["error"]["details"]["errors"][0]["path"] == "body.routes.0.codes.0"

    # Then: a valid policy is stored (version 1), a stale version is refused, and it is audited
    _slack(api, receiver)
    stored = api.call(
        "PUT",
        "/v1/alert-policy",
        body={"routes": [{"codes": ["class:needs_person"], "channels": ["oncall"]}]},
    )
    assert stored.status == 200, stored.body
    assert stored.body["version"] == 1
    stale = api.call(
        "PUT", "/v1/alert-policy", body={"routes": [{"codes": ["*"], "channels": ["email"]}], "version": 0}
    )
    assert stale.status == 409
    assert "alert_policy.update" in [e.action for e in container.audit_repository().list(tenant).items]
    # ...a channel the policy routes to cannot be deleted, nor can the built-in one
    assert api.call("DELETE", "/v1/alert-channels/oncall").status == 409
    assert api.call("DELETE", "/v1/alert-channels/email").status == 409
    _route(api, ["*"], ["email"])
    assert api.call("DELETE", "/v1/alert-channels/oncall").status == 204
    assert container.alert_channel_secrets().channel(tenant, "oncall") is None
    assert "alert_channel.delete" in [e.action for e in container.audit_repository().list(tenant).items]


def test_another_tenant_s_channels_and_incidents_are_not_found(
    api: ApiClient, other_api: ApiClient, tenant: str, receiver: Server, connection: Connection
) -> None:
    _slack(api, receiver)
    container.operator_alerts().incident(
        tenant, connection, code="TIMEOUT", detail="no answer", operation_id=None, at=datetime.now(UTC)
    )
    assert other_api.call("GET", "/v1/alert-channels/oncall").status == 404
    assert other_api.call("DELETE", "/v1/alert-channels/oncall").status == 404
    assert other_api.call("POST", "/v1/alert-channels/oncall/test").status == 404
    assert other_api.call("GET", "/v1/alerts").body["items"] == []
    assert [c["name"] for c in other_api.call("GET", "/v1/alert-channels").body["items"]] == ["email"]
    assert len(api.call("GET", "/v1/alerts").body["items"]) == 1


# ---- incidents on the SNS topic -----------------------------------------------------------------------


@pytest.fixture
def topic_queue(stack: Any) -> Iterator[str]:
    with subscribed_queue() as url:
        yield url


def test_one_alert_per_incident_on_the_topic_then_one_recovery(
    api: ApiClient, tenant: str, connection: Connection, topic_queue: str
) -> None:
    alerts, start = container.operator_alerts(), datetime.now(UTC)

    # When: the connection fails with AUTH_INVALID four times, two of them at the same moment
    alerts.incident(
        tenant, connection, code="AUTH_INVALID", detail="401 Bad credentials", operation_id=None, at=start
    )
    racers = [
        threading.Thread(
            target=alerts.incident,
            args=(tenant, connection),
            kwargs={
                "code": "AUTH_INVALID",
                "detail": "401",
                "operation_id": "op_d4hk6m2pr7tv5xz3abce",
                "at": start,
            },
        )
        for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
    alerts.incident(
        tenant,
        connection,
        code="AUTH_INVALID",
        detail="401",
        operation_id=None,
        at=start + timedelta(minutes=5),
    )

    # Then: one e-mail alert, with the code in its subject and text and in the message attributes
    (alert,) = published(topic_queue, tenant, expected=1)
    assert "AUTH_INVALID" in alert["Subject"]
    assert "AUTH_INVALID" in alert["Message"]
    assert "create a new token" in alert["Message"]
    assert f"/v1/connections/{connection.id}/sync-logs" in alert["Message"]
    assert alert["MessageAttributes"]["error_code"]["Value"] == "AUTH_INVALID"
    assert alert["MessageAttributes"]["connection_id"]["Value"] == connection.id
    # ...and one open incident that counted every failure
    (incident,) = api.call("GET", "/v1/alerts", query={"state": "open"}).body["items"]
    assert incident["count"] == 4
    assert incident["connection_name"] == connection.name
    assert incident["operation_id"] == "op_d4hk6m2pr7tv5xz3abce"

    # When: the connection works again (twice)
    alerts.recovered(tenant, connection, at=start + timedelta(minutes=10))
    alerts.recovered(tenant, connection, at=start + timedelta(minutes=11))

    # Then: one recovery message, and the incident is closed
    (recovery,) = published(topic_queue, tenant, expected=1)
    assert "RECOVERED" in recovery["Subject"]
    assert recovery["MessageAttributes"]["alert"]["Value"] == "recovery"
    assert api.call("GET", "/v1/alerts").body["items"] == []
    (closed,) = api.call("GET", "/v1/alerts", query={"state": "closed"}).body["items"]
    assert closed["state"] == "closed"
    assert closed["closed_at"] is not None


# ---- Slack and webhook receivers on loopback ---------------------------------------------------------


def test_the_slack_receiver_gets_one_alert_and_a_failure_it_recovers_from_shows_in_health(
    api: ApiClient, tenant: str, receiver: Server, connection: Connection
) -> None:
    # Given: needs-a-person codes routed to Slack, whose receiver fails once, then answers ok
    _slack(api, receiver)
    _route(api, ["class:needs_person"], ["oncall"])
    receiver.queue(HOOK, FAILED)

    # When: two failures of one incident
    alerts, now = container.operator_alerts(), datetime.now(UTC)
    alerts.incident(
        tenant, connection, code="AUTH_EXPIRED", detail="token expired", operation_id=None, at=now
    )
    alerts.incident(
        tenant, connection, code="AUTH_EXPIRED", detail="token expired", operation_id=None, at=now
    )

    # Then: the alert was retried once and arrived; the failure is in the channel's health
    posts = _posts(receiver)
    assert len(posts) == 2
    assert posts[0] == posts[1]
    assert "AUTH_EXPIRED" in posts[1]["text"]
    assert "AUTH_EXPIRED" in posts[1]["blocks"][1]["text"]["text"]
    health = _health(tenant, "oncall")
    assert health.ok
    assert health.last_error_code == "PROVIDER_UNAVAILABLE"
    assert health.last_failure_at is not None
    assert health.pending_retries == 0
    # An unrouted code (transient) is recorded as an incident but alerts nobody
    alerts.incident(tenant, connection, code="TIMEOUT", detail="slow", operation_id=None, at=now)
    assert len(_posts(receiver)) == 2
    assert len(api.call("GET", "/v1/alerts").body["items"]) == 2


def test_a_receiver_down_for_longer_is_retried_by_the_maintenance_run(
    api: ApiClient, tenant: str, receiver: Server, connection: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    _slack(api, receiver)
    _route(api, ["*"], ["oncall"])
    receiver.queue(HOOK, FAILED, FAILED, FAILED)
    alerts, now = container.operator_alerts(), datetime.now(UTC)

    # When: every attempt of the call fails
    alerts.incident(
        tenant, connection, code="SUSPENDED_PAYMENT", detail="site suspended", operation_id=None, at=now
    )

    # Then: the send waits for a retry, and health says so
    assert len(_posts(receiver)) == 3
    waiting = _health(tenant, "oncall")
    assert not waiting.ok
    assert waiting.pending_retries == 1
    assert waiting.last_error == "slack answered 500 rollup_error"

    # When: the maintenance run comes after the send's next attempt time, and the receiver is back
    report = alerts.retry_pending(now + timedelta(hours=2))

    # Then: it was delivered, once, and the channel is healthy again
    assert report.delivered >= 1
    posts = _posts(receiver)
    assert len(posts) == 4
    assert "SUSPENDED_PAYMENT" in posts[3]["text"]
    healed = _health(tenant, "oncall")
    assert healed.ok
    assert healed.pending_retries == 0
    # ...and a later run does not send it again
    alerts.retry_pending(now + timedelta(hours=3))
    assert len(_posts(receiver)) == 4
    # The deferral was logged, naming the channel and code but never the URL (its path is the credential)
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "alerts.send_deferred" in logged
    assert HOOK not in logged


def test_the_webhook_receiver_verifies_the_signature(
    api: ApiClient, tenant: str, receiver: Server, connection: Connection
) -> None:
    secret = "-".join(["fake", "webhook", "signing", "secret", uuid.uuid4().hex[:8]])
    answer = api.call(
        "PUT",
        "/v1/alert-channels/hook",
        body={"kind": "webhook", "url": receiver.url + HOOK, "secret": secret},
    )
    assert answer.status == 200, answer.body
    assert answer.body["has_secret"] is True
    assert secret not in json.dumps(answer.body)
    _route(api, ["*"], ["hook"])

    container.operator_alerts().incident(
        tenant, connection, code="PERMISSION_DENIED", detail="403", operation_id=None, at=datetime.now(UTC)
    )

    (seen,) = [s for s in receiver.requests() if s.method == "POST"]
    assert StandardWebhooks().verify(seen.body, seen.headers, [secret])
    assert not StandardWebhooks().verify(seen.body + b" ", seen.headers, [secret])
    delivered = json.loads(seen.body)
    assert delivered["type"] == "alert.incident"
    assert delivered["code"] == "PERMISSION_DENIED"


def test_a_channel_test_says_what_the_receiver_answered(
    api: ApiClient, tenant: str, receiver: Server
) -> None:
    _slack(api, receiver)
    assert api.call("POST", "/v1/alert-channels/oncall/test").body["delivered"] is True

    receiver.queue(HOOK, Reply(410, b"channel_is_archived", {"Content-Type": "text/plain"}))
    failed = api.call("POST", "/v1/alert-channels/oncall/test")

    assert failed.status == 200
    assert failed.body["delivered"] is False
    assert failed.body["error_code"] == "NOT_FOUND"
    assert "channel_is_archived" in failed.body["error"]
    assert _health(tenant, "oncall").last_error_code == "NOT_FOUND"
