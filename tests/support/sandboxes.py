"""Handing a session's sandbox tracker to one test: started once per process, reset for every test.

Sandboxes listen on loopback, which trackbridge's outbound policy refuses by default. Tests reach them the
way the embedded stack does, by allowlisting exactly their host and port: :func:`allowlist_for` gives the
policy to inject into an adapter built by hand (``egress=``), and :func:`egress_allowed` puts the same
entries into ``TB_ALLOWED_PRIVATE_NETWORKS`` for code that takes the policy from the settings (the
connection service, the sync engine, the API's adapters).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from infra.definition import ALLOWED_PRIVATE_NETWORKS_ENV
from infra.local.stack import sandbox_allowlist
from infra.local.trackers.core import SandboxTracker
from trackbridge.domain.egress import EgressPolicy

_S = TypeVar("_S", bound=SandboxTracker[Any])


def fresh(sandbox: _S) -> _S:
    """``sandbox`` on the real clock and re-seeded: data, hooks, faults and counters as if just started."""
    sandbox.clock.unfreeze()
    sandbox.reset()
    return sandbox


def allowlist_entries(*urls: str) -> str:
    """``TB_ALLOWED_PRIVATE_NETWORKS`` entries for exactly these loopback URLs' host and port."""
    return sandbox_allowlist({str(n): {"url": url} for n, url in enumerate(urls)})


def allowlist_for(*urls: str) -> EgressPolicy:
    """The outbound policy that allows exactly these loopback URLs' host and port, and public addresses."""
    return EgressPolicy.parse(allowlist_entries(*urls))


@contextmanager
def egress_allowed(*urls: str) -> Iterator[str]:
    """While the block runs, the process's policy also allows these URLs' host:port (added to whatever
    ``TB_ALLOWED_PRIVATE_NETWORKS`` holds); the runtime's cached objects are rebuilt on entry and exit."""
    from trackbridge.runtime import container

    previous = os.environ.get(ALLOWED_PRIVATE_NETWORKS_ENV)
    value = ",".join(v for v in (previous, allowlist_entries(*urls)) if v)
    os.environ[ALLOWED_PRIVATE_NETWORKS_ENV] = value
    container.reset()
    try:
        yield value
    finally:
        if previous is None:
            os.environ.pop(ALLOWED_PRIVATE_NETWORKS_ENV, None)
        else:
            os.environ[ALLOWED_PRIVATE_NETWORKS_ENV] = previous
        container.reset()
