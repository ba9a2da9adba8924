"""Operator alerts: channels (e-mail through SNS, Slack, a signed webhook), the dispatcher and its outbox,
incidents (``service.OperatorAlerts``) and the policy and channel administration (``admin.AlertSettings``).

Import from the submodules; this package imports none of them eagerly (httpx and boto3 load with the first
alert, not with the API's cold start).
"""

__all__: list[str] = []
