"""Schedule expressions: what AWS accepts and rejects, and when each expression fires next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trackbridge.domain.schedules import (
    AtExpression,
    CronExpression,
    InvalidScheduleExpression,
    InvalidTimeZone,
    RateExpression,
    parse_schedule_expression,
    resolve_timezone,
)

NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fires(text: str, after: datetime, tz: str = "UTC", count: int = 3) -> list[datetime]:
    expression = parse_schedule_expression(text)
    result: list[datetime] = []
    moment = after
    for _ in range(count):
        following = expression.next_fire_after(moment, tz)
        assert following is not None
        result.append(following)
        moment = following
    return result


# ------------------------------------------------------------------------------------------------ rate


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(15 minutes)", timedelta(minutes=15)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_rate_periods(text: str, period: timedelta) -> None:
    expression = parse_schedule_expression(text)

    assert isinstance(expression, RateExpression)
    assert expression.period == period
    assert expression.text == text


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("rate(1 minutes)", "rate(1 minute)"),
        ("rate(5 minute)", "rate(5 minutes)"),
        ("rate(1 hours)", "rate(1 hour)"),
        ("rate(2 day)", "rate(2 days)"),
        ("rate(0 minutes)", "positive integer"),
        ("rate(-5 minutes)", "positive integer"),
        ("rate(05 minutes)", "positive integer"),
        ("rate(1.5 hours)", "positive integer"),
        ("rate(5 seconds)", "minute(s), hour(s) or day(s)"),
        ("rate(2 weeks)", "minute(s), hour(s) or day(s)"),
        ("rate(5  minutes)", "rate(<value> <unit>)"),
        ("rate(5minutes)", "rate(<value> <unit>)"),
        ("rate(5 Minutes)", "minute(s)"),
    ],
)
def test_rate_rejects_what_aws_rejects(text: str, hint: str) -> None:
    with pytest.raises(InvalidScheduleExpression, match=hint.replace("(", r"\(").replace(")", r"\)")):
        parse_schedule_expression(text)


def test_rate_counts_from_its_anchor() -> None:
    expression = parse_schedule_expression("rate(5 minutes)")
    anchor = utc(2026, 3, 4, 11, 58, 30)

    assert expression.next_fire_after(NOON, anchor=anchor) == utc(2026, 3, 4, 12, 3, 30)
    assert expression.next_fire_after(utc(2026, 3, 4, 12, 3, 30), anchor=anchor) == utc(2026, 3, 4, 12, 8, 30)
    # A start date in the future is the first fire.
    assert expression.next_fire_after(NOON, anchor=utc(2026, 3, 5)) == utc(2026, 3, 5)
    # Without an anchor the schedule is taken to have just fired.
    assert expression.next_fire_after(NOON) == NOON + timedelta(minutes=5)


def test_rate_days_are_24_hours_across_dst() -> None:
    expression = parse_schedule_expression("rate(1 day)")
    before_jump = datetime(2026, 3, 7, 9, 0, tzinfo=ZoneInfo("America/New_York"))

    following = expression.next_fire_after(before_jump, "America/New_York", anchor=before_jump)

    assert following == before_jump.astimezone(UTC) + timedelta(hours=24)


# ------------------------------------------------------------------------------------------------ cron


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cron(0 10 * * ? *)", [utc(2026, 3, 5, 10), utc(2026, 3, 6, 10), utc(2026, 3, 7, 10)]),
        (
            "cron(0/15 12 * * ? *)",
            [utc(2026, 3, 4, 12, 15), utc(2026, 3, 4, 12, 30), utc(2026, 3, 4, 12, 45)],
        ),
        ("cron(1/20 * * * ? *)", [utc(2026, 3, 4, 12, 1), utc(2026, 3, 4, 12, 21), utc(2026, 3, 4, 12, 41)]),
        ("cron(*/30 * * * ? *)", [utc(2026, 3, 4, 12, 30), utc(2026, 3, 4, 13), utc(2026, 3, 4, 13, 30)]),
        ("cron(0 8 ? * MON-FRI *)", [utc(2026, 3, 5, 8), utc(2026, 3, 6, 8), utc(2026, 3, 9, 8)]),
        ("cron(0 8 ? * 2-6 *)", [utc(2026, 3, 5, 8), utc(2026, 3, 6, 8), utc(2026, 3, 9, 8)]),
        ("cron(0 8 ? * sun *)", [utc(2026, 3, 8, 8), utc(2026, 3, 15, 8), utc(2026, 3, 22, 8)]),
        (
            "cron(15 12 1,15 * ? *)",
            [utc(2026, 3, 15, 12, 15), utc(2026, 4, 1, 12, 15), utc(2026, 4, 15, 12, 15)],
        ),
        ("cron(0 0 1 JAN,JUL ? *)", [utc(2026, 7, 1), utc(2027, 1, 1), utc(2027, 7, 1)]),
        ("cron(0 0 1 1/6 ? *)", [utc(2026, 7, 1), utc(2027, 1, 1), utc(2027, 7, 1)]),
        ("cron(0 18 ? * 6L *)", [utc(2026, 3, 27, 18), utc(2026, 4, 24, 18), utc(2026, 5, 29, 18)]),
        ("cron(0 9 ? * 2#1 *)", [utc(2026, 4, 6, 9), utc(2026, 5, 4, 9), utc(2026, 6, 1, 9)]),
        ("cron(0 9 ? * 6#5 *)", [utc(2026, 5, 29, 9), utc(2026, 7, 31, 9), utc(2026, 10, 30, 9)]),
        ("cron(0 23 L * ? *)", [utc(2026, 3, 31, 23), utc(2026, 4, 30, 23), utc(2026, 5, 31, 23)]),
        ("cron(0 23 L 2 ? 2027-2028)", [utc(2027, 2, 28, 23), utc(2028, 2, 29, 23)]),
        # 2026-03-31 is a Tuesday; 2026-05-31 a Sunday, so LW is Friday the 29th.
        ("cron(0 6 LW * ? *)", [utc(2026, 3, 31, 6), utc(2026, 4, 30, 6), utc(2026, 5, 29, 6)]),
        # 15 March 2026 is a Sunday (-> Monday 16th); 15 August a Saturday (-> Friday 14th).
        ("cron(0 6 15W 3,8 ? *)", [utc(2026, 3, 16, 6), utc(2026, 8, 14, 6), utc(2027, 3, 15, 6)]),
        # 1 August 2026 is a Saturday: 1W stays in the month, on Monday the 3rd.
        ("cron(0 6 1W 8 ? 2026)", [utc(2026, 8, 3, 6)]),
        ("cron(0 0 29 2 ? *)", [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]),
        ("cron(0 12 ? * L *)", [utc(2026, 3, 7, 12), utc(2026, 3, 14, 12), utc(2026, 3, 21, 12)]),
    ],
)
def test_cron_next_fires(text: str, expected: list[datetime]) -> None:
    assert fires(text, NOON, count=len(expected)) == expected


def test_cron_fires_strictly_after_the_moment() -> None:
    expression = parse_schedule_expression("cron(0 12 * * ? *)")

    assert expression.next_fire_after(NOON) == utc(2026, 3, 5, 12)
    assert expression.next_fire_after(NOON - timedelta(seconds=1)) == NOON


def test_cron_ends_with_its_year_field() -> None:
    expression = parse_schedule_expression("cron(0 0 1 1 ? 2026)")

    assert expression.next_fire_after(utc(2025, 6, 1)) == utc(2026, 1, 1)
    assert expression.next_fire_after(NOON) is None
    assert parse_schedule_expression("cron(0 0 31 2 ? *)").next_fire_after(NOON) is None


def test_cron_in_a_time_zone() -> None:
    # 08:00 in Berlin is 07:00 UTC in winter and 06:00 UTC in summer (from 29 March 2026).
    assert fires("cron(0 8 ? * MON *)", utc(2026, 3, 20), "Europe/Berlin", count=2) == [
        utc(2026, 3, 23, 7),
        utc(2026, 3, 30, 6),
    ]


def test_cron_skips_a_wall_time_the_clock_jumps_over() -> None:
    # New York skips 02:00-03:00 on 8 March 2026.
    assert fires("cron(30 2 * * ? *)", utc(2026, 3, 7, 12), "America/New_York", count=2) == [
        utc(2026, 3, 9, 6, 30),
        utc(2026, 3, 10, 6, 30),
    ]


def test_cron_fires_once_in_a_repeated_hour() -> None:
    # New York repeats 01:00-02:00 on 1 November 2026; each wall time fires once.
    assert fires("cron(*/30 1 * * ? *)", utc(2026, 10, 31, 12), "America/New_York", count=3) == [
        utc(2026, 11, 1, 5, 0),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 0),
    ]


def test_cron_expression_keeps_its_fields() -> None:
    expression = parse_schedule_expression("cron(0,30 9-17 ? * MON-FRI *)")

    assert isinstance(expression, CronExpression)
    assert expression.minutes == {0, 30}
    assert expression.hours == set(range(9, 18))
    assert expression.day_of_month is None
    assert expression.day_of_week is not None
    assert expression.day_of_week.weekdays == {2, 3, 4, 5, 6}
    assert expression.years == set(range(1970, 2200))


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 10 1 * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 10 * * ?)", "six fields"),
        ("cron(0 10 * * ? * *)", "six fields"),
        ("cron(0  10 * * ? *)", "six fields"),
        ("cron(60 10 * * ? *)", "minutes field .*out of range 0-59"),
        ("cron(0 24 * * ? *)", "hours field .*out of range 0-23"),
        ("cron(0 10 0 * ? *)", "day-of-month field .*out of range 1-31"),
        ("cron(0 10 32 * ? *)", "day-of-month field .*out of range 1-31"),
        ("cron(0 10 1 13 ? *)", "month field .*out of range 1-12"),
        ("cron(0 10 1 FOO ? *)", "month field .*not a value"),
        ("cron(0 10 ? * 8 *)", "day-of-week field .*out of range 1-7"),
        ("cron(0 10 ? * 0 *)", "day-of-week field .*out of range 1-7"),
        ("cron(0 10 ? * MONDAY *)", "day-of-week field .*not a value"),
        ("cron(0 10 1 * ? 1969)", "year field .*out of range 1970-2199"),
        ("cron(0 10 1 * ? 2200)", "year field .*out of range 1970-2199"),
        ("cron(? 10 1 * ? *)", "'\\?' is allowed only"),
        ("cron(0 10 ? * MON/2 *)", "'/' is not allowed"),
        ("cron(0/0 10 * * ? *)", "positive integer"),
        ("cron(0/x 10 * * ? *)", "positive integer"),
        ("cron(0/61 10 * * ? *)", "larger than the field's range"),
        ("cron(0 17-9 * * ? *)", "runs backwards"),
        ("cron(0 10 1,,2 * ? *)", "empty list item"),
        ("cron(0 10 L,15 * ? *)", "L and W must stand alone"),
        ("cron(0 10 1-5W * ? *)", "L and W must stand alone"),
        ("cron(0 10 W * ? *)", "use L, LW or <day>W"),
        ("cron(0 10 32W * ? *)", "out of range"),
        ("cron(0 10 ? * 3#6 *)", "must be 1-5"),
        ("cron(0 10 ? * 3#1,6#3 *)", "single expression"),
        ("cron(0 10 ? * 9#1 *)", "out of range"),
        ("cron(0 10 ? * 2,6L *)", "L must stand alone"),
        ("cron(0 10 ? * XL *)", "not a value"),
        ("cron(0 10 * * ? *", "write cron"),
        ("cron(-1 10 * * ? *)", "not a value"),
        ("cron(1-2-3 10 * * ? *)", "not a value"),
    ],
)
def test_cron_rejects_what_aws_rejects(text: str, hint: str) -> None:
    with pytest.raises(InvalidScheduleExpression, match=hint):
        parse_schedule_expression(text)


# -------------------------------------------------------------------------------------------------- at


def test_at_fires_once_in_its_zone() -> None:
    expression = parse_schedule_expression("at(2026-06-01T09:30:00)")

    assert isinstance(expression, AtExpression)
    assert not expression.recurring
    assert expression.next_fire_after(NOON) == utc(2026, 6, 1, 9, 30)
    assert expression.next_fire_after(NOON, "Asia/Tokyo") == utc(2026, 6, 1, 0, 30)
    assert expression.next_fire_after(utc(2026, 6, 1, 9, 30)) is None


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("at(2026-02-30T10:00:00)", "day is out of range"),
        ("at(2026-13-01T10:00:00)", "month must be in 1..12"),
        ("at(2026-01-01T24:00:00)", "hour must be in 0..23"),
        ("at(2026-01-01 10:00:00)", "at\\(yyyy-mm-ddThh:mm:ss\\)"),
        ("at(2026-01-01T10:00)", "at\\(yyyy-mm-ddThh:mm:ss\\)"),
        ("at(2026-01-01T10:00:00Z)", "at\\(yyyy-mm-ddThh:mm:ss\\)"),
    ],
)
def test_at_rejects_bad_times(text: str, hint: str) -> None:
    with pytest.raises(InvalidScheduleExpression, match=hint):
        parse_schedule_expression(text)


# ------------------------------------------------------------------------------------- whole expression


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "required"),
        (" rate(5 minutes)", "surrounding spaces"),
        ("rate(5 minutes) ", "surrounding spaces"),
        ("every 5 minutes", "expected rate"),
        ("RATE(5 minutes)", "expected rate"),
        ("cron(" + "1," * 200 + "1 * * * ? *)", "at most 256"),
    ],
)
def test_rejects_malformed_expressions(text: str, hint: str) -> None:
    with pytest.raises(InvalidScheduleExpression, match=hint):
        parse_schedule_expression(text)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_schedule_expression("rate(5 minute)")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "/etc/localtime", "Europe/", "x" * 60])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(InvalidTimeZone, match="unknown time zone"):
        resolve_timezone(name)
    with pytest.raises(InvalidTimeZone):
        parse_schedule_expression("cron(0 8 * * ? *)").next_fire_after(NOON, name)


def test_empty_time_zone_means_utc() -> None:
    assert resolve_timezone(None) == resolve_timezone("") == ZoneInfo("UTC")
    assert resolve_timezone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
