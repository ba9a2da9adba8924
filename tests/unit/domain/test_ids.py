"""Identifiers end up inside DynamoDB keys: their shapes are what keeps one tenant out of another's keys."""

from __future__ import annotations

import pytest

from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import (
    IdPrefix,
    external_id,
    is_id,
    is_issue_ref,
    is_tenant,
    issue_ref,
    new_id,
    parse_issue_ref,
    require_tenant,
)


@pytest.mark.parametrize("tenant", ["acme", "a", "team-42", "0abc", "a" * 63])
def test_valid_tenants(tenant: str) -> None:
    assert is_tenant(tenant)
    assert require_tenant(tenant) == tenant


@pytest.mark.parametrize("tenant", ["", "-acme", "Acme", "acme#x", "a" * 64, "acme/x", "ac me", None, 7])
def test_invalid_tenants(tenant: object) -> None:
    assert not is_tenant(tenant)


def test_require_tenant_refuses_with_422() -> None:
    with pytest.raises(ValidationFailed) as caught:
        require_tenant("T#other")
    assert caught.value.status == 422


def test_generated_ids_are_prefixed_url_safe_and_distinct() -> None:
    # Given many generated connection ids
    ids = {new_id(IdPrefix.CONNECTION) for _ in range(500)}
    # Then they are all different, recognisable, and free of key separators
    assert len(ids) == 500
    for value in ids:
        assert value.startswith("conn_")
        assert len(value) == len("conn_") + 20
        assert is_id(IdPrefix.CONNECTION, value)
        assert "#" not in value
        assert "/" not in value
        assert not is_id(IdPrefix.OPERATION, value)


@pytest.mark.parametrize(
    "value",
    [
        "conn_",
        "conn_abc",
        "conn_ABCDEFGHIJKLMNOPQRST",
        "conn_abcdefghijklmnopqrs#",
        "op_abcdefghijklmnopqrst",
    ],
)
def test_malformed_ids_are_not_ids(value: str) -> None:
    assert not is_id(IdPrefix.CONNECTION, value)


def test_issue_ref_round_trip() -> None:
    connection = new_id(IdPrefix.CONNECTION)
    ref = issue_ref(connection, 42)
    assert ref == f"{connection}.42"
    assert parse_issue_ref(ref) == (connection, "42")
    assert is_issue_ref(ref)


@pytest.mark.parametrize(
    "ref", ["", "conn_x.1", "nodot", "conn_abcdefghijklmnopqrst.", "conn_abcdefghijklmnopqrst.a#b"]
)
def test_malformed_refs(ref: str) -> None:
    assert parse_issue_ref(ref) is None
    assert not is_issue_ref(ref)


def test_issue_ref_refuses_a_bad_native_id() -> None:
    with pytest.raises(ValueError, match="cannot build an issue ref"):
        issue_ref(new_id(IdPrefix.CONNECTION), "1#2")


def test_external_id_format() -> None:
    assert (
        external_id("jira", "https://acme.atlassian.net", "10001") == "jira:https://acme.atlassian.net:10001"
    )
