"""The dashboard and host detail, driven with the keyboard at 80x24 and 160x50.

Host health is written into the store the way a poller writes it (`record`), or by the
console's embedded poller running on scripted collectors. Data arrives from worker threads,
so tests wait for a condition (`wait_for`), never for a fixed time.
"""

from __future__ import annotations

import html
import logging
import re
import time
from datetime import timedelta
from typing import Any

import pytest

from opsconsole.app import OpsConsoleApp
from opsconsole.clock import ManualClock
from opsconsole.monitoring.host_list import HostFilter, SortKey
from opsconsole.screens.cmdb import CIDetailScreen
from opsconsole.screens.dashboard import DashboardScreen, fetch_index
from opsconsole.screens.host_detail import HostDetailScreen
from opsconsole.store.engine import Store
from opsconsole.widgets.host_panel import HostPanel, age_text
from opsconsole.widgets.sparkline import PercentSparkline
from opsconsole.widgets.value import Value
from tests.ui.conftest import (
    LOCAL_HOST,
    START,
    fill_many,
    local_snapshot,
    make_settings,
    snmp_snapshot,
    write_polls,
)

SIZES = [(80, 24), (160, 50)]
PROBLEMS_FIRST = ["core-sw-01", "access-sw-01", "web-01", "[bold red]x\x1b[2J", LOCAL_HOST]


def record_notifications(app: OpsConsoleApp) -> list[tuple[str, str]]:
    """(message, severity) of every notification the app raises."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append((message, kwargs.get("severity", "information")))
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


async def open_dashboard(pilot: Any, wait_for: Any) -> DashboardScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    screen = app.screen
    assert isinstance(screen, DashboardScreen)
    await wait_for(pilot, lambda: screen.index is not None and bool(screen.panels))
    await wait_for(pilot, lambda: histories_loaded(screen) and laid_out(screen))
    await pilot.pause()
    return screen


def laid_out(screen: DashboardScreen) -> bool:
    """The panels bound to hosts have had a layout pass (they are on the screen)."""
    return all(panel.region.height for panel in shown_panels(screen))


def histories_loaded(screen: DashboardScreen) -> bool:
    """Every visible panel whose host has samples shows its sparkline."""
    return all(
        panel.history for panel in shown_panels(screen) if panel.host and panel.host.has_data
    )


def shown_panels(screen: DashboardScreen) -> list[HostPanel]:
    return [panel for panel in screen.panels if panel.host is not None]


def shown_names(screen: DashboardScreen) -> list[str]:
    return [panel.host.name for panel in shown_panels(screen) if panel.host]


def panel_of(screen: DashboardScreen, name: str) -> HostPanel:
    for panel in shown_panels(screen):
        if panel.host is not None and panel.host.name == name:
            return panel
    raise AssertionError(f"{name} is not in a visible panel: {shown_names(screen)}")


def screen_text(app: OpsConsoleApp) -> str:
    """What the terminal shows, styles dropped."""
    svg = app.export_screenshot()
    assert "\x1b" not in svg and "\x07" not in svg
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def bar(screen: DashboardScreen) -> str:
    estate = screen.query_one("#estate", Value).shown.plain
    return f"{estate} | {screen.query_one('#position', Value).shown.plain}"


# --- what the dashboard shows ------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_dashboard_shows_every_host_from_the_store(
    make_app, filled: Store, wait_for, estate, size
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        assert shown_names(screen) == PROBLEMS_FIRST  # problems first
        assert bar(screen).startswith("5 hosts · 1 DOWN · 2 UNREACHABLE · 1 UNKNOWN · 1 UP")

        core = panel_of(screen, "core-sw-01")
        assert core.state == "DOWN" and core.has_class("-cursor")
        assert core.text("note") == "no SNMP response from 127.0.0.21:161 (timeout 2 s)"
        assert core.text("age") == "ok <2m ago"  # last good poll 90 s ago, polled every 60 s
        access = panel_of(screen, "access-sw-01")
        assert access.state == "UNREACHABLE"
        assert access.text("note").startswith("via core-sw-01 · no SNMP response")
        assert panel_of(screen, "web-01").text("note").startswith("via access-sw-01 · ")
        hostile = panel_of(screen, estate.hostile_name)
        assert hostile.state == "UNKNOWN"
        assert hostile.text("note") == "no data: no poller has written this host yet"
        assert hostile.text("age") == "never polled"
        assert estate.hostile_shown in screen_text(app)  # the name, literally

        local = panel_of(screen, LOCAL_HOST)
        assert local.state == "UP"
        assert local.value("state").has_class("-up")  # colour repeats the word
        assert local.text("cpu") == " 70.0%"
        assert local.text("load") == "load 0.52"
        assert local.text("mem") == "mem 43.8%"
        assert local.text("disk") == "disk / 61%"
        assert local.text("net") == "net ↓ 1.5 KiB/s ↑ 300 B/s"
        assert local.text("age") == "ok <2s ago"
        # The sparkline holds the CPU series the store has: twelve polls.
        assert local.history == (12.0, 35.0, 20.0, 55.0, 80.0, 42.0, 25.0, 61.0, 30.0, 47.0,
                                 15.0, 70.0)  # fmt: skip
        # One panel per row at 80 columns, side by side when wide; never more than fit.
        columns = {panel.region.x for panel in shown_panels(screen)}
        assert len(columns) == (1 if size[0] == 80 else 2)
        assert all(panel.region.height == 4 for panel in shown_panels(screen))
        assert len(screen.query(HostPanel)) == (5 if size == (80, 24) else 22)


async def test_filter_by_text_and_state_and_escape_clears(make_app, filled, wait_for) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        await pilot.press("slash", *"state:unr")
        await wait_for(pilot, lambda: shown_names(screen) == ["access-sw-01", "web-01"])
        assert bar(screen).startswith("2 of 5 hosts · 2 UNREACHABLE")
        await pilot.press("enter")  # leaves the filter, keeps it
        assert app.focused is None
        await pilot.press("enter")  # opens the host under the cursor
        await wait_for(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        assert app.screen.host_name == "access-sw-01"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert shown_names(screen) == ["access-sw-01", "web-01"]  # still filtered

        await pilot.press("escape")  # clears the filter, does not leave
        await wait_for(pilot, lambda: len(shown_names(screen)) == 5)
        assert app.screen is screen
        await pilot.press("slash", *"sw", "space", *"state:down,unr")
        await wait_for(pilot, lambda: shown_names(screen) == ["core-sw-01", "access-sw-01"])
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(shown_names(screen)) == 5)
        await pilot.press("slash", *"nothing-like-this")
        await wait_for(pilot, lambda: shown_names(screen) == [])
        assert "nothing matches" in bar(screen)


def test_filter_terms() -> None:
    assert HostFilter.parse("state:d").states == (frozenset({"DOWN"}),)
    assert HostFilter.parse("state:un").states == (frozenset({"UNKNOWN", "UNREACHABLE"}),)
    assert HostFilter.parse("STATE:Up web").words == ("web",)
    assert HostFilter.parse("state:zzz").errors == ("no state starts with 'zzz'",)
    assert HostFilter.parse("owner:x").words == ("owner:x",)  # unknown key: plain text
    assert not HostFilter.parse("  ")


async def test_sort_cycles_problems_name_cpu_disk(make_app, filled, wait_for, estate) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        await pilot.press("s")
        assert screen.sort_key is SortKey.NAME
        assert "sort name" in bar(screen)
        assert shown_names(screen) == sorted(PROBLEMS_FIRST)
        await pilot.press("s")
        assert screen.sort_key is SortKey.CPU
        # The last good sample of each; the host without one last.
        assert shown_names(screen) == [
            LOCAL_HOST, "core-sw-01", "access-sw-01", "web-01", estate.hostile_name,
        ]  # fmt: skip
        await pilot.press("s")
        assert screen.sort_key is SortKey.DISK
        assert shown_names(screen)[:3] == ["access-sw-01", "core-sw-01", "web-01"]  # 92 %
        assert panel_of(screen, "web-01").text("disk") == "disk /srv/data 92%"
        await pilot.press("s")
        assert screen.sort_key is SortKey.PROBLEMS
        assert shown_names(screen) == PROBLEMS_FIRST


# --- 500 hosts ---------------------------------------------------------------------------------


async def test_window_follows_the_cursor_over_500_hosts(
    make_app, store: Store, manual_clock: ManualClock, wait_for, capsys
) -> None:
    names = fill_many(store, 500, START - timedelta(minutes=5), rounds=3)
    app = make_app(feed_interval=300)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        assert len(screen.index.hosts) == 505  # type: ignore[union-attr]
        assert len(screen.query(HostPanel)) == 5  # a fixed pool: never 505 mounted panels
        down = [n for i, n in enumerate(names) if i % 17 == 0]
        assert shown_names(screen) == down[:5]  # problems first
        assert bar(screen).startswith(f"505 hosts · {len(down)} DOWN")

        await pilot.press("G")
        assert screen.current_host is not None
        last = screen.order[-1].name
        assert screen.current_host.name == last and shown_names(screen)[-1] == last
        assert panel_of(screen, last).has_class("-cursor")
        assert bar(screen).endswith("501-505/505")
        await wait_for(pilot, lambda: histories_loaded(screen))
        assert len(panel_of(screen, last).history) == 3  # fetched for the window only

        await pilot.press("g")
        assert shown_names(screen) == down[:5]
        for _ in range(7):
            await pilot.press("j")
        assert screen.cursor == 7 and shown_names(screen)[-1] == screen.order[7].name
        await pilot.press("pagedown")
        assert screen.cursor == 12 and "9-13/505" in bar(screen)
        await pilot.press("pageup", "k")
        assert screen.cursor == 6
        assert len(screen.query(HostPanel)) == 5

        # A full reload: 505 hosts read, filtered, sorted, the window rebound, and its
        # sparklines read again where a new sample landed.
        timings = []
        for _ in range(5):
            index = screen.index
            started = time.perf_counter()
            screen.reload()
            await wait_for(pilot, lambda index=index: screen.index is not index)  # type: ignore[misc]
            await wait_for(pilot, lambda: histories_loaded(screen))
            timings.append(time.perf_counter() - started)
        fetch_started = time.perf_counter()
        fetch_index(store, make_settings())
        fetch_only = time.perf_counter() - fetch_started
    best = min(timings)
    with capsys.disabled():
        print(
            f"\n500-host dashboard reload: best {best * 1000:.0f} ms, "
            f"median {sorted(timings)[2] * 1000:.0f} ms (index query alone "
            f"{fetch_only * 1000:.0f} ms)"
        )
    assert sorted(timings)[2] < 1.0


async def test_the_pool_follows_the_terminal_size(make_app, store: Store, wait_for) -> None:
    fill_many(store, 60, START - timedelta(minutes=5))
    app = make_app(feed_interval=300)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        await pilot.press("G")
        last = screen.order[-1].name
        await pilot.resize_terminal(160, 50)
        await wait_for(pilot, lambda: len(screen.query(HostPanel)) == 22)
        assert screen.columns == 2
        assert shown_names(screen)[-1] == last and panel_of(screen, last).has_class("-cursor")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: len(screen.query(HostPanel)) == 5)
        assert screen.columns == 1 and len(shown_names(screen)) == 5
        assert shown_names(screen)[-1] == last  # the cursor's host stays in view


# --- host detail -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_host_detail_shows_interfaces_state_changes_and_opens_the_ci(
    make_app, filled: Store, wait_for, size
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        dashboard = await open_dashboard(pilot, wait_for)
        await pilot.press("l", "l")  # core-sw-01, access-sw-01, web-01 (next host, any width)
        assert dashboard.current_host is not None and dashboard.current_host.name == "web-01"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, HostDetailScreen) and app.screen.detail
        )
        detail = app.screen
        assert isinstance(detail, HostDetailScreen)
        assert detail.query_one("#host-state", Value).shown.plain == "UNREACHABLE"
        assert detail.query_one("#host-since", Value).shown.plain == (
            "via access-sw-01 · since 2026-11-23 09:30:00 UTC"
        )
        assert detail.query_one("#host-times", Value).shown.plain == (
            "last poll 09:30:00 · last ok 09:28:30 (<2m ago)"
        )
        interfaces = detail.block_text("host-interfaces").splitlines()
        assert [line.split()[:2] for line in interfaces] == [["eth0", "up"], ["eth1", "DOWN"]]
        assert "↓  122.1 KiB/s  ↑   62.5 KiB/s" in interfaces[0]
        changes = detail.block_text("host-changes").splitlines()
        assert changes == [
            "2026-11-23 09:30:00 UTC  UP → UNREACHABLE  via access-sw-01",
            "2026-11-23 09:24:30 UTC  UNKNOWN → UP  poll ok",
        ]
        disks = detail.block_text("host-disks")
        assert "/srv/data" in disks and "92.0%" in disks
        assert "  2  97.0%" in detail.block_text("host-cores")
        assert "load.1                7.77" in detail.block_text("host-metrics").splitlines()
        cpu_history = detail.query_one("#cpu-history", PercentSparkline).values
        assert len(cpu_history) == 9  # nine good polls before the outage

        await pilot.press("c")  # the CMDB view of the same CI: impacted services
        await wait_for(pilot, lambda: isinstance(app.screen, CIDetailScreen) and app.screen.detail)
        ci = app.screen
        assert isinstance(ci, CIDetailScreen)
        assert ci.ci_name == "web-01"
        impacts = [str(option.prompt) for option in ci.query_one("#impacts").options]  # type: ignore[attr-defined]
        assert impacts == ["shop (high) via web-01 → shop-web"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is detail)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is dashboard)


# --- following the store -----------------------------------------------------------------------


async def test_no_poll_console_picks_up_rows_another_writer_wrote(
    make_app, store: Store, manual_clock: ManualClock, wait_for
) -> None:
    app = make_app(feed_interval=0.5)
    settings = make_settings()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        local = panel_of(screen, LOCAL_HOST)
        assert local.state == "UNKNOWN"
        assert "this console does not poll (--no-poll)" in local.text("note")
        assert "no-poll" in bar(screen)
        loaded = screen.index
        await pilot.pause(1.3)  # two probes of the marker: nothing moved, nothing reloaded
        assert screen.index is loaded

        # Another process (a poller daemon) writes: the console follows.
        manual_clock.advance(timedelta(seconds=5))
        at = manual_clock.now()
        write_polls(store, settings, {LOCAL_HOST: local_snapshot(LOCAL_HOST, at, 42.0),
                                      "web-01": snmp_snapshot("web-01", at, 12.0)}, at)  # fmt: skip
        await wait_for(pilot, lambda: panel_of(screen, LOCAL_HOST).state == "UP")
        assert panel_of(screen, LOCAL_HOST).text("cpu") == " 42.0%"
        assert panel_of(screen, "web-01").state == "UP"
        await wait_for(pilot, lambda: panel_of(screen, "web-01").history == (12.0,))

        # Hidden, it reads nothing; shown again, it catches up.
        await pilot.press("2")
        await wait_for(pilot, lambda: not screen.is_current)
        hidden_with = screen.index
        manual_clock.advance(timedelta(seconds=5))
        at = manual_clock.now()
        write_polls(store, settings, {"web-01": "no SNMP response"}, at)
        await pilot.pause(1.3)
        assert screen.index is hidden_with
        await pilot.press("1")
        await wait_for(pilot, lambda: panel_of(screen, "web-01").host.last_error is not None)  # type: ignore[union-attr]


async def test_idle_dashboard_repaints_nothing(make_app, filled, wait_for, monkeypatch) -> None:
    app = make_app(feed_interval=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        await pilot.pause()
        updates: list[str] = []
        original_update = Value.update
        original_refresh = PercentSparkline.refresh

        def spy(self: Value, *args: Any, **kwargs: Any) -> None:
            updates.append(" ".join(sorted(self.classes)) or str(self.id))
            original_update(self, *args, **kwargs)

        def spy_refresh(self: PercentSparkline, *args: Any, **kwargs: Any) -> Any:
            updates.append("sparkline")
            return original_refresh(self, *args, **kwargs)

        monkeypatch.setattr(Value, "update", spy)
        monkeypatch.setattr(PercentSparkline, "refresh", spy_refresh)
        await pilot.pause(1.3)  # age ticks and marker probes, and nothing to show for them
        index = screen.index
        screen.reload()  # a reload that finds the same data repaints nothing either
        await wait_for(pilot, lambda: screen.index is not index)
        await pilot.pause(0.2)
        assert updates == []


async def test_a_host_no_poller_has_polled_for_long_goes_stale(
    make_app, filled, wait_for, manual_clock: ManualClock
) -> None:
    app = make_app(feed_interval=300)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        local = panel_of(screen, LOCAL_HOST)
        assert local.text("age") == "ok <2s ago"
        manual_clock.advance(timedelta(hours=1))
        await wait_for(pilot, lambda: local.text("age").startswith("stale"))
        assert local.text("age") == "stale: no poll for 1h"
        assert local.value("age").has_class("-stale")
        assert local.state == "UP"  # what the store says, flagged as not vouched for


async def test_pause_holds_the_view(
    make_app, filled: Store, wait_for, manual_clock: ManualClock
) -> None:
    app = make_app(feed_interval=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        await pilot.press("p")
        assert "PAUSED" in bar(screen)
        manual_clock.advance(timedelta(seconds=5))
        at = manual_clock.now()
        write_polls(filled, make_settings(), {"core-sw-01": snmp_snapshot("core-sw-01", at, 5)}, at)
        await pilot.pause(1.3)
        assert panel_of(screen, "core-sw-01").state == "DOWN"  # held
        await pilot.press("p")
        await wait_for(pilot, lambda: panel_of(screen, "core-sw-01").state == "UP")


def test_age_text_moves_in_interval_steps() -> None:
    assert age_text(0.3, 2) == "<4s ago"
    assert age_text(3.9, 2) == "<4s ago"
    assert age_text(5.0, 2) == "4s ago"
    assert age_text(6.1, 2) == "6s ago"
    assert age_text(10, 600) == "<20m ago"


# --- the embedded poller -----------------------------------------------------------------------


async def test_embedded_poller_feeds_the_dashboard_and_r_polls_now(
    make_app, store: Store, collectors, wait_for, monkeypatch
) -> None:
    app = make_app(poll=True, local_interval=600)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_dashboard(pilot, wait_for)
        assert "no-poll" not in bar(screen)
        # The local host is polled at once; SNMP hosts are spread over their interval.
        await wait_for(pilot, lambda: panel_of(screen, LOCAL_HOST).state == "UP")
        scripted = collectors[0]
        scripted.errors["core-sw-01"] = "no SNMP response"
        scripted.load["web-01"] = 7.77
        full_repaints: list[str] = []
        original_refresh = OpsConsoleApp.refresh

        def spy(self: OpsConsoleApp, *args: Any, **kwargs: Any) -> Any:
            full_repaints.append("app")
            return original_refresh(self, *args, **kwargs)

        monkeypatch.setattr(OpsConsoleApp, "refresh", spy)
        batches = app.batches_written
        await pilot.press("r")  # everything polled now
        await wait_for(pilot, lambda: panel_of(screen, "web-01").state == "UP")
        assert app.batches_written > batches
        # A poll repaints the figures that moved, never the whole screen.
        assert full_repaints == []
        assert panel_of(screen, "web-01").text("load") == "load 7.77"
        assert {"core-sw-01", "access-sw-01", "web-01"} <= set(scripted.calls)
        core = panel_of(screen, "core-sw-01")
        assert core.state == "UNKNOWN"  # one failure is not an outage yet
        assert core.text("note") == "no SNMP response"

        await pilot.press("j", "j", "j", "j")
        assert screen.current_host is not None
        name = screen.current_host.name
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, HostDetailScreen) and app.screen.detail
        )
        calls = scripted.calls.count(name)
        await pilot.press("r")  # polls this host now
        await wait_for(pilot, lambda: scripted.calls.count(name) > calls)


async def test_embedded_poller_stops_promptly_on_quit(
    make_app, store: Store, collectors, wait_for, capsys
) -> None:
    app = make_app(poll=True, local_interval=600)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dashboard(pilot, wait_for)
        scripted = collectors[0]
        scripted.delay["web-01"] = 60.0  # a poll that would hold the quit for a minute
        await wait_for(pilot, lambda: LOCAL_HOST in scripted.calls)
        await pilot.press("r")
        await wait_for(pilot, lambda: "web-01" in scripted.calls)
        embedded = app.embedded
        assert embedded is not None and embedded.running
        started = time.monotonic()
        await pilot.press("ctrl+q")
    stopped = time.monotonic() - started
    assert embedded.finished.wait(5.0)
    with capsys.disabled():
        print(f"\nquit with a poll in flight: {stopped:.2f} s")
    # The slow poll alone would have held it for a minute; the grace for polls in flight
    # is half a second (generous bound: the machine may be busy).
    assert stopped < 5.0, f"quit took {stopped:.1f}s"
    assert scripted.closed  # the SNMP engine and friends were closed


async def test_poller_trouble_is_a_notification_not_text_on_the_terminal(
    make_app, store: Store, collectors, wait_for, capsys
) -> None:
    app = make_app(poll=True, local_interval=600)
    notes = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dashboard(pilot, wait_for)
        scripted = collectors[0]

        async def broken(target: Any) -> Any:
            raise RuntimeError("collector bug\nsecond line")

        scripted.collect = broken  # type: ignore[method-assign]
        await pilot.press("r")
        await wait_for(pilot, lambda: any("failed unexpectedly" in m for m, _ in notes))
        # Every host failing the same way, twice: one notification (once a minute at most).
        await pilot.press("r")
        await pilot.pause(0.5)
        shown = [message for message, _ in notes if "failed unexpectedly" in message]
        assert len(shown) == 1
        assert "collector bug" in shown[0] and "second line" not in shown[0]
        logging.getLogger("opsconsole.monitoring.poller").error("the store is away")
        await wait_for(pilot, lambda: ("the store is away", "error") in notes)
        assert app.is_running
    captured = capsys.readouterr()
    assert "collector bug" not in captured.err and "store is away" not in captured.err
