"""SVG snapshots of the problem form and the service request form (fixed clock, fixed store),
at 80x24 and wide.

Regenerate with `pytest tests/ui/test_itsm_problem_request_snapshots.py --snapshot-update`,
then look at the SVGs (rsvg-convert -o x.png x.svg) before committing them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import find_ci
from opsconsole.itsm import incidents as inc
from opsconsole.itsm import problems as prb
from opsconsole.itsm import requests as req
from opsconsole.screens.itsm_lists import TicketListScreen
from opsconsole.screens.itsm_problem_form import ProblemFormScreen
from opsconsole.screens.itsm_request_form import RequestFormScreen
from opsconsole.store.engine import Store

QUIET = {"feed_interval": 300}
SIZES = [(80, 24), (160, 50)]


def seed(store: Store, clock: ManualClock) -> None:
    with store.write("alice") as session:
        web = find_ci(session, "web-01")
        assert web is not None
        first = inc.create_incident(
            session, "alice", short_description="shop checkout returns 502", ci_id=web.id,
            impact=1, urgency=2,
        ).number  # fmt: skip
        inc.transition_incident(session, "alice", first, None, "in_progress")
        inc.transition_incident(
            session, "alice", first, None, "on_hold", on_hold_reason="awaiting problem"
        )
        second = inc.create_incident(
            session, "alice", short_description="web-01 workers restart", ci_id=web.id
        ).number
        number = prb.create_problem(
            session, "alice", short_description="nginx workers exhaust the upstream pool",
            description="every evening peak since the 1.25 upgrade", ci_id=web.id, priority=2,
            incident_numbers=[first, second],
        ).number  # fmt: skip
        prb.transition_problem(session, "alice", number, None, "assess")
        prb.transition_problem(session, "alice", number, None, "root_cause_analysis")
        prb.mark_known_error(
            session, "alice", number, None, "reload nginx at 18:00",
            root_cause="keepalive pool too small",
        )  # fmt: skip
        prb.add_note(session, "alice", number, "pool size doubled on web-02 as a test")
        request = req.submit_request(
            session, "alice", "disk-space", {"host": "web-01", "mount": "/var", "gigabytes": 40}
        )
        task = req.tasks_of(session, request)[0]
        req.update_task(session, "alice", task.number, None, state="in_progress", assignee="alice")
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
        for box in app.screen.query(Input):
            box.cursor_blink = False  # a frozen cursor: the same picture every run
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_problem_form(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for, size
) -> None:
    seed(store, manual_clock)
    app = make_app(**QUIET)
    assert snap_compare(
        app, terminal_size=size, run_before=form_ready(wait_for, "6", ProblemFormScreen)
    )


@pytest.mark.parametrize("size", SIZES)
def test_request_form(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for, size
) -> None:
    seed(store, manual_clock)
    app = make_app(**QUIET)
    assert snap_compare(
        app, terminal_size=size, run_before=form_ready(wait_for, "7", RequestFormScreen)
    )


def new_request_ready(wait_for: Any) -> Any:
    """A new request with its catalog item chosen: the item's fields are shown."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await pilot.press("7")
        await wait_for(pilot, lambda: isinstance(app.screen, TicketListScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RequestFormScreen))
        await pilot.press("enter", "down", "enter")  # the first item: Access to a server
        await wait_for(pilot, lambda: app.screen.item_key() == "server-access")  # type: ignore[attr-defined]
        for box in app.screen.query(Input):
            box.cursor_blink = False
        await pilot.pause()

    return run_before


def test_new_request_form(  # type: ignore[no-untyped-def]
    snap_compare, make_app, store, manual_clock, wait_for
) -> None:
    app = make_app(**QUIET)
    assert snap_compare(app, terminal_size=(80, 24), run_before=new_request_ready(wait_for))
