"""Scheduler-maintenance entry point, run by an EventBridge rule (and by ``trackbridge maintenance run``).

Its job today is webhook liveness (``trackbridge.runtime.webhooks.liveness``): every registered hook is
checked at most once per ``TB_WEBHOOK_CHECK_INTERVAL_S`` (5 minutes by default; the rule's own rate is the
floor), repaired when the tracker disabled or lost it, Jira REST hooks are refreshed before they expire and
their failed deliveries replayed, and connections whose hook is inactive get their fallback incremental
syncs (``triggered_by: webhook_fallback``). Stale sync locks and schedule reconciliation arrive with the
features they maintain.

The liveness service is composed here from the composition root's cached parts (it may not import the
container itself); :func:`build_liveness` is what the CLI runs too.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trackbridge.runtime import container
from trackbridge.runtime.observability import logger
from trackbridge.runtime.webhooks.liveness import LivenessReport, LivenessSettings, WebhookLiveness


def build_liveness(settings: LivenessSettings | None = None) -> WebhookLiveness:
    from trackbridge.runtime.connections import new_webhook_secret
    from trackbridge.runtime.webhooks.liveness import IngestReplay
    from trackbridge.storage.webhooks import WebhookRoutes

    return WebhookLiveness(
        routes=WebhookRoutes(container.table()),
        connections=container.connection_repository(),
        adapters=container.adapter_pool(),
        syncs=container.sync_service(),
        secrets=container.connection_secrets(),
        audit=container.audit_repository(),
        new_secret=new_webhook_secret,
        replay=IngestReplay(container.webhook_ingest()),
        settings=settings or LivenessSettings.from_env(),
    )


def run_maintenance(*, force: bool = False) -> LivenessReport:
    """One maintenance pass now; ``force`` checks every hook even if it was checked recently."""
    return build_liveness().run(force=force)


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = run_maintenance()
    # Operator alerts whose channel failed when they were raised are retried here (bounded, with back-off).
    alerts = container.operator_alerts().retry_pending()
    return {
        "ran": ["webhook_liveness", "alert_retries"],
        "time": event.get("time"),
        "webhooks": report.counts(),
        "alerts": alerts.as_dict(),
    }
