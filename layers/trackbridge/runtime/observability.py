"""Logger, Tracer and Metrics from Powertools, one of each per process, as Powertools recommends.

They are module-level so handlers can use them as decorators. Measured on this machine: constructing the
Tracer costs about 0.15 s beyond the botocore import every function pays anyway (it loads the X-Ray SDK),
once per cold start, and it disables itself outside Lambda (tests, the embedded stack). No AWS client is
built here.

Never pass a secret, a token or a request body to these loggers: log ids and counts with stable dotted event
names (``logger.info("connections.created", extra={"connection_id": ...})``).

Metrics are CloudWatch EMF lines on stdout, as Lambda wants them. ``POWERTOOLS_METRICS_DISABLED=true`` (the
embedded stack sets it for its functions) must silence them completely; :class:`QuietWhenDisabledEMF`
makes it so, and changes nothing while metrics are enabled.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

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


logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(provider=QuietWhenDisabledEMF(namespace=SERVICE, service=SERVICE))

__all__ = ["QuietWhenDisabledEMF", "logger", "metrics", "tracer"]
