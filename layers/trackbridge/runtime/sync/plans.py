"""Which syncer syncs which entity: the default plan and the opt-in entities, by adapter capabilities.

Every connection syncs :func:`~trackbridge.runtime.sync.syncers.plan_for`'s entities (issues and comments,
what ``make bench`` measures); the others are synced only for connections or operations that name them
(:func:`opt_in_for`): security advisories (GitHub lists unpublished ones to security managers only), Jira's
worklogs and changelogs, users and sprints, and repository activity. Each comes from the adapter's declared
capabilities, never from its name, so a new tracker needs no entry here, and a new entity is one line.

This module sits above the syncer modules (each imports :mod:`~trackbridge.runtime.sync.syncers` for its
base class), so none of them imports another to be found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from trackbridge.domain.connections import Entity
from trackbridge.providers.registry import PROVIDERS
from trackbridge.providers.types import Capabilities
from trackbridge.runtime.sync.activity_syncers import activity_plan
from trackbridge.runtime.sync.catalog_syncers import catalog_plan
from trackbridge.runtime.sync.jira_syncers import jira_plan
from trackbridge.runtime.sync.syncers import ADVISORIES, EntitySyncer, plan_for


def opt_in_for(capabilities: Capabilities) -> dict[Entity, EntitySyncer]:
    """The entities an adapter with ``capabilities`` syncs when a connection or an operation names them."""
    return {
        **({"advisories": ADVISORIES} if capabilities.security_advisories else {}),
        **jira_plan(capabilities),
        **catalog_plan(capabilities),
        **activity_plan(capabilities),
    }


def syncers_for(
    capabilities: Capabilities, entities: Sequence[str]
) -> list[tuple[Entity, EntitySyncer | None]]:
    """The entities of an operation this engine syncs for an adapter with ``capabilities``, issues first
    (worklogs and changelogs cover the issues the issue pass stored)."""
    known = {**plan_for(capabilities), **opt_in_for(capabilities)}
    ordered = sorted((e for e in entities if e in known), key=lambda e: (e != "issues", e))
    return [(e, known[e]) for e in ordered]


def syncable_entities(provider: str) -> Mapping[Entity, EntitySyncer | None]:
    """What the engine syncs for a registered tracker (its adapter class's capabilities); {} if unknown."""
    adapter_class = PROVIDERS.get(provider)
    if adapter_class is None:
        return {}
    return {**plan_for(adapter_class.capabilities), **opt_in_for(adapter_class.capabilities)}


__all__ = ["opt_in_for", "syncable_entities", "syncers_for"]
