"""Working-time calendars for SLA clocks: 24x7, or business hours in a time zone with holidays.

Two operations, exact to the microsecond (timedelta arithmetic, no floats):
`working(start, end)` is how much working time lies between two instants, and
`add(start, amount)` is the first instant at which `amount` of working time has passed since
`start`. They are inverse: working(start, add(start, x)) == x.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from opsconsole.itsm.settings import ALWAYS, CalendarSettings, ItsmSettings

ZERO = timedelta(0)
# No calendar is that sparse: a search for working time that goes this far is a bug.
_HORIZON_DAYS = 3 * 366


class CalendarError(ValueError):
    pass


class Calendar(Protocol):
    @property
    def name(self) -> str: ...

    def working(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when end <= start."""
        ...

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant t with working(start, t) == amount."""
        ...


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise CalendarError(f"naive datetime {when!r}: calendars work on aware times")
    return when


@dataclass(frozen=True)
class AlwaysCalendar:
    """24x7: working time is wall-clock time."""

    name: str = ALWAYS

    def working(self, start: datetime, end: datetime) -> timedelta:
        return max(ZERO, _aware(end) - _aware(start))

    def add(self, start: datetime, amount: timedelta) -> datetime:
        return _aware(start) + max(ZERO, amount)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working ranges per weekday (local time in `zone`), minus holiday dates."""

    name: str
    zone: ZoneInfo
    week: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, name: str, settings: CalendarSettings) -> BusinessCalendar:
        return cls(
            name=name,
            zone=ZoneInfo(settings.timezone),
            week={day: tuple(ranges) for day, ranges in settings.ranges().items()},
            holidays=frozenset(settings.holidays),
        )

    def _day(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        out = []
        for start, end in self.week.get(day.weekday(), ()):
            a = datetime.combine(day, start, tzinfo=self.zone).astimezone(UTC)
            if end == time.max:  # 24:00
                b = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
            else:
                b = datetime.combine(day, end, tzinfo=self.zone)
            b = b.astimezone(UTC)
            if b > a:
                out.append((a, b))
        return out

    def _intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) that end after `start`, clipped to begin at `start` or later."""
        start = _aware(start).astimezone(UTC)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            for a, b in self._day(day):
                if b > start:
                    yield max(a, start), b
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name}: no working time within {_HORIZON_DAYS} days")

    def working(self, start: datetime, end: datetime) -> timedelta:
        end = _aware(end).astimezone(UTC)
        total = ZERO
        if end <= _aware(start):
            return total
        for a, b in self._intervals(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total

    def add(self, start: datetime, amount: timedelta) -> datetime:
        if amount <= ZERO:
            return _aware(start)
        left = amount
        for a, b in self._intervals(start):
            if b - a >= left:
                return a + left
            left -= b - a
        raise AssertionError("unreachable: _intervals raises at its horizon")


def calendar_named(name: str, settings: ItsmSettings) -> Calendar:
    if name == ALWAYS:
        return AlwaysCalendar()
    try:
        return BusinessCalendar.from_settings(name, settings.calendars[name])
    except KeyError:
        raise CalendarError(f"no calendar named {name!r}") from None
