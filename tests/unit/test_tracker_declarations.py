"""Each tracker is declared once (``trackbridge.domain.trackers``), and everything that lists trackers agrees.

A tracker is done when it has a declaration, an adapter that names it, a sandbox and a contract run. Each test
here fails until one of those is in place (``layers/trackbridge/providers/README.md`` is the checklist).
"""

from __future__ import annotations

import importlib
import inspect
from typing import get_args

import pytest

from infra.local.trackers import SANDBOXES
from trackbridge.domain.connections import (
    CREDENTIAL_MODELS,
    OAUTH_PROVIDERS,
    SCOPE_KEYS,
    SUPPORTED_ENTITIES,
    SUPPORTED_PROVIDERS,
    ConnectionCreate,
    Provider,
    Scope,
)
from trackbridge.domain.trackers import TRACKERS, TrackerSpec
from trackbridge.providers.registry import ADAPTERS, PROVIDERS, describe_providers
from trackbridge.runtime.sync.plans import syncable_entities

SPECS = sorted(TRACKERS.items())


# ------------------------------------------------------------------------------------- names and enums


def test_the_provider_enum_is_the_declared_names() -> None:
    assert get_args(Provider) == tuple(TRACKERS)
    assert tuple(TRACKERS) == SUPPORTED_PROVIDERS
    schema = ConnectionCreate.model_json_schema()
    assert schema["properties"]["provider"]["enum"] == list(TRACKERS)


def test_the_connection_tables_are_read_from_the_declarations() -> None:
    assert {n: m for n, m in CREDENTIAL_MODELS.items()} == {n: t.credentials for n, t in TRACKERS.items()}
    assert dict(SUPPORTED_ENTITIES) == {n: t.entities for n, t in TRACKERS.items()}
    assert {n for n, t in TRACKERS.items() if "oauth" in t.auth_modes} == OAUTH_PROVIDERS


def test_every_scope_key_a_tracker_reads_is_a_scope_field() -> None:
    assert set(SCOPE_KEYS) == set(Scope.model_fields)
    declared = {key for spec in TRACKERS.values() for key in spec.scope.keys}
    assert declared == set(SCOPE_KEYS), "a scope field no tracker reads, or a key the Scope model lacks"


# ------------------------------------------------------------------------------------------- adapters


def test_every_declared_tracker_has_one_adapter_and_every_adapter_a_declaration() -> None:
    assert len({cls.tracker.name for cls in ADAPTERS}) == len(ADAPTERS), "two adapters for one tracker"
    assert set(PROVIDERS) == set(TRACKERS)
    for name, cls in PROVIDERS.items():
        assert cls.tracker is TRACKERS[name], f"{cls.__name__} names another declaration than {name}'s"


@pytest.mark.parametrize(("name", "spec"), SPECS)
def test_adapters_take_their_attributes_from_the_declaration(name: str, spec: TrackerSpec) -> None:
    cls = PROVIDERS[name]
    assert "tracker" in vars(cls), f"{cls.__name__} declares tracker = ... itself"
    assert (cls.name, cls.display_name, cls.default_base_url) == (
        spec.name,
        spec.display_name,
        spec.default_base_url,
    )
    assert cls.scope_keys == spec.scope.keys
    # The sync engine reads the adapter's overlap (test_sync_defects proves it): the declared one.
    assert cls.incremental_overlap == spec.incremental_overlap


@pytest.mark.parametrize(("name", "spec"), SPECS)
def test_the_adapters_credentials_are_the_declared_ones(name: str, spec: TrackerSpec) -> None:
    assert set(PROVIDERS[name].auth_scheme.keys) == set(spec.credentials.model_fields)


def test_get_providers_serves_the_declarations() -> None:
    for described in describe_providers():
        spec = TRACKERS[described["name"]]
        assert described["display_name"] == spec.display_name
        assert described["scope_keys"] == list(spec.scope.keys)
        assert described["default_base_url"] == spec.default_base_url
        assert described["incremental_overlap_s"] == spec.incremental_overlap.total_seconds()
        assert described["incremental_overlap_reason"] == spec.overlap_reason
        assert described["auth_modes"] == list(spec.auth_modes)
        assert described["entities"] == list(spec.entities)


# --------------------------------------------------------------------------------------------- sync


@pytest.mark.parametrize(("name", "spec"), SPECS)
def test_a_connection_asks_for_exactly_the_entities_the_engine_syncs(name: str, spec: TrackerSpec) -> None:
    # An entity declared but not synced would be accepted and then never synced; one synced but not
    # declared could never be asked for.
    assert set(spec.entities) == set(syncable_entities(name)), name


# -------------------------------------------------------------------------------- sandboxes, contract


def test_every_declared_tracker_has_a_sandbox() -> None:
    assert set(SANDBOXES) == set(TRACKERS)


def test_every_declared_tracker_runs_the_contract_suite() -> None:
    conftest = importlib.import_module("tests.integration.providers.conftest")
    # The suite's params (a tracker missing from them would silently drop out of it, hence this test).
    assert set(conftest.CONTRACT_PROVIDERS) == set(TRACKERS)
    # Every contract case takes the ``tracker`` fixture, so it runs for each of those params.
    contract = importlib.import_module("tests.integration.providers.test_contract")
    cases = [getattr(contract, name) for name in dir(contract) if name.startswith("test_")]
    assert cases
    assert [c.__name__ for c in cases if "tracker" not in inspect.signature(c).parameters] == []
