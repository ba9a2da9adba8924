"""Every built-in template passes the checks a stored one must pass and renders its own sample event."""

from __future__ import annotations

import pytest

from trackbridge.domain.times import utcnow
from trackbridge.runtime.automation.builtins import BUILTIN_TEMPLATES, SAMPLE_EVENTS, template_context
from trackbridge.runtime.automation.intake import parse_api_event
from trackbridge.runtime.automation.render import check_source, render
from trackbridge.runtime.automation.rules import TEMPLATE_VARIABLES


def test_every_builtin_has_a_sample_event() -> None:
    assert set(SAMPLE_EVENTS) == set(BUILTIN_TEMPLATES)
    assert len(BUILTIN_TEMPLATES) >= 14


@pytest.mark.parametrize("name", sorted(BUILTIN_TEMPLATES))
def test_a_builtin_template_is_valid_and_renders_its_sample(name: str) -> None:
    template = BUILTIN_TEMPLATES[name]
    check_source("title", template.title, allowed=TEMPLATE_VARIABLES)
    check_source("body", template.body, allowed=TEMPLATE_VARIABLES)
    event = parse_api_event(dict(SAMPLE_EVENTS[name]), event_id="evt_sample", received_at=utcnow())
    context = template_context(event)
    title = render(template.title, context)
    body = render(template.body, context)
    assert title.strip()
    assert "None" not in title
    assert body.strip()
    # Every top-level value of the sample's data shows up somewhere in the issue
    for key, value in event.data.items():
        if isinstance(value, (str, int, float)):
            assert str(value) in title + body, (name, key)
