"""EventBridge Scheduler expressions: ``rate(...)``, ``cron(...)`` (AWS's six fields) and ``at(...)``.

Two callers need the same rules. The API validates a connection's schedule before storing it, because
Scheduler's API (and moto, which accepts any string) would otherwise fail late or never. The embedded
stack's scheduler fires schedules itself, because moto never does. Pure stdlib, so the domain layer stays
free of I/O.

Semantics follow the Scheduler user guide: rate schedules first fire at their start (StartDate, else
creation) and then every period, a day being 24 hours; cron and ``at`` are evaluated as wall-clock times
in the schedule's time zone; a wall time skipped by a daylight-saving jump does not fire, and a repeated
wall time fires once (its first occurrence). Precision is one minute.
"""

from __future__ import annotations

import calendar
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_EXPRESSION_LENGTH = 256  # Scheduler's API limit for ScheduleExpression
MIN_YEAR, MAX_YEAR = 1970, 2199


class InvalidScheduleExpression(ValueError):
    """An expression EventBridge Scheduler would reject; the message says which part and why."""


class InvalidTimeZone(ValueError):
    """A time zone name that is not in the IANA database."""


def resolve_timezone(name: str | None) -> ZoneInfo:
    """The zone for ``ScheduleExpressionTimezone``; empty means UTC, as on Scheduler."""
    if not name:
        return ZoneInfo("UTC")
    # ZoneInfo would read any relative path under the tz directory; only accept IANA-shaped names.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", name) or len(name) > 50:
        raise InvalidTimeZone(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTimeZone(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'"
        ) from exc


def _as_utc(moment: datetime) -> datetime:
    # A naive moment is taken as UTC: the embedded stack's clocks are UTC throughout.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall time, the first one when repeated, None when the clock skips it."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


@dataclass(frozen=True, slots=True)
class ScheduleExpression(ABC):
    """A parsed expression; ``text`` is the expression exactly as given."""

    text: str
    kind: ClassVar[str]
    recurring: ClassVar[bool] = True

    @abstractmethod
    def next_fire_after(
        self, moment: datetime, tz: str | None = "UTC", *, anchor: datetime | None = None
    ) -> datetime | None:
        """The first fire time strictly after ``moment`` (UTC, aware), or None when there is none.

        ``anchor`` is where a rate schedule starts counting (StartDate, else creation time); cron and
        ``at`` ignore it. Without one, a rate schedule is taken to have fired at ``moment``.
        """


_RATE_RE = re.compile(r"rate\((?P<value>[^ )]*) (?P<unit>[^ )]*)\)")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class RateExpression(ScheduleExpression):
    value: int = 1
    unit: str = "minute"
    kind: ClassVar[str] = "rate"

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.value * _RATE_UNITS[self.unit.removesuffix("s")])

    def next_fire_after(
        self, moment: datetime, tz: str | None = "UTC", *, anchor: datetime | None = None
    ) -> datetime | None:
        resolve_timezone(tz)  # rates ignore the zone, but a bad one is still an error
        moment = _as_utc(moment)
        if anchor is None:
            return moment + self.period
        start = _as_utc(anchor)
        if start > moment:
            return start
        periods = (moment - start) // self.period + 1
        return start + periods * self.period


_AT_RE = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")


@dataclass(frozen=True, slots=True)
class AtExpression(ScheduleExpression):
    # A wall time without zone: the schedule's ScheduleExpressionTimezone says where it is.
    wall_time: datetime = datetime(1970, 1, 1)
    kind: ClassVar[str] = "at"
    recurring: ClassVar[bool] = False

    def instant(self, tz: str | None = "UTC") -> datetime:
        zone = resolve_timezone(tz)
        # A one-time schedule inside a skipped hour still runs once, shifted forward like the clock.
        return self.wall_time.replace(tzinfo=zone, fold=0).astimezone(UTC)

    def next_fire_after(
        self, moment: datetime, tz: str | None = "UTC", *, anchor: datetime | None = None
    ) -> datetime | None:
        instant = self.instant(tz)
        return instant if instant > _as_utc(moment) else None


# ----------------------------------------------------------------------------------------------- cron

# Spelled out rather than taken from calendar.month_abbr, which follows the process locale.
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: n for n, name in enumerate(_MONTH_NAMES, start=1)}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None
    allows_step: bool = True


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
_DOW = _Field("day-of-week", 1, 7, _DAYS, allows_step=False)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR)


def _fail(field: _Field, token: str, why: str) -> InvalidScheduleExpression:
    return InvalidScheduleExpression(f"cron {field.name} field {token!r}: {why}")


def _value(field: _Field, token: str, whole: str) -> int:
    upper = token.upper()
    if field.names and upper in field.names:
        return field.names[upper]
    if not token.isdigit() or not token.isascii():
        allowed = f"{field.low}-{field.high}"
        if field.names:
            allowed += " or " + "-".join((next(iter(field.names)), list(field.names)[-1]))
        raise _fail(field, whole, f"{token!r} is not a value ({allowed})")
    number = int(token)
    if not field.low <= number <= field.high:
        raise _fail(field, whole, f"{number} is out of range {field.low}-{field.high}")
    return number


def _values(field: _Field, text: str) -> frozenset[int]:
    """The values a plain field (numbers, names, ``,`` ``-`` ``*`` ``/``) stands for."""
    result: set[int] = set()
    for term in text.split(","):
        if not term:
            raise _fail(field, text, "empty list item")
        base, slash, step_text = term.partition("/")
        step = 1
        if slash:
            if not field.allows_step:
                raise _fail(field, text, "'/' is not allowed in this field")
            if not step_text.isdigit() or not step_text.isascii() or int(step_text) == 0:
                raise _fail(field, text, f"increment {step_text!r} must be a positive integer")
            step = int(step_text)
            if step > field.high - field.low + 1:
                raise _fail(field, text, f"increment {step} is larger than the field's range")
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(field, first, text), _value(field, last, text)
            if low > high:
                raise _fail(field, text, f"range {base} runs backwards")
        else:
            low = _value(field, base, text)
            # "a/n" means from a to the end of the field in steps of n.
            high = field.high if slash else low
        result.update(range(low, high + 1, step))
    return frozenset(result)


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Python: Monday=0; AWS: Sunday=1 ... Saturday=7


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    weekday = date(year, month, day).weekday()
    if weekday == 5:  # Saturday: the Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, unless that leaves the month
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True, slots=True)
class _DayOfMonth:
    days: frozenset[int] = frozenset()
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: int | None = None  # nW

    def matches(self, year: int, month: int) -> set[int]:
        last = calendar.monthrange(year, month)[1]
        if self.last:
            return {last}
        if self.last_weekday:
            weekday = date(year, month, last).weekday()
            return {last - max(0, weekday - 4)}
        if self.nearest_weekday is not None:
            day = _nearest_weekday(year, month, self.nearest_weekday)
            return set() if day is None else {day}
        return {d for d in self.days if d <= last}


@dataclass(frozen=True, slots=True)
class _DayOfWeek:
    weekdays: frozenset[int] = frozenset()
    nth: tuple[int, int] | None = None  # (weekday, n) for d#n
    last_of: int | None = None  # weekday for dL

    def matches(self, year: int, month: int) -> set[int]:
        last = calendar.monthrange(year, month)[1]
        days = range(1, last + 1)
        if self.nth is not None:
            weekday, n = self.nth
            hits = [d for d in days if _aws_weekday(date(year, month, d)) == weekday]
            return {hits[n - 1]} if n <= len(hits) else set()
        if self.last_of is not None:
            hits = [d for d in days if _aws_weekday(date(year, month, d)) == self.last_of]
            return {hits[-1]}
        return {d for d in days if _aws_weekday(date(year, month, d)) in self.weekdays}


def _day_of_month(text: str) -> _DayOfMonth:
    special = text.upper()
    if "L" in special or "W" in special:
        if "," in text or "-" in text or "/" in text:
            raise _fail(_DOM, text, "L and W must stand alone, not in a list, range or increment")
        if special == "L":
            return _DayOfMonth(last=True)
        if special == "LW":
            return _DayOfMonth(last_weekday=True)
        if special.endswith("W") and special[:-1].isdigit():
            return _DayOfMonth(nearest_weekday=_value(_DOM, special[:-1], text))
        raise _fail(_DOM, text, "use L, LW or <day>W (for example 15W)")
    return _DayOfMonth(days=_values(_DOM, text))


def _day_of_week(text: str) -> _DayOfWeek:
    upper = text.upper()
    if "#" in upper:
        if "," in upper or "-" in upper:
            raise _fail(_DOW, text, "'#' allows a single expression such as 3#2 (the second Tuesday)")
        day, _, nth = upper.partition("#")
        if nth not in {"1", "2", "3", "4", "5"}:
            raise _fail(_DOW, text, "the instance after '#' must be 1-5")
        return _DayOfWeek(nth=(_value(_DOW, day, text), int(nth)))
    if "L" in upper:
        if "," in upper or "-" in upper:
            raise _fail(_DOW, text, "L must stand alone, not in a list or range")
        if upper == "L":
            return _DayOfWeek(weekdays=frozenset({7}))  # the last day of the week: Saturday
        if upper.endswith("L"):
            return _DayOfWeek(last_of=_value(_DOW, upper[:-1], text))
        raise _fail(_DOW, text, "use L or <day>L (for example 6L, the last Friday)")
    return _DayOfWeek(weekdays=_values(_DOW, text))


@dataclass(frozen=True, slots=True)
class CronExpression(ScheduleExpression):
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    day_of_month: _DayOfMonth | None = None
    months: frozenset[int] = frozenset()
    day_of_week: _DayOfWeek | None = None
    years: frozenset[int] = frozenset()
    kind: ClassVar[str] = "cron"

    def _days(self, year: int, month: int) -> list[int]:
        # Exactly one of the two day fields is set (the other was '?').
        spec = self.day_of_month if self.day_of_month is not None else self.day_of_week
        assert spec is not None
        return sorted(spec.matches(year, month))

    def _walk(self, start: datetime) -> Iterator[datetime]:
        """Every matching wall time from ``start`` on, in order; bounded by the year field's end."""
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in self._days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    same_day = (year, month, day) == (start.year, start.month, start.day)
                    for hour in hours:
                        if same_day and hour < start.hour:
                            continue
                        for minute in minutes:
                            if same_day and (hour, minute) < (start.hour, start.minute):
                                continue
                            yield datetime(year, month, day, hour, minute)

    def next_fire_after(
        self, moment: datetime, tz: str | None = "UTC", *, anchor: datetime | None = None
    ) -> datetime | None:
        zone = resolve_timezone(tz)
        moment = _as_utc(moment)
        local = moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
        for wall in self._walk(local + timedelta(minutes=1)):
            instant = _wall_to_instant(wall, zone)
            # Wall times repeated when clocks go back map to instants at or before `moment`: skipped,
            # so a repeated time fires once.
            if instant is not None and instant > moment:
                return instant
        return None


_CRON_RE = re.compile(r"cron\((?P<fields>[^()]*)\)")


def _parse_cron(text: str, body: str) -> CronExpression:
    fields = body.split(" ")
    if len(fields) != 6 or any(not f for f in fields):
        raise InvalidScheduleExpression(
            f"{text!r}: cron needs six fields separated by single spaces "
            "(minutes hours day-of-month month day-of-week year), for example cron(0 8 ? * MON-FRI *)"
        )
    minute, hour, dom, month, dow, year = fields
    for field, value in ((_MINUTES, minute), (_HOURS, hour), (_MONTH, month), (_YEAR, year)):
        if value == "?":
            raise _fail(field, value, "'?' is allowed only in day-of-month or day-of-week")
    if (dom == "?") == (dow == "?"):
        raise InvalidScheduleExpression(
            f"{text!r}: exactly one of day-of-month and day-of-week must be '?' "
            "(a value or * in one needs ? in the other)"
        )
    return CronExpression(
        text=text,
        minutes=_values(_MINUTES, minute),
        hours=_values(_HOURS, hour),
        day_of_month=None if dom == "?" else _day_of_month(dom),
        months=_values(_MONTH, month),
        day_of_week=None if dow == "?" else _day_of_week(dow),
        years=_values(_YEAR, year),
    )


def _parse_rate(text: str, match: re.Match[str]) -> RateExpression:
    value_text, unit = match["value"], match["unit"]
    if not value_text.isdigit() or not value_text.isascii() or value_text.startswith("0"):
        raise InvalidScheduleExpression(f"{text!r}: the rate value must be a positive integer")
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise InvalidScheduleExpression(f"{text!r}: the rate unit must be minute(s), hour(s) or day(s)")
    # AWS: 1 takes the singular unit, anything larger the plural.
    expected = singular if value == 1 else singular + "s"
    if unit != expected:
        raise InvalidScheduleExpression(f"{text!r}: write rate({value} {expected})")
    return RateExpression(text=text, value=value, unit=unit)


def _parse_at(text: str, match: re.Match[str]) -> AtExpression:
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise InvalidScheduleExpression(f"{text!r}: {exc}") from exc
    return AtExpression(text=text, wall_time=wall)


def parse_schedule_expression(text: str) -> ScheduleExpression:
    """Parse ``rate(...)``, ``cron(...)`` or ``at(...)`` as EventBridge Scheduler reads them."""
    if not isinstance(text, str) or not text:
        raise InvalidScheduleExpression("a schedule expression is required, e.g. rate(15 minutes)")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise InvalidScheduleExpression(
            f"a schedule expression is at most {MAX_EXPRESSION_LENGTH} characters"
        )
    if text != text.strip():
        raise InvalidScheduleExpression(f"{text!r}: remove the surrounding spaces")
    if text.startswith("rate("):
        match = _RATE_RE.fullmatch(text)
        if match is None:
            raise InvalidScheduleExpression(f"{text!r}: write rate(<value> <unit>), e.g. rate(15 minutes)")
        return _parse_rate(text, match)
    if text.startswith("cron("):
        cron = _CRON_RE.fullmatch(text)
        if cron is None:
            raise InvalidScheduleExpression(
                f"{text!r}: write cron(<six fields>), e.g. cron(0 8 ? * MON-FRI *)"
            )
        return _parse_cron(text, cron["fields"])
    if text.startswith("at("):
        at = _AT_RE.fullmatch(text)
        if at is None:
            raise InvalidScheduleExpression(f"{text!r}: write at(yyyy-mm-ddThh:mm:ss)")
        return _parse_at(text, at)
    raise InvalidScheduleExpression(f"{text!r}: expected rate(...), cron(...) or at(...)")


__all__ = [
    "AtExpression",
    "CronExpression",
    "InvalidScheduleExpression",
    "InvalidTimeZone",
    "RateExpression",
    "ScheduleExpression",
    "parse_schedule_expression",
    "resolve_timezone",
]
