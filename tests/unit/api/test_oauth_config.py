"""Jira OAuth settings: the redirect URI a request implies, and clear errors when OAuth is not configured."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from trackbridge.domain.errors import DependencyFailure
from trackbridge.runtime.jira_oauth import JiraOAuthConfig, redirect_uri_for
from trackbridge.runtime.settings import Settings


@pytest.mark.parametrize(
    ("context_path", "host", "proto", "expected"),
    [
        # execute-api: the stage is in requestContext.path, not in path
        (
            "/v1/v1/oauth/jira/start",
            "abc.execute-api.us-east-1.amazonaws.com",
            "https",
            "https://abc.execute-api.us-east-1.amazonaws.com/v1/v1/oauth/jira/callback",
        ),
        # custom domain or the local gateway: the two paths are equal
        ("/v1/oauth/jira/start", "127.0.0.1:8000", "http", "http://127.0.0.1:8000/v1/oauth/jira/callback"),
    ],
)
def test_redirect_uri_follows_the_host_and_stage(
    context_path: str, host: str, proto: str, expected: str
) -> None:
    event = {
        "path": "/v1/oauth/jira/start",
        "headers": {"X-Forwarded-Proto": proto},
        "requestContext": {"path": context_path, "domainName": host},
    }
    assert redirect_uri_for(event) == expected


@pytest.fixture
def client(moto_endpoint: str) -> Any:
    # moto's server, not mock_aws: leaving mock_aws would reset the state other tests of this worker use.
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def prefix() -> str:
    return f"tb-{uuid.uuid4().hex[:10]}/_app/"


def settings(**values: str) -> Settings:
    return Settings.from_env({"TB_SECRETS_TTL_S": "0", **values})


@pytest.mark.integration
def test_unconfigured_oauth_is_a_503_that_says_what_to_do(client: Any, prefix: str) -> None:
    unset = JiraOAuthConfig(client, settings())
    missing = JiraOAuthConfig(
        client,
        settings(TB_JIRA_OAUTH_APP_SECRET=f"{prefix}jira-oauth", TB_OAUTH_STATE_KEY_SECRET=f"{prefix}key"),
    )
    client.create_secret(Name=f"{prefix}short", SecretString="too-short")
    short = JiraOAuthConfig(client, settings(TB_OAUTH_STATE_KEY_SECRET=f"{prefix}short"))

    for call in (unset.app, unset.state_key, missing.app, missing.state_key, short.state_key):
        with pytest.raises(DependencyFailure) as caught:
            call()
        assert caught.value.code == "OAUTH_NOT_CONFIGURED"
        assert caught.value.status == 503
        assert caught.value.guidance
    with pytest.raises(DependencyFailure) as caught:
        missing.app()
    assert caught.value.details == {"secret_name": f"{prefix}jira-oauth"}


@pytest.mark.integration
def test_configured_app_uses_atlassian_by_default_and_the_override_when_set(client: Any, prefix: str) -> None:
    client.create_secret(
        Name=f"{prefix}jira-oauth", SecretString='{"client_id": "cid", "client_secret": "app-secret-value"}'
    )
    default = JiraOAuthConfig(client, settings(TB_JIRA_OAUTH_APP_SECRET=f"{prefix}jira-oauth"))
    local = JiraOAuthConfig(
        client,
        settings(
            TB_JIRA_OAUTH_APP_SECRET=f"{prefix}jira-oauth",
            TB_JIRA_OAUTH_BASE_URL="http://127.0.0.1:9",
            TB_JIRA_OAUTH_REDIRECT_URI="http://127.0.0.1:8/v1/oauth/jira/callback",
        ),
    )

    app = default.app("https://api.example/v1/oauth/jira/callback")
    sandbox = local.app("https://ignored.example/cb")

    assert app.client_id == "cid"
    assert app.endpoints.token_url == "https://auth.atlassian.com/oauth/token"
    assert app.redirect_uri == "https://api.example/v1/oauth/jira/callback"
    assert "app-secret-value" not in repr(app)
    assert sandbox.endpoints.token_url == "http://127.0.0.1:9/oauth/token"
    assert sandbox.redirect_uri == "http://127.0.0.1:8/v1/oauth/jira/callback"
