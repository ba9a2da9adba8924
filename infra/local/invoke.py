"""The function table of the embedded stack: which callable runs for each ``FunctionSpec`` key.

On AWS, API Gateway, SQS and Scheduler invoke Lambda functions; locally the gateway, the pollers and the
scheduler call the same handlers in-process through :class:`LocalFunctions`. Handlers are imported lazily
from ``FUNCTIONS[...].handler`` on first use, so starting the stack does not pay for every function's
imports, and tests can swap any function for a small double without patching.

Lambda runs one invocation at a time in an execution environment, and handler code is entitled to rely on
it: Powertools' REST resolver keeps the current event on a class attribute, and a warm module may cache
per-invocation state. The local gateway, pollers and scheduler call from many threads, so each function
here is one execution environment: :meth:`LocalFunctions.invoke` holds that function's lock for the whole
call, and callers of *different* functions still run in parallel (the api handler while a sync slice runs).
A lock per function was measured against a pool of interpreter processes and chosen: requests through the
gateway keep their in-process cost (no pickling of events, no second copy of moto's clients), and the
suite's stacks stay one process; the README's security section gives the figures.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from infra.definition import FUNCTIONS, FunctionSpec
from infra.local.context import LocalLambdaContext, make_context

Handler = Callable[[Any, Any], Any]


class UnknownFunction(KeyError):
    """A function key that is not in ``infra.definition.FUNCTIONS``."""


def import_handler(path: str) -> Handler:
    """``"functions.api.handler"`` -> the ``handler`` attribute of module ``functions.api``."""
    module_name, _, attribute = path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{path} is not callable")
    return handler


class LocalFunctions:
    """Resolves and invokes handlers by function key, each call with a fresh LambdaContext."""

    def __init__(
        self,
        overrides: Mapping[str, Handler] | None = None,
        *,
        stage: str = "local",
        region: str = "us-east-1",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._specs: dict[str, FunctionSpec] = {spec.key: spec for spec in FUNCTIONS}
        unknown = set(overrides or ()) - set(self._specs)
        if unknown:
            raise UnknownFunction(f"no such function in infra.definition.FUNCTIONS: {sorted(unknown)}")
        self._handlers: dict[str, Handler] = dict(overrides or {})
        self._lock = threading.Lock()
        # One lock per function: the function's only execution environment is busy while it is held.
        self._environments: dict[str, threading.Lock] = {key: threading.Lock() for key in self._specs}
        self.stage = stage
        self.region = region
        self._clock = clock

    def spec(self, key: str) -> FunctionSpec:
        try:
            return self._specs[key]
        except KeyError:
            raise UnknownFunction(f"no such function: {key!r}") from None

    def key_for_name(self, function_name: str) -> str | None:
        """The key of the function deployed as ``function_name`` (as in a Lambda ARN), if it is ours."""
        for spec in self._specs.values():
            if spec.name(self.stage) == function_name:
                return spec.key
        return None

    def handler(self, key: str) -> Handler:
        spec = self.spec(key)
        with self._lock:
            if key not in self._handlers:
                self._handlers[key] = import_handler(spec.handler)
            return self._handlers[key]

    def context(self, key: str) -> LocalLambdaContext:
        return make_context(self.spec(key), stage=self.stage, region=self.region, clock=self._clock)

    def invoke(self, key: str, event: Any) -> Any:
        """Call the handler as Lambda would; exceptions propagate (the caller maps them as AWS does).

        Concurrent calls of one function wait for each other, as invocations queue for a function limited
        to one execution environment; calls of different functions do not.
        """
        handler = self.handler(key)
        with self._environments[key]:
            return handler(event, self.context(key))


__all__ = ["Handler", "LocalFunctions", "UnknownFunction", "import_handler"]
