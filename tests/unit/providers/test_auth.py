"""Credentials become auth objects that set the right header and never show the secret."""

from __future__ import annotations

import base64
import logging
import pickle

import httpx
import pytest

from trackbridge.domain.errors import ValidationFailed
from trackbridge.providers.auth import BasicCredentialsAuth, BearerTokenAuth, HeaderTokenAuth
from trackbridge.providers.errors import TrackerError
from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.registry import auth_from_credentials

from .conftest import GITHUB_TOKEN, FakeTracker, json_response


def _applied(auth: httpx.Auth) -> httpx.Request:
    request = httpx.Request("GET", "https://tracker.example.com/x")
    return next(auth.sync_auth_flow(request))


def test_github_bearer() -> None:
    auth = auth_from_credentials("github", {"token": "ghp_abc"})
    assert _applied(auth).headers["Authorization"] == "Bearer ghp_abc"


def test_gitlab_private_token_header() -> None:
    auth = auth_from_credentials("gitlab", {"token": " glpat-abc "})
    request = _applied(auth)
    assert request.headers["PRIVATE-TOKEN"] == "glpat-abc"
    assert "Authorization" not in request.headers


def test_basic_for_email_and_api_token() -> None:
    auth = BasicCredentialsAuth("me@example.com", "jira-secret")
    expected = "Basic " + base64.b64encode(b"me@example.com:jira-secret").decode()
    assert _applied(auth).headers["Authorization"] == expected


@pytest.mark.parametrize(
    "credentials",
    [{}, {"token": ""}, {"token": "   "}, {"token": 123}, {"api_token": "x"}, "ghp_as_a_string"],
)
def test_bad_credentials_name_the_keys_not_the_values(credentials: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        auth_from_credentials("github", credentials)  # type: ignore[arg-type]
    assert "token" in caught.value.message
    assert "ghp_as_a_string" not in caught.value.message
    assert "ghp_as_a_string" not in str(caught.value.details)


def test_unknown_provider_lists_the_supported_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        auth_from_credentials("bugzilla", {"token": "x"})
    assert "github" in caught.value.message
    assert "gitlab" in caught.value.message


@pytest.mark.parametrize(
    "auth",
    [
        BearerTokenAuth("s3cr3t-token"),
        HeaderTokenAuth("s3cr3t-token", header="PRIVATE-TOKEN"),
        BasicCredentialsAuth("u", "s3cr3t-token"),
    ],
)
def test_reprs_and_state_do_not_show_the_secret(auth: httpx.Auth) -> None:
    assert "s3cr3t" not in repr(auth)
    assert "s3cr3t" not in str(auth)
    assert "s3cr3t" not in repr(vars(auth))
    assert "redacted" in repr(auth)


def test_no_token_in_logs_errors_or_adapter_repr(
    github: GitHubAdapter, fake: FakeTracker, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a tracker that fails, retries and finally rejects the token
    fake.on(
        "GET",
        "/repos/acme/widgets",
        json_response(503, {"message": "unavailable"}),
        json_response(401, {"message": "Bad credentials"}),
    )
    caplog.set_level(logging.DEBUG)
    # When the adapter works through it
    with pytest.raises(TrackerError) as caught:
        github.request("GET", "/repos/acme/widgets")
    # Then the token went out on the wire, but nowhere else
    assert GITHUB_TOKEN in fake.requests[0].headers["authorization"]
    captured = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "tracker.retry" in captured  # the retry was logged...
    assert GITHUB_TOKEN not in captured  # ...without the token
    assert GITHUB_TOKEN not in repr(caught.value) + str(caught.value) + str(caught.value.to_dict())
    assert GITHUB_TOKEN not in repr(github) + repr(vars(github))


def test_auth_objects_refuse_to_be_serialized() -> None:
    # A pickled auth object would put the secret in a cache, a queue or on disk.
    with pytest.raises(TypeError, match="cannot be serialized"):
        pickle.dumps(BearerTokenAuth("s3cr3t-token"))
