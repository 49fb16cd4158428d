"""SVG snapshots of the change form with its approvals, and of the standard-change template
picker (fixed clock, fixed store).

Regenerate with `pytest tests/ui/test_itsm_change_snapshots.py --snapshot-update`, then look at
the SVGs (rsvg-convert -o x.png x.svg) before committing them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import find_ci
from opsconsole.itsm import changes as chg
from opsconsole.store.engine import Store
from opsconsole.widgets.picker import Picker
from tests.ui.test_itsm_change_approvals import ITSM, console, new_change, open_change

SIZES = [(80, 24), (160, 50)]


def seed_approvals(store: Store, clock: ManualClock) -> str:
    """A high-risk change in Authorize: cab approved by dave, change-manager (alice's) asked."""
    start = clock.now() + timedelta(days=1)
    with store.write("bob") as session:
        web = find_ci(session, "web-01")
        assert web is not None
        number = chg.create_change(
            session, "bob", change_type="normal", short_description="upgrade nginx on web-01",
            ci_ids=[web.id], planned_start=start, planned_end=start + timedelta(hours=2),
            risk="high", implementation_plan="apt install nginx", backout_plan="downgrade",
            test_plan="curl the shop", settings=ITSM,
        ).number  # fmt: skip
    for state in (chg.ChangeState.ASSESS, chg.ChangeState.AUTHORIZE):
        clock.advance(timedelta(minutes=5))
        with store.write("bob") as session:
            chg.transition_change(session, "bob", number, None, state, settings=ITSM)
    clock.advance(timedelta(minutes=7))
    with store.write("dave") as session:
        chg.decide(session, "dave", number, "approved", "CAB ok", settings=ITSM)
    clock.advance(timedelta(minutes=3))
    return number


def frozen_cursors(pilot: Pilot[None]) -> None:
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False  # a frozen cursor: the same picture every run


def approvals_ready(wait_for: Any, number: str) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        form = await open_change(pilot, wait_for, number)
        await wait_for(pilot, lambda: "none" in str(form.query_one("#change-conflicts").render()))
        frozen_cursors(pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_change_form_with_approvals(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for, size
) -> None:
    number = seed_approvals(store, manual_clock)
    run_before = approvals_ready(wait_for, number)
    assert snap_compare(console(make_app), terminal_size=size, run_before=run_before)


def template_picker_open(wait_for: Any) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        form = await new_change(pilot, wait_for)
        form.query_one("#change_type", Select).focus()
        await pilot.press("enter", "up", "enter")  # normal -> standard
        template = form.query_one("#template", Picker)
        await wait_for(pilot, lambda: template.expanded and template.highlighted is not None)
        await pilot.press("down")
        frozen_cursors(pilot)
        await pilot.pause()

    return run_before


def test_standard_change_template_picker(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for
) -> None:
    assert snap_compare(
        console(make_app), terminal_size=(80, 24), run_before=template_picker_open(wait_for)
    )
