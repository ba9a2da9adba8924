"""Lambda functions: one per entry in FUNCTIONS, Python 3.12 on arm64, the shared layers and environment."""

from __future__ import annotations

from typing import Any

import pytest

from infra.definition import (
    ENV,
    FUNCTIONS,
    QUEUES,
    TABLE,
    FunctionSpec,
    alerts_topic_name,
    event_bus_name,
    schedule_group_name,
    scheduler_role_name,
)
from tests.infra.cfn import get_att, one, ref, resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

STAGE = "dev"


def _function(template: dict[str, Any], spec: FunctionSpec) -> tuple[str, dict[str, Any]]:
    return one(template, "AWS::Lambda::Function", FunctionName=spec.name(STAGE))


def test_one_function_per_definition_entry(dev_template: dict[str, Any]) -> None:
    names = {
        res["Properties"]["FunctionName"] for res in resources(dev_template, "AWS::Lambda::Function").values()
    }

    assert names == {spec.name(STAGE) for spec in FUNCTIONS}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.key)
def test_function_settings_follow_the_definition(dev_template: dict[str, Any], spec: FunctionSpec) -> None:
    _, function = _function(dev_template, spec)
    props = function["Properties"]

    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == spec.handler
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_s
    assert props.get("ReservedConcurrentExecutions") == spec.reserved_concurrency
    assert props["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.key)
def test_function_uses_the_package_layer_and_the_dependencies_layer(
    dev_template: dict[str, Any], spec: FunctionSpec
) -> None:
    _, function = _function(dev_template, spec)
    package_id, package = one(
        dev_template, "AWS::Lambda::LayerVersion", LayerName="trackbridge-dev-trackbridge"
    )
    deps_id, deps = one(dev_template, "AWS::Lambda::LayerVersion", LayerName="trackbridge-dev-dependencies")

    assert sorted(function["Properties"]["Layers"], key=str) == sorted(
        [ref(package_id), ref(deps_id)], key=str
    )
    for layer in (package, deps):
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.key)
def test_function_environment_names_every_resource(dev_template: dict[str, Any], spec: FunctionSpec) -> None:
    _, function = _function(dev_template, spec)
    env = function["Properties"]["Environment"]["Variables"]
    table_id, _ = one(dev_template, "AWS::DynamoDB::Table", TableName=TABLE.name(STAGE))
    queue_ids = {q.key: one(dev_template, "AWS::SQS::Queue", QueueName=q.name(STAGE))[0] for q in QUEUES}
    bus_id, _ = one(dev_template, "AWS::Events::EventBus", Name=event_bus_name(STAGE))
    role_id, _ = one(dev_template, "AWS::IAM::Role", RoleName=scheduler_role_name(STAGE))
    topic_id, _ = one(dev_template, "AWS::SNS::Topic", TopicName=alerts_topic_name(STAGE))

    assert env == {
        ENV.stage: STAGE,
        ENV.table: ref(table_id),
        ENV.inbound_queue_url: ref(queue_ids["inbound"]),
        ENV.sync_queue_url: ref(queue_ids["sync"]),
        ENV.sync_queue_arn: get_att(queue_ids["sync"]),
        ENV.auto_issue_queue_url: ref(queue_ids["auto_issue"]),
        ENV.event_bus: ref(bus_id),
        ENV.schedule_group: schedule_group_name(STAGE),
        ENV.scheduler_role_arn: get_att(role_id),
        ENV.alerts_topic_arn: ref(topic_id),
        ENV.secrets_prefix: "trackbridge/dev/",
        ENV.oauth_state_key_secret: "trackbridge/dev/_app/oauth-state-key",
        ENV.jira_oauth_app_secret: "trackbridge/dev/_app/jira-oauth",
        "POWERTOOLS_SERVICE_NAME": "trackbridge",
        "POWERTOOLS_METRICS_NAMESPACE": "trackbridge",
        # the alarms' tenant, for the one function that reads it (tests/infra/test_auto_issue_tenant.py)
        **({"TB_AUTO_ISSUE_TENANT": "default"} if spec.key == "auto_issue" else {}),
    }


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.key)
def test_function_logs_to_its_own_group_with_a_retention(
    dev_template: dict[str, Any], spec: FunctionSpec
) -> None:
    _, function = _function(dev_template, spec)
    group_id, group = one(dev_template, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{spec.name(STAGE)}")
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = dev_template["Resources"][role_id]

    assert function["Properties"]["LoggingConfig"] == {"LogGroup": ref(group_id)}
    assert group["Properties"]["RetentionInDays"] == 30
    # No AWSLambdaBasicExecutionRole: its log permissions reach every log group in the account.
    assert "ManagedPolicyArns" not in role["Properties"]


def test_prod_keeps_logs_for_a_year_and_retains_them(prod_template: dict[str, Any]) -> None:
    groups = resources(prod_template, "AWS::Logs::LogGroup")

    assert groups
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 365
        assert group["DeletionPolicy"] == "Retain"
