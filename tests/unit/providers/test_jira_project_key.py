"""One Jira project-key rule: the connection model and the Jira adapter accept and refuse the same keys.

The rule (``trackbridge.domain.trackers.is_jira_project_key``, in Jira's declaration) is Atlassian's: an
uppercase letter, then uppercase letters, digits or underscores ("Changing the project key format", Jira admin
docs), 2 to 10 characters (Jira Cloud REST ``/rest/api/3/project``: "an uppercase letter followed by one or
more uppercase alphanumeric characters. The maximum length is 10 characters").
"""

from __future__ import annotations

import pytest

from trackbridge.domain.connections import Scope
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.trackers import is_jira_project_key
from trackbridge.providers.auth import BasicCredentialsAuth
from trackbridge.providers.jira import JiraAdapter
from trackbridge.providers.types import TrackerConfig

from .conftest import CONNECTION_ID

SITE = "https://acme.atlassian.net"

KEYS = [
    # key, a Jira project key?
    ("OPS", True),
    ("AB", True),
    ("R2D2", True),
    ("MY_TEAM", True),
    ("A_", True),
    ("ABCDEFGHIJ", True),  # 10: Jira Cloud's maximum
    ("PRODUCT_20", True),
    ("A", False),  # one character: Jira needs a letter followed by one or more
    ("ABCDEFGHIJK", False),  # 11
    ("PRODUCT_2013", False),
    ("ops", False),  # lowercase
    ("Ops", False),
    ("oPS", False),
    ("2013PROJECT", False),  # starts with a digit
    ("_OPS", False),
    ("PRODUCT-2012", False),  # hyphen
    ("OPS-12", False),  # an issue key, not a project key
    ("OP S", False),
    (" OPS", False),
    ("OPS ", False),
    ("OPS\n", False),
    ("ÖPS", False),  # not the modern Roman alphabet
    ("\uff2f\uff30\uff33", False),  # fullwidth OPS
    ("OPS/../X", False),
    ("OPS%2F", False),
    ("O" * 255, False),
]


def domain_accepts(key: str) -> bool:
    try:
        Scope(project=key).check_for("jira")
    except ValueError:  # pydantic's ValidationError is a ValueError too
        return False
    return True


def adapter_accepts(key: str) -> bool:
    adapter = JiraAdapter(
        TrackerConfig(SITE, {"project": key}, CONNECTION_ID), BasicCredentialsAuth("bot@acme.example", "t")
    )
    try:
        accepted = adapter.project_key
    except ValidationFailed:
        return False
    finally:
        adapter.close()
    assert accepted == key, "a key is used as given, not trimmed into another"
    return True


@pytest.mark.parametrize(("key", "valid"), KEYS)
def test_connection_and_adapter_share_the_project_key_rule(key: str, valid: bool) -> None:
    assert is_jira_project_key(key) is valid
    assert domain_accepts(key) is valid, "the connection model"
    assert adapter_accepts(key) is valid, "the Jira adapter"


def test_no_project_is_not_a_bad_project() -> None:
    # A JQL-scoped connection has no key: the adapter bounds its searches by the JQL instead.
    adapter = JiraAdapter(
        TrackerConfig(SITE, {"jql": "labels = ops"}, CONNECTION_ID),
        BasicCredentialsAuth("bot@acme.example", "t"),
    )
    assert adapter.project_key is None
    adapter.close()
