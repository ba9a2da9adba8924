"""``trackbridge keys create --tenant T [--scopes a,b] [--local-state F]``: issue an API key, print it once.

With an existing local-state file (written by ``trackbridge local up``) the key goes to that embedded stack:
its endpoint, region and table replace the environment's, with moto's fake credentials so no real account
is ever addressed. Without the file the ambient AWS environment is used (``TB_TABLE_NAME``, credentials).

stdout carries the key and nothing else, so ``KEY=$(trackbridge keys create --tenant acme)`` works;
problems go to stderr with exit code 2 (bad input) or 1 (AWS failed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# moto accepts any credentials; these never reach AWS because the endpoint is local.
_FAKE_CREDENTIAL = "testing"


def _use_local_state(path: Path) -> None:
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    region = str(state.get("region") or "us-east-1")
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": str(state["aws_endpoint_url"]),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": _FAKE_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": _FAKE_CREDENTIAL,
            "TB_TABLE_NAME": str(state["table"]),
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def create(args: argparse.Namespace) -> int:
    from trackbridge.domain.errors import TrackbridgeError, ValidationFailed
    from trackbridge.runtime import container
    from trackbridge.runtime.api_keys import issue_api_key

    state_file = Path(args.local_state) if args.local_state else None
    if state_file is not None and state_file.is_file():
        try:
            _use_local_state(state_file)
        except (OSError, ValueError, KeyError) as exc:
            sys.stderr.write(f"error: cannot use {state_file}: {type(exc).__name__}: {exc}\n")
            return 2
    container.reset()
    scopes = tuple(s.strip() for s in str(args.scopes).split(",") if s.strip())
    try:
        token = issue_api_key(args.tenant, scopes)
    except ValidationFailed as exc:
        sys.stderr.write(f"error: {exc.message}: {exc.details}\n")
        return 2
    except TrackbridgeError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 1
    sys.stdout.write(token + "\n")
    return 0


__all__ = ["create"]
