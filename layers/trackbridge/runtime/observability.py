"""Logger, Tracer and Metrics from Powertools, one of each per process, as Powertools recommends.

They are module-level so handlers can use them as decorators. No AWS client is built here.

The X-Ray SDK is loaded only when tracing is on. Powertools' Tracer builds its default provider (the SDK's
recorder, 0.1 to 0.25 s of import measured by ``benchmarks/cold_imports.py``) even when it then disables
itself, as it does outside Lambda (tests, the embedded stack) or under ``POWERTOOLS_TRACE_DISABLED``. By the
same rule Powertools applies, a disabled Tracer here gets :class:`NoTracing` instead, which opens empty
segments; on Lambda with tracing on, the Tracer is Powertools' own with the SDK's recorder.

Never pass a secret, a token or a request body to these loggers: log ids and counts with stable dotted event
names (``logger.info("connections.created", extra={"connection_id": ...})``).

Metrics are CloudWatch EMF lines on stdout, as Lambda wants them. ``POWERTOOLS_METRICS_DISABLED=true`` (the
embedded stack sets it for its functions) must silence them completely; :class:`QuietWhenDisabledEMF`
makes it so, and changes nothing while metrics are enabled.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

SERVICE = "trackbridge"


class QuietWhenDisabledEMF(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, silent and bounded while ``POWERTOOLS_METRICS_DISABLED`` is set.

    Powertools 3.x checks the switch only when it flushes, and then neither prints nor clears: the metric
    set grows across invocations until a metric holds 100 values, which ``add_metric`` prints as EMF
    anyway, and the cold-start metric is printed by ``single_metric``, which never checks the switch.
    Here a disabled flush drops what was collected and the cold-start metric is not built. Enabled (on
    Lambda), both methods are Powertools' own.
    """

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if is_metrics_disabled():
            self.clear_metrics()
            return
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)

    def add_cold_start_metric(self, context: Any) -> None:
        if is_metrics_disabled():
            return
        super().add_cold_start_metric(context)


class _EmptySegment(BaseSegment):
    """A segment that records nothing."""

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class NoTracing(BaseProvider):
    """The Tracer's provider while tracing is off: what the X-Ray SDK's disabled recorder does, without
    importing the SDK."""

    @contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _EmptySegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> Any:
        yield _EmptySegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


def tracing_disabled() -> bool:
    """Powertools' own rule: off under ``POWERTOOLS_TRACE_DISABLED``, outside Lambda, under SAM or Chalice."""
    return bool(Tracer._is_tracer_disabled())


def _tracer() -> Tracer:
    if tracing_disabled():
        return Tracer(service=SERVICE, disabled=True, provider=NoTracing())
    return Tracer(service=SERVICE)


logger = Logger(service=SERVICE)
tracer = _tracer()
metrics = Metrics(provider=QuietWhenDisabledEMF(namespace=SERVICE, service=SERVICE))

__all__ = ["NoTracing", "QuietWhenDisabledEMF", "logger", "metrics", "tracer", "tracing_disabled"]
