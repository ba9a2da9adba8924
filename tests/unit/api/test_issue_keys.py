"""GitHub and GitLab keys read "#12"; a client may send "12" or "%2312" (which API Gateway decodes to "#12").

Both reach the route as the same key, and the adapters take the bare number as well as the "#" form.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.api import handler
from tests.unit.api.support import FakeLambdaContext, body_of, rest_event
from trackbridge.providers._util import issue_number
from trackbridge.runtime import container
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api.examples import SCHEMA_EXAMPLES
from trackbridge.runtime.issues import IssueView

BASE = "/v1/connections/conn_abcdefghijklmnopqrst/issues"


class Recording:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def update_issue(self, tenant: str, connection_id: str, key: str, body: Any, actor: Any) -> str:
        self.keys.append(key)
        return key

    def view(self, tenant: str, issue: Any) -> IssueView:
        return IssueView.model_validate(SCHEMA_EXAMPLES["IssueView"])


@pytest.fixture
def service() -> Iterator[Recording]:
    recording = Recording()
    app.dependency_overrides[container.tracker_actions] = lambda: recording
    app.dependency_overrides[container.synced_issues] = lambda: recording
    yield recording
    app.dependency_overrides.clear()


@pytest.mark.parametrize("segment", ["12", "#12"])  # "#12" is what /issues/%2312 arrives as
def test_a_bare_number_and_the_hash_form_reach_the_same_issue(
    shared_dir: Path, service: Recording, segment: str
) -> None:
    event = rest_event(shared_dir, "PATCH", f"{BASE}/{segment}", body={"title": "renamed"})
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200, body_of(response)
    assert service.keys == ["12"]


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_the_adapters_take_either_form(provider: str) -> None:
    assert issue_number("12", provider=provider) == issue_number("#12", provider=provider) == 12
