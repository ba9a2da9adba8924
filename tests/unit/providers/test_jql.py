"""The JQL builder: quoting that no value can break out of, times as epoch ms, templates, raw JQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from trackbridge.domain.errors import InvalidInput
from trackbridge.providers.jql import (
    MAX_ORDER_BY_FIELDS,
    Function,
    Jql,
    JqlError,
    RawJql,
    asc,
    assigned_to,
    by_status_category,
    desc,
    epoch_millis,
    field,
    full_sync,
    in_sprint,
    open_issues,
    quote,
    render_field,
    text_search,
    updated_since,
)

SINCE = datetime(2024, 11, 29, 10, 44, 51, 123000, tzinfo=UTC)
SINCE_MS = 1732877040000  # floored to 10:44:00


# ---- a reference tokenizer: what Jira's lexer would see ----------------------------------------------------


def tokenize(jql: str) -> list[tuple[str, str]]:
    """``(kind, value)`` tokens: strings (unescaped), words, operators, parentheses, commas."""
    tokens: list[tuple[str, str]] = []
    index = 0
    while index < len(jql):
        char = jql[index]
        if char == " ":
            index += 1
        elif char == '"':
            value, index = [], index + 1
            while True:
                assert index < len(jql), f"unterminated string in {jql!r}"
                if jql[index] == "\\":
                    value.append(jql[index + 1])
                    index += 2
                elif jql[index] == '"':
                    index += 1
                    break
                else:
                    value.append(jql[index])
                    index += 1
            tokens.append(("string", "".join(value)))
        elif char in "(),":
            tokens.append((char, char))
            index += 1
        elif char in "=!<>~":
            end = index + 1
            while end < len(jql) and jql[end] in "=~":
                end += 1
            tokens.append(("op", jql[index:end]))
            index = end
        else:
            end = index
            while end < len(jql) and jql[end] not in ' "(),=!<>~':
                end += 1
            tokens.append(("word", jql[index:end]))
            index = end
    return tokens


HOSTILE = [
    "",
    '"',
    '\\"',
    "\\",
    '" OR project = SECRET OR summary ~ "',
    'x\\" OR 1=1 --',
    "ORDER BY key",
    "a'b",
    "(",
    ")) OR ((project = X",
    "é 😄 中文",
    "\\\\\\",
    "EMPTY",
    "currentUser()",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_stays_one_string_token(value: str) -> None:
    rendered = Jql.project("ABC").and_(field("summary").contains(value)).render()
    assert tokenize(rendered) == [
        ("word", "project"),
        ("op", "="),
        ("string", "ABC"),
        ("word", "AND"),
        ("word", "summary"),
        ("op", "~"),
        ("string", value),
    ]


@pytest.mark.parametrize("seed", range(20))
def test_random_strings_cannot_break_out_of_a_quoted_value(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = [*"abc XYZ019\"\\'()=!~<>,;:*?[]{}&|-+", "é", "😄", "ORDER BY", " OR ", " AND "]
    for _ in range(50):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        values = (value, value[::-1])
        rendered = field("labels").in_(*values).render()
        assert tokenize(rendered) == [
            ("word", "labels"),
            ("word", "IN"),
            ("(", "("),
            ("string", values[0]),
            (",", ","),
            ("string", values[1]),
            (")", ")"),
        ]


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f"])
def test_control_characters_are_refused(char: str) -> None:
    with pytest.raises(JqlError) as caught:
        quote(f"a{char}b")
    # A JqlError reaching the API is a 400.
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.status == 400


def test_quote_escapes_backslash_before_quote() -> None:
    assert quote('a\\"b') == '"a\\\\\\"b"'


# ---- fields, values, operators -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rendered"),
    [
        ("status", "status"),
        ("statusCategory", "statusCategory"),
        ("cf[10010]", "cf[10010]"),
        ("issue.property", "issue.property"),
        ("Story Points", '"Story Points"'),
        ("order", '"order"'),
        ("AND", '"AND"'),
        ("empty", '"empty"'),
        ('weird"name', '"weird\\"name"'),
    ],
)
def test_field_names_are_bare_only_when_safe(name: str, rendered: str) -> None:
    assert render_field(name) == rendered


def test_empty_field_name_is_refused() -> None:
    with pytest.raises(JqlError):
        field("  ")


@pytest.mark.parametrize(
    ("clause", "rendered"),
    [
        (field("status").eq("Done"), 'status = "Done"'),
        (field("status").ne("Done"), 'status != "Done"'),
        (field("priority").gt(3), "priority > 3"),
        (field("created").lt(SINCE), f"created < {SINCE_MS}"),
        (field("updated").le(SINCE), f"updated <= {SINCE_MS}"),
        (field("summary").not_contains("x"), 'summary !~ "x"'),
        (field("labels").not_in("a", "b"), 'labels NOT IN ("a", "b")'),
        (field("assignee").eq(Function("currentUser")), "assignee = currentUser()"),
        (field("assignee").in_(Function("membersOf", ("dev ops",))), 'assignee IN membersOf("dev ops")'),
        (field("resolution").is_empty(), "resolution IS EMPTY"),
        (field("resolution").is_not_empty(), "resolution IS NOT EMPTY"),
        (~field("labels").in_("x"), 'NOT (labels IN ("x"))'),
    ],
)
def test_clauses_render(clause: object, rendered: str) -> None:
    assert str(clause) == rendered


def test_precedence_is_kept_with_parentheses() -> None:
    either = field("status").eq("A") | field("status").eq("B")
    query = Jql.project("P").and_(either, field("labels").eq("x"))
    assert query.render() == 'project = "P" AND (status = "A" OR status = "B") AND labels = "x"'
    both = field("x").eq(1) & field("y").eq(2)
    assert (both | field("z").eq(3)).render() == "x = 1 AND y = 2 OR z = 3"


def test_times_are_utc_epoch_millis_floored_to_the_minute() -> None:
    assert epoch_millis(SINCE) == SINCE_MS
    tokyo = SINCE.astimezone(timezone(timedelta(hours=9)))
    assert epoch_millis(tokyo) == SINCE_MS  # the zone never changes the instant
    with pytest.raises(JqlError):
        epoch_millis(datetime(2024, 1, 1))  # naive: the point of the test


@pytest.mark.parametrize("bad", [True, None, ()])
def test_values_without_a_jql_literal_are_refused(bad: object) -> None:
    with pytest.raises(JqlError):
        str(field("x").eq(bad))  # type: ignore[arg-type]


def test_function_names_are_checked() -> None:
    with pytest.raises(JqlError):
        Function("currentUser() OR 1")


def test_order_by_takes_at_most_seven_fields() -> None:
    fields = [f"f{i}" for i in range(MAX_ORDER_BY_FIELDS)]
    assert (
        Jql.project("P")
        .order_by(*fields)
        .render()
        .endswith("ORDER BY " + ", ".join(f"{f} ASC" for f in fields))
    )
    with pytest.raises(JqlError):
        Jql.project("P").order_by(*fields, "f7")


def test_order_by_directions() -> None:
    assert Jql.project("P").order_by(desc("created"), asc("key")).render() == (
        'project = "P" ORDER BY created DESC, key ASC'
    )


# ---- templates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "rendered"),
    [
        (full_sync("OPS"), 'project = "OPS" ORDER BY key ASC'),
        (
            updated_since("OPS", SINCE),
            f'project = "OPS" AND updated >= {SINCE_MS} ORDER BY updated ASC, key ASC',
        ),
        (open_issues("OPS"), 'project = "OPS" AND statusCategory != "Done"'),
        (
            by_status_category("OPS", "todo", "in_progress"),
            'project = "OPS" AND statusCategory IN ("To Do", "In Progress")',
        ),
        (
            assigned_to("OPS", "5b10a2844c20165700ede21g"),
            'project = "OPS" AND assignee = "5b10a2844c20165700ede21g"',
        ),
        (assigned_to("OPS", None), 'project = "OPS" AND assignee IS EMPTY'),
        (in_sprint("OPS", 42), 'project = "OPS" AND sprint = 42'),
        (in_sprint("OPS"), 'project = "OPS" AND sprint IN openSprints()'),
        (text_search("OPS", 'disk "full"'), 'project = "OPS" AND text ~ "disk \\"full\\""'),
        (
            updated_since(RawJql("project = A OR project = B"), SINCE),
            f"(project = A OR project = B) AND updated >= {SINCE_MS} ORDER BY updated ASC, key ASC",
        ),
    ],
)
def test_saved_templates(query: Jql, rendered: str) -> None:
    assert query.render() == rendered


def test_template_inputs_are_checked() -> None:
    with pytest.raises(JqlError):
        by_status_category("OPS", "closed")  # type: ignore[arg-type]
    with pytest.raises(JqlError):
        text_search("OPS", "   ")


# ---- raw JQL -----------------------------------------------------------------------------------------------


def test_raw_jql_is_parenthesised_when_combined() -> None:
    scope = RawJql("project = A OR project = B")
    assert (
        Jql(scope).and_(field("labels").eq("x")).render() == '(project = A OR project = B) AND labels = "x"'
    )


def test_raw_jql_alone_passes_through_with_its_order() -> None:
    assert (
        Jql.raw("assignee = currentUser() order by key").render() == "assignee = currentUser() order by key"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x) OR (project = SECRET", "closes more than was opened"),
        ("project = A OR (x = 1", "is not closed"),
        ('summary ~ "open', "not closed"),
        ("project = A ORDER BY key", "ORDER BY"),
    ],
)
def test_raw_jql_that_could_escape_its_scope_cannot_be_combined(text: str, problem: str) -> None:
    with pytest.raises(JqlError, match=problem):
        Jql.project("P").and_(RawJql(text)).render()


def test_parentheses_and_order_by_inside_strings_do_not_count() -> None:
    raw = RawJql("summary ~ \"a) order by (b\" AND labels = 'x)'")
    raw.check_combinable()
    assert not raw.has_order_by


@pytest.mark.parametrize(
    ("text", "condition", "order"),
    [
        ("project = A ORDER BY key DESC", "project = A", "key DESC"),
        ("ORDER BY created", None, "created"),
        ("status = Done", "status = Done", None),
        ('summary ~ "order by" order\n by updated', 'summary ~ "order by"', "updated"),
        ("reorder by = 1", "reorder by = 1", None),
    ],
)
def test_split_order_by(text: str, condition: str | None, order: str | None) -> None:
    found_condition, found_order = RawJql(text).split_order_by()
    assert (found_condition.text if found_condition else None, found_order) == (condition, order)


@pytest.mark.parametrize("order", ["key) OR (project = SECRET", "created; DROP", "rank(x)"])
def test_order_by_text_cannot_reopen_the_condition(order: str) -> None:
    with pytest.raises(JqlError):
        RawJql(f"labels = x ORDER BY {order}").split_order_by()


@pytest.mark.parametrize("text", ["", "   ", "x" * 10_001, "a\x00b"])
def test_raw_jql_must_be_usable(text: str) -> None:
    with pytest.raises(JqlError):
        RawJql(text)
