"""The environment every benchmark sets before it starts moto: fake credentials, one region, and tracing
and debug logging off (what the embedded stack's functions run with)."""

from __future__ import annotations

import os

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def use_fake_aws() -> None:
    """Point this process (and the children it starts) at fake AWS credentials, never a real profile."""
    os.environ.update(FAKE_AWS)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


__all__ = ["FAKE_AWS", "use_fake_aws"]
