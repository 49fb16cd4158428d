"""SVG snapshots of each screen: fixed clock, fixed store contents (polls written with
`record`, no live poller), so every run draws the same screen.

Regenerate with `pytest tests/ui/test_snapshots.py --snapshot-update`, then look at the SVGs
in tests/ui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from opsconsole.screens.cmdb import CIDetailScreen, CMDBScreen
from opsconsole.screens.dashboard import DashboardScreen
from opsconsole.screens.help import HelpScreen
from opsconsole.screens.host_detail import HostDetailScreen

# The change feed never ticks while a snapshot is taken.
QUIET = {"feed_interval": 300}


def dashboard_ready(wait_for: Any) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await wait_for(pilot, lambda: screen.index is not None and bool(screen.panels))
        await wait_for(
            pilot,
            lambda: all(
                (panel.history or not panel.host.has_data) and panel.region.height
                for panel in screen.panels
                if panel.host is not None
            ),
        )

    return run_before


def host_detail_ready(wait_for: Any, moves: tuple[str, ...]) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await dashboard_ready(wait_for)(pilot)
        await pilot.press(*moves, "enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, HostDetailScreen) and app.screen.detail is not None,
        )

    return run_before


def cmdb_ready(wait_for: Any) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, CMDBScreen) and bool(app.screen.rows))

    return run_before


def detail_ready(wait_for: Any, name: str) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await cmdb_ready(wait_for)(pilot)
        # Class "host": console-01, then web-01.
        await pilot.press("c", "down", "down", "down", "enter")
        screen = app.screen
        assert isinstance(screen, CMDBScreen)
        await wait_for(pilot, lambda: [r.name for r in screen.rows] == ["console-01", name])
        await pilot.press("j", "enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, CIDetailScreen) and app.screen.detail is not None,
        )

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_dashboard(snap_compare, make_app, filled, wait_for, size) -> None:
    app = make_app(**QUIET)
    assert snap_compare(app, terminal_size=size, run_before=dashboard_ready(wait_for))


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_host_detail(snap_compare, make_app, filled, wait_for, size) -> None:
    """web-01: UNREACHABLE via access-sw-01, its interfaces (one down), its state changes."""
    app = make_app(**QUIET)
    moves = ("j", "j") if size[0] < 120 else ("l", "l")
    assert snap_compare(app, terminal_size=size, run_before=host_detail_ready(wait_for, moves))


def test_cmdb(snap_compare, make_app, wait_for) -> None:
    app = make_app(**QUIET)
    assert snap_compare(app, terminal_size=(80, 24), run_before=cmdb_ready(wait_for))


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_ci_detail(snap_compare, make_app, wait_for, size) -> None:
    app = make_app(**QUIET)
    assert snap_compare(app, terminal_size=size, run_before=detail_ready(wait_for, "web-01"))


def test_help(snap_compare, make_app, wait_for) -> None:
    app = make_app(**QUIET)

    async def run_before(pilot: Pilot[None]) -> None:
        await cmdb_ready(wait_for)(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
