"""Strings people read back (names, scope values, the Jira e-mail) hold no control characters."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from trackbridge.domain.connections import ConnectionCreate, ConnectionPatch

CONTROLS = ["\x00", "\r", "\n", "\r\n", "\t", "\x1b[31m", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"]


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "web",
        "provider": "github",
        "base_url": "https://api.github.com",
        "scope": {"repo": "acme/web"},
        "credentials": {"token": "fake-token"},
    }
    base.update(overrides)
    return base


def error_locations(exc: ValidationError) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


@pytest.mark.parametrize("control", CONTROLS)
def test_a_name_with_a_control_character_is_refused_at_its_field(control: str) -> None:
    with pytest.raises(ValidationError) as created:
        ConnectionCreate.model_validate(body(name=f"web{control}admin"))
    with pytest.raises(ValidationError) as patched:
        ConnectionPatch.model_validate({"name": f"{control}web"})

    assert error_locations(created.value) == [("name",)]
    assert "control characters" in created.value.errors()[0]["msg"]
    assert error_locations(patched.value) == [("name",)]


@pytest.mark.parametrize("control", ["\x00", "\n", "\x1b"])
def test_scope_values_and_the_jira_email_refuse_control_characters(control: str) -> None:
    jira = {"provider": "jira", "base_url": "https://acme.atlassian.net"}
    with pytest.raises(ValidationError) as project:
        ConnectionCreate.model_validate(
            body(**jira, scope={"project": f"OPS{control}"}, credentials={"email": "a@b.c", "api_token": "t"})
        )
    with pytest.raises(ValidationError) as email:
        ConnectionCreate.model_validate(
            body(**jira, scope={"project": "OPS"}, credentials={"email": f"a{control}@b.c", "api_token": "t"})
        )

    assert ("scope", "project") in error_locations(project.value)
    assert error_locations(email.value)[0][0] == "credentials"


def test_a_multi_line_jql_is_still_a_query_but_nul_is_not() -> None:
    jira = {"provider": "jira", "base_url": "https://acme.atlassian.net"}
    credentials = {"email": "a@b.c", "api_token": "t"}
    ok = ConnectionCreate.model_validate(
        body(**jira, scope={"jql": "project = OPS\n\tAND status != Done\r\n"}, credentials=credentials)
    )
    with pytest.raises(ValidationError) as nul:
        ConnectionCreate.model_validate(
            body(**jira, scope={"jql": "project = OPS\x00"}, credentials=credentials)
        )

    assert ok.scope.jql is not None
    assert ("scope", "jql") in error_locations(nul.value)


def test_ordinary_names_still_pass() -> None:
    for name in ("web", "Équipe données \u2013 prod", "日本語のプロジェクト", "a b\u00a0c", "emoji 🚀"):
        assert ConnectionCreate.model_validate(body(name=name)).name == name
