"""Connection bodies: what each provider needs, reported at the field that is wrong, secrets kept wrapped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from trackbridge.domain.connections import (
    Connection,
    ConnectionCreate,
    ConnectionPatch,
    JiraCredentials,
    TokenCredentials,
    parse_credentials,
    secret_payload,
)
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.trackers import TRACKERS

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SENTINEL = "fake-token-SENTINEL-0001"


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "web",
        "provider": "github",
        "base_url": "https://api.github.com",
        "scope": {"repo": "acme/web"},
        "credentials": {"token": SENTINEL},
    }
    base.update(overrides)
    return base


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        ConnectionCreate.model_validate(data)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


@pytest.mark.parametrize(
    "data",
    [
        body(),
        body(provider="gitlab", base_url="https://gitlab.com", scope={"project": "group/sub/app"}),
        body(provider="gitlab", base_url="http://127.0.0.1:9000", scope={"project": "1234"}),
        body(
            provider="jira",
            base_url="https://acme.atlassian.net",
            scope={"project": "OPS"},
            credentials={"email": "a@acme.test", "api_token": SENTINEL},
        ),
        body(
            provider="jira",
            base_url="https://acme.atlassian.net",
            scope={"jql": "project = OPS AND labels = db"},
            credentials={"email": "a@acme.test", "api_token": SENTINEL},
            entities=["comments", "issues"],
        ),
    ],
)
def test_valid_bodies(data: dict[str, Any]) -> None:
    parsed = ConnectionCreate.model_validate(data)
    assert parsed.provider == data["provider"]


def test_unknown_provider_names_the_supported_ones() -> None:
    errors = errors_of(body(provider="bitbucket"))
    assert all(f"'{name}'" in errors["provider"] for name in TRACKERS)


@pytest.mark.parametrize(
    ("overrides", "path", "fragment"),
    [
        ({"scope": {"project": "x"}}, "scope", "github needs"),
        ({"scope": {"repo": "not-a-repo"}}, "scope.repo", "pattern"),
        ({"provider": "gitlab", "scope": {"repo": "a/b"}}, "scope", "gitlab needs"),
        ({"provider": "gitlab", "scope": {"project": "a b"}}, "scope", "numeric id or a path"),
        (
            {
                "provider": "jira",
                "scope": {"project": "ops"},
                "credentials": {"email": "a@b.c", "api_token": "x"},
            },
            "scope",
            "project key",
        ),
        (
            {
                "provider": "jira",
                "scope": {"project": "OPS", "jql": "x"},
                "credentials": {"email": "a@b.c", "api_token": "x"},
            },
            "scope",
            "either",
        ),
        ({"base_url": "ftp://example.com"}, "base_url", "http"),
        ({"base_url": "https://user:pw@example.com"}, "base_url", "without credentials"),
        ({"base_url": "https://example.com/?q=1"}, "base_url", "without credentials, query or fragment"),
        ({"credentials": {"password": "x"}}, "credentials", "github credentials are {token}"),
        (
            {"provider": "jira", "scope": {"project": "OPS"}},
            "credentials",
            "jira credentials are {api_token, email}",
        ),
        ({"entities": ["sprints"]}, "entities", "github cannot sync sprints"),
        ({"schedule": {"expression": "every 5 minutes"}}, "schedule.expression", "rate(...)"),
        ({"schedule": {"expression": "at(2030-01-01T00:00:00)"}}, "schedule.expression", "repeats"),
        (
            {"schedule": {"expression": "rate(1 hour)", "timezone": "Mars/Olympus"}},
            "schedule.timezone",
            "time zone",
        ),
        ({"unknown": 1}, "unknown", "Extra inputs"),
    ],
)
def test_invalid_bodies_are_reported_at_their_field(
    overrides: dict[str, Any], path: str, fragment: str
) -> None:
    errors = errors_of(body(**overrides))
    assert path in errors, errors
    assert fragment in errors[path]


def test_credentials_never_show_in_errors_or_reprs() -> None:
    # Given a body whose credentials are wrong in shape but carry a recognisable value
    bad = body(credentials={"token": SENTINEL, "extra": SENTINEL})
    with pytest.raises(ValidationError) as caught:
        ConnectionCreate.model_validate(bad)
    # Then neither the error text nor its structured form echoes the value
    assert SENTINEL not in str(caught.value)
    assert SENTINEL not in repr(caught.value.errors(include_input=False))
    # And a valid body keeps the token wrapped
    parsed = ConnectionCreate.model_validate(body(webhook_secret=SENTINEL))
    assert SENTINEL not in repr(parsed)
    assert SENTINEL not in str(parsed.model_dump())
    assert isinstance(parsed.credentials, TokenCredentials)
    assert secret_payload(parsed.credentials) == {"token": SENTINEL}


def test_parse_credentials_accepts_wrapped_values() -> None:
    creds = parse_credentials("jira", {"email": "a@acme.test", "api_token": SecretStr(SENTINEL)})
    assert isinstance(creds, JiraCredentials)
    assert secret_payload(creds) == {"email": "a@acme.test", "api_token": SENTINEL}


def make_connection(**overrides: Any) -> Connection:
    parsed = ConnectionCreate.model_validate(body(**overrides))
    return Connection.from_create(parsed, connection_id="conn_abcdefghijklmnopqrst", now=NOW)


def test_from_create_keeps_no_secret_and_applies_defaults() -> None:
    connection = make_connection(base_url="https://api.github.com/")
    assert connection.base_url == "https://api.github.com"
    assert connection.entities == ["issues", "comments"]
    assert connection.has_credentials
    assert not connection.has_webhook_secret
    assert SENTINEL not in connection.model_dump_json()
    assert connection.version == 1


def test_external_ids_and_refs_follow_the_contract() -> None:
    github = make_connection()
    assert github.external_id(12) == "github:https://api.github.com/repos/acme/web:12"
    assert github.issue_ref(12) == "conn_abcdefghijklmnopqrst.12"
    gitlab = make_connection(
        provider="gitlab", base_url="https://gitlab.com/api/v4", scope={"project": "g/app"}
    )
    assert gitlab.external_id("7") == "gitlab:https://gitlab.com/api/v4/projects/g/app:7"
    jira = make_connection(
        provider="jira",
        base_url="https://acme.atlassian.net",
        scope={"project": "OPS"},
        credentials={"email": "a@acme.test", "api_token": "x"},
    )
    assert jira.external_id("10001") == "jira:https://acme.atlassian.net:10001"


def test_scope_serializes_without_unset_fields() -> None:
    assert make_connection().model_dump()["scope"] == {"repo": "acme/web"}


def test_apply_patch_changes_only_what_is_sent() -> None:
    connection = make_connection(schedule={"expression": "rate(15 minutes)"})
    later = datetime(2026, 1, 3, tzinfo=UTC)
    # An absent schedule stays; a name changes; the version moves on
    renamed = connection.apply(ConnectionPatch(name="renamed"), now=later)
    assert renamed.name == "renamed"
    assert renamed.schedule == connection.schedule
    assert renamed.version == 2
    assert renamed.updated_at == later
    # An explicit null removes the schedule
    unscheduled = connection.apply(ConnectionPatch.model_validate({"schedule": None}), now=later)
    assert unscheduled.schedule is None


def test_patch_checks_entities_and_credentials_against_the_provider() -> None:
    connection = make_connection()
    with pytest.raises(ValidationFailed) as entities_error:
        connection.apply(ConnectionPatch(entities=["worklogs"]), now=NOW)
    assert entities_error.value.details["errors"][0]["path"] == "body.entities"
    patch = ConnectionPatch.model_validate({"credentials": {"api_token": SENTINEL}})
    with pytest.raises(ValidationFailed) as credentials_error:
        connection.patch_credentials(patch)
    assert credentials_error.value.details["errors"][0]["path"] == "body.credentials"
    assert SENTINEL not in str(credentials_error.value.details)
    rotated = connection.patch_credentials(ConnectionPatch.model_validate({"credentials": {"token": "new"}}))
    assert isinstance(rotated, TokenCredentials)


def test_patch_refuses_fields_fixed_at_creation() -> None:
    with pytest.raises(ValidationError) as caught:
        ConnectionPatch.model_validate({"provider": "jira"})
    assert caught.value.errors()[0]["type"] == "extra_forbidden"


JIRA = {
    "provider": "jira",
    "base_url": "https://acme.atlassian.net",
    "scope": {"project": "OPS"},
    "credentials": {"email": "a@acme.test", "api_token": SENTINEL},
}


@pytest.mark.parametrize(
    ("overrides", "entity"),
    [({}, "worklogs"), ({}, "sprints")],
    ids=["github-worklogs", "github-sprints"],
)
def test_a_new_connection_asks_only_for_entities_that_sync(overrides: dict[str, Any], entity: str) -> None:
    # Given a body asking for an entity the tracker has but nothing syncs yet
    errors = errors_of(body(**overrides, entities=["issues", entity]))
    # Then it is refused at the entities field, naming what does sync
    assert f"cannot sync {entity}; it supports issues, comments" in errors["entities"]
    # And a PATCH asking for it is refused at body.entities
    connection = make_connection(**overrides)
    with pytest.raises(ValidationFailed) as caught:
        connection.apply(ConnectionPatch(entities=["issues", entity]), now=NOW)
    [error] = caught.value.details["errors"]
    assert error["path"] == "body.entities"
    assert "it supports issues, comments" in error["message"]


def test_a_stored_connection_listing_other_entities_still_loads() -> None:
    # Given a connection stored before entities were limited to what syncs
    stored = make_connection(**JIRA).model_dump(mode="json") | {"entities": ["issues", "worklogs", "sprints"]}
    # Then it loads as stored
    assert Connection.model_validate(stored).entities == ["issues", "worklogs", "sprints"]
