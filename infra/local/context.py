"""A LambdaContext for handlers the embedded stack calls in-process.

Handlers read the context for more than logging: the sync engine stops a slice when
``get_remaining_time_in_millis()`` runs low, so the countdown starts at the function's real timeout from
``infra.definition.FUNCTIONS`` and runs on a monotonic clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.definition import FunctionSpec
from infra.local.provision import MOTO_ACCOUNT_ID


@dataclass(frozen=True)
class LocalLambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float
    function_version: str = "$LATEST"
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


def function_arn(spec: FunctionSpec, *, stage: str, region: str) -> str:
    return f"arn:aws:lambda:{region}:{MOTO_ACCOUNT_ID}:function:{spec.name(stage)}"


def make_context(
    spec: FunctionSpec,
    *,
    stage: str,
    region: str,
    clock: Callable[[], float] = time.monotonic,
) -> LocalLambdaContext:
    """A fresh context for one invocation of ``spec``, its countdown started now."""
    name = spec.name(stage)
    return LocalLambdaContext(
        function_name=name,
        memory_limit_in_mb=spec.memory_mb,
        invoked_function_arn=function_arn(spec, stage=stage, region=region),
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        deadline=clock() + spec.timeout_s,
        clock=clock,
    )


__all__ = ["LocalLambdaContext", "function_arn", "make_context"]
