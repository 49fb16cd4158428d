"""Incidents and changes from the keyboard: lists, forms, notes, transitions, conflicts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from textual.widgets import OptionList

from opsconsole.app import OpsConsoleApp
from opsconsole.clock import ManualClock
from opsconsole.itsm import changes as chg
from opsconsole.itsm import incidents as inc
from opsconsole.itsm.journal import entries
from opsconsole.screens.itsm_change_form import ChangeFormScreen
from opsconsole.screens.itsm_dialogs import NoteDialog, TransitionDialog
from opsconsole.screens.itsm_incident_form import IncidentFormScreen
from opsconsole.screens.itsm_lists import TicketListScreen
from opsconsole.store.engine import Store
from opsconsole.widgets.picker import Picker

SIZES = [(80, 24), (160, 50)]


async def open_list(pilot: Any, wait_for: Any, key: str) -> TicketListScreen:
    await pilot.press(key)
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, TicketListScreen))
    screen: TicketListScreen = app.screen
    await wait_for(pilot, lambda: screen.loaded_change_id >= 0)
    return screen


async def type_into(pilot: Any, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


@pytest.mark.parametrize("size", SIZES)
async def test_create_incident_resolve_and_note(
    make_app: Any, store: Store, wait_for: Any, size: tuple[int, int]
) -> None:
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_list(pilot, wait_for, "4")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentFormScreen))
        form = app.screen
        assert isinstance(form, IncidentFormScreen)
        await type_into(pilot, "web down")
        await pilot.press("tab", "tab")  # description, caller
        await pilot.press("tab", "tab")  # category (select), CI
        assert isinstance(app.focused, Picker) and app.focused.id == "ci"
        await type_into(pilot, "web-0")
        await wait_for(pilot, lambda: form.query_one("#ci", Picker)._suggestion == "web-01")
        await pilot.press("right")  # take the completion
        assert form.query_one("#ci", Picker).value == "web-01"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: form.view is not None)
        number = form.number
        assert number is not None and not form.dirty
        with store.read() as session:
            incident = inc.get_incident(session, number)
            assert incident.short_description == "web down" and incident.ci_id is not None

        await pilot.press("ctrl+t")  # new -> in progress
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        await pilot.press("enter")  # the first allowed state: In Progress
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "in_progress")

        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        dialog = app.screen
        labels = [str(o.prompt) for o in dialog.query_one("#targets", OptionList).options]
        assert labels == ["On Hold", "Resolved", "Canceled"]  # only the allowed ones
        await pilot.press("down", "enter")  # Resolved: asks for a code and notes
        await pilot.press("ctrl+s")  # nothing chosen yet: refused inline
        assert "needs" in str(dialog.query_one("#transition-error").render())
        await pilot.press("enter", "down", "enter")  # the select: first code
        await pilot.press("tab")
        await type_into(pilot, "restarted nginx")
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "resolved")
        with store.read() as session:
            incident = inc.get_incident(session, number)
            assert incident.resolution_code == app.settings.itsm.resolution_codes[0]
            assert incident.resolution_notes == "restarted nginx"

        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await type_into(pilot, "called the caller")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentFormScreen))
        await wait_for(
            pilot,
            lambda: (
                form.view is not None and any("called the caller" in h for h in form.view.history)
            ),
        )

        await pilot.press("escape")  # nothing unsaved: back to the list
        await wait_for(pilot, lambda: app.screen is screen)
        screen.action_view("all")
        await wait_for(pilot, lambda: any(r.number == number for r in screen.rows))
        # A note from the list, without opening the form.
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await type_into(pilot, "from the list")
        await pilot.press("enter")

        def noted() -> bool:
            with store.read() as session:
                record = inc.get_incident(session, number)
                return any(
                    e.text == "from the list" for e in entries(session, "incident", record.id)
                )

        await wait_for(pilot, noted)


async def test_dirty_form_asks_before_leaving(make_app: Any, wait_for: Any) -> None:
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_list(pilot, wait_for, "4")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentFormScreen))
        await type_into(pilot, "draft")
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmDiscard"
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, IncidentFormScreen)
        await pilot.press("ctrl+s")  # short description alone is enough; an empty one is not
        await pilot.press("escape")
        await pilot.pause()


async def test_incident_form_validation_is_inline(make_app: Any, wait_for: Any) -> None:
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_list(pilot, wait_for, "4")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentFormScreen))
        form = app.screen
        assert isinstance(form, IncidentFormScreen)
        form.query_one("#ci", Picker).value = "no-such-ci"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "no CI named" in str(form.query_one("#error-ci").render()))
        assert "short description" in str(form.query_one("#error-short_description").render())
        assert form.number is None


def add_change(store: Store, start: Any, hours: int = 2) -> str:
    with store.write("bob") as session:
        from opsconsole.cmdb.service import find_ci

        web = find_ci(session, "web-01")
        assert web is not None
        change = chg.create_change(
            session, "bob", change_type="normal", short_description="patch web-01 kernel",
            ci_ids=[web.id], planned_start=start, planned_end=start + timedelta(hours=hours),
        )  # fmt: skip
        return change.number


@pytest.mark.parametrize("size", SIZES)
async def test_new_change_shows_its_conflict(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any, size: tuple[int, int]
) -> None:
    start = manual_clock.now() + timedelta(days=1)
    other = add_change(store, start)
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_list(pilot, wait_for, "5")
        await wait_for(pilot, lambda: any(r.number == other for r in screen.rows))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ChangeFormScreen))
        form = app.screen
        assert isinstance(form, ChangeFormScreen)
        await type_into(pilot, "restart web")
        form.query_one("#cis", Picker).focus()
        await type_into(pilot, "web-01")
        form.query_one("#planned_start").focus()
        await type_into(pilot, (start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"))
        await pilot.press("tab")
        await type_into(pilot, (start + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"))
        await wait_for(pilot, lambda: bool(form.conflicts))
        assert any(other in c for c in form.conflicts)
        assert other in str(form.query_one("#change-calendar").render())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: form.number is not None)
        with store.read() as session:
            assert form.number is not None
            change = chg.get_change(session, form.number)
            mine = chg.get_change(session, other)
            stored = chg.stored_conflicts(session, change)
            assert mine.id in {c.other_change_id for c in stored}


async def test_change_transition_offers_allowed_states(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    number = add_change(store, manual_clock.now() + timedelta(days=2))
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, wait_for, "5")
        await wait_for(pilot, lambda: any(r.number == number for r in screen.rows))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChangeFormScreen))
        form = app.screen
        assert isinstance(form, ChangeFormScreen)
        await wait_for(pilot, lambda: form.view is not None)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        dialog = app.screen
        labels = [str(o.prompt) for o in dialog.query_one("#targets", OptionList).options]
        assert labels == ["Assess", "Canceled"]
        await pilot.press("enter")  # Assess: refused, no risk set; said in the form
        await wait_for(pilot, lambda: "risk" in str(form.query_one("#form-error").render()))
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        await pilot.press("down", "enter")
        await type_into(pilot, "window moved")
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "canceled")


async def test_incident_list_views_and_paging(make_app: Any, store: Store, wait_for: Any) -> None:
    with store.write("alice") as session:
        for index in range(130):
            inc.create_incident(
                session, "alice", short_description=f"disk full {index:03d}",
                assignee="alice" if index % 10 == 0 else None,
            )  # fmt: skip
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_list(pilot, wait_for, "4")
        await wait_for(pilot, lambda: len(screen.rows) == 100 and screen.cursor is not None)
        screen.query_one("#tickets").move_cursor(row=99)  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: len(screen.rows) == 130 and screen.cursor is None)
        await pilot.press("m")  # mine
        await wait_for(pilot, lambda: len(screen.rows) == 13)
        await pilot.press("slash")
        await type_into(pilot, "120")
        await wait_for(pilot, lambda: [r.number for r in screen.rows] == ["INC0001121"])
        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: len(screen.rows) == 13)
