"""Linear through the engine: the providers' full, incremental and deletion-sweep test, on the Linear sandbox.

The test body is :func:`tests.integration.sync.test_providers_sync.test_full_incremental_and_sweep`, reused
as it is; only the ``provider`` fixture differs (that module's is GitLab's and Jira's).
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.trackers.core import SandboxTracker
from tests.integration.sync.conftest import Provider
from tests.integration.sync.test_providers_sync import test_full_incremental_and_sweep
from tests.support.sandboxes import fresh

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sync")]

__all__ = ["test_full_incremental_and_sweep"]


@pytest.fixture
def provider(small_sandboxes: dict[str, SandboxTracker[Any]]) -> Provider:
    return Provider("linear", fresh(small_sandboxes["linear"]))
