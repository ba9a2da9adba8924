"""The sandboxes' real tokens drive every tracker action; none appears in a log line, an answer or an item.

Sibling of ``test_secrets_never_leak.py`` (connection CRUD): here the tokens are actually used, against
the sandboxes, through the local API Gateway, including the paths that fail (refused credentials, tracker
outages, invalid JQL, bulk items that fail), where error text is most likely to carry a request's headers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.integration.api.actions_support import PROVIDER_NAMES, World, client, connect, fresh, world
from tests.integration.api.test_secrets_never_leak import tenant_items
from tests.unit.api.support import captured_logs
from trackbridge.runtime import container

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("actions-api")]
__all__ = ["client", "world"]  # fixtures, imported for pytest

REFUSED_TOKEN = "fake-refused-token-SENTINEL-4d2e"


def test_tokens_appear_in_no_log_answer_or_item(
    world: World, client: httpx.Client, tenant: str, local_resources: LocalResources
) -> None:
    answers: list[str] = []

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = client.request(method, path, **kwargs)
        answers.append(f"{answer.status_code} {dict(answer.headers)} {answer.text}")
        assert answer.status_code < 500 or answer.status_code in (502, 503, 504), answer.text
        return answer

    tokens = {name: str(world.sandboxes[name].describe()["token"]) for name in PROVIDER_NAMES}
    assert all(len(token) >= 8 for token in tokens.values())
    stored: dict[str, dict[str, str] | None] = {}
    with captured_logs() as logs:
        for name in PROVIDER_NAMES:
            sandbox = fresh(world, name)
            tracker = connect(world, client, name)
            base = f"/v1/connections/{tracker.connection_id}"
            stored[name] = container.connection_secrets().credentials(tenant, tracker.connection_id)
            assert call("POST", f"{base}/test").json()["ok"] is True
            created = call("POST", f"{base}/issues", json={"title": "Leak probe", "body": "b"})
            assert created.status_code == 201
            key = str(created.json()["key"]).lstrip("#")
            call("PATCH", f"{base}/issues/{key}", json={"title": "Leak probe 2"})
            call("POST", f"{base}/issues/{key}/comments", json={"body": "c"})
            call("POST", f"{base}/issues/{key}/transitions", json={"status_category": "done"})
            call("POST", f"{base}/issues/{key}/attachments", files={"file": ("a.txt", b"a", "text/plain")})
            call("GET", f"{base}/search", params={"q": "summary ~ probe" if name == "jira" else "probe"})
            if name == "jira":
                assert call("GET", f"{base}/search", params={"q": "bad = = jql"}).status_code == 400
            sandbox.add_faults([{"route": "*", "status": 500, "times": 6}])
            call("POST", f"{base}/issues/{key}/comments", json={"body": "during an outage"})
            sandbox.clear_faults()
            bulk = call(
                "POST",
                f"{base}/issues:bulk",
                json={"items": [{"op": "create", "title": "b1"}, {"op": "update", "key": key}]},
            )
            assert bulk.json()["succeeded"] == 1
            call("GET", f"/v1/issues/{created.json()['ref']}")
            refused = connect(world, client, name, token=REFUSED_TOKEN)
            assert (
                call(
                    "POST", f"/v1/connections/{refused.connection_id}/issues", json={"title": "x"}
                ).status_code
                == 502
            )
            call("POST", f"/v1/connections/{refused.connection_id}/test")
        call("GET", "/v1/audit", params={"limit": 100})

    # Positive controls: the tokens were really used (the trackers accepted them) and logs were captured.
    assert logs.lines, "nothing was logged: the capture is not working"
    assert all(world.sandboxes[name].requests()["total"] > 0 for name in PROVIDER_NAMES)
    assert all(tokens[name] in (stored[name] or {}).values() for name in PROVIDER_NAMES)

    haystacks = {
        "logs": logs.text,
        "answers": "\n".join(answers),
        "items": json.dumps(tenant_items(local_resources, tenant), default=str),
    }
    for where, text in haystacks.items():
        for name, token in {**tokens, "refused": REFUSED_TOKEN}.items():
            assert token not in text, f"the {name} token leaked into {where}"
