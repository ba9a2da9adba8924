"""Sandbox trackers: faithful fake Jira Cloud, GitHub and GitLab servers on loopback.

Used by ``trackbridge local up``, ``trackbridge sandbox serve``, the tests and the benchmarks. Contracts:

- :data:`PROVIDERS` maps a provider name to its :class:`~infra.local.trackers.core.SandboxTracker` class.
  Adding a provider is one line here (plus its module on top of ``core``).
- :func:`start_sandboxes` starts one server per provider (``port=0``: free ports; ``port=N``: N, N+1, ... in
  registry order) and returns a :class:`~infra.local.trackers.core.SandboxCluster`, whose ``describe()`` is
  the DESIGN local.json ``trackers`` object: ``{"github": {"url", "token", "webhook_secret", "repo"},
  "gitlab": {..., "project"}, "jira": {..., "email", "project"}}``; ``.trackers`` the started trackers;
  ``.stop()``.

See ``core.py`` for the base class, the control API under ``/_sandbox/`` and how to write a provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .core import SandboxCluster, SandboxTracker
from .github import GitHubSandbox
from .gitlab import GitLabSandbox
from .jira import JiraSandbox

__all__ = ["PROVIDERS", "SandboxCluster", "SandboxTracker", "start_sandboxes"]

PROVIDERS: dict[str, type[SandboxTracker[Any]]] = {
    "github": GitHubSandbox,
    "gitlab": GitLabSandbox,
    "jira": JiraSandbox,
}


def start_sandboxes(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    providers: Iterable[str] | None = None,
    seed: str = "demo",
    issues: int = 50,
    comments_per_issue: int = 3,
    closed_ratio: float = 0.3,
) -> SandboxCluster:
    """Seed and start the sandbox trackers of ``providers`` (default: all registered), one port each."""
    names = list(PROVIDERS) if providers is None else list(providers)
    unknown = [name for name in names if name not in PROVIDERS]
    if unknown:
        raise ValueError(f"unknown sandbox providers: {', '.join(unknown)}; known: {', '.join(PROVIDERS)}")
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for offset, name in enumerate(names):
            tracker = PROVIDERS[name](
                seed=seed, issues=issues, comments_per_issue=comments_per_issue, closed_ratio=closed_ratio
            )
            started[name] = tracker.start(host=host, port=port + offset if port else 0)
    except BaseException:
        for tracker in started.values():
            tracker.stop()
        raise
    return SandboxCluster(started)
