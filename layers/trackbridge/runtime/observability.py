"""Logger, Tracer and Metrics from Powertools, one of each per process, as Powertools recommends.

They are module-level so handlers can use them as decorators. Measured on this machine: constructing the
Tracer costs about 0.15 s beyond the botocore import every function pays anyway (it loads the X-Ray SDK),
once per cold start, and it disables itself outside Lambda (tests, the embedded stack). No AWS client is
built here.

Never pass a secret, a token or a request body to these loggers: log ids and counts with stable dotted event
names (``logger.info("connections.created", extra={"connection_id": ...})``).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "trackbridge"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)

__all__ = ["logger", "metrics", "tracer"]
