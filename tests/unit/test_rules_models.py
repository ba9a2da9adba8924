"""The examples the OpenAPI document shows for rules, templates and events pass their own models, and the
rule model keeps refusing what cannot compile."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from trackbridge.domain.automation import EVENT_EXAMPLE, RULE_EXAMPLE, TEMPLATE_EXAMPLE, Event, Rule, Template
from trackbridge.runtime.api.events import EventQueued
from trackbridge.runtime.api.rules import RulePage, TemplatePage
from trackbridge.runtime.automation.rules import Preview, RuleIn, TemplateIn


@pytest.mark.parametrize(
    "model", [Rule, Template, Event, RuleIn, TemplateIn, Preview, EventQueued, RulePage, TemplatePage]
)
def test_every_example_passes_its_model(model: type[BaseModel]) -> None:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    assert examples
    for example in examples:
        model.model_validate(example)


def test_the_domain_examples_are_the_documented_shapes() -> None:
    assert Rule.model_validate(RULE_EXAMPLE).dedup.repeat_window == 3600
    assert Template.model_validate(TEMPLATE_EXAMPLE).name == "drift"
    assert Event.model_validate(EVENT_EXAMPLE).issue_ref


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"condition": "a =="}, "condition"),
        ({"dedup": {"key": "{% if %}"}}, "dedup"),
        ({"settle_s": -1}, "settle_s"),
        ({"dedup": {"key": "k", "repeat_window": -5}}, "dedup"),
        ({"on_resolve": "explode"}, "on_resolve"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_by_the_model(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Rule.model_validate({**RULE_EXAMPLE, **changes})
    assert caught.value.errors()[0]["loc"][0] == field
