"""Repositories against moto's server (the shared ``local_resources`` session fixture provisions the table).

Tests isolate themselves by tenant: each gets fresh, unique tenant ids.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from trackbridge.storage.table import Table

if TYPE_CHECKING:
    from infra.local.provision import LocalResources


@pytest.fixture(scope="module")
def table(local_resources: LocalResources) -> Table:
    return Table(local_resources.client("dynamodb"), local_resources.table_name)


def _tenant(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def tenant() -> str:
    return _tenant("a")


@pytest.fixture
def other_tenant() -> str:
    return _tenant("b")
