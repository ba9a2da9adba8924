"""YouTrack through the engine: the providers' full/incremental/sweep case.

The full, incremental and deletion-sweep case is the one GitLab and Jira run
(:func:`tests.integration.sync.test_providers_sync.test_full_incremental_and_sweep`), collected here with
a ``provider`` fixture naming the YouTrack sandbox. YouTrack's fault matrix is no longer a copy here: the
matrix in :mod:`tests.integration.sync.test_fault_matrix` runs on every registered sandbox, YouTrack included.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.trackers.core import SandboxTracker
from tests.integration.sync.conftest import Provider
from tests.integration.sync.test_providers_sync import test_full_incremental_and_sweep

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

__all__ = ["test_full_incremental_and_sweep"]


@pytest.fixture
def provider(small_sandboxes: dict[str, SandboxTracker[Any]]) -> Provider:
    tracker = small_sandboxes["youtrack"]
    tracker.reset()
    return Provider("youtrack", tracker)
