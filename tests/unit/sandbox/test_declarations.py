"""What each registered sandbox declares for its callers (issue 13): one package per tracker, a valid
connection body for its seeded project, the listing route the contract suite faults, and issue verbs that
the sync tests and the benchmarks use instead of branching on the tracker's name.

Parametrized over the registry, so a new sandbox is checked by these tests the moment it is registered.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from infra.local.trackers import SANDBOXES
from infra.local.trackers._faults import parse_rule
from infra.local.trackers.core import SandboxTracker
from trackbridge.domain.connections import ConnectionCreate

TRACKERS_DIR = Path(importlib.import_module("infra.local.trackers").__file__ or "").parent


@pytest.fixture(params=list(SANDBOXES))
def sandbox(request: pytest.FixtureRequest) -> SandboxTracker[Any]:
    return SANDBOXES[request.param](seed="declared", issues=6, comments_per_issue=1)


@pytest.mark.parametrize("name", list(SANDBOXES))
def test_each_sandbox_is_one_package_named_for_its_tracker(name: str) -> None:
    cls = SANDBOXES[name]
    package = importlib.import_module(f"infra.local.trackers.{name}")

    assert cls.kind == name
    assert cls.__module__ == f"infra.local.trackers.{name}.sandbox"
    assert getattr(package, cls.__name__) is cls
    assert name in cls.__name__.lower()
    # nothing of the tracker is left beside the shared modules
    assert sorted(p.name for p in TRACKERS_DIR.glob(f"*{name}*.py")) == []


def test_the_connection_request_is_a_valid_connection_for_the_seeded_project(
    sandbox: SandboxTracker[Any],
) -> None:
    described = sandbox.describe()

    request = sandbox.connection_request(webhook_secret=True)
    body = ConnectionCreate.model_validate(request)

    assert body.provider == sandbox.kind
    assert request["base_url"] == described["url"]
    assert request["scope"] == {sandbox.scope_key: described[sandbox.scope_key]}
    assert set(request["credentials"].values()) <= {str(v) for v in described.values()}
    assert sandbox.token in request["credentials"].values()
    assert request["webhook_secret"] == sandbox.webhook_secret
    assert "webhook_secret" not in sandbox.connection_request()


def test_the_connection_request_can_be_built_from_a_local_json_entry_alone(
    sandbox: SandboxTracker[Any],
) -> None:
    entry = dict(sandbox.describe())  # what local.json's "trackers" holds for it

    assert type(sandbox).connection_request_for(entry, name="x") == {
        **sandbox.connection_request(),
        "name": "x",
    }


def test_the_listing_route_faults_a_declared_get_route(sandbox: SandboxTracker[Any]) -> None:
    rule = parse_rule({"route": sandbox.listing_route, "status": 500})

    matched = [spec.key for spec in sandbox.routes if rule.matches(spec.method, spec.template)]

    assert any(key.startswith(("GET ", "POST ")) for key in matched), matched


def test_urls_are_the_base_urls_it_describes(sandbox: SandboxTracker[Any]) -> None:
    urls = sandbox.urls()

    assert urls[0] == sandbox.url
    assert all(url.startswith("http") for url in urls)


def test_the_issue_verbs_change_the_tracker_and_name_what_they_made(sandbox: SandboxTracker[Any]) -> None:
    version, counts = sandbox.version, sandbox.issue_counts()

    ref = sandbox.open_issue("declared verbs")
    assert sandbox.issue_counts()[:2] == (counts[0] + 1, counts[1] + 1)
    sandbox.retitle_issue(ref, "declared verbs, retitled")
    comment_id = sandbox.comment_on_issue(ref, "a comment")
    sandbox.remove_comment(comment_id)
    sandbox.close_issue(ref)
    assert sandbox.removable_alone(ref)
    sandbox.remove_issue(ref)

    assert sandbox.version >= version + 6
    assert sandbox.issue_counts() == counts  # the comment went with its removal, the issue with its own
    with pytest.raises(KeyError):
        sandbox.remove_comment(comment_id)
    with pytest.raises(KeyError):
        sandbox.retitle_issue(ref, "gone")


def test_an_issue_ref_names_the_same_issue_as_its_mutation_answer(sandbox: SandboxTracker[Any]) -> None:
    ref = sandbox.open_issue("named")

    assert sandbox.issue_ref(ref) == {sandbox.issue_ref_key: ref}


@pytest.mark.parametrize(
    ("name", "key", "expected"),
    [
        ("github", "#7", {"number": 7}),
        ("github", 7, {"number": 7}),
        ("gitlab", "#7", {"iid": 7}),
        ("jira", "ACME-7", {"key": "ACME-7"}),
        ("jira", 7, {"key": "ACME-7"}),
    ],
)
def test_an_issue_ref_takes_trackbridges_key(name: str, key: int | str, expected: dict[str, Any]) -> None:
    assert SANDBOXES[name](issues=1).issue_ref(key) == expected


def test_issue_counts_and_the_request_floor(sandbox: SandboxTracker[Any]) -> None:
    issues, listed, comments = sandbox.issue_counts()

    assert issues == 6
    assert listed >= issues
    assert comments >= issues  # one comment each, at least
    assert 1 <= sandbox.full_sync_floor(listed, comments) <= listed + comments


def test_a_search_query_mentions_the_text(sandbox: SandboxTracker[Any]) -> None:
    assert "tb-marker" in sandbox.search_query("tb-marker")
