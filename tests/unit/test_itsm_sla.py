"""SLA clocks replayed from journals: pauses, reopen, priority changes, calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsconsole.itsm.calendars import AlwaysCalendar, BusinessCalendar, CalendarError
from opsconsole.itsm.settings import CalendarSettings, ItsmSettings
from opsconsole.itsm.sla import (
    ClockKind,
    Level,
    SlaEvent,
    Stage,
    Target,
    badge,
    clock,
    format_span,
    incident_clocks,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
M = timedelta(minutes=1)
DEFAULTS = ItsmSettings()


def opened(priority: int, at: datetime = T0) -> SlaEvent:
    return SlaEvent(at, state="new", priority=priority)


def state(at: datetime, value: str) -> SlaEvent:
    return SlaEvent(at, state=value)


def clocks(events: list[SlaEvent], now: datetime, settings: ItsmSettings = DEFAULTS):  # type: ignore[no-untyped-def]
    return incident_clocks(events, settings, now)


# --- the design's targets, 24x7 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "response", "resolution"),
    [(1, 15 * M, 4 * H), (2, 30 * M, 8 * H), (3, 4 * H, 72 * H), (4, 24 * H, 120 * H),
     (5, 48 * H, 240 * H)],
)  # fmt: skip
def test_targets_per_priority(priority: int, response: timedelta, resolution: timedelta) -> None:
    sla = clocks([opened(priority)], T0)
    assert sla.response.due_at == T0 + response
    assert sla.resolution.due_at == T0 + resolution
    assert sla.response.warn_at == T0 + response * 0.75
    assert sla.resolution.stage is Stage.RUNNING


def test_response_stops_at_the_first_move_out_of_new() -> None:
    events = [opened(1), state(T0 + 10 * M, "in_progress")]
    sla = clocks(events, T0 + 2 * H)
    assert sla.response.stage is Stage.STOPPED
    assert sla.response.elapsed == 10 * M
    assert sla.response.breached_at is None
    assert sla.response.level is Level.OK
    assert sla.response.describe() == "response met (67%)"


def test_response_breach_time_is_when_it_crossed_not_when_we_looked() -> None:
    events = [opened(1), state(T0 + 40 * M, "in_progress")]
    for now in (T0 + 40 * M, T0 + 5 * H, T0 + 50 * H):
        sla = clocks(events, now)
        assert sla.response.breached_at == T0 + 15 * M
        assert sla.response.warned_at == T0 + 15 * M * 0.75
        assert sla.response.level is Level.BREACHED


def test_hold_pauses_resolution_exactly() -> None:
    events = [
        opened(2),
        state(T0 + 5 * M, "in_progress"),
        state(T0 + 1 * H, "on_hold"),
        state(T0 + 11 * H, "in_progress"),
    ]
    during_hold = clocks(events[:3], T0 + 5 * H)
    assert during_hold.resolution.stage is Stage.PAUSED
    assert during_hold.resolution.elapsed == 1 * H
    assert during_hold.resolution.due_at is None
    assert during_hold.resolution.describe() == "resolution paused, 7h left"
    after = clocks(events, T0 + 12 * H)
    assert after.resolution.elapsed == 2 * H
    assert after.resolution.due_at == T0 + 8 * H + 10 * H  # the hold moved it by 10 h
    assert after.resolution.breached_at is None


def test_breach_before_hold_stays_a_breach() -> None:
    events = [opened(1), state(T0 + 5 * M, "in_progress"), state(T0 + 5 * H, "on_hold")]
    sla = clocks(events, T0 + 9 * H)
    assert sla.resolution.stage is Stage.PAUSED
    assert sla.resolution.breached_at == T0 + 4 * H
    assert "breached" in sla.resolution.describe()


def test_reopen_resumes_from_where_the_clock_stopped() -> None:
    events = [
        opened(2),
        state(T0 + 5 * M, "in_progress"),
        state(T0 + 3 * H, "resolved"),
        state(T0 + 20 * H, "in_progress"),
    ]
    resolved = clocks(events[:3], T0 + 10 * H)
    assert resolved.resolution.stage is Stage.STOPPED
    assert resolved.resolution.elapsed == 3 * H
    reopened = clocks(events, T0 + 21 * H)
    assert reopened.resolution.stage is Stage.RUNNING
    assert reopened.resolution.elapsed == 4 * H
    assert reopened.resolution.due_at == T0 + 20 * H + 5 * H


def test_canceled_clock() -> None:
    events = [opened(3), state(T0 + H, "in_progress"), state(T0 + 2 * H, "canceled")]
    sla = clocks(events, T0 + 5 * H)
    assert sla.resolution.stage is Stage.CANCELED
    assert sla.resolution.describe() == "resolution canceled"


def test_priority_change_recalculates_against_the_new_target() -> None:
    events = [opened(3), state(T0 + 10 * M, "in_progress"), SlaEvent(T0 + 2 * H, priority=1)]
    sla = clocks(events, T0 + 2 * H + 30 * M)
    assert sla.resolution.priority == 1
    assert sla.resolution.target == 4 * H
    assert sla.resolution.elapsed == 2 * H + 30 * M
    assert sla.resolution.due_at == T0 + 4 * H  # counted from the start, not reset
    assert sla.resolution.warn_at == T0 + 3 * H
    assert sla.resolution.warned_at is None
    assert sla.resolution.level is Level.OK
    assert round(sla.resolution.percent) == 62


def test_raised_priority_already_past_target_breaches_at_the_change() -> None:
    change = T0 + 6 * H
    events = [opened(3), state(T0 + 10 * M, "in_progress"), SlaEvent(change, priority=1)]
    sla = clocks(events, change + M)
    assert sla.resolution.breached_at == change
    assert sla.resolution.warned_at == change


def test_lowered_priority_gives_more_time() -> None:
    events = [opened(1), state(T0 + 5 * M, "in_progress"), SlaEvent(T0 + H, priority=4)]
    sla = clocks(events, T0 + 5 * H)
    assert sla.resolution.breached_at is None
    assert sla.resolution.due_at == T0 + 120 * H


def test_events_after_now_are_ignored_and_before_opening_nothing_runs() -> None:
    events = [opened(2), state(T0 + 5 * H, "resolved")]
    sla = clocks(events, T0 + H)
    assert sla.resolution.elapsed == H
    assert sla.resolution.stage is Stage.RUNNING
    empty = clocks([], T0)
    assert empty.resolution.stage is Stage.NOT_STARTED
    assert empty.resolution.describe() == "resolution not started"


def test_thresholds_are_configurable() -> None:
    custom = ItsmSettings.model_validate({"sla": {"warning_percent": 50, "breach_percent": 90}})
    sla = clocks([opened(1)], T0, custom)
    assert sla.resolution.warn_at == T0 + 2 * H
    assert sla.resolution.due_at == T0 + 4 * H * 0.9


# --- business hours -------------------------------------------------------------------------


def business(**overrides: object) -> ItsmSettings:
    targets = {f"P{p}": {"response": r, "resolution": s, "calendar": "office"}
               for p, (r, s) in {1: ("1h", "4h"), 2: ("2h", "8h"), 3: ("4h", "3d"),
                                 4: ("1d", "5d"), 5: ("2d", "10d")}.items()}  # fmt: skip
    office = {"timezone": "Europe/Berlin", "hours": {d: "08:00-18:00" for d in
              ("mon", "tue", "wed", "thu", "fri")}, **overrides}  # fmt: skip
    return ItsmSettings.model_validate(
        {"sla": {"targets": targets}, "calendars": {"office": office}}
    )


BERLIN = ZoneInfo("Europe/Berlin")


def berlin(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def test_business_hours_carry_over_the_weekend() -> None:
    friday_5pm = berlin(2026, 11, 27, 17)
    sla = clocks([opened(3, friday_5pm)], friday_5pm, business())
    # 1 h on Friday, 3 h on Monday from 08:00.
    assert sla.response.due_at == berlin(2026, 11, 30, 11)
    # 3 d = 72 working hours: 1 on Friday, 7 days of 10 h, 1 more on Wednesday 9 December.
    assert sla.resolution.due_at == berlin(2026, 12, 9, 9)


def test_opened_at_night_starts_counting_in_the_morning() -> None:
    at = berlin(2026, 11, 24, 23)
    sla = clocks([opened(1, at)], berlin(2026, 11, 25, 8, 30), business())
    assert sla.response.elapsed == 30 * M
    assert sla.response.due_at == berlin(2026, 11, 25, 9)


def test_holidays_are_not_working_days() -> None:
    settings = business(holidays=[date(2026, 12, 25)])
    thursday = berlin(2026, 12, 24, 17)
    sla = clocks([opened(2, thursday)], thursday, settings)
    assert sla.response.due_at == berlin(2026, 12, 28, 9)  # Fri 25th off, then the weekend


def test_hold_inside_business_hours_pauses_only_working_time() -> None:
    monday = berlin(2026, 11, 23, 9)
    events = [
        opened(2, monday),
        state(monday + 10 * M, "in_progress"),
        state(berlin(2026, 11, 23, 12), "on_hold"),
        state(berlin(2026, 11, 24, 10), "in_progress"),
    ]
    sla = clocks(events, berlin(2026, 11, 24, 11), business())
    assert sla.resolution.elapsed == 4 * H  # 09-12 Monday, 10-11 Tuesday
    assert sla.resolution.due_at == berlin(2026, 11, 24, 15)


def test_daylight_saving_change_is_handled() -> None:
    # Europe/Berlin leaves summer time on 2026-10-25 (a Sunday): Friday 17:00 CEST + 2 working
    # hours = Monday 09:00 CET, one more real hour than a naive sum.
    friday = berlin(2026, 10, 23, 17)
    sla = clocks([opened(2, friday)], friday, business())
    assert sla.response.due_at == berlin(2026, 10, 26, 9)
    assert sla.response.due_at == datetime(2026, 10, 26, 8, tzinfo=UTC)  # CET is UTC+1


def test_split_day_and_midnight_ranges() -> None:
    settings = CalendarSettings(
        timezone="UTC", hours={"mon": "08:00-12:00, 13:00-17:00", "tue": "22:00-24:00"}
    )
    cal = BusinessCalendar.from_settings("split", settings)
    monday = datetime(2026, 11, 23, 11, tzinfo=UTC)
    assert cal.add(monday, 2 * H) == datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert cal.working(monday, datetime(2026, 11, 25, tzinfo=UTC)) == 7 * H
    assert cal.add(monday, 7 * H) == datetime(2026, 11, 25, tzinfo=UTC)


def test_naive_times_are_refused() -> None:
    with pytest.raises(CalendarError):
        AlwaysCalendar().working(datetime(2026, 1, 1), datetime(2026, 1, 2))


# --- properties -------------------------------------------------------------------------------

instants = st.integers(min_value=0, max_value=60 * 24 * 30).map(lambda m: T0 + m * M)
spans = st.integers(min_value=0, max_value=60 * 24 * 20).map(lambda m: m * M)
office_cal = BusinessCalendar.from_settings(
    "office",
    CalendarSettings(timezone="Europe/Berlin", holidays=[date(2026, 12, 8), date(2026, 12, 25)]),
)


@given(start=instants, amount=spans)
def test_add_and_working_are_inverse(start: datetime, amount: timedelta) -> None:
    end = office_cal.add(start, amount)
    assert office_cal.working(start, end) == amount
    if amount > timedelta(0):  # the earliest such instant: inside working time
        assert office_cal.working(start, end - timedelta(microseconds=1)) < amount


@given(a=instants, b=instants, c=instants)
def test_working_time_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert office_cal.working(a, c) == office_cal.working(a, b) + office_cal.working(b, c)
    assert office_cal.working(a, c) <= c - a


# A random incident history: moves along allowed transitions at random times.
MOVES = {
    "new": ["in_progress", "canceled"],
    "in_progress": ["on_hold", "resolved", "canceled"],
    "on_hold": ["in_progress", "canceled"],
    "resolved": ["in_progress", "closed"],
    "closed": [],
    "canceled": [],
}


@st.composite
def histories(draw: st.DrawFn) -> list[SlaEvent]:
    at = T0
    current = "new"
    events = [opened(draw(st.integers(1, 5)), at)]
    for _ in range(draw(st.integers(0, 8))):
        at += draw(spans)
        if draw(st.booleans()) and current not in ("closed", "canceled"):
            events.append(SlaEvent(at, priority=draw(st.integers(1, 5))))
        elif MOVES[current]:
            current = draw(st.sampled_from(MOVES[current]))
            events.append(state(at, current))
    return events


def _running_time(events: list[SlaEvent], now: datetime) -> timedelta:
    """Wall time spent in in_progress/new (what the 24x7 resolution clock must count)."""
    total, last, current = timedelta(0), None, None
    for event in events:
        if last is not None and current in ("new", "in_progress"):
            total += min(event.at, now) - min(last, now)
        if event.state:
            current = event.state
        last = event.at
    if last is not None and current in ("new", "in_progress") and now > last:
        total += now - last
    return total


@settings(max_examples=300)
@given(events=histories(), later=spans)
def test_24x7_elapsed_is_open_time_minus_holds(events: list[SlaEvent], later: timedelta) -> None:
    now = events[-1].at + later
    sla = clocks(events, now)
    assert sla.resolution.elapsed == _running_time(events, now)


@settings(max_examples=200)
@given(events=histories(), later=spans, more=spans)
def test_replay_is_stable_as_time_passes(
    events: list[SlaEvent], later: timedelta, more: timedelta
) -> None:
    """A breach or warning, once it happened, is reported at the same instant forever."""
    now = events[-1].at + later
    first = clocks(events, now)
    second = clocks(events, now + more)
    for a, b in ((first.response, second.response), (first.resolution, second.resolution)):
        if a.breached_at is not None:
            assert b.breached_at == a.breached_at
        if a.warned_at is not None:
            assert b.warned_at == a.warned_at
        assert b.elapsed >= a.elapsed
        if a.stage is Stage.RUNNING and a.due_at is not None and a.breached_at is None:
            # With nothing else happening, the projection comes true.
            assert (b.breached_at or b.due_at) == a.due_at


@settings(max_examples=200)
@given(events=histories(), later=spans)
def test_business_elapsed_never_exceeds_24x7(events: list[SlaEvent], later: timedelta) -> None:
    now = events[-1].at + later
    office = clocks(events, now, business())
    always = clocks(events, now)
    assert office.resolution.elapsed <= always.resolution.elapsed


def test_clock_with_a_custom_target_function() -> None:
    def target(_: int) -> Target:
        return Target(timedelta(minutes=10), AlwaysCalendar())

    status = clock(ClockKind.RESOLUTION, [opened(1)], target, T0 + 8 * M)
    assert status.level is Level.WARNING
    assert status.remaining == 2 * M
    assert status.describe() == "resolution 2m left"


# --- list badges ------------------------------------------------------------------------------


def _badge(state: str = "in_progress", **times: datetime | None):  # type: ignore[no-untyped-def]
    columns: dict[str, datetime | None] = {
        f"{kind}_{what}": None
        for kind in ("response", "resolution")
        for what in ("warn_at", "due_at", "breached_at")
    }
    columns.update(times)
    return badge(state=state, responded=True, now=T0 + 2 * H, **columns)  # type: ignore[arg-type]


def test_badges() -> None:
    ok = _badge(resolution_warn_at=T0 + 5 * H, resolution_due_at=T0 + 6 * H)
    assert (ok.level, ok.text) == (Level.OK, "4h left")
    warning = _badge(resolution_warn_at=T0 + H, resolution_due_at=T0 + 3 * H)
    assert (warning.level, warning.text, warning.symbol) == (Level.WARNING, "1h left", "!")
    late = _badge(resolution_warn_at=T0, resolution_due_at=T0 + H)
    assert (late.level, late.text) == (Level.BREACHED, "resolution breached 1h ago")
    paused = _badge(state="on_hold")
    assert (paused.level, paused.text) == (Level.OK, "paused")
    met = _badge(state="resolved")
    assert met.text == "met"
    missed = _badge(state="closed", resolution_breached_at=T0)
    assert missed.level is Level.BREACHED


def test_format_span() -> None:
    assert format_span(timedelta(days=2, hours=4, minutes=3)) == "2d 4h"
    assert format_span(timedelta(hours=1, minutes=20)) == "1h 20m"
    assert format_span(timedelta(seconds=45)) == "45s"
    assert format_span(timedelta(seconds=-5)) == "0s"
    assert format_span(timedelta(minutes=5)) == "5m"


def test_time_objects_are_not_datetimes() -> None:
    # hours given as 24:00 mean midnight, not 23:59:59.999999
    cal = BusinessCalendar.from_settings(
        "late", CalendarSettings(timezone="UTC", hours={"mon": "20:00-24:00"})
    )
    start = datetime.combine(date(2026, 11, 23), time(20), tzinfo=UTC)
    assert cal.working(start, start + 10 * H) == 4 * H
