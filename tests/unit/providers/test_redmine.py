"""Redmine specifics that need no server: the hook secret in the URL's userinfo, the plugin's payloads,
status categories by ``is_closed``."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from trackbridge.providers.redmine import RedmineAdapter, labels_of
from trackbridge.providers.types import DeliveryKind, TrackerConfig, WebhookEntity
from trackbridge.providers.webhooks import WebhookPayloadError

CONNECTION_ID = "conn_redmineunitredmineun"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _adapter() -> RedmineAdapter:
    config = TrackerConfig("https://redmine.example.test", {"project": "acme-widgets"}, CONNECTION_ID)
    return RedmineAdapter(config, httpx.BasicAuth("unused", "unused"), client=httpx.Client())


def _payload(action: str, *, project: str = "acme-widgets", journal: dict[str, Any] | None = None) -> bytes:
    issue = {"id": 7, "updated_on": "2026-03-01T16:22:46Z", "project": {"id": 1, "identifier": project}}
    body: dict[str, Any] = {"action": action, "issue": issue, "url": "https://redmine.example.test/issues/7"}
    if journal is not None:
        body["journal"] = journal
    return json.dumps({"payload": body}).encode()


def test_the_secret_is_the_password_of_the_hook_urls_userinfo() -> None:
    secret = "-".join(["unit", "hook", "secret"])
    body = _payload("opened")
    assert RedmineAdapter.verify_webhook(_basic("trackbridge", secret), body, ["old", secret])
    assert RedmineAdapter.verify_webhook(_basic("anyone", secret), body, [secret])
    assert not RedmineAdapter.verify_webhook(_basic("trackbridge", secret + "x"), body, [secret])
    assert not RedmineAdapter.verify_webhook({"Authorization": f"Bearer {secret}"}, body, [secret])
    assert not RedmineAdapter.verify_webhook({"Authorization": "Basic !!not-base64"}, body, [secret])
    assert not RedmineAdapter.verify_webhook({}, body, [secret])
    assert not RedmineAdapter.verify_webhook(_basic("trackbridge", secret), body, [])


def test_an_update_with_a_note_names_the_issue_and_the_journal() -> None:
    journal = {"id": 95, "notes": "Fixed", "created_on": "2026-03-01T16:22:46Z", "private_notes": False}
    with _adapter() as adapter:
        delivery = adapter.parse_webhook({}, _payload("updated", journal=journal))
    assert delivery.kind is DeliveryKind.CHANGES
    issue, comment = delivery.changes
    assert (issue.entity, issue.issue_key, issue.needs_fetch) == (WebhookEntity.ISSUE, "#7", True)
    assert (comment.entity, comment.comment_id) == (WebhookEntity.COMMENT, "95")


def test_private_notes_other_projects_and_bad_bodies() -> None:
    private = {"id": 96, "notes": "internal", "created_on": "2026-03-01T16:22:46Z", "private_notes": True}
    with _adapter() as adapter:
        only_issue = adapter.parse_webhook({}, _payload("updated", journal=private))
        elsewhere = adapter.parse_webhook({}, _payload("opened", project="other"))
        with pytest.raises(WebhookPayloadError):
            adapter.parse_webhook({}, json.dumps({"payload": {"action": "opened"}}).encode())
        with pytest.raises(WebhookPayloadError):
            adapter.parse_webhook({}, b"[1, 2]")
    assert [c.entity for c in only_issue.changes] == [WebhookEntity.ISSUE]
    assert elsewhere.kind is DeliveryKind.IGNORED


def test_done_comes_from_is_closed_and_an_open_status_is_never_done() -> None:
    with _adapter() as adapter:
        assert adapter.status_category({"name": "Shipped", "is_closed": True}) == "done"
        assert adapter.status_category({"name": "Closed", "is_closed": False}) == "in_progress"
        assert adapter.status_category({"name": "Feedback", "is_closed": False}) == "in_progress"
        assert adapter.status_category({"name": "New"}) == "todo"


def test_labels_are_the_labels_custom_field() -> None:
    raw = {
        "custom_fields": [
            {"id": 3, "name": "Team", "value": "x"},
            {"id": 1, "name": "Labels", "value": ["a"]},
        ]
    }
    assert labels_of(raw) == ["a"]
    assert labels_of({"custom_fields": [{"id": 1, "name": "Labels", "value": ""}]}) == []
    assert labels_of({}) == []
