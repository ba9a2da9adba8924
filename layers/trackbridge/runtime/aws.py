"""Lazily built, cached boto3 clients: nothing is created at import time.

Clients honour ``AWS_ENDPOINT_URL`` (boto3 reads it natively), so the embedded stack needs no special path.
Tests that need fresh clients call :func:`reset_clients`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from trackbridge.runtime.settings import get_settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    settings = get_settings()
    return boto3.session.Session().client(service, region_name=settings.region, config=_CONFIG)


@cache
def resource(service: str) -> Any:
    settings = get_settings()
    return boto3.session.Session().resource(service, region_name=settings.region, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients and settings (tests and the local stack call this after changing env)."""
    client.cache_clear()
    resource.cache_clear()
    get_settings.cache_clear()


__all__ = ["client", "reset_clients", "resource"]
