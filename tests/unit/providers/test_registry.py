"""The registry, and the declarations every registered adapter must keep consistent with the domain."""

from __future__ import annotations

import json

import httpx
import pytest

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.trackers import TRACKERS, tracker
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.registry import (
    PROVIDERS,
    capabilities,
    create_adapter,
    describe_providers,
    get_adapter_class,
    supported_providers,
)
from trackbridge.providers.types import Capabilities, TrackerConfig

from .conftest import CONNECTION_ID

# The operation behind each capability that has one: declaring the capability means overriding it.
OPERATION_OF = {
    "attachments": "attach_file",
    "worklogs": "list_worklogs",
    "sprints": "list_sprints",
    "repo_wide_comments": "iter_comment_pages",
    "security_advisories": "list_security_advisories",
}
ADAPTERS = sorted(PROVIDERS.items())


def test_lookup() -> None:
    assert {"github", "gitlab"} <= set(supported_providers())
    assert supported_providers() == tuple(sorted(PROVIDERS))
    assert get_adapter_class("github").name == "github"
    assert capabilities("github").repo_wide_comments is True
    with pytest.raises(ValidationFailed) as caught:
        get_adapter_class("bugzilla")
    assert caught.value.details["supported"] == list(supported_providers())
    # The declarations' lookup answers an unknown name the same way.
    with pytest.raises(ValidationFailed) as declared:
        tracker("bugzilla")
    assert (declared.value.message, declared.value.details) == (caught.value.message, caught.value.details)


def test_describe_is_json_for_get_providers() -> None:
    described = json.loads(json.dumps(describe_providers()))
    assert [d["name"] for d in described] == list(supported_providers())
    for entry in described:
        # Only what the product does end to end (test_advertised_capabilities); the rest stays declared.
        assert set(entry["capabilities"]) == set(Capabilities.IMPLEMENTED)
        assert entry["credential_keys"]
        assert entry["scope_keys"]


def test_create_adapter_builds_auth_from_credentials() -> None:
    config = TrackerConfig("https://api.github.com", {"repo": "acme/widgets"}, CONNECTION_ID)
    with create_adapter("github", config, {"token": "t0k"}) as adapter:
        request = next(adapter._auth.sync_auth_flow(httpx.Request("GET", "https://api.github.com/user")))
        assert request.headers["authorization"] == "Bearer t0k"


def test_bad_config_is_refused_before_any_request() -> None:
    with pytest.raises(ValidationFailed):
        TrackerConfig("https://api.github.com", {"repo": "a/b"}, "not-a-connection-id")
    with pytest.raises(ValidationFailed):
        TrackerConfig("ftp://example.com", {"repo": "a/b"}, CONNECTION_ID)


@pytest.mark.parametrize(("name", "cls"), ADAPTERS)
def test_declarations_are_consistent(name: str, cls: type[TrackerAdapter]) -> None:
    assert cls.name == name
    assert cls.display_name
    assert cls.signature_schemes, "every tracker needs a way to authenticate its webhooks"
    assert 1 <= cls.page_size <= 5000
    for capability, operation in OPERATION_OF.items():
        overridden = getattr(cls, operation) is not getattr(TrackerAdapter, operation)
        assert overridden == getattr(cls.capabilities, capability), f"{name}: {capability} vs {operation}"


@pytest.mark.parametrize(("name", "cls"), ADAPTERS)
def test_declarations_match_the_domain(name: str, cls: type[TrackerAdapter]) -> None:
    # The connection model validates credentials and entities by the tracker's declaration; the adapter
    # must want exactly those credentials and have an operation for every entity a connection may ask for.
    spec = TRACKERS[name]
    assert set(cls.auth_scheme.keys) == set(spec.credentials.model_fields)
    for entity, capability in (("worklogs", "worklogs"), ("sprints", "sprints")):
        if entity in spec.entities:
            assert getattr(cls.capabilities, capability), f"{name} syncs {entity} without the operation"
