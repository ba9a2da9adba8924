"""Lazily built, cached boto3 clients: nothing is created at import time.

Clients honour ``AWS_ENDPOINT_URL`` (boto3 reads it natively), so the embedded stack needs no special path,
and take their timeouts from the settings (``TB_AWS_CONNECT_TIMEOUT_S``, ``TB_AWS_READ_TIMEOUT_S``).
Tests that need fresh clients call :func:`reset_clients`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from trackbridge.runtime.settings import Settings, get_settings

MAX_ATTEMPTS = 4


def client_config(settings: Settings) -> Config:
    """What every client is built with: standard retries, and the timeouts ``settings`` read
    (``TB_AWS_CONNECT_TIMEOUT_S`` / ``TB_AWS_READ_TIMEOUT_S``, 3 s and 10 s unless set)."""
    return Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=settings.aws_connect_timeout_s,
        read_timeout=settings.aws_read_timeout_s,
    )


@cache
def client(service: str) -> Any:
    settings = get_settings()
    return boto3.session.Session().client(
        service, region_name=settings.region, config=client_config(settings)
    )


@cache
def resource(service: str) -> Any:
    settings = get_settings()
    return boto3.session.Session().resource(
        service, region_name=settings.region, config=client_config(settings)
    )


def reset_clients() -> None:
    """Forget cached clients and settings (tests and the local stack call this after changing env)."""
    client.cache_clear()
    resource.cache_clear()
    get_settings.cache_clear()


__all__ = ["MAX_ATTEMPTS", "client", "client_config", "reset_clients", "resource"]
