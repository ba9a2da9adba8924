"""The public REST API: ``/v1`` on API Gateway, the api and authorizer functions, and what guards them.

Shape (decided in the issue): the REST API stage is named after the CDK stage (``dev``, ``prod``) and every
route sits under a ``/v1`` resource, so ``https://<id>.execute-api.<region>.amazonaws.com/<stage>/v1/health``
reaches the api function with ``path == "/v1/health"``, the prefix its Powertools resolver routes on.
Routes come from ``infra.definition.ROUTES``, the table the embedded local gateway reads too: the proxy
``ANY /v1/{proxy+}`` is guarded by the tenant-key TOKEN authorizer; the explicit public routes (health,
OpenAPI, docs, OAuth callback) and the webhook route (signature-authenticated, served by the webhook
function) have none. API Gateway prefers the most specific resource, so the explicit routes win.

Around it: stage throttling, JSON access logs without any header values (the Authorization header is a
secret), execution logging at ERROR without request/response data, X-Ray, a request validator for the
parameters each route requires, gateway responses in the API's error shape, and a WAF web ACL with AWS
managed rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.constructs.alerts import Alerts
from infra.constructs.data import Data
from infra.constructs.function import FunctionKit, TrackbridgeFunction
from infra.constructs.nag import acknowledge
from infra.constructs.queues import Queues
from infra.constructs.scheduling import Scheduling
from infra.constructs.secrets import SecretsScope
from infra.definition import (
    API_THROTTLE_BURST,
    API_THROTTLE_RATE,
    APP,
    AUTHORIZER_CACHE_TTL_S,
    BINARY_MEDIA_TYPES,
    GATEWAY_RESPONSES,
    ROUTES,
    RouteSpec,
)
from trackbridge.domain.errors import error_body as domain_error_body

AUTHORIZATION_HEADER = "Authorization"

# One JSON object per request. Identity, route, outcome and timing; the tenant and key id come from the
# authorizer's context. No header, query string or body: those can carry credentials.
ACCESS_LOG_FIELDS = {
    "request_id": "$context.requestId",
    "extended_request_id": "$context.extendedRequestId",
    "time": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "resource": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "response_length": "$context.responseLength",
    "latency_ms": "$context.responseLatency",
    "integration_latency_ms": "$context.integrationLatency",
    "integration_status": "$context.integrationStatus",
    "tenant": "$context.authorizer.tenant",
    "key_id": "$context.authorizer.key_id",
    "waf": "$context.wafResponseCode",
    "xray_trace_id": "$context.xrayTraceId",
}
# $context.error.messageString is already a quoted JSON string, so it goes in without quotes.
ACCESS_LOG_FORMAT = (
    "{"
    + ",".join(f'"{key}":"{value}"' for key, value in ACCESS_LOG_FIELDS.items())
    + ',"error":$context.error.messageString}'
)

# AWS managed rule groups for the web ACL, in priority order.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
# Rules of the common rule set that only count: tracker webhooks routinely exceed its 8 KB body limit, and
# issue bodies and comments legitimately contain HTML and script snippets (code in bug reports).
COUNT_ONLY_RULES = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY", "CrossSiteScripting_BODY")}


def error_body(code: str, message: str) -> str:
    """The API's error shape (DESIGN section 7), for API Gateway's own responses: the one body builder's."""
    return json.dumps(domain_error_body(code, message))


def _required_parameters(route: RouteSpec) -> dict[str, bool]:
    parameters = {}
    for segment in route.path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            parameters[f"method.request.path.{segment[1:-1].rstrip('+')}"] = True
    if route.authorized:
        parameters[f"method.request.header.{AUTHORIZATION_HEADER}"] = True
    return parameters


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: FunctionKit,
        data: Data,
        queues: Queues,
        bus: events.IEventBus,
        scheduling: Scheduling,
        secrets: SecretsScope,
        alerts: Alerts,
        route_handlers: Mapping[str, lambda_.IFunction],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stage = kit.stage

        self.api_function = TrackbridgeFunction(self, "ApiFunction", key="api", kit=kit)
        api_fn = self.api_function.function
        data.grant_read_write(self.api_function)
        # Manual syncs and schedule triggers; POST /v1/events may enqueue directly.
        queues.sync.queue.grant_send_messages(api_fn)
        queues.auto_issue.queue.grant_send_messages(api_fn)
        bus.grant_put_events_to(api_fn)
        secrets.grant_manage(self.api_function)
        scheduling.grant_manage_schedules(self.api_function)
        # An operator's test alert to the email channel (POST /v1/alert-channels/email/test).
        alerts.grant_publish(self.api_function)

        self.authorizer_function = TrackbridgeFunction(self, "AuthorizerFunction", key="authorizer", kit=kit)
        authorizer_fn = self.authorizer_function.function
        # Looks up the hashed key and records last_used; nothing else.
        data.grant_read(self.authorizer_function, "dynamodb:UpdateItem")

        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/{APP}-{stage}/access",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{APP}-{stage}",
            description=f"{APP} {stage}: REST API /v1",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Uploads arrive base64 encoded, bytes intact; without this they would be mangled as text.
            binary_media_types=list(BINARY_MEDIA_TYPES),
            # Access and execution logs need the account's API Gateway logging role; see the acknowledgement.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                throttling_rate_limit=API_THROTTLE_RATE,
                throttling_burst_limit=API_THROTTLE_BURST,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Data tracing would log full requests, Authorization headers and credentials included.
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
            ),
        )
        acknowledge(
            self.rest_api,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway writes access and execution logs through one account-wide role; AWS provides this "
            "managed policy for exactly that role and it grants nothing but CloudWatch Logs writes.",
        )

        self.authorizer = apigw.TokenAuthorizer(
            self,
            "TenantKey",
            authorizer_name=f"{APP}-{stage}-tenant-key",
            handler=authorizer_fn,
            identity_source=apigw.IdentitySource.header(AUTHORIZATION_HEADER),
            results_cache_ttl=Duration.seconds(AUTHORIZER_CACHE_TTL_S),
        )
        self.validator = self.rest_api.add_request_validator(
            "Parameters",
            request_validator_name=f"{APP}-{stage}-parameters",
            validate_request_parameters=True,
        )
        acknowledge(
            self.rest_api,
            "APIG2",
            "API Gateway validates the parameters each route requires; bodies are validated by the api "
            "function against the pydantic models its OpenAPI document is generated from, so a second copy "
            "as API Gateway models could only drift from them.",
        )
        handlers: dict[str, lambda_.IFunction] = {"api": api_fn, **route_handlers}
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for route in ROUTES:
            self.methods[(route.method, route.path)] = self._add_route(route, handlers[route.function])

        for response_type, (status, code, message) in GATEWAY_RESPONSES.items():
            self.rest_api.add_gateway_response(
                f"Gateway{response_type.title().replace('_', '')}",
                type=apigw.ResponseType.of(response_type),  # cfn-lint checks the name against the enum
                status_code=str(status),
                response_headers={"Content-Type": "'application/json'"},
                templates={"application/json": error_body(code, message)},
            )

        self.web_acl = self._web_acl(stage)

    def _resource(self, path: str) -> apigw.IResource:
        resource: apigw.IResource = self.rest_api.root
        for segment in path.strip("/").split("/"):
            resource = resource.get_resource(segment) or resource.add_resource(segment)
        return resource

    def _add_route(self, route: RouteSpec, handler: lambda_.IFunction) -> apigw.Method:
        method = self._resource(route.path).add_method(
            route.method,
            apigw.LambdaIntegration(handler),
            authorizer=self.authorizer if route.authorized else None,
            authorization_type=apigw.AuthorizationType.CUSTOM
            if route.authorized
            else apigw.AuthorizationType.NONE,
            request_parameters=_required_parameters(route) or None,
            request_validator=self.validator,
        )
        acknowledge(
            method,
            "COG4",
            "Callers are services and scripts holding tenant API keys (DESIGN section 9), checked by the "
            "Lambda TOKEN authorizer; there are no Cognito user pools to authorize against.",
        )
        if not route.authorized:
            reason = (
                "Webhook deliveries carry no API key; the webhook function verifies the provider's signature "
                "on the raw body before accepting anything."
                if route.function == "webhook"
                else "Public by design: health, the OpenAPI document and its docs page reveal no tenant "
                "data, and the OAuth callback is bound to a tenant by its single-use state parameter."
            )
            acknowledge(method, "APIG4", reason)
        return method

    def _web_acl(self, stage: str) -> wafv2.CfnWebACL:
        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            )

        rules = []
        for priority, group in enumerate(MANAGED_RULE_GROUPS):
            overrides = [
                wafv2.CfnWebACL.RuleActionOverrideProperty(
                    name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                )
                for rule in COUNT_ONLY_RULES.get(group, ())
            ]
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=group, rule_action_overrides=overrides or None
                        )
                    ),
                    visibility_config=visibility(group),
                )
            )
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{APP}-{stage}-api",
            description=f"{APP} {stage}: AWS managed rules in front of the REST API",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{APP}-{stage}-api"),
            rules=rules,
        )
        # The stage ARN refers to the stage resource, so CloudFormation associates after the stage exists.
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl


__all__ = ["ACCESS_LOG_FORMAT", "Api", "error_body"]
