"""The alert queue with the keyboard: triage keys (bulk acknowledge of marked rows, assign to
me, close, silence, raise an incident), the filter, quick views, the detail view, new critical
alerts announcing themselves, and a snapshot of the queue at 80x24.

Alerts come from events sent through the pipeline (`submit`), on the UI tests' estate.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rich.text import Text
from sqlalchemy import select
from textual.pilot import Pilot

from opsconsole.app import OpsConsoleApp
from opsconsole.clock import ManualClock
from opsconsole.events.pipeline import Event, submit
from opsconsole.events.silences import list_silences
from opsconsole.itsm.incidents import incidents_for_alert
from opsconsole.screens.alert_detail import AlertDetailScreen
from opsconsole.screens.alerts import PAGE_SIZE, AlertsScreen
from opsconsole.screens.dashboard import DashboardScreen
from opsconsole.screens.dialogs import AckDialog, ConfirmDialog, SilenceDialog
from opsconsole.screens.itsm_incident_form import IncidentFormScreen
from opsconsole.store.alert_models import Alert
from opsconsole.store.engine import Store
from opsconsole.store.models import Severity
from opsconsole.widgets.value import Value
from tests.ui.conftest import HOSTILE_NAME

# (CI, check, severity, message); sent ten minutes apart, oldest first. web-01 comes soon
# after core-sw-01 on the same service: it is correlated under it (a child, not a row); the
# others are rows of their own. The hostile CI name must show literally.
EVENTS = (
    ("core-sw-01", "if.errors", Severity.CRITICAL, "uplink errors 12%"),
    ("web-01", "cpu.percent", Severity.MAJOR, "CPU 97% for 10 min"),
    ("access-sw-01", "fs.percent", Severity.MINOR, "/var 91% full"),
    ("console-01", "mem.percent", Severity.WARNING, "memory 85%"),
    ("shop-web", "http.latency", Severity.MAJOR, "p95 2.3 s"),
    (HOSTILE_NAME, "db.conn", Severity.MAJOR, "refused [b]x[/b]"),
)
QUEUE = ["core-sw-01", HOSTILE_NAME, "shop-web", "access-sw-01", "console-01"]


def record_notifications(app: OpsConsoleApp) -> list[tuple[str, str]]:
    """(message, severity) of every notification the app raises."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append((message, kwargs.get("severity", "information")))
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


def send(store: Store, manual_clock: ManualClock, events: tuple[Any, ...] = EVENTS) -> None:
    for ci, check, severity, message in events:
        manual_clock.advance(timedelta(minutes=10))
        with store.write("test-events") as session:
            submit(
                session,
                [Event("monitoring", check, severity, message, manual_clock.now(), ci=ci)],
            )


def alert_by_ci(store: Store) -> dict[str, Alert]:
    with store.read() as session:
        return {a.ci_name: a for a in session.scalars(select(Alert))}


@pytest.fixture
def alerting(store: Store, manual_clock: ManualClock) -> Store:
    send(store, manual_clock)
    manual_clock.advance(timedelta(minutes=10))  # old enough not to be marked "new"
    return store


async def open_queue(pilot: Pilot[None], wait_for: Any, rows: int = 5) -> AlertsScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, AlertsScreen))
    screen = app.screen
    assert isinstance(screen, AlertsScreen)
    await wait_for(pilot, lambda: len(screen.rows) == rows)
    return screen


def cis(screen: AlertsScreen) -> list[str]:
    return [row.ci_name for row in screen.rows]


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_queue_sorted_worst_first_with_words(
    make_app: Any, alerting: Store, wait_for: Any, size: tuple[int, int]
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_queue(pilot, wait_for)
        assert cis(screen) == QUEUE
        assert screen.rows[0].children == 1
        table = screen.query_one("#alerts")
        first = table.get_row_at(0)  # type: ignore[attr-defined]
        assert isinstance(first[1], Text) and first[1].plain == "CRIT"
        # Columns a narrow terminal scrolls out of sight are repeated for the cursor's row.
        row_line = screen.query_one("#alerts-row", Value)
        if size[0] < 120:
            assert row_line.display and row_line.shown.plain.startswith("▸ shop ·")
            assert "unassigned" in row_line.shown.plain
        else:
            assert not row_line.display
        # The header counts (web-01's alert too): the same line on every screen.
        await wait_for(pilot, lambda: "CRIT 1" in app.sub_title)
        assert "MAJOR 3" in app.sub_title


async def test_header_counts_and_announcements_on_every_screen(
    make_app: Any, alerting: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    """Away from the queue (on the dashboard), the header counts by severity, a new critical
    alert announces itself, and with events.bell_on_critical the terminal bell rings once."""
    app = make_app()
    events = app.settings.events.model_copy(update={"bell_on_critical": True})
    app.settings = app.settings.model_copy(update={"events": events})
    seen = record_notifications(app)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "CRIT 1" in app.sub_title)
        assert app.current_mode == "dashboard"
        header = app.screen.query_one("HeaderTitle")
        assert "CRIT 1" in str(header.render())  # type: ignore[attr-defined]
        assert not seen and not bells  # what was there at start is not news
        send(alerting, manual_clock, (("web-01", "disk.io", Severity.CRITICAL, "disk gone"),))
        await wait_for(pilot, lambda: "CRIT 2" in app.sub_title)
        await wait_for(pilot, lambda: any("disk gone" in text for text, _ in seen))
        assert bells == [1]
        send(alerting, manual_clock, (("web-01", "disk.io", Severity.CRITICAL, "still gone"),))
        await pilot.pause(1.2)  # a repeat is not a new alert
        assert bells == [1] and "CRIT 2" in app.sub_title


async def test_bulk_acknowledge_of_three_marked_rows(
    make_app: Any, alerting: Store, wait_for: Any
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, wait_for)
        await pilot.press("space", "space", "space")
        assert len(screen.marked) == 3
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AckDialog))
        await pilot.press(*"on it", "enter")
        # The open view no longer holds them.
        await wait_for(pilot, lambda: cis(screen) == ["access-sw-01", "console-01"])
        alerts = alert_by_ci(alerting)
        for ci in QUEUE[:3]:
            assert alerts[ci].state == "acknowledged"
            assert alerts[ci].acked_by == "alice" and alerts[ci].ack_note == "on it"
        assert alerts["access-sw-01"].state == "open"
        assert not screen.marked
        # Acknowledged view, then unacknowledge the cursor row with u.
        await pilot.press("K")
        await wait_for(pilot, lambda: len(screen.rows) == 3)
        await pilot.press("u")
        await wait_for(pilot, lambda: len(screen.rows) == 2)
        assert alert_by_ci(alerting)["core-sw-01"].state == "open"


async def test_assign_to_me_then_mine_view(make_app: Any, alerting: Store, wait_for: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, wait_for)
        await pilot.press("j", "j", "m")
        await wait_for(pilot, lambda: alert_by_ci(alerting)["shop-web"].assignee == "alice")
        await wait_for(pilot, lambda: screen.rows[2].assignee == "alice")
        await pilot.press("M")
        await wait_for(pilot, lambda: cis(screen) == ["shop-web"])


async def test_close_asks_first(make_app: Any, alerting: Store, wait_for: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, wait_for)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")  # no
        await pilot.pause()
        assert alert_by_ci(alerting)["core-sw-01"].state == "open"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "core-sw-01" not in cis(screen))
        assert alert_by_ci(alerting)["core-sw-01"].state == "closed"


async def test_silence_needs_a_comment(make_app: Any, alerting: Store, wait_for: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot, wait_for)
        await pilot.press("j", "j", "j", "s")  # access-sw-01
        await wait_for(pilot, lambda: isinstance(app.screen, SilenceDialog))
        await pilot.press("down", "enter")  # 4 hours; on to the comment
        await pilot.press("enter")  # no comment: refused
        await pilot.pause()
        assert isinstance(app.screen, SilenceDialog)
        await pilot.press(*"known, patching", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SilenceDialog))
        await wait_for(pilot, lambda: alert_by_ci(alerting)["access-sw-01"].state == "suppressed")
        with alerting.read() as session:
            silences = list_silences(session)
            assert [s.silence.comment for s in silences] == ["known, patching"]


async def test_raise_incident_in_two_keys(make_app: Any, alerting: Store, wait_for: Any) -> None:
    app = make_app()
    seen = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, wait_for)
        await pilot.press("j", "j")  # shop-web's latency alert: no incident yet
        target = screen.cursor_row()
        assert target is not None and target.ci_name == "shop-web"
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("incident INC" in text for text, _ in seen))
        with alerting.read() as session:
            incidents = list(incidents_for_alert(session, target.id))
            assert len(incidents) == 1
            assert incidents[0].assignee == "alice" and incidents[0].caller == "alice"
            assert incidents[0].priority is not None and incidents[0].service
            number = incidents[0].number
        assert any(number in text for text, _ in seen)


async def test_an_alert_with_an_open_incident_gets_no_second_one(
    make_app: Any, alerting: Store, wait_for: Any
) -> None:
    """The ITSM rules already raised one for the critical core-sw-01 alert: `i` offers to open
    it, Enter shows its form, and no second incident is written."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot, wait_for)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = str(app.screen.query_one("#question").render())
        assert "INC0001001 is already open for" in question
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentFormScreen))
        assert app.screen.number == "INC0001001"
        alert = alert_by_ci(alerting)["core-sw-01"]
        with alerting.read() as session:
            assert [i.number for i in incidents_for_alert(session, alert.id)] == ["INC0001001"]


async def test_filter_and_bad_filter(make_app: Any, alerting: Store, wait_for: Any) -> None:
    app = make_app()
    seen = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, wait_for)
        await pilot.press("slash", *"check:fs", "enter")
        await wait_for(pilot, lambda: cis(screen) == ["access-sw-01"])
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"severity:bogus", "enter")
        await wait_for(pilot, lambda: any(sev == "warning" for _, sev in seen))
        assert cis(screen) == ["access-sw-01"]
        await pilot.press("escape")  # leave the box: the filter stays
        await pilot.press("escape")  # clear the filter
        await wait_for(pilot, lambda: len(screen.rows) == 5)
        await pilot.press("slash", *"uplink", "enter")
        await wait_for(pilot, lambda: cis(screen) == ["core-sw-01"])


async def test_detail_view(make_app: Any, alerting: Store, wait_for: Any) -> None:
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_queue(pilot, wait_for)
        await pilot.press("enter")  # core-sw-01: web-01 correlated under it, the shop behind
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, AlertDetailScreen) and app.screen.view is not None,
        )
        view = app.screen.view
        assert isinstance(app.screen, AlertDetailScreen) and view is not None
        fields = view.sections["fields"].plain
        assert "if.errors" in fields and "uplink errors 12%" in fields
        assert "alice" not in view.sections["history"].plain
        assert view.sections["history"].plain != "none"
        assert "web-01" in view.sections["children"].plain
        assert "shop" in view.sections["services"].plain
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, AlertsScreen))


async def test_next_page_loads_at_the_end_of_the_table(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    count = PAGE_SIZE + 30
    with store.write("test-events") as session:
        submit(
            session,
            [
                Event("monitoring", "cpu.percent", Severity.MINOR, f"busy {i}",
                      manual_clock.now() + timedelta(seconds=i), ci=f"bulk-{i:03d}")
                for i in range(count)
            ],
        )  # fmt: skip
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, wait_for, rows=PAGE_SIZE)
        assert screen.has_more
        assert screen.rows[0].ci_name == f"bulk-{count - 1:03d}"  # newest first
        await pilot.press("G")
        await wait_for(pilot, lambda: len(screen.rows) == count)
        assert not screen.has_more
        assert len({row.id for row in screen.rows}) == count


async def test_new_critical_announces_itself(
    make_app: Any, alerting: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    app = make_app()
    seen = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, wait_for)
        send(alerting, manual_clock, (("web-01", "disk.io", Severity.CRITICAL, "disk gone"),))
        await wait_for(pilot, lambda: len(screen.rows) == 6)
        await wait_for(pilot, lambda: any("disk gone" in text for text, _ in seen))
        new = screen.rows[0]
        assert new.check == "disk.io" and new.marker() == "new"
        table = screen.query_one("#alerts")
        assert "new" in table.get_row_at(0)[0].plain  # type: ignore[attr-defined]


def test_queue_snapshot(
    snap_compare: Any, make_app: Any, alerting: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    # One fresh alert, to show the "new" marker.
    send(alerting, manual_clock, (("web-01", "disk.io", Severity.MINOR, "disk latency 80 ms"),))
    app = make_app(feed_interval=300)

    async def run_before(pilot: Pilot[None]) -> None:
        await open_queue(pilot, wait_for, rows=6)
        await pilot.press("j", "space")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
