"""Cron expressions: checked, read in words, and the time slot a firing belongs to.

Pure functions (no ORM), so the rules that decide "is this the same firing?" are testable alone.
Semantics follow Celery beat's ``crontab``, which is what fires the schedules: a time matches
when every field matches (day of month *and* day of week).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


class CronError(ValueError):
    """The expression is not a valid five-field cron expression; the message says why."""


@dataclass(frozen=True)
class Cron:
    expression: str
    minute: frozenset[int]
    hour: frozenset[int]
    day_of_month: frozenset[int]
    month_of_year: frozenset[int]
    day_of_week: frozenset[int]  # 0 = Sunday, as in cron

    @property
    def parts(self) -> list[str]:
        return self.expression.split(" ")

    def min_interval_minutes(self) -> int:
        """The shortest time between two firings, in minutes. Across midnight it assumes the
        next day fires too, so it never says longer than the truth."""
        times = sorted(h * 60 + m for h in self.hour for m in self.minute)
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        gaps.append(times[0] + 24 * 60 - times[-1])
        return min(gaps)

    def matches_day(self, day: dt.date) -> bool:
        return (day.month in self.month_of_year and day.day in self.day_of_month
                and (day.isoweekday() % 7) in self.day_of_week)

    def slot(self, now: dt.datetime) -> dt.datetime:
        """The latest time at or before ``now`` (to the minute) at which this schedule fires.

        Every message of one firing (a duplicate, a redelivery hours later) maps to the same
        slot, so "one job per schedule and slot" makes starting idempotent.
        """
        now = now.replace(second=0, microsecond=0)
        day = now.date()
        for back in range(0, 366 * 8 + 1):
            candidate = day - dt.timedelta(days=back)
            if not self.matches_day(candidate):
                continue
            last_hour = now.hour if back == 0 else 23
            for hour in sorted((h for h in self.hour if h <= last_hour), reverse=True):
                last_minute = now.minute if back == 0 and hour == now.hour else 59
                minutes = [m for m in self.minute if m <= last_minute]
                if minutes:
                    return now.replace(year=candidate.year, month=candidate.month, day=candidate.day, hour=hour,
                                       minute=max(minutes))
        raise CronError(f"The schedule {self.expression!r} never fires.")


_RANGES = {"minute": (0, 59), "hour": (0, 23), "day_of_month": (1, 31), "month_of_year": (1, 12), "day_of_week": (0, 7)}
_NAMES = {
    "month_of_year": {m: i for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)},
    "day_of_week": {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}


def _value(field: str, text: str) -> int:
    text = text.lower()
    if text in _NAMES.get(field, {}):
        return _NAMES[field][text]
    if not text.isdigit():
        raise CronError(f"{text!r} is not a number in the {field.replace('_', ' ')} field.")
    value = int(text)
    low, high = _RANGES[field]
    if not low <= value <= high:
        raise CronError(f"{value} is out of range for the {field.replace('_', ' ')} field ({low}-{high}).")
    return value


def _field(field: str, text: str) -> frozenset[int]:
    low, high = _RANGES[field]
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{step_text!r} is not a valid step in the {field.replace('_', ' ')} field.")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(field, first), _value(field, last)
            if start > end:
                raise CronError(f"The range {part!r} in the {field.replace('_', ' ')} field runs backwards.")
        else:
            start = _value(field, part)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    if field == "day_of_week" and 7 in values:  # 7 is Sunday too
        values.discard(7)
        values.add(0)
    return frozenset(values)


def parse(expression: str) -> Cron:
    """Parse a five-field cron expression (minute hour day month weekday)."""
    expression = " ".join((expression or "").split())
    parts = expression.split(" ") if expression else []
    if len(parts) != 5:
        raise CronError("A schedule is a cron expression of five fields: minute hour day month weekday.")
    sets = {name: _field(name, part) for name, part in zip(FIELDS, parts)}
    return Cron(expression=expression, **sets)


def describe(expression: str) -> str:
    """The expression in words ("At 03:00, only on Monday"), or the expression if it cannot be."""
    try:
        from cron_descriptor import Options, get_description

        options = Options()
        options.use_24hour_time_format = True
        options.verbose = False
        return get_description(expression, options)
    except Exception:  # a description is a nicety; the expression itself is always right
        return expression
