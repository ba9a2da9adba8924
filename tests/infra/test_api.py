"""The REST API: routes from ROUTES, the authorizer on exactly the authorized ones, and the stage's guards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.function import spec_for
from infra.definition import (
    API_THROTTLE_BURST,
    API_THROTTLE_RATE,
    AUTHORIZER_CACHE_TTL_S,
    GATEWAY_RESPONSES,
    ROUTES,
    RouteSpec,
)
from tests.infra.cfn import get_att, joined, one, ref, resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STAGE = "dev"


def _paths(template: dict[str, Any]) -> dict[str, str]:
    """Resource logical id -> full path (``/v1/health``), walking ParentId up to the API root."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        props = api_resources[logical_id]["Properties"]
        parent = props["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in api_resources}


def _methods(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _paths(template)
    return {
        (method["Properties"]["HttpMethod"], paths[method["Properties"]["ResourceId"]["Ref"]]): method[
            "Properties"
        ]
        for method in resources(template, "AWS::ApiGateway::Method").values()
    }


def test_the_api_has_exactly_the_routes_of_the_route_table(dev_template: dict[str, Any]) -> None:
    assert set(_methods(dev_template)) == {(route.method, route.path) for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_route_reaches_its_function_with_or_without_the_authorizer(
    dev_template: dict[str, Any], route: RouteSpec
) -> None:
    method = _methods(dev_template)[(route.method, route.path)]
    function_id, _ = one(
        dev_template, "AWS::Lambda::Function", FunctionName=spec_for(route.function).name(STAGE)
    )
    authorizer_id, _ = one(dev_template, "AWS::ApiGateway::Authorizer", Type="TOKEN")

    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert f"{{{function_id}.Arn}}" in joined(method["Integration"]["Uri"])
    if route.authorized:
        assert method["AuthorizationType"] == "CUSTOM"
        assert method["AuthorizerId"] == ref(authorizer_id)
        assert method["RequestParameters"]["method.request.header.Authorization"] is True
    else:
        assert method["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in method


def test_public_routes_are_exactly_health_docs_oauth_and_webhooks(dev_template: dict[str, Any]) -> None:
    public = {
        path for (_, path), method in _methods(dev_template).items() if method["AuthorizationType"] == "NONE"
    }

    assert public == {
        "/v1/health",
        "/v1/openapi.json",
        "/v1/docs",
        "/v1/oauth/jira/callback",
        "/v1/webhooks/{provider}/{connection_id}",
    }


def test_webhook_route_requires_its_path_parameters(dev_template: dict[str, Any]) -> None:
    method = _methods(dev_template)[("POST", "/v1/webhooks/{provider}/{connection_id}")]
    validator_id, validator = one(dev_template, "AWS::ApiGateway::RequestValidator")

    assert method["RequestParameters"] == {
        "method.request.path.provider": True,
        "method.request.path.connection_id": True,
    }
    assert method["RequestValidatorId"] == ref(validator_id)
    assert validator["Properties"]["ValidateRequestParameters"] is True


def test_authorizer_is_a_cached_token_authorizer_on_the_authorization_header(
    dev_template: dict[str, Any],
) -> None:
    _, authorizer = one(dev_template, "AWS::ApiGateway::Authorizer")
    function_id, _ = one(
        dev_template, "AWS::Lambda::Function", FunctionName=spec_for("authorizer").name(STAGE)
    )
    props = authorizer["Properties"]

    assert props["Type"] == "TOKEN"
    assert props["IdentitySource"] == "method.request.header.Authorization"
    assert props["AuthorizerResultTtlInSeconds"] == AUTHORIZER_CACHE_TTL_S
    assert f"{{{function_id}.Arn}}" in joined(props["AuthorizerUri"])


def test_stage_is_named_after_the_cdk_stage_throttled_traced_and_logged(dev_template: dict[str, Any]) -> None:
    _, stage = one(dev_template, "AWS::ApiGateway::Stage")
    props = stage["Properties"]
    (settings,) = props["MethodSettings"]
    log_group_id = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    log_group = dev_template["Resources"][log_group_id]

    assert props["StageName"] == STAGE
    assert props["TracingEnabled"] is True
    assert settings["ThrottlingRateLimit"] == API_THROTTLE_RATE
    assert settings["ThrottlingBurstLimit"] == API_THROTTLE_BURST
    assert settings["LoggingLevel"] == "ERROR"
    # Data tracing would write whole requests, Authorization headers included, to the logs.
    assert settings["DataTraceEnabled"] is False
    assert log_group["Properties"]["RetentionInDays"] == 30


def test_access_log_lines_are_json_and_carry_no_headers(dev_template: dict[str, Any]) -> None:
    _, stage = one(dev_template, "AWS::ApiGateway::Stage")
    log_format = stage["Properties"]["AccessLogSetting"]["Format"]
    # Substitute what API Gateway would: every $context variable becomes a value (the error one is quoted).
    sample = log_format.replace("$context.error.messageString", '"boom"')
    for token in {part.split('"')[0] for part in sample.split("$context.")[1:]}:
        sample = sample.replace(f"$context.{token}", "x")
    line = json.loads(sample)

    assert {"request_id", "status", "resource", "tenant", "error"} <= set(line)
    assert "header" not in log_format.lower()
    assert "authorization" not in log_format.lower()


@pytest.mark.parametrize("response_type", sorted(GATEWAY_RESPONSES))
def test_gateway_responses_use_the_api_error_shape(dev_template: dict[str, Any], response_type: str) -> None:
    status, code, message = GATEWAY_RESPONSES[response_type]
    _, response = one(dev_template, "AWS::ApiGateway::GatewayResponse", ResponseType=response_type)
    props = response["Properties"]

    assert props["StatusCode"] == str(status)
    assert props["ResponseParameters"] == {"gatewayresponse.header.Content-Type": "'application/json'"}
    assert json.loads(props["ResponseTemplates"]["application/json"]) == {
        "error": {"code": code, "message": message, "details": None}
    }


def test_waf_with_aws_managed_rules_guards_the_stage(dev_template: dict[str, Any]) -> None:
    acl_id, acl = one(dev_template, "AWS::WAFv2::WebACL")
    _, association = one(dev_template, "AWS::WAFv2::WebACLAssociation")
    api_id, _ = one(dev_template, "AWS::ApiGateway::RestApi")
    stage_id, _ = one(dev_template, "AWS::ApiGateway::Stage")
    groups = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]: rule for rule in acl["Properties"]["Rules"]
    }
    common_overrides = groups["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"][
        "RuleActionOverrides"
    ]

    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(groups)
    # Webhook payloads exceed the common rule set's 8 KB body limit; they must not be blocked by it.
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in common_overrides
    assert association["Properties"]["WebACLArn"] == get_att(acl_id)
    assert joined(association["Properties"]["ResourceArn"]).endswith(
        f"/restapis/{{{api_id}}}/stages/{{{stage_id}}}"
    )
