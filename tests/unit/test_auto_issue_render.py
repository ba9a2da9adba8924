"""The hardened sandbox: SSTI payloads, loop and output limits, checks on save, and redaction."""

from __future__ import annotations

import pytest

from trackbridge.runtime.automation.render import (
    MAX_BODY_CHARS,
    REDACTED,
    Redactor,
    RenderLimitExceeded,
    SecurityError,
    TemplateRefused,
    check_source,
    evaluate,
    render,
)

CONTEXT = {"event": {"type": "a.b", "data": {"x": "{{ 7 * 7 }}", "n": 3, "items": list(range(50))}}}


def test_event_data_is_a_value_never_a_template() -> None:
    assert render("{{ event.data.x }}", CONTEXT) == "{{ 7 * 7 }}"
    assert render("{% for i in event.data['items'][:3] %}{{ i }}{% endfor %}", CONTEXT) == "012"


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ event.__class__.__init__.__globals__ }}",
        "{{ event['__class__'] }}",
        "{{ event|attr('__class__') }}",
        "{{ ''.format }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ (1).__class__.__base__ }}",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_attribute_walking_raises(payload: str) -> None:
    with pytest.raises(SecurityError):
        render(payload, CONTEXT)


@pytest.mark.parametrize("name", ["cycler", "joiner", "lipsum", "namespace", "config", "request", "os"])
def test_no_dangerous_globals_exist(name: str) -> None:
    # Undefined renders empty, and any protected attribute of it is refused
    assert render(f"{{{{ {name} }}}}", CONTEXT) == ""
    with pytest.raises(SecurityError):
        render(f"{{{{ {name}.__init__.__globals__ }}}}", CONTEXT)


@pytest.mark.parametrize(
    "payload",
    [
        "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
        "{% set s = event.data['items'] %}"
        "{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}",
        "{{ range(10 ** 6) | list }}",
        "{{ 'x' * 10 ** 9 }}",
        "{{ [1] * 10 ** 9 }}",
        "{{ 10 ** 1000 }}",
        "{{ '%0999999d' % 1 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ 'x' | center(999999999) }}",
        "{{ 'x' | indent(999999999) }}",
        # Amplifiers that allocate before any output limit could apply (gigabytes each, unchecked).
        "{{ ('x' * 99999) | join('y' * 99999) }}",
        "{{ ('y' * 99999).join('x' * 99999) }}",
        "{{ ('x' * 99999) | replace('x', 'x' * 99999) }}",
        "{{ ('x' * 99999) | replace('', 'x' * 99999) }}",
        "{{ ('x' * 99999).replace('x', 'x' * 99999) }}",
        "{% set s = 'x' * 99999 %}{% set s = s ~ s %}{% set s = s ~ s %}{{ s | length }}",
        "{{ [1] | batch(10 ** 9, 'x') | list }}",
        "{{ [1] | slice(10 ** 9, 'x') | list }}",
        "{{ 'x'.ljust(10 ** 9) }}",
        "{{ 'x'.zfill(10 ** 9) }}",
        "{{ ('\t' * 99999).expandtabs(99999) }}",
    ],
)
def test_huge_loops_and_values_are_refused(payload: str) -> None:
    with pytest.raises(RenderLimitExceeded):
        render(payload, CONTEXT)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ ['a', 'b'] | join(', ') }}", "a, b"),
        ("{{ users | join(', ', attribute='n') }}", "a, b"),
        ("{{ ', '.join(['a', 'b']) }}", "a, b"),
        ("{{ 'x-y' | replace('-', '+') }}", "x+y"),
        ("{{ 'ab'.replace('a', 'c') }}", "cb"),
        ("{% set s = 'ab' %}{{ s ~ 1 ~ s }}", "ab1ab"),
        ("{{ [1, 2, 3] | batch(2) | list }}", "[[1, 2], [3]]"),
        ("{{ '7'.zfill(3) }}", "007"),
    ],
)
def test_the_bounded_operations_still_work(template: str, expected: str) -> None:
    assert render(template, {**CONTEXT, "users": [{"n": "a"}, {"n": "b"}]}) == expected


def test_output_stops_at_the_limit() -> None:
    out = render("{% for i in range(900) %}{{ 'y' * 99 }}{% endfor %}", CONTEXT)
    assert len(out) == MAX_BODY_CHARS
    assert len(render("{{ 'z' * 500 }}", CONTEXT, max_output=250)) == 250


def test_the_loop_budget_is_per_render() -> None:
    payload = "{% for a in range(1000) %}{% for b in range(9) %}{% endfor %}{% endfor %}"
    for _ in range(3):
        assert render(payload, CONTEXT) == ""


def test_conditions_evaluate_in_the_same_sandbox() -> None:
    assert evaluate("regression.percentage > 20", {"regression": {"percentage": 25}}) is True
    assert evaluate("regression.percentage > 20", {"regression": {"percentage": 5}}) is False
    with pytest.raises(SecurityError):
        evaluate("''.__class__", {})


@pytest.mark.parametrize(
    ("source", "expression", "fragment", "line"),
    [
        ("a.b ==", True, "syntax error", 1),
        ("event.x > 1 and nope", True, "unknown variable 'nope'", 1),
        ("event.__class__", True, "not allowed", 1),
        ("line one\n{{ event._private }}", False, "not allowed", 2),
        ("ok\n\n{% if %}", False, "syntax error", 3),
        ("{{ config.items() }}", False, "unknown variable 'config'", 1),
    ],
)
def test_check_source_names_the_problem_and_line(
    source: str, expression: bool, fragment: str, line: int
) -> None:
    with pytest.raises(TemplateRefused) as caught:
        check_source("body.x", source, allowed={"event"}, expression=expression)
    error = caught.value.details["errors"][0]
    assert error["path"] == "body.x"
    assert fragment in error["message"]
    assert error["line"] == line
    assert caught.value.http_status == 422


# Obviously fake values in each secret's shape, assembled so no scanner mistakes this file for a leak.
FAKE_AWS_KEY = "AKIA" + "FAKE" * 4
FAKE_AWS_SECRET = "fake/" * 8
FAKE_KEY_BLOCK = "-----BEGIN " + "RSA PRIVATE KEY-----\nNOTAREALKEYATALL\n-----END " + "RSA PRIVATE KEY-----"
FAKE_JWT = "eyJ" + "fakeheader" + ".eyJ" + "fakeclaims" + "." + "fakesignature"
SECRETS = {
    "aws access key": FAKE_AWS_KEY,
    "aws secret": f"aws_secret_access_key = {FAKE_AWS_SECRET}",
    "password": "password=hunter22",
    "token": "token: 9f8e7d6c5b4a",
    "api key": "api_key=fake_api_key_123456",
    "bearer": "Authorization: Bearer abcdefghijklmnopqrstu",
    "github": "ghp_" + "a" * 36,
    "gitlab": "glpat-" + "b" * 20,
    "slack": "xoxb-" + "0" * 10 + "-notreal",
    "jwt": FAKE_JWT,
    "connection string": "postgres://app:s3cr3t@db.internal:5432/sales",
    "email": "jane.doe@example.com",
    "private key": FAKE_KEY_BLOCK,
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secret_looking_values_are_redacted(kind: str) -> None:
    secret = SECRETS[kind]
    out = Redactor()(f"before {secret} after")
    assert REDACTED in out
    assert out.startswith("before ")
    assert out.endswith(" after")
    for part in (
        FAKE_AWS_KEY,
        FAKE_AWS_SECRET,
        "hunter22",
        "9f8e7d6c5b4a",
        "fake_api_key",
        "s3cr3t",
        "jane.doe",
        "NOTAREALKEYATALL",
        "a" * 36,
        "b" * 20,
        "0" * 10,
        "fakesignature",
        "abcdefghijklmnop",
    ):
        assert part not in out


def test_a_connection_string_keeps_its_host_and_configured_patterns_apply() -> None:
    assert Redactor()("postgres://app:pw@db:5432/x") == f"postgres://{REDACTED}@db:5432/x"
    assert Redactor(extra=(r"CUST-\d{6}",))("customer CUST-123456 called") == f"customer {REDACTED} called"
    assert Redactor()("CPU at 99.5% on i-0123456789abcdef0") == "CPU at 99.5% on i-0123456789abcdef0"
