"""The auto-issue function is told whose CloudWatch alarms it handles: ``TB_AUTO_ISSUE_TENANT``, from the CDK
context ``auto_issue_tenant`` (``default`` without it), read by ``Settings.auto_issue_tenant``."""

from __future__ import annotations

from typing import Any

import pytest

from infra.constructs.auto_issue import AUTO_ISSUE_TENANT_CONTEXT
from infra.definition import FUNCTIONS
from tests.infra.conftest import synthesize
from trackbridge.runtime.settings import AUTO_ISSUE_TENANT_ENV, Settings

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]


def _environments(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    names = {spec.name("dev"): spec.key for spec in FUNCTIONS}
    return {
        names[resource["Properties"]["FunctionName"]]: resource["Properties"]["Environment"]["Variables"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("FunctionName") in names
    }


def test_only_the_auto_issue_function_gets_the_alarm_tenant_default(dev_template: dict[str, Any]) -> None:
    environments = _environments(dev_template)

    assert environments["auto_issue"][AUTO_ISSUE_TENANT_ENV] == "default"
    assert [key for key, env in environments.items() if AUTO_ISSUE_TENANT_ENV in env] == ["auto_issue"]
    assert Settings.from_env({}).auto_issue_tenant == "default"


def test_the_context_names_the_tenant_and_the_settings_read_it(tmp_path: Any) -> None:
    synth = synthesize(tmp_path, {"stage": "dev", AUTO_ISSUE_TENANT_CONTEXT: "acme"}, nag=False)

    env = _environments(synth.template)["auto_issue"]

    assert env[AUTO_ISSUE_TENANT_ENV] == "acme"
    assert Settings.from_env({AUTO_ISSUE_TENANT_ENV: env[AUTO_ISSUE_TENANT_ENV]}).auto_issue_tenant == "acme"
