"""Templates see the event's object and the issues already linked to it (``object.links``), on moto and the
GitHub sandbox: in a template preview, in a rule's dry run, and in the issue the auto-issue consumer opens.
The order is fixed, another tenant's links never show, and a secret in a linked issue's title is redacted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.trackers import PROVIDERS as SANDBOXES
from infra.local.trackers.core import SandboxTracker
from tests.integration.api.conftest import ApiClient
from tests.support.sandboxes import egress_allowed
from trackbridge.domain.automation import Dedup, Event, Rule
from trackbridge.domain.times import utcnow
from trackbridge.runtime import container
from trackbridge.runtime.adapter_pool import AdapterPool
from trackbridge.runtime.automation.service import AutoIssueService
from trackbridge.runtime.webhooks.apply import APPLY_ADAPTER_OPTIONS
from trackbridge.storage.automation import FingerprintRepository, RuleRepository, TemplateRepository

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("auto-context")]

ORDERS = {"kind": "table", "database": "sales", "schema": "public", "name": "orders"}
SECRET = "AKIA" + "FAKE" * 4  # an AWS access key id in shape only
RELATED = {
    "name": "related",
    "title": "Drift on {{ object.name }}",
    "body": "{% for l in object.links %}related: {{ l.key }} ({{ l.status }}) {{ l.title }}\n{% endfor %}"
    "links: {{ object.links | length }}",
}


@pytest.fixture(scope="module")
def github(local_resources: Any) -> Iterator[SandboxTracker[Any]]:
    sandbox = SANDBOXES["github"](seed="auto-context", issues=3, comments_per_issue=0).start()
    try:
        with egress_allowed(*sandbox.urls()):
            yield sandbox
    finally:
        sandbox.stop()
        container.reset()


@pytest.fixture
def connection_id(api: ApiClient, github: SandboxTracker[Any]) -> str:
    github.reset()
    github.retitle_issue(2, f"creds {SECRET} leaked in a log")
    answer = api.call("POST", "/v1/connections", body=github.connection_request(name="context"))
    assert answer.status == 201, answer.body
    connection = str(answer.body["id"])
    for number in (3, 2):  # linked in this order: the template lists the oldest link first
        linked = api.call("POST", "/v1/links", body={"object": ORDERS, "issue_ref": f"{connection}.{number}"})
        assert linked.status == 201, linked.body
    return connection


def drift(subject: dict[str, Any] | None = ORDERS) -> dict[str, Any]:
    return {"type": "schema.drift", "source": "schema-watch", "subject": subject, "data": {"expected": "a"}}


def test_a_preview_lists_the_objects_linked_issues_in_order_redacted(
    api: ApiClient, connection_id: str
) -> None:
    assert api.call("POST", "/v1/templates", body=RELATED).status == 201

    answer = api.call("POST", "/v1/templates/related/preview", body=drift())

    assert answer.status == 200, answer.body
    lines = answer.body["body"].splitlines()
    assert [line.split(" (")[0] for line in lines[:2]] == ["related: #3", "related: #2"]
    assert lines[0].startswith("related: #3 (open) ")
    assert "leaked in a log" in lines[1]  # the title is there, its secret is not
    assert SECRET not in answer.body["body"]
    assert lines[-1] == "links: 2"
    assert answer.body["title"] == "Drift on orders"


def test_an_event_without_an_object_or_of_another_tenant_sees_no_links(
    api: ApiClient, other_api: ApiClient, connection_id: str
) -> None:
    for client in (api, other_api):
        assert client.call("POST", "/v1/templates", body=RELATED).status == 201

    bare = api.call("POST", "/v1/templates/related/preview", body=drift(None))
    others = other_api.call("POST", "/v1/templates/related/preview", body=drift())

    assert (bare.status, others.status) == (200, 200)
    assert bare.body["body"] == "links: 0"
    assert others.body["body"] == "links: 0"


def test_the_dry_run_and_the_opened_issue_carry_the_links(
    api: ApiClient, tenant: str, connection_id: str, github: SandboxTracker[Any]
) -> None:
    assert api.call("POST", "/v1/templates", body=RELATED).status == 201
    rule = {
        "name": "drift",
        "event_type": "schema.drift",
        "connection_id": connection_id,
        "template": "related",
        "dedup": {"key": "{{ event.subject.name }}"},
    }
    assert api.call("POST", "/v1/rules", body=rule).status == 201

    dry_run = api.call("POST", "/v1/rules/drift/test", body=drift())

    assert dry_run.status == 200, dry_run.body
    assert dry_run.body["rendered"]["body"].startswith("related: #3 (open)")

    # When the consumer opens the issue for the same event
    table = container.table()
    pool = AdapterPool(
        container.connection_secrets(), factory=container.adapter_factory(), options=APPLY_ADAPTER_OPTIONS
    )
    try:
        service = AutoIssueService(
            rules=RuleRepository(table),
            templates=TemplateRepository(table),
            claims=FingerprintRepository(table),
            connections=container.connection_repository(),
            adapters=pool,
            requeue=container.auto_issue_queue(),
            links=container.link_service(),
        )
        now = utcnow()
        event = Event.model_validate({**drift(), "id": "evt-context", "occurred_at": now, "received_at": now})
        outcome = service.process(tenant, event)
        assert [r.outcome for r in outcome.rules] == ["created"]
        with pool.lease(tenant, container.connection_repository().get(tenant, connection_id)) as adapter:
            opened = adapter.get_issue(str(outcome.issue_ref).rsplit(".", 1)[1])
    finally:
        pool.close()

    # Then its body at the tracker lists the linked issues, redacted
    assert opened.body.startswith("related: #3 (open)")
    assert "related: #2 (open)" in opened.body
    assert SECRET not in opened.body
    assert json.dumps(opened.body).count("related:") == 2


def test_rules_stored_before_issue_fields_existed_still_load(tenant: str, local_resources: Any) -> None:
    # A rule item written without the "issue" attribute (older rows) reads with empty issue fields
    repository = RuleRepository(container.table())
    rule = Rule(
        name="old", event_type="x.y", connection_id="c", template="generic-event", dedup=Dedup(key="k")
    )
    item = repository.attributes(rule)
    item.pop("issue")
    assert repository.model(item).issue == rule.issue
