"""cdk-nag AwsSolutions: nothing unacknowledged, each acknowledgement answers a finding, the gate bites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

from infra.constructs.nag import MIN_REASON_LENGTH, acknowledgements
from tests.infra.conftest import SynthResult

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]


def _findings(app: Any) -> list[tuple[str, str]]:
    report = AwsSolutionsChecks(app).validate_scope(app)
    return [
        (violation.rule_name, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def _covers(path: str, finding_path: str) -> bool:
    return finding_path == path or finding_path.startswith(path + "/")


def test_the_stack_has_no_unacknowledged_findings(dev_synth: SynthResult) -> None:
    assert _findings(dev_synth.app) == []


def test_every_acknowledgement_answers_a_finding_and_every_finding_is_acknowledged(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from infra.app import build_app

    # Recorded but not applied: nag reports everything the acknowledgements would otherwise cover.
    app, _ = build_app(
        {"stage": "dev", "nag_acknowledge": "false"}, outdir=tmp_path_factory.mktemp("cdk-raw"), nag=False
    )
    findings = _findings(app)
    acknowledged = acknowledgements(app)

    unused = [
        (a.path, a.rule)
        for a in acknowledged
        if not any(r == a.rule and _covers(a.path, p) for r, p in findings)
    ]
    uncovered = [
        (r, p) for r, p in findings if not any(r == a.rule and _covers(a.path, p) for a in acknowledged)
    ]
    assert findings, "the raw stack should raise the findings the acknowledgements answer"
    assert unused == []
    assert uncovered == []
    assert all(len(a.reason) >= MIN_REASON_LENGTH for a in acknowledged)


def test_acknowledged_rules_are_the_expected_few(dev_synth: SynthResult) -> None:
    rules = {a.rule.split("[")[0] for a in acknowledgements(dev_synth.app)}

    # L1 runtime pin, IAM5 scoped wildcards, IAM4 API Gateway logging role, APIG2 body validation in code,
    # APIG4 public routes, COG4 no Cognito, SMG4 the OAuth state key is not rotated on a schedule.
    # Anything new here needs a reason in code and a look in review.
    assert rules == {
        "AwsSolutions-L1",
        "AwsSolutions-IAM5",
        "AwsSolutions-IAM4",
        "AwsSolutions-APIG2",
        "AwsSolutions-APIG4",
        "AwsSolutions-COG4",
        "AwsSolutions-SMG4",
    }


def test_the_app_gate_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    from infra.app import build_app

    app, stack = build_app({"stage": "dev"}, outdir=tmp_path, nag=True)
    # A throwaway queue with none of the guards the real ones have.
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)

    assert ("AwsSolutions-SQS2", "trackbridge-dev/Plain/Resource") in _findings(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-SQS2" in report
    assert "trackbridge-dev/Plain/Resource" in report
    # Only the throwaway queue fails: the real stack contributes nothing to the report.
    assert "trackbridge-dev/Queues" not in report
