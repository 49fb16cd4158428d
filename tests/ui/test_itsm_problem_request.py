"""Problems and service requests from the keyboard: forms, links, transitions, notes, tasks,
and the w / t keys of every ticket list."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Input, OptionList, Select

from opsconsole.app import OpsConsoleApp
from opsconsole.cmdb.service import find_ci
from opsconsole.itsm import changes as chg
from opsconsole.itsm import incidents as inc
from opsconsole.itsm import problems as prb
from opsconsole.itsm import requests as req
from opsconsole.screens.itsm_common import PickDialog
from opsconsole.screens.itsm_dialogs import ConfirmDiscard, NoteDialog, TransitionDialog
from opsconsole.screens.itsm_incident_form import IncidentFormScreen
from opsconsole.screens.itsm_lists import TicketListScreen
from opsconsole.screens.itsm_problem_form import ProblemFormScreen
from opsconsole.screens.itsm_request_form import RequestFormScreen
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


def waiting_incident(store: Store, text: str = "checkout slow again") -> str:
    """An incident On Hold, awaiting a problem."""
    with store.write("alice") as session:
        number = inc.create_incident(session, "alice", short_description=text).number
        inc.transition_incident(session, "alice", number, None, "in_progress")
        inc.transition_incident(
            session, "alice", number, None, "on_hold", on_hold_reason="awaiting problem"
        )
    return number


def dialog_labels(app: Any) -> list[str]:
    return [str(o.prompt) for o in app.screen.query_one("#targets", OptionList).options]


async def move(pilot: Any, wait_for: Any, expected: list[str], *keys: str) -> None:
    app = pilot.app
    await pilot.press("ctrl+t")
    await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
    assert dialog_labels(app) == expected  # only the allowed next states
    await pilot.press(*keys)


@pytest.mark.parametrize("size", SIZES)
async def test_problem_link_transition_note_and_release(
    make_app: Any, store: Store, wait_for: Any, size: tuple[int, int]
) -> None:
    waiting = waiting_incident(store)
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_list(pilot, wait_for, "6")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemFormScreen))
        form = app.screen
        assert isinstance(form, ProblemFormScreen)
        await type_into(pilot, "checkout stalls under load")
        await pilot.press("tab", "tab")  # description, CI
        assert isinstance(app.focused, Picker) and app.focused.id == "ci"
        await type_into(pilot, "web-0")
        await wait_for(pilot, lambda: form.query_one("#ci", Picker)._suggestion == "web-01")
        await pilot.press("right", "ctrl+s")
        await wait_for(pilot, lambda: form.view is not None)
        number = form.number
        assert number is not None and not form.dirty
        assert form.view is not None and form.view.services == ("shop",)

        # Link the waiting incident, found by words of its description.
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
        await type_into(pilot, "slow again")
        options = app.screen.query_one("#pick-options", OptionList)
        await wait_for(pilot, lambda: options.option_count == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view is not None and len(form.view.incidents) == 1)
        table = form.query_one("#problem-incidents", DataTable)
        assert table.get_row_at(0)[0].plain == waiting

        await move(pilot, wait_for, ["Assess"], "enter")
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "assess")
        await move(pilot, wait_for, ["Root Cause Analysis", "Closed"], "enter")
        await wait_for(pilot, lambda: form.view.state == "root_cause_analysis")
        await move(pilot, wait_for, ["Fix In Progress"], "enter")  # asks for the root cause
        await type_into(pilot, "pool too small")
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view.state == "fix_in_progress")
        assert form.query_one("#root_cause", Input).value == "pool too small"
        await move(pilot, wait_for, ["Resolved", "Root Cause Analysis"], "enter")
        await type_into(pilot, "pool doubled")  # only the fix notes: the cause is known
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view.state == "resolved")

        # The incident that waited for the problem is back in progress, told why.
        with store.read() as session:
            incident = inc.get_incident(session, waiting)
            assert incident.state == "in_progress"
            assert inc.history(session, incident)[-1].text == (
                f"{number} is resolved: no longer waiting for it"
            )

        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await type_into(pilot, "capacity review booked")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("capacity review booked" in h for h in form.view.history))
        assert not any("_id " in h for h in form.view.history)  # names, not ids

        # Enter on a linked incident opens it.
        table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentFormScreen))
        opened = app.screen
        assert isinstance(opened, IncidentFormScreen)
        await wait_for(pilot, lambda: opened.view is not None)
        assert opened.view is not None and opened.number == waiting
        # Its history names the problem, not the problem's id.
        assert any(h.endswith(f"problem - -> {number}") for h in opened.view.history)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is form)

        # Unlink it again.
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
        await wait_for(pilot, lambda: app.screen.query_one(OptionList).option_count == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view is not None and not form.view.incidents)
        with store.read() as session:
            assert inc.get_incident(session, waiting).problem_id is None

        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("a")  # resolved: in the "all" view
        await wait_for(pilot, lambda: any(r.number == number for r in screen.rows))


async def test_problem_conflict_keeps_the_edit_and_dirty_form_asks(
    make_app: Any, store: Store, wait_for: Any
) -> None:
    with store.write("bob") as session:
        number = prb.create_problem(session, "bob", short_description="disk fills").number
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, wait_for, "6")
        await wait_for(pilot, lambda: bool(screen.rows))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemFormScreen))
        form = app.screen
        assert isinstance(form, ProblemFormScreen)
        await wait_for(pilot, lambda: form.view is not None)
        with store.write("bob") as session:  # someone else saves meanwhile
            prb.update_problem(session, "bob", number, None, assignee="bob")
        form.query_one("#root_cause", Input).focus()
        await type_into(pilot, "logrotate off")
        await pilot.press("ctrl+t")  # edits first: no move
        await pilot.pause()
        assert not isinstance(app.screen, TransitionDialog)
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error")
        await wait_for(pilot, lambda: "kept in the form" in str(error.render()))
        assert form.query_one("#root_cause", Input).value == "logrotate off"
        assert form.dirty
        with store.read() as session:
            problem = prb.get_problem(session, number)
            assert problem.root_cause is None
            assert prb.history(session, problem)[-1].kind == "refused"
        # A known error needs its workaround: said inline.
        form.query_one("#known_error", Select).value = "yes"
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: "workaround" in str(form.query_one("#error-known_error").render())
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDiscard))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_request_from_the_catalog_and_its_tasks(
    make_app: Any, store: Store, wait_for: Any
) -> None:
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, wait_for, "7")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RequestFormScreen))
        form = app.screen
        assert isinstance(form, RequestFormScreen)
        assert app.focused is not None and app.focused.id == "item"
        await pilot.press("ctrl+s")  # no item yet: said inline
        await wait_for(pilot, lambda: "catalog item" in str(form.query_one("#error-item").render()))
        await pilot.press("enter", "down", "down", "enter")  # the second item: More disk space
        await wait_for(pilot, lambda: form.item_key() == "disk-space")
        assert form.query_one("#fields-item1").display
        await pilot.press("tab", "tab", "tab", "tab", "tab")  # short, for, group, assignee, host
        assert app.focused is not None and app.focused.id == "item1-host"
        await type_into(pilot, "web-01")
        await pilot.press("tab")
        await type_into(pilot, "/var")
        await pilot.press("tab")
        await type_into(pilot, "lots")
        await pilot.press("ctrl+s")  # not a number: said at the field
        await wait_for(
            pilot, lambda: "not a number" in str(form.query_one("#error-item1-gigabytes").render())
        )
        await pilot.press(*["backspace"] * 4)
        await type_into(pilot, "40")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: form.view is not None and len(form.view.tasks) == 2)
        number = form.number
        assert number is not None
        with store.read() as session:
            request = req.get_request(session, number)
            assert request.values == {"host": "web-01", "mount": "/var", "gigabytes": 40}
            assert request.requested_for == "alice"

        # The first task: start it, then complete it (the usual next step is offered first).
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        assert dialog_labels(app) == ["In Progress", "Closed Complete", "Closed Skipped"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view.state == "in_progress")
        assert form.query_one("#item1-gigabytes", Input).disabled  # work started: values fixed
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        assert dialog_labels(app)[0] == "Closed Complete"
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view.tasks[0].state == "closed_complete")
        # The cursor moved to the next open task; skipping it asks why.
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        await pilot.press("down", "down", "enter")
        await type_into(pilot, "online already")
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view.state == "fulfilled")

        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await type_into(pilot, "told the requester")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("told the requester" in h for h in form.view.history))
        await move(pilot, wait_for, ["Closed", "In Progress"], "enter")
        await wait_for(pilot, lambda: form.view.state == "closed")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


@pytest.mark.parametrize(("key", "kind"), [("5", "changes"), ("6", "problems"), ("7", "requests")])
async def test_note_and_transition_keys_on_every_list(
    make_app: Any, store: Store, wait_for: Any, key: str, kind: str
) -> None:
    with store.write("alice") as session:
        if kind == "changes":
            web = find_ci(session, "web-01")
            assert web is not None
            number = chg.create_change(
                session, "alice", change_type="normal", short_description="patch",
                ci_ids=[web.id],
            ).number  # fmt: skip
        elif kind == "problems":
            number = prb.create_problem(session, "alice", short_description="flaps").number
        else:
            number = req.submit_request(
                session, "alice", "monitoring-onboarding", {"host": "web-01"}
            ).number

    def journal_texts() -> list[str]:
        with store.read() as session:
            if kind == "changes":
                entries = chg.history(session, chg.get_change(session, number))
            elif kind == "problems":
                entries = prb.history(session, prb.get_problem(session, number))
            else:
                entries = req.history(session, req.get_request(session, number))
            return [e.text for e in entries]

    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, wait_for, key)
        await wait_for(pilot, lambda: [r.number for r in screen.rows] == [number])
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, NoteDialog))
        await type_into(pilot, "noted from the list")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "noted from the list" in journal_texts())
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        first = dialog_labels(app)[0]
        assert first in ("Assess", "In Progress")
        await pilot.press("enter")
        state = first.lower().replace(" ", "_")
        if kind == "changes":  # Assess needs a risk: refused, told, nothing changed
            await wait_for(pilot, lambda: app.screen is screen)
            await pilot.pause(0.2)
            with store.read() as session:
                assert chg.get_change(session, number).state == "new"
            return

        def moved() -> bool:
            with store.read() as session:
                record = (
                    prb.get_problem(session, number)
                    if kind == "problems"
                    else req.get_request(session, number)
                )
                return record.state == state

        await wait_for(pilot, moved)


async def test_outside_text_is_shown_literally(
    make_app: Any, store: Store, wait_for: Any, estate: Any
) -> None:
    with store.write("alice") as session:
        hostile = find_ci(session, estate.hostile_name)
        assert hostile is not None
        incident = inc.create_incident(
            session, "alice", short_description=estate.hostile_name
        ).number
        prb.create_problem(
            session, "alice", short_description="x", ci_id=hostile.id,
            incident_numbers=[incident],
        )  # fmt: skip
    app: OpsConsoleApp = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(pilot, wait_for, "6")
        await wait_for(pilot, lambda: bool(screen.rows))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemFormScreen))
        form = app.screen
        assert isinstance(form, ProblemFormScreen)
        await wait_for(pilot, lambda: form.view is not None)
        row = form.query_one("#problem-incidents", DataTable).get_row_at(0)
        assert row[3].plain == estate.hostile_shown
        await pilot.press("ctrl+r")  # the unlink picker lists it, escaped
        await wait_for(pilot, lambda: isinstance(app.screen, PickDialog))
        options = app.screen.query_one(OptionList)
        await wait_for(pilot, lambda: options.option_count == 1)
        assert estate.hostile_shown in str(options.get_option_at_index(0).prompt)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is form)
