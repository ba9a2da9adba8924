"""``GET /v1/providers`` advertises a capability only when trackbridge does it end to end.

Each advertised capability maps to what uses it: an API route of the app, or a syncer of an entity the tracker
syncs (``syncable_entities``, within the entities its declaration lists). A capability the adapters declare
but nothing uses yet (worklogs, webhook registration, security advisories) stays in the
declaration, where ``require`` checks it, and out of the answer.
"""

from __future__ import annotations

import pytest

from trackbridge.domain.trackers import TRACKERS
from trackbridge.providers.registry import PROVIDERS, describe_providers
from trackbridge.providers.types import Capabilities
from trackbridge.runtime.api.app import operations
from trackbridge.runtime.sync.catalog_syncers import SprintsSyncer, UsersSyncer
from trackbridge.runtime.sync.jira_syncers import ChangelogsSyncer, WorklogsSyncer
from trackbridge.runtime.sync.plans import syncable_entities
from trackbridge.runtime.sync.syncers import EntitySyncer, IssuesSyncer, RepoCommentsSyncer

ISSUE = "/v1/connections/{connection_id}/issues/{key}"

# capability -> the routes that serve it, or the (entity, syncer class) of the sync that uses it.
ROUTES_OF: dict[str, set[tuple[str, str]]] = {
    "attachments": {("POST", f"{ISSUE}/attachments")},
    "transitions": {("GET", f"{ISSUE}/transitions"), ("POST", f"{ISSUE}/transitions")},
    "dev_activity": {("POST", "/v1/connections/{connection_id}/scan-links")},
    "repository_activity": {("GET", "/v1/repositories/{connection_id}/activity")},
}
SYNC_OF: dict[str, tuple[str, type[EntitySyncer]]] = {
    # GitHub's comments are one repository-wide listing, synced as their own entity.
    "repo_wide_comments": ("comments", RepoCommentsSyncer),
    # The engine hands the issue listings an ETag cache; the adapter sends If-None-Match.
    "conditional_requests": ("issues", IssuesSyncer),
    # The catalogs, listed whole by their syncers (runtime.sync.catalog_syncers).
    "sprints": ("sprints", SprintsSyncer),
    "users": ("users", UsersSyncer),
    # Jira's site-wide worklog feeds and bulk changelogs (runtime.sync.jira_syncers).
    "worklog_feed": ("worklogs", WorklogsSyncer),
    "changelog_bulkfetch": ("changelogs", ChangelogsSyncer),
}
# Declared by adapters, used by nothing yet: must not be advertised.
NOT_YET = {"worklogs", "webhook_registration", "security_advisories"}


def served_routes() -> set[tuple[str, str]]:
    return {(op.method, op.path) for op in operations()}


def test_every_implemented_capability_has_a_route_or_a_syncer() -> None:
    assert set(Capabilities.IMPLEMENTED) == set(ROUTES_OF) | set(SYNC_OF)
    assert set(Capabilities.IMPLEMENTED).isdisjoint(NOT_YET)
    assert set(Capabilities.names()) == set(Capabilities.IMPLEMENTED) | NOT_YET, "a new capability is sorted"
    routes = served_routes()
    for capability, needed in ROUTES_OF.items():
        assert needed <= routes, f"{capability}: the app does not serve {sorted(needed - routes)}"


@pytest.mark.parametrize("described", describe_providers(), ids=lambda d: d["name"])
def test_get_providers_lists_only_what_the_product_does(described: dict[str, object]) -> None:
    name = str(described["name"])
    advertised = described["capabilities"]
    assert isinstance(advertised, dict)
    assert set(advertised) == set(Capabilities.IMPLEMENTED), f"{name} advertises {sorted(advertised)}"
    assert advertised == {c: getattr(PROVIDERS[name].capabilities, c) for c in Capabilities.IMPLEMENTED}
    for capability, on in advertised.items():
        if not on or capability not in SYNC_OF:
            continue
        entity, syncer_class = SYNC_OF[capability]
        assert entity in TRACKERS[name].entities, f"{name}: {capability} needs {entity}"
        syncer = syncable_entities(name).get(entity)
        assert isinstance(syncer, syncer_class), f"{name}: {capability} needs {syncer_class.__name__}"
