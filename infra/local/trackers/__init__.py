"""Sandbox trackers: faithful fake Jira Cloud, GitHub and GitLab servers on loopback.

Used by ``trackbridge local up``, ``trackbridge sandbox serve``, the tests and the benchmarks. Contracts:

- :data:`SANDBOXES` maps a provider name to its :class:`~infra.local.trackers.core.SandboxTracker` class: the
  registry every caller iterates (the contract suite's params, the sync tests, the benchmarks, the demo
  connections). Adding a provider is one line here plus its package on top of ``core`` (``github/``,
  ``gitlab/``, ``jira/``: ``sandbox.py`` with the class, route modules and state beside it).
  ``PROVIDERS`` is the same dict under its older name.
- Each sandbox class declares what callers need so none branches on its name: ``connection_request()``
  (the ``POST /v1/connections`` body for its seeded project), ``urls()``, ``listing_route``,
  ``issue_ref``/``open_issue``/``retitle_issue``/``close_issue``/``comment_on_issue``/``remove_comment``/
  ``remove_issue``, ``search_query``, ``issue_counts``, ``full_sync_floor`` and
  ``read_with_client_library`` (see ``core.SandboxTracker``).
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

from .azure_devops import Azure_DevOpsSandbox
from .core import SandboxCluster, SandboxTracker
from .github import GitHubSandbox
from .gitlab import GitLabSandbox
from .jira import JiraSandbox
from .linear import LinearSandbox
from .redmine import RedmineSandbox
from .youtrack import YouTrackSandbox

__all__ = ["PROVIDERS", "SANDBOXES", "SandboxCluster", "SandboxTracker", "start_sandboxes"]

SANDBOXES: dict[str, type[SandboxTracker[Any]]] = {
    "github": GitHubSandbox,
    "gitlab": GitLabSandbox,
    "jira": JiraSandbox,
    "linear": LinearSandbox,
    "redmine": RedmineSandbox,
    "youtrack": YouTrackSandbox,
    "azure_devops": Azure_DevOpsSandbox,
}
PROVIDERS = SANDBOXES


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
    names = list(SANDBOXES) if providers is None else list(providers)
    unknown = [name for name in names if name not in SANDBOXES]
    if unknown:
        raise ValueError(f"unknown sandbox providers: {', '.join(unknown)}; known: {', '.join(SANDBOXES)}")
    started: dict[str, SandboxTracker[Any]] = {}
    try:
        for offset, name in enumerate(names):
            tracker = SANDBOXES[name](
                seed=seed, issues=issues, comments_per_issue=comments_per_issue, closed_ratio=closed_ratio
            )
            started[name] = tracker.start(host=host, port=port + offset if port else 0)
    except BaseException:
        for tracker in started.values():
            tracker.stop()
        raise
    return SandboxCluster(started)
