"""SVG snapshots of the incident form and the change form (fixed clock, fixed store).

Regenerate with `pytest tests/ui/test_itsm_snapshots.py --snapshot-update`, then look at the
SVGs (rsvg-convert -o x.png x.svg) before committing them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import find_ci
from opsconsole.itsm import changes as chg
from opsconsole.itsm import incidents as inc
from opsconsole.screens.itsm_change_form import ChangeFormScreen
from opsconsole.screens.itsm_incident_form import IncidentFormScreen
from opsconsole.screens.itsm_lists import TicketListScreen
from opsconsole.store.engine import Store

QUIET = {"feed_interval": 300}
SIZES = [(80, 24), (160, 50)]


def seed(store: Store, clock: ManualClock) -> None:
    with store.write("alice") as session:
        web = find_ci(session, "web-01")
        shop = find_ci(session, "shop")
        assert web is not None and shop is not None
        incident = inc.create_incident(
            session, "alice", short_description="shop checkout returns 502",
            description="since 09:10, all customers", caller="bob", category="software",
            ci_id=web.id, service_id=shop.id, impact=1, urgency=2,
        )  # fmt: skip
        inc.add_note(session, "alice", incident.number, "nginx upstream timeouts in the log")
        start = clock.now() + timedelta(days=1)
        for text, offset in (("patch web-01 kernel", 0), ("rotate web-01 certificates", 1)):
            chg.create_change(
                session, "alice", change_type="normal", short_description=text,
                ci_ids=[web.id], planned_start=start + timedelta(hours=offset),
                planned_end=start + timedelta(hours=offset + 2),
            )  # fmt: skip
    clock.advance(timedelta(minutes=20))


def form_ready(wait_for: Any, key: str, form: type) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await pilot.press(key)
        await wait_for(
            pilot, lambda: isinstance(app.screen, TicketListScreen) and bool(app.screen.rows)
        )
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, form) and getattr(app.screen, "view", None) is not None,
        )
        if form is ChangeFormScreen:
            await wait_for(pilot, lambda: bool(getattr(app.screen, "conflicts", ())))
        for box in app.screen.query(Input):
            box.cursor_blink = False  # a frozen cursor: the same picture every run
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_incident_form(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for, size
) -> None:
    seed(store, manual_clock)
    app = make_app(**QUIET)
    assert snap_compare(
        app, terminal_size=size, run_before=form_ready(wait_for, "4", IncidentFormScreen)
    )


@pytest.mark.parametrize("size", SIZES)
def test_change_form(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for, size
) -> None:
    seed(store, manual_clock)
    app = make_app(**QUIET)
    assert snap_compare(
        app, terminal_size=size, run_before=form_ready(wait_for, "5", ChangeFormScreen)
    )


def list_ready(wait_for: Any, key: str) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await pilot.press(key)
        await wait_for(
            pilot, lambda: isinstance(app.screen, TicketListScreen) and bool(app.screen.rows)
        )
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_incident_list(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for, size
) -> None:
    seed(store, manual_clock)
    app = make_app(**QUIET)
    assert snap_compare(app, terminal_size=size, run_before=list_ready(wait_for, "4"))
