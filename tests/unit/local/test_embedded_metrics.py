"""The embedded stack's functions print no EMF metrics; on Lambda they print them exactly as before.

The embedded stack sets ``POWERTOOLS_METRICS_DISABLED`` for its functions (``LocalResources.environment``).
Powertools 3.x alone would still print the cold-start metric and, every 100 invocations, the metrics it
kept collecting; ``observability.QuietWhenDisabledEMF`` closes both. Each case runs in a fresh interpreter:
the cold-start flag and the metric set are process-global.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# A handler decorated as functions/api.py is, invoked 150 times; stdout is what CloudWatch would get.
PROGRAM = """
from aws_lambda_powertools.metrics import MetricUnit
from trackbridge.runtime.observability import metrics

class Context:
    function_name = "trackbridge-dev-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:trackbridge-dev-api"
    aws_request_id = "r-1"

@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    metrics.add_metric(name="Api2xx", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}

for _ in range(150):
    handler({}, Context())
"""


def run(**environment: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env.update(environment, PYTHONPATH=os.pathsep.join([str(ROOT / "layers"), str(ROOT)]))
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout.splitlines()


def test_the_embedded_stack_environment_disables_metrics() -> None:
    from infra.local.provision import LocalResources

    resources = LocalResources(
        stage="local",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        table_name="t",
        queue_urls=dict.fromkeys(("inbound", "sync", "auto_issue"), "u"),
        queue_arns=dict.fromkeys(("inbound", "sync", "auto_issue"), "a"),
        event_bus_name="b",
        event_bus_arn="b",
        schedule_group="g",
        scheduler_role_arn="r",
        alerts_topic_arn="t",
    )

    assert resources.environment()["POWERTOOLS_METRICS_DISABLED"] == "true"


def test_with_metrics_disabled_nothing_is_printed_not_even_the_cold_start() -> None:
    assert run(POWERTOOLS_METRICS_DISABLED="true") == []


def test_on_lambda_every_invocation_prints_its_emf_line_and_the_cold_start_once() -> None:
    lines = [json.loads(line) for line in run(POWERTOOLS_SERVICE_NAME="trackbridge")]

    cold_starts = [line for line in lines if "ColdStart" in line]
    api = [line for line in lines if "Api2xx" in line]
    assert len(cold_starts) == 1
    assert cold_starts[0]["function_name"] == "trackbridge-dev-api"
    assert len(api) == 150
    assert all(line["Api2xx"] == [1.0] for line in api)
    assert api[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "trackbridge"
