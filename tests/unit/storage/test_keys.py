"""The storage layer's attribute names must be the table the infrastructure creates."""

from __future__ import annotations

from infra.definition import TABLE
from trackbridge.storage import keys


def test_attribute_names_match_the_resource_definition() -> None:
    assert (
        TABLE.partition_key,
        TABLE.sort_key,
        TABLE.ttl_attribute,
    ) == (keys.PK, keys.SK, keys.TTL_ATTRIBUTE)
    assert {index.name: (index.partition_key, index.sort_key) for index in TABLE.indexes} == keys.INDEX_KEYS


def test_every_tenant_partition_starts_with_the_tenant() -> None:
    tenant = "acme"
    partitions = [
        keys.tenant_pk(tenant),
        keys.connection_pk(tenant, "conn_x"),
        keys.issue_pk(tenant, "conn_x.1"),
        keys.audit_pk(tenant),
        keys.event_pk(tenant),
        keys.sync_log_pk(tenant, "op_x"),
        keys.object_pk(tenant, "table:a/b/c"),
        keys.issues_by_updated_gsi1pk(tenant),
        keys.issues_by_status_gsi2pk(tenant, "done"),
        keys.issues_of_connection_by_updated_gsi3pk(tenant, "conn_x"),
        keys.operations_of_connection_gsi1pk(tenant, "conn_x"),
        keys.sync_logs_of_connection_gsi1pk(tenant, "conn_x"),
    ]
    for partition in partitions:
        assert partition == "T#acme" or partition.startswith("T#acme#")


def test_sort_keys_sort_by_time() -> None:
    early = keys.audit_sk("2026-01-01T00:00:00.000000Z", "aud_b")
    late = keys.audit_sk("2026-01-01T00:00:00.000001Z", "aud_a")
    assert early < late
    assert keys.sync_log_sk("2026-01-01T00:00:00.000000Z", 9) < keys.sync_log_sk(
        "2026-01-01T00:00:00.000000Z", 10
    )
