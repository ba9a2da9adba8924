"""Every DynamoDB key trackbridge writes, built in one place.

Every partition key starts with the tenant (``T#{tenant}``), so a repository scoped to one tenant cannot
address another's items. The one exception is the API-key lookup item, which the authorizer must find before
it knows the tenant; its key id is random and the item only names the tenant it belongs to.

Identifiers that go into keys are validated by the domain (``trackbridge.domain.ids``): none may contain
``#``, so keys cannot be forged by crafted ids. The access patterns are listed in ``README.md`` beside this
file.
"""

from __future__ import annotations

SEP = "#"


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def connection_sk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def connection_pk(tenant: str, connection_id: str) -> str:
    """Partition of everything that belongs to one connection: issues, sync state, locks, users, sprints."""
    return f"T#{tenant}#CONN#{connection_id}"


def issue_sk(external_id: str) -> str:
    return f"ISSUE#{external_id}"


def issue_pk(tenant: str, issue_ref: str) -> str:
    """Partition of an issue's children: comments, worklogs, links."""
    return f"T#{tenant}#ISSUE#{issue_ref}"


def comment_sk(comment_id: str) -> str:
    return f"COMMENT#{comment_id}"


def worklog_sk(worklog_id: str) -> str:
    return f"WORKLOG#{worklog_id}"


def user_sk(user_id: str) -> str:
    return f"USER#{user_id}"


def sprint_sk(sprint_id: str) -> str:
    return f"SPRINT#{sprint_id}"


def sync_state_sk(entity: str) -> str:
    return f"STATE#{entity}"


SYNC_LOCK_SK = "LOCK#SYNC"


def operation_sk(operation_id: str) -> str:
    return f"OP#{operation_id}"


def operations_of_connection_gsi1pk(tenant: str, connection_id: str) -> str:
    return f"T#{tenant}#CONN#{connection_id}#OPS"


def sync_log_pk(tenant: str, operation_id: str) -> str:
    return f"T#{tenant}#OPLOG#{operation_id}"


def sync_logs_of_connection_gsi1pk(tenant: str, connection_id: str) -> str:
    return f"T#{tenant}#CONN#{connection_id}#LOGS"


def object_pk(tenant: str, object_key: str) -> str:
    return f"T#{tenant}#OBJ#{object_key}"


def link_sk(other_side: str) -> str:
    return f"LINK#{other_side}"


def link_id_sk(link_id: str) -> str:
    return f"LINKID#{link_id}"


def rule_sk(name: str) -> str:
    return f"RULE#{name}"


def template_sk(name: str) -> str:
    return f"TEMPLATE#{name}"


def fingerprint_sk(rule: str, fingerprint: str) -> str:
    return f"FP#{rule}#{fingerprint}"


def delivery_pk(tenant: str, provider: str, delivery_id: str) -> str:
    return f"T#{tenant}#DELIVERY#{provider}#{delivery_id}"


def audit_pk(tenant: str) -> str:
    return f"T#{tenant}#AUDIT"


def api_key_lookup_pk(key_id: str) -> str:
    """The authorizer's lookup item; the only key not prefixed by a tenant (see module docstring)."""
    return f"APIKEY#{key_id}"


def api_key_sk(key_id: str) -> str:
    return f"APIKEY#{key_id}"


def issues_by_updated_gsi1pk(tenant: str) -> str:
    return f"T#{tenant}#ISSUES"


def issues_by_status_gsi2pk(tenant: str, status_category: str) -> str:
    return f"T#{tenant}#STATUS#{status_category}"


def issues_of_connection_by_updated_gsi3pk(tenant: str, connection_id: str) -> str:
    return f"T#{tenant}#CONN#{connection_id}#BYUPDATED"


def comments_of_connection_gsi3pk(tenant: str, connection_id: str) -> str:
    """GSI3 partition of every comment of a connection: lets a deletion sweep read them in pages instead of
    querying each issue's partition (one query per issue grows with the issue count)."""
    return f"T#{tenant}#CONN#{connection_id}#COMMENTS"


def updated_sort_key(updated_at_iso: str, ref: str) -> str:
    return f"{updated_at_iso}#{ref}"


# --- Added with the repositories (issue 3): attribute names and the keys the first list did not cover. ---

# Attribute names of the table and its overloaded indexes (infra/definition.py's TABLE; storage cannot import
# infra, and tests/unit/storage checks that the two agree).
PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"
GSI1, GSI1_PK, GSI1_SK = "gsi1", "gsi1pk", "gsi1sk"
GSI2, GSI2_PK, GSI2_SK = "gsi2", "gsi2pk", "gsi2sk"
GSI3, GSI3_PK, GSI3_SK = "gsi3", "gsi3pk", "gsi3sk"
INDEX_KEYS: dict[str, tuple[str, str]] = {
    GSI1: (GSI1_PK, GSI1_SK),
    GSI2: (GSI2_PK, GSI2_SK),
    GSI3: (GSI3_PK, GSI3_SK),
}

CONNECTION_PREFIX = "CONN#"
ISSUE_PREFIX = "ISSUE#"
COMMENT_PREFIX = "COMMENT#"
WORKLOG_PREFIX = "WORKLOG#"
USER_PREFIX = "USER#"
SPRINT_PREFIX = "SPRINT#"
STATE_PREFIX = "STATE#"
OPERATION_PREFIX = "OP#"
LINK_PREFIX = "LINK#"
RULE_PREFIX = "RULE#"
TEMPLATE_PREFIX = "TEMPLATE#"
API_KEY_PREFIX = "APIKEY#"
LOG_PREFIX = "LOG#"
EVENT_PREFIX = "EVENT#"


def audit_sk(at_iso: str, entry_id: str) -> str:
    """Time first, so a descending query of the audit partition lists the newest entries first."""
    return f"{at_iso}#{entry_id}"


def operation_gsi1sk(created_at_iso: str, operation_id: str) -> str:
    return f"{created_at_iso}#{operation_id}"


def sync_log_sk(at_iso: str, seq: int) -> str:
    return f"LOG#{at_iso}#{seq:08d}"


def sync_log_gsi1sk(at_iso: str, operation_id: str, seq: int) -> str:
    return f"{at_iso}#{operation_id}#{seq:08d}"


def event_pk(tenant: str) -> str:
    """Received events live in their own partition (with a TTL), apart from the tenant's settings."""
    return f"T#{tenant}#EVENTS"


def event_sk(event_id: str) -> str:
    return f"EVENT#{event_id}"


# --- Added with the query API (issue 19). ---

ISSUE_KEY_PREFIX = "KEY#"


def issue_key_sk(key: str) -> str:
    """An issue's pointer by the key people use (``ACME-12``), beside its issue in the connection's
    partition: a Jira key resolves with one read instead of a walk of the connection's issues."""
    return f"{ISSUE_KEY_PREFIX}{key}"
