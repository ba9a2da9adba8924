"""The tenant API-key authorizer (API Gateway TOKEN authorizer; REQUEST events are accepted too).

A valid key yields an Allow policy on ``arn:...:{api}/{stage}/*``, not only on the method being called:
API Gateway caches the decision per token (``AUTHORIZER_CACHE_TTL_S``), and a policy naming one route
would deny every other route for the rest of the cache period. The tenant, key id and scopes travel in
``context`` (strings, as API Gateway requires) to ``requestContext.authorizer`` of the API function, and so
does the tenant's request rate limit (``rate_limit``, requests a minute; ``runtime.rate_limits``): read here,
once per cached decision, so the API function can count requests without reading it. No limit (0), or a
limit that cannot be read, leaves it out: nothing is counted, and a valid key is never locked out.

Anything else raises ``Unauthorized``; ``functions/authorizer.py`` turns it into API Gateway's convention.
The token is never logged: only the key id, which is public.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import parse_api_gateway_arn

from trackbridge.domain.api_keys import bearer_token
from trackbridge.domain.errors import TrackbridgeError, Unauthorized
from trackbridge.runtime.api_keys import ApiKeyService
from trackbridge.runtime.observability import logger, metrics
from trackbridge.runtime.rate_limits import RateLimiter


def _authorization_header(event: Mapping[str, Any]) -> str | None:
    if event.get("type") == "TOKEN":
        token = event.get("authorizationToken")
        return token if isinstance(token, str) else None
    headers = event.get("headers") or {}
    if not isinstance(headers, Mapping):
        return None
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == "authorization" and isinstance(value, str):
            return value
    return None


def _wildcard_resource(method_arn: Any) -> str:
    try:
        arn = parse_api_gateway_arn(str(method_arn))
    except (IndexError, ValueError):
        raise Unauthorized("malformed methodArn") from None
    if not (arn.region and arn.aws_account_id and arn.api_id and arn.stage):
        raise Unauthorized("malformed methodArn")
    return f"arn:{arn.partition}:execute-api:{arn.region}:{arn.aws_account_id}:{arn.api_id}/{arn.stage}/*"


def _rate_limit(limits: RateLimiter | None, tenant: str) -> dict[str, str]:
    if limits is None:
        return {}
    try:
        limit = limits.limit_of(tenant).requests_per_minute
    except TrackbridgeError:
        logger.warning("authorizer.rate_limit_unavailable", extra={"tenant": tenant})
        return {}
    return {"rate_limit": str(limit)} if limit > 0 else {}  # none: not counted at all


def authorize(
    event: Mapping[str, Any], keys: ApiKeyService, limits: RateLimiter | None = None
) -> dict[str, Any]:
    """The authorizer response for a valid key; Unauthorized for any other event."""
    try:
        resource = _wildcard_resource(event.get("methodArn"))
        key = keys.authenticate(bearer_token(_authorization_header(event)))
    except Unauthorized as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        logger.info(
            "authorizer.denied", extra={"reason": details.get("reason"), "key_id": details.get("key_id")}
        )
        metrics.add_metric(name="AuthorizerDenied", unit=MetricUnit.Count, value=1)
        raise
    logger.info("authorizer.allowed", extra={"tenant": key.tenant, "key_id": key.key_id})
    metrics.add_metric(name="AuthorizerAllowed", unit=MetricUnit.Count, value=1)
    return {
        "principalId": key.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}],
        },
        "context": {
            "tenant": key.tenant,
            "key_id": key.key_id,
            "scopes": ",".join(key.scopes),
            **_rate_limit(limits, key.tenant),
        },
    }


__all__ = ["authorize"]
