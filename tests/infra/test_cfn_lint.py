"""cfn-lint on the synthesized templates: no errors, and no warning but CDK's redundant DependsOn (W3005)."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint_file

from tests.infra.conftest import SynthResult

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("cdk")]

# CDK adds DependsOn entries that a Ref already implies; harmless, and not ours to remove.
ALLOWED = {"W3005"}


@pytest.mark.parametrize("which", ["dev_synth", "prod_synth"])
def test_template_is_cfn_lint_clean(which: str, request: pytest.FixtureRequest) -> None:
    result: SynthResult = request.getfixturevalue(which)
    matches = lint_file(result.template_path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    reported = [(match.rule.id, match.message) for match in matches]

    assert [item for item in reported if item[0] not in ALLOWED] == []
