"""SVG snapshots of each screen: fixed clock, fixed store timestamps, a fake collector.

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

# Long enough that only the polls a test asks for (the first, and one per `r`) happen, and the
# change feed never ticks while a snapshot is taken.
QUIET = {"local_interval": 600, "feed_interval": 300}
EXTRA_SAMPLES = 11


def dashboard_ready(wait_for: Any, samples: int) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        await wait_for(pilot, lambda: screen.summary is not None)
        local = next(iter(screen.panels.values()))
        await wait_for(pilot, lambda: local.samples_seen == 1)
        # One poll per `r`, each awaited, so the sparkline always holds the same history.
        for seen in range(2, samples + 1):
            await pilot.press("r")
            await wait_for(pilot, lambda seen=seen: local.samples_seen == seen)  # type: ignore[misc]

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
        # Class "host", then the first (only) host.
        await pilot.press("c", "down", "down", "down", "enter")
        screen = app.screen
        assert isinstance(screen, CMDBScreen)
        await wait_for(pilot, lambda: [r.name for r in screen.rows] == [name])
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, CIDetailScreen) and app.screen.detail is not None,
        )

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_dashboard(snap_compare, make_app, wait_for, size) -> None:
    app = make_app(**QUIET)
    assert snap_compare(app, terminal_size=size, run_before=dashboard_ready(wait_for, 12))


def test_dashboard_without_polling(snap_compare, make_app, wait_for) -> None:
    app = make_app(poll=False, **QUIET)

    async def run_before(pilot: Pilot[None]) -> None:
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "summary", None) is not None)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


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
