"""The change form from the keyboard: approvals (ask, approve as the named approver, see the
state move), standard changes from a template, emergency and normal flows, conflicts, and the
pickers' drop-down list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.widgets import Input, OptionList, Select

from opsconsole.app import OpsConsoleApp
from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import find_ci
from opsconsole.itsm import changes as chg
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.screens.itsm_change_form import ChangeFormScreen
from opsconsole.screens.itsm_dialogs import (
    ApproverDialog,
    ConfirmDiscard,
    DecisionDialog,
    TransitionDialog,
)
from opsconsole.screens.itsm_lists import TicketListScreen
from opsconsole.store.engine import Store
from opsconsole.widgets.picker import Picker, PickerList

# alice (the operator) decides for change-manager, not for cab.
ITSM = ItsmSettings.model_validate(
    {"groups": {"change-manager": ["alice", "carol"], "cab": ["dave", "erin"], "noc": ["bob"]}}
)
PLANS = {"implementation_plan": "do it", "backout_plan": "undo it", "test_plan": "check it"}


def console(make_app: Any) -> OpsConsoleApp:
    app: OpsConsoleApp = make_app(feed_interval=300)
    app.settings = app.settings.model_copy(update={"itsm": ITSM})
    return app


def add_change(
    store: Store, clock: ManualClock, *, kind: str = "normal", risk: str | None = "low",
    days: int = 2, ci: str = "web-01", **fields: Any,
) -> str:  # fmt: skip
    start = clock.now() + timedelta(days=days)
    with store.write("bob") as session:
        found = find_ci(session, ci)
        assert found is not None
        values: dict[str, Any] = {"short_description": f"patch {ci}", "risk": risk, **PLANS}
        values.update(fields)
        return chg.create_change(
            session, "bob", change_type=kind, ci_ids=[found.id], planned_start=start,
            planned_end=start + timedelta(hours=2), settings=ITSM, **values,
        ).number  # fmt: skip


def move(store: Store, number: str, *states: chg.ChangeState) -> None:
    for state in states:
        with store.write("bob") as session:
            chg.transition_change(session, "bob", number, None, state, settings=ITSM)


async def type_into(pilot: Any, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


async def open_change(pilot: Any, wait_for: Any, number: str) -> ChangeFormScreen:
    app = pilot.app
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(app.screen, TicketListScreen))
    screen = app.screen
    await wait_for(pilot, lambda: any(r.number == number for r in screen.rows))
    screen.query_one("#tickets").move_cursor(  # type: ignore[attr-defined]
        row=[r.number for r in screen.rows].index(number)
    )
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ChangeFormScreen))
    form = app.screen
    assert isinstance(form, ChangeFormScreen)
    await wait_for(pilot, lambda: form.shown is not None and form.shown.number == number)
    return form


async def new_change(pilot: Any, wait_for: Any) -> ChangeFormScreen:
    app = pilot.app
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(app.screen, TicketListScreen))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, ChangeFormScreen))
    form = app.screen
    assert isinstance(form, ChangeFormScreen)
    return form


async def offered(pilot: Any, wait_for: Any, key: str, dialog: type, options: str) -> list[str]:
    """Press `key`, wait for `dialog`, and return the labels of its option list `options`."""
    app = pilot.app
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, dialog))
    return [str(o.prompt) for o in app.screen.query_one(options, OptionList).options]


def side(form: ChangeFormScreen, name: str) -> str:
    return str(form.query_one(f"#change-{name}").render())


def notified(app: OpsConsoleApp, words: str) -> bool:
    return any(words in n.message for n in app._notifications)


def state_of(store: Store, number: str) -> str:
    with store.read() as session:
        return chg.get_change(session, number).state


# --- approvals -------------------------------------------------------------------------------


async def test_ask_approval_then_approve_as_the_named_approver(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    number = add_change(store, manual_clock)
    app = console(make_app)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_change(pilot, wait_for, number)
        assert "Authorize asks change-manager" in side(form, "approvals")
        assert "[New] → Assess → Authorize → Scheduled" in side(form, "flow")

        await pilot.press("ctrl+r")  # ask dave too, picked from the drop-down
        await wait_for(pilot, lambda: isinstance(app.screen, ApproverDialog))
        dialog = app.screen
        picker = dialog.query_one("#approvers", Picker)
        await type_into(pilot, "da")
        await wait_for(pilot, lambda: picker.expanded)
        assert picker.candidates == ["dave"]
        await pilot.press("down", "enter")  # takes dave, the list closes
        assert picker.value == "dave" and not picker.expanded
        await pilot.press("enter")  # asks
        await wait_for(pilot, lambda: app.screen is form)
        await wait_for(pilot, lambda: "dave requested" in side(form, "approvals"))
        assert notified(app, "approval asked of dave")

        await pilot.press("ctrl+o")  # New: nothing to decide yet, and the reason says why
        await wait_for(pilot, lambda: notified(app, "is New, not Authorize"))
        assert app.screen is form

        move(store, number, chg.ChangeState.ASSESS, chg.ChangeState.AUTHORIZE)
        with store.write("dave") as session:  # dave approves from his own console
            chg.decide(session, "dave", number, "approved", "fine by me", settings=ITSM)
        await pilot.press("f5")
        await wait_for(pilot, lambda: "← yours" in side(form, "approvals"))
        approvals = side(form, "approvals")
        assert "change-manager requested" in approvals
        assert "dave approved" in approvals and "fine by me" in approvals
        assert "[Authorize]" in side(form, "flow")

        labels = await offered(pilot, wait_for, "ctrl+o", DecisionDialog, "#decisions")
        assert labels == ["Approve as change-manager", "Reject as change-manager"]
        dialog = app.screen
        await pilot.press("enter")  # from the (empty) comment to the choices
        await pilot.press("down", "enter")  # Reject without a comment: refused in the dialog
        assert "needs a comment" in str(dialog.query_one("#decision-error").render())
        assert isinstance(app.focused, Input)
        await type_into(pilot, "ok for Tuesday")
        await pilot.press("enter", "up", "enter")  # Approve
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "scheduled")
        assert notified(app, "approved as change-manager; it is Scheduled")
        approvals = side(form, "approvals")
        assert "change-manager approved by alice" in approvals and "ok for Tuesday" in approvals
        assert "← yours" not in approvals
        assert "[Scheduled]" in side(form, "flow")
    with store.read() as session:
        change = chg.get_change(session, number)
        decided = {a.approver: (a.decision, a.decided_by) for a in chg.approvals(session, change)}
    assert decided == {"change-manager": ("approved", "alice"), "dave": ("approved", "dave")}


async def test_refusals_from_the_domain_are_notifications(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    number = add_change(store, manual_clock, risk="high")  # asks change-manager and cab
    move(store, number, chg.ChangeState.ASSESS, chg.ChangeState.AUTHORIZE)
    with store.write("carol") as session:
        chg.decide(session, "carol", number, "approved", settings=ITSM, approver="change-manager")
    app = console(make_app)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_change(pilot, wait_for, number)
        approvals = side(form, "approvals")
        assert "cab requested" in approvals and "← yours" not in approvals
        await pilot.press("ctrl+o")  # only cab is left, and alice is not in it
        await wait_for(pilot, lambda: notified(app, "alice has no approval to give"))
        assert app.screen is form
        assert "no approval to give" in str(form.query_one("#form-error").render())
        with store.write("bob") as session:
            chg.transition_change(
                session, "bob", number, None, "canceled", cancel_reason="moved", settings=ITSM
            )
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ApproverDialog))
        dialog = app.screen
        await type_into(pilot, "nobody")
        await pilot.press("enter")  # not a person or group of the config: said in the dialog
        assert "no person or group 'nobody'" in str(dialog.query_one("#approvers-error").render())
        dialog.query_one("#approvers", Picker).value = "erin"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: notified(app, "approvals are closed"))
        assert app.screen is form
    assert state_of(store, number) == "canceled"


# --- standard and emergency changes ----------------------------------------------------------


async def test_standard_change_from_a_template(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    app = console(make_app)
    start = (manual_clock.now() + timedelta(days=3)).astimezone()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await new_change(pilot, wait_for)
        template = form.query_one("#template", Picker)
        row = template.parent
        assert row is not None and row.has_class("-hidden")  # only standard changes have one
        assert "save the change, then ^r" in side(form, "approvals")
        form.query_one("#change_type", Select).focus()
        await pilot.press("enter", "up", "enter")  # normal -> standard
        await wait_for(pilot, lambda: template.has_focus and template.expanded)
        assert template.candidates == ["extend-filesystem", "os-patching", "reboot-host"]
        assert "[New] → Scheduled → Implement" in side(form, "flow")  # no assess or authorize
        assert "pre-approved" in side(form, "approvals")
        await pilot.press("down", "down", "enter")  # reboot-host
        assert template.value == "reboot-host"
        values = form.values()
        spec = ITSM.changes.templates["reboot-host"]
        assert values["short_description"] == spec.short_description
        assert values["implementation_plan"] == spec.implementation_plan
        assert values["risk"] == spec.risk
        assert form.query_one("#backout_plan", Input).disabled  # fixed by the template
        form.query_one("#cis", Picker).focus()
        await type_into(pilot, "web-01")
        form.query_one("#planned_start", Input).focus()
        await type_into(pilot, start.strftime("%Y-%m-%d %H:%M"))
        ends = (start + spec.duration).strftime("%Y-%m-%d %H:%M")
        await wait_for(pilot, lambda: form.query_one("#planned_end", Input).value == ends)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: form.view is not None)
        assert form.number is not None
        with store.read() as session:
            change = chg.get_change(session, form.number)
            assert (change.change_type, change.template) == ("standard", "reboot-host")
            assert change.planned_end is not None and change.planned_start is not None
            assert change.planned_end - change.planned_start == spec.duration
        assert form.query_one("#change_type", Select).disabled  # a saved change keeps its type
        labels = await offered(pilot, wait_for, "ctrl+t", TransitionDialog, "#targets")
        assert labels == ["Scheduled", "Canceled"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "scheduled")
        assert "[Scheduled]" in side(form, "flow")


async def test_standard_change_needs_a_template(
    make_app: Any, manual_clock: ManualClock, wait_for: Any
) -> None:
    app = console(make_app)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await new_change(pilot, wait_for)
        form.query_one("#change_type", Select).value = "standard"
        template = form.query_one("#template", Picker)
        await wait_for(pilot, lambda: template.has_focus and template.expanded)
        await pilot.press("escape")  # closes the list, stays in the form
        await wait_for(pilot, lambda: not template.expanded)
        assert app.screen is form
        await pilot.press("ctrl+s")
        error = form.query_one("#error-template")
        await wait_for(pilot, lambda: "choose a template" in str(error.render()))
        assert form.number is None


async def test_emergency_change_goes_straight_to_authorize(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    number = add_change(store, manual_clock, kind="emergency", risk="high")
    app = console(make_app)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_change(pilot, wait_for, number)
        assert "[New] → Authorize → Scheduled" in side(form, "flow")
        labels = await offered(pilot, wait_for, "ctrl+t", TransitionDialog, "#targets")
        assert labels == ["Authorize", "Canceled"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "authorize")
        await wait_for(pilot, lambda: "← yours" in side(form, "approvals"))
        await pilot.press("ctrl+o")  # emergency approvers: change-manager
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionDialog))
        await pilot.press("tab", "enter")  # Approve, no comment needed
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "scheduled")


async def test_normal_change_with_a_conflict_still_works(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any
) -> None:
    other = add_change(store, manual_clock, days=1)
    start = (manual_clock.now() + timedelta(days=1, hours=1)).astimezone()
    app = console(make_app)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await new_change(pilot, wait_for)
        await type_into(pilot, "restart web")
        form.query_one("#cis", Picker).focus()
        await type_into(pilot, "web-01")
        form.query_one("#planned_start", Input).focus()
        await type_into(pilot, start.strftime("%Y-%m-%d %H:%M"))
        await pilot.press("tab")
        await type_into(pilot, (start + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"))
        await wait_for(pilot, lambda: bool(form.conflicts))
        assert other in side(form, "conflicts") and "CONFLICT" in side(form, "conflicts")
        form.query_one("#risk", Select).value = "low"
        for name, text in PLANS.items():
            form.query_one(f"#{name}", Input).value = text
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: form.shown is not None)
        number = form.number
        assert number is not None
        for _ in range(2):  # Assess, Authorize
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen is form)
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "authorize")
        await wait_for(pilot, lambda: "← yours" in side(form, "approvals"))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, DecisionDialog))
        await pilot.press("tab", "enter")
        # Approved, but the conflict keeps it in Authorize until someone overrides it.
        await wait_for(pilot, lambda: "change-manager approved" in side(form, "approvals"))
        assert form.view is not None and form.view.state == "authorize"
        assert "CONFLICT" in str(form.query_one("#change-summary").render())
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TransitionDialog))
        await pilot.press("enter")  # Scheduled: asks why, despite the conflict
        await type_into(pilot, "agreed with web team")
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.view is not None and form.view.state == "scheduled")
    with store.read() as session:
        assert chg.get_change(session, number).conflict_override == "agreed with web team"


# --- the pickers' drop-down -------------------------------------------------------------------


async def test_picker_drop_down_navigation(
    make_app: Any, store: Store, manual_clock: ManualClock, wait_for: Any, estate: Any
) -> None:
    app = console(make_app)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await new_change(pilot, wait_for)
        await type_into(pilot, "draft")
        cis = form.query_one("#cis", Picker)
        cis.focus()
        await type_into(pilot, "web-01, co")
        await wait_for(pilot, lambda: cis.expanded and cis.candidates[:1] == ["console-01"])
        assert cis.candidates == ["console-01", "core-sw-01"] and cis.highlighted is None
        dropdown = app.screen.query_one(PickerList)
        assert dropdown.region.y == cis.region.bottom  # right under the field
        assert dropdown.region.height <= 6 and dropdown.region.bottom <= 24
        await pilot.press("down")
        assert cis.highlighted == "console-01"
        await pilot.press("down")
        assert cis.highlighted == "core-sw-01"
        await pilot.press("down")  # round to the first, as lists do
        assert cis.highlighted == "console-01"
        await pilot.press("up")
        assert cis.highlighted == "core-sw-01"
        await pilot.press("enter")
        assert cis.value == "web-01, core-sw-01" and not cis.expanded
        assert app.focused is cis
        await pilot.press("down")  # Down lists again what was just taken
        await wait_for(pilot, lambda: cis.expanded and cis.highlighted == "core-sw-01")
        await pilot.press("escape")
        assert not cis.expanded

        await type_into(pilot, ", [b")  # outside text in the list is shown literally
        await wait_for(pilot, lambda: cis.expanded and cis.candidates == [estate.hostile_name])
        shown = str(dropdown.get_option_at_index(0).prompt)
        assert shown == estate.hostile_shown
        await pilot.press("escape")  # closes the list only
        assert not cis.expanded and app.screen is form and app.focused is cis
        await pilot.press("down")  # Down opens it again, first one highlighted
        await wait_for(pilot, lambda: cis.expanded and cis.highlighted == estate.hostile_name)
        await pilot.press("tab")  # leaving the field closes it
        assert not cis.expanded

        assignee = form.query_one("#assignee", Picker)
        assignee.focus()
        await type_into(pilot, "a")
        await wait_for(pilot, lambda: assignee.expanded)
        assert assignee.candidates == ["alice", "carol", "dave"]
        listed = [d for d in app.screen.query(PickerList) if d.display]
        assert len(listed) == 1  # one list at a time: the CI list closed when CIs lost focus
        shown_at = listed[0].region
        assert not shown_at.overlaps(assignee.region)
        assert app.screen.region.contains_region(shown_at)
        await pilot.press("escape")
        assert not assignee.expanded
        await pilot.press("escape")  # now Esc leaves: the edits are unsaved, so it asks
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDiscard))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, TicketListScreen))
