"""The pure rules of operator alerts (``trackbridge.domain.alerts``): routing codes to channels, what a
channel body may hold, what every message says, and when a failed send is tried again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from trackbridge.domain.alerts import (
    DEFAULT_POLICY,
    AlertPolicy,
    AlertPolicyIn,
    ChannelIn,
    Incident,
    channel_ok,
    incident_message,
    mask_url,
    new_incident,
    next_attempt_at,
    recovery_message,
    slack_payload,
    unknown_channels,
    webhook_payload,
)

AT = datetime(2026, 3, 4, 16, 40, 22, tzinfo=UTC)
CONNECTION = "conn_k7mq4xw2p5rtz3nb6hcd"


def _policy(*routes: tuple[list[str], list[str]]) -> AlertPolicy:
    body = AlertPolicyIn.model_validate({"routes": [{"codes": c, "channels": ch} for c, ch in routes]})
    return AlertPolicy(routes=body.routes)


def test_codes_route_by_code_class_and_star_each_channel_once_in_order() -> None:
    policy = _policy(
        (["class:needs_person"], ["oncall", "email"]),
        (["TIMEOUT"], ["chat"]),
        (["*"], ["email"]),
    )
    assert policy.channels_for("AUTH_INVALID") == ["oncall", "email"]
    assert policy.channels_for("TIMEOUT") == ["chat", "email"]
    assert policy.channels_for("NOT_FOUND") == ["email"]
    # Without a stored policy every code goes to the built-in e-mail channel
    assert DEFAULT_POLICY.channels_for("SUSPENDED_PAYMENT") == ["email"]


def test_a_policy_without_a_catch_all_leaves_other_codes_unrouted() -> None:
    policy = _policy((["class:transient"], ["chat"]))
    assert policy.channels_for("RATE_LIMITED") == ["chat"]
    assert policy.channels_for("AUTH_EXPIRED") == []


@pytest.mark.parametrize(("selector", "where"), [("BOGUS_CODE", "codes"), ("class:nope", "codes")])
def test_an_unknown_code_or_class_is_refused_at_its_own_path(selector: str, where: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AlertPolicyIn.model_validate({"routes": [{"codes": ["*", selector], "channels": ["email"]}]})
    (error,) = refused.value.errors()
    assert error["loc"] == ("routes", 0, where, 1)


def test_unknown_channels_are_named_with_their_path() -> None:
    body = AlertPolicyIn.model_validate(
        {"routes": [{"codes": ["*"], "channels": ["email", "ghost"]}, {"codes": ["*"], "channels": ["x"]}]}
    )
    assert unknown_channels(body, {"email", "x"}) == [("body.routes.0.channels.1", "ghost")]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "slack"},  # no URL
        {"kind": "webhook", "url": "https://example.com/hook"},  # no secret to sign with
        {"kind": "email", "url": "https://example.com/hook"},  # e-mail goes to the topic
        {"kind": "slack", "url": "https://example.com/hook", "secret": "s" * 30},
        {"kind": "pager", "url": "https://example.com/hook"},
        {"kind": "webhook", "url": "https://example.com/hook", "secret": "short"},
    ],
)
def test_a_channel_body_must_fit_its_kind(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        ChannelIn.model_validate(body)


def test_a_channel_body_never_prints_its_url_or_secret() -> None:
    path = "/services/T0/B0/" + "q" * 24
    body = ChannelIn.model_validate(
        {"kind": "webhook", "url": f"https://hooks.example.com{path}", "secret": "z" * 30}
    )
    assert path not in repr(body)
    assert "z" * 30 not in repr(body)


def test_a_masked_url_keeps_only_scheme_host_and_port() -> None:
    assert mask_url("https://hooks.slack.com/services/T0/B0/abc") == "https://hooks.slack.com/****"
    assert mask_url("http://127.0.0.1:8123/hook?token=abc") == "http://127.0.0.1:8123/****"
    assert mask_url("https://[2001:db8::1]/x") == "https://[2001:db8::1]/****"


def _incident(detail: str = "401 Bad credentials") -> Incident:
    return new_incident(
        incident_id="inc_q4rt7m2kx5bz3ncd6hfw",
        connection_id=CONNECTION,
        connection_name="web",
        provider="github",
        code="AUTH_INVALID",
        detail=detail,
        operation_id="op_d4hk6m2pr7tv5xz3abce",
        at=AT,
        channels=["email"],
    )


def test_an_incident_message_carries_the_code_guidance_counts_and_sync_log_in_its_text() -> None:
    incident = _incident()
    message = incident_message("acme", incident)
    assert message.subject.startswith("[trackbridge] AUTH_INVALID on web (github)")
    for expected in (
        "AUTH_INVALID",
        CONNECTION,
        "'web'",
        "github",
        "create a new token",  # the code's guidance
        "First seen 2026-03-04T16:40:22Z",
        "1 failure(s)",
        f"/v1/connections/{CONNECTION}/sync-logs",
        "/v1/sync-operations/op_d4hk6m2pr7tv5xz3abce",
    ):
        assert expected in message.text, expected
    assert message.fields["count"] == 1


def test_a_detail_cannot_forge_lines_and_is_clipped() -> None:
    incident = _incident("bad\r\nSubject: forged\x00" + "x" * 2000)
    assert "\n" not in incident.detail
    assert "\r" not in incident.detail
    assert "\x00" not in incident.detail
    assert len(incident.detail) <= 500


def test_a_recovery_message_covers_every_closed_incident() -> None:
    first = _incident()
    second = first.model_copy(update={"id": "inc_b", "code": "TIMEOUT", "count": 4})
    message = recovery_message("acme", [first, second], AT + timedelta(hours=1))
    assert message.kind == "recovery"
    assert "RECOVERED" in message.subject
    assert "AUTH_INVALID, TIMEOUT" in message.subject
    assert "5 failure(s)" in message.text
    assert len(message.fields["incidents"]) == 2


def test_slack_text_cannot_forge_links_or_mentions() -> None:
    message = incident_message("acme", _incident("<!channel> <https://evil.example|click> & more"))
    payload = slack_payload(message)
    section = payload["blocks"][1]["text"]["text"]
    assert "<!channel>" not in section
    assert "<https://evil" not in section
    assert "&lt;!channel&gt;" in section
    assert "&amp; more" in section
    assert payload["text"] == message.subject


def test_the_webhook_body_is_typed_and_names_its_delivery() -> None:
    message = incident_message("acme", _incident())
    body = webhook_payload(message, delivery_id="inc_x.incident.hook")
    assert body["type"] == "alert.incident"
    assert body["delivery_id"] == "inc_x.incident.hook"
    assert body["code"] == "AUTH_INVALID"
    assert body["data"]["guidance"]


def test_retries_wait_longer_each_time_up_to_a_cap_and_honour_retry_after() -> None:
    assert next_attempt_at(AT, 1) == AT + timedelta(minutes=1)
    assert next_attempt_at(AT, 3) == AT + timedelta(minutes=4)
    assert next_attempt_at(AT, 30) == AT + timedelta(hours=1)
    assert next_attempt_at(AT, 1, retry_after_s=600) == AT + timedelta(minutes=10)


def test_a_channel_is_ok_once_a_success_follows_its_last_failure_and_nothing_waits() -> None:
    assert channel_ok(None, None, 0)
    assert not channel_ok(AT, None, 0)
    assert channel_ok(AT, AT + timedelta(seconds=1), 0)
    assert not channel_ok(AT, AT + timedelta(seconds=1), 1)
