"""Fixtures for the sandbox tracker tests.

``github_sandbox`` is one started GitHub sandbox per test process (seeding and starting once keeps the
suite fast); ``github`` hands it to a test freshly reset, so tests never see each other's writes, hooks,
faults or counters. ``hook_receiver`` is an independent webhook endpoint built on ``http.server`` (not on
the sandbox core, see ``tests.support.hooks``) that records the exact bytes and headers of every delivery,
so signature checks in the tests verify what actually crossed the wire.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from infra.local.trackers.github import GitHubSandbox
from infra.local.trackers.gitlab import GitLabSandbox
from infra.local.trackers.jira import JiraSandbox
from tests.support.hooks import HookReceiver, Received, serve_hooks
from tests.support.sandboxes import fresh

__all__ = ["SEED_ISSUES", "HookReceiver", "Received"]  # the tests import these from here

# 120 issues: three pages of 50, so multi-page walks are exercised with small data.
SEED_ISSUES = 120


@pytest.fixture(scope="session")
def github_sandbox() -> Iterator[GitHubSandbox]:
    with GitHubSandbox(seed="tests", issues=SEED_ISSUES, comments_per_issue=3) as tracker:
        yield tracker


@pytest.fixture
def github(github_sandbox: GitHubSandbox) -> GitHubSandbox:
    return fresh(github_sandbox)


@pytest.fixture
def github_http(github: GitHubSandbox) -> Iterator[httpx.Client]:
    headers = {
        "Authorization": f"Bearer {github.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(base_url=github.url, headers=headers, timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def gitlab_sandbox() -> Iterator[GitLabSandbox]:
    with GitLabSandbox(seed="tests", issues=SEED_ISSUES, comments_per_issue=3) as tracker:
        yield tracker


@pytest.fixture
def gitlab(gitlab_sandbox: GitLabSandbox) -> GitLabSandbox:
    """The session's GitLab sandbox, freshly reset (data, hooks, faults, counters, real clock)."""
    return fresh(gitlab_sandbox)


@pytest.fixture
def gitlab_http(gitlab: GitLabSandbox) -> Iterator[httpx.Client]:
    api, headers = f"{gitlab.url}/api/v4", {"PRIVATE-TOKEN": gitlab.token}
    with httpx.Client(base_url=api, headers=headers, timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def jira_sandbox() -> Iterator[JiraSandbox]:
    with JiraSandbox(seed="tests", issues=SEED_ISSUES, comments_per_issue=3, worklogs_per_issue=2) as tracker:
        yield tracker


@pytest.fixture
def jira(jira_sandbox: JiraSandbox) -> JiraSandbox:
    """The session's Jira sandbox, freshly reset (data, hooks, OAuth grants, faults, counters, real clock)."""
    return fresh(jira_sandbox)


@pytest.fixture
def jira_http(jira: JiraSandbox) -> Iterator[httpx.Client]:
    """Basic auth with the API user's e-mail and token, as a personal script calls Jira Cloud."""
    auth = (jira.email, jira.token)
    with httpx.Client(base_url=jira.url, auth=auth, timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def _hook_server() -> Iterator[HookReceiver]:
    with serve_hooks() as receiver:
        yield receiver


@pytest.fixture
def hook_receiver(_hook_server: HookReceiver) -> HookReceiver:
    _hook_server.clear()
    return _hook_server
