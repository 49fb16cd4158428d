"""The service request form: ask for a catalog item, then work its fulfilment tasks.

On a new request, pick the catalog item (from the `itsm.catalog` config) and its fields
appear; Ctrl+S submits it and creates its tasks. On an existing one: who it is for, summary
and assignment stay editable, the item's fields only while it is New; the tasks are listed
with their state, and Ctrl+O (or Enter on a task) moves the highlighted task on: start it,
complete it, skip it (saying why) or reopen it. The request follows its tasks (In Progress
when one starts, Fulfilled when all are closed). Ctrl+N adds a work note, Ctrl+T moves the
request to an allowed next state, Esc leaves (asking first when there are unsaved edits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Input, Select, Static

from opsconsole import clock
from opsconsole.config import Settings
from opsconsole.itsm import requests as req
from opsconsole.itsm.journal import ItsmError, RecordRef, write_or_record_refusal
from opsconsole.itsm.settings import CatalogField, CatalogItem
from opsconsole.screens.itsm_common import (
    FieldErrors,
    Moves,
    Outcome,
    TicketForm,
    TicketOps,
    explain,
    history_text,
    journal_lines,
    people,
)
from opsconsole.screens.itsm_dialogs import Need, Target, TransitionChoice, TransitionDialog
from opsconsole.store.engine import Store
from opsconsole.widgets.keybar import KeyBar
from opsconsole.widgets.picker import Picker, list_choices
from opsconsole.widgets.text import safe_str, safe_text

TEXT_FIELDS = ("short_description", "requested_for", "assignment_group", "assignee")
REQUEST_FIELDS = frozenset(TEXT_FIELDS)
LABEL_WIDTH = 13  # the form's label column (14) less one
REQUEST_CSS = """
#request-body { height: 1fr; }
#request-form { height: auto; }
#request-side { height: auto; }
#request-tasks { height: auto; max-height: 8; margin: 0 1; }
#request-planned { height: auto; margin: 0 1; }
.side-title { text-style: bold; margin: 1 1 0 1; }
.item-fields { height: auto; display: none; }
.item-fields.-shown { display: block; }
#item-description { margin: 0 1 0 15; color: $text-muted; height: auto; }
RequestFormScreen.-wide #request-body { layout: horizontal; }
RequestFormScreen.-wide #request-form { width: 1fr; height: auto; }
RequestFormScreen.-wide #request-side { width: 1fr; border-left: solid $primary; }
"""


def field_id(index: int, name: str) -> str:
    """The widget id of a catalog item's field (item keys come from config: not ids)."""
    return f"item{index}-{name}"


def as_text(spec: CatalogField, value: Any) -> str:
    """A stored value as the form shows it."""
    if value is None:
        return ""
    if spec.kind == "flag":
        return "yes" if value else "no"
    return str(value)


def field_label(spec: CatalogField, width: int = LABEL_WIDTH) -> str:
    """The label column: the field's label, or its name when the label is too long; a
    required field is marked with *."""
    mark = "*" if spec.required else ""
    label = spec.label or spec.name
    if len(label) + len(mark) > width:
        label = spec.name.replace("_", " ")
    label = label[: width - len(mark)]
    return label[:1].upper() + label[1:] + mark


def span(value: timedelta) -> str:
    """3 days, 1 day 4 h, 4 h, 30 min."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    return " ".join(parts) or "0 min"


@dataclass(frozen=True)
class TaskRow:
    number: str
    state: str
    version: int
    group: str
    assignee: str
    short_description: str

    @property
    def label(self) -> str:
        return req.TaskState(self.state).label


@dataclass(frozen=True)
class RequestView:
    number: str
    id: int
    version: int
    state: str
    item: str
    values: dict[str, str]  # as the form shows them
    due: str
    overdue: bool
    tasks: tuple[TaskRow, ...]
    history: tuple[str, ...]


def load_request(store: Store, settings: Settings, number: str) -> RequestView:
    catalog = list(settings.itsm.catalog)
    with store.read() as session:
        request = req.get_request(session, number)
        values = {
            "item": request.item,
            "short_description": request.short_description,
            "requested_for": request.requested_for,
            "assignment_group": request.assignment_group or "",
            "assignee": request.assignee or "",
        }
        if request.item not in settings.itsm.catalog:
            values["item"] = ""  # the item left the catalog: its fields cannot be shown
        else:
            index = catalog.index(request.item)
            for spec in settings.itsm.catalog[request.item].fields:
                values[field_id(index, spec.name)] = as_text(spec, request.values.get(spec.name))
        tasks = tuple(
            TaskRow(t.number, t.state, t.version, t.assignment_group or "", t.assignee or "",
                    t.short_description)
            for t in req.tasks_of(session, request)
        )  # fmt: skip
        due = request.due_at
        open_ = req.RequestState(request.state) in req.OPEN
        return RequestView(
            request.number,
            request.id,
            request.version,
            request.state,
            request.item,
            values,
            f"{due.astimezone():%Y-%m-%d %H:%M}" if due else "",
            bool(open_ and due is not None and due <= clock.now()),
            tasks,
            journal_lines(session, req.history(session, request)),
        )


def _item_values(
    item: CatalogItem, index: int, values: dict[str, str], errors: dict[str, str]
) -> dict[str, str]:
    """The item's fields from the form, each checked by the domain's own validation."""
    raw = {spec.name: values.get(field_id(index, spec.name), "") for spec in item.fields}
    for spec in item.fields:
        alone = item.model_copy(update={"fields": [spec]})
        try:
            req.validate_values(alone, {spec.name: raw[spec.name]})
        except ItsmError as exc:
            errors[field_id(index, spec.name)] = str(exc)
    return {name: value for name, value in raw.items() if value.strip()}


def _resolve(settings: Settings, values: dict[str, str], new: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    catalog = settings.itsm.catalog
    key = values["item"]
    if key not in catalog:
        raise FieldErrors({"item": "choose a catalog item"})
    index = list(catalog).index(key)
    item_values = _item_values(catalog[key], index, values, errors)
    summary = values["short_description"].strip()
    if not new and not summary:
        errors["short_description"] = "a short description is needed"
    requested_for = values["requested_for"].strip()
    if not requested_for:
        errors["requested_for"] = "say whom it is for"
    group = values["assignment_group"].strip()
    if group and group not in settings.itsm.groups:
        errors["assignment_group"] = f"no group {safe_str(group)!r}"
    person = values["assignee"].strip()
    if person and person not in people(settings):
        errors["assignee"] = f"no person {safe_str(person)!r}"
    if errors:
        raise FieldErrors(errors)
    return {
        "item": key,
        "values": item_values,
        "short_description": summary or None,
        "requested_for": requested_for,
        "assignment_group": group or None,
        "assignee": person or None,
    }


def save_request(
    store: Store, settings: Settings, number: str | None, version: int | None,
    values: dict[str, str], changed: set[str],
) -> str:  # fmt: skip
    fields = _resolve(settings, values, number is None)
    actor = settings.actor
    if number is None:
        with store.write(actor) as session:
            request = req.submit_request(
                session, actor, fields["item"], fields["values"],
                requested_for=fields["requested_for"],
                short_description=fields["short_description"], settings=settings.itsm,
            )  # fmt: skip
            assignment = {
                k: fields[k] for k in ("assignment_group", "assignee") if k in changed and fields[k]
            }
            if assignment:
                req.update_request(session, actor, request.number, None, **assignment)
            return request.number
    wanted = {k: v for k, v in fields.items() if k in changed and k in REQUEST_FIELDS}
    if any(name not in REQUEST_FIELDS and name != "item" for name in changed):
        wanted["values"] = fields["values"]
    with store.read() as session:
        record_id = req.get_request(session, number).id

    def update(session: Any) -> str:
        return req.update_request(
            session, actor, number, version, settings=settings.itsm, **wanted
        ).number

    return write_or_record_refusal(store, actor, RecordRef("request", record_id), wanted, update)


def request_moves(store: Store, settings: Settings, number: str) -> Moves:
    needs = {req.RequestState.CANCELED: (Need("note", "Why cancel it"),)}
    with store.read() as session:
        request = req.get_request(session, number)
        targets = [
            Target(s.value, s.label, needs.get(s, ())) for s in req.allowed_transitions(request)
        ]
        label = req.RequestState(request.state).label
        return Moves(request.number, label, request.version, targets)


def move_request(
    store: Store, settings: Settings, number: str, version: int | None, choice: TransitionChoice
) -> str:
    actor = settings.actor
    with store.read() as session:
        record_id = req.get_request(session, number).id

    def move(session: Any) -> str:
        return req.transition_request(
            session, actor, number, version, choice.to, **choice.values
        ).state

    state = write_or_record_refusal(
        store, actor, RecordRef("request", record_id), {"state": choice.to, **choice.values}, move
    )
    return req.RequestState(state).label


def note_request(store: Store, settings: Settings, number: str, text: str) -> None:
    with store.write(settings.actor) as session:
        req.add_note(session, settings.actor, number, text, internal=True)


REQUEST_OPS = TicketOps("request", note_request, request_moves, move_request)


def task_targets(task: TaskRow) -> list[Target]:
    """The task's next states, the usual next step first (start, then complete)."""
    needs = {req.TaskState.CLOSED_SKIPPED: (Need("notes", "Why skip it"),)}
    with_state = req.TASK_TRANSITIONS[req.TaskState(task.state)]
    return [Target(s.value, s.label, needs.get(s, ())) for s in with_state]


def move_task(
    store: Store, settings: Settings, request_id: int, task: TaskRow, choice: TransitionChoice
) -> str:
    """Move a task (version-checked); returns the new state's label."""
    actor = settings.actor

    def move(session: Any) -> str:
        return req.update_task(
            session, actor, task.number, task.version, state=choice.to, **choice.values
        ).state

    attempted = {f"{task.number}.state": choice.to, **choice.values}
    state = write_or_record_refusal(store, actor, RecordRef("request", request_id), attempted, move)
    return req.TaskState(state).label


class RequestFormScreen(TicketForm):
    TITLE = "opsconsole · Request"
    DEFAULT_CSS = TicketForm.DEFAULT_CSS + REQUEST_CSS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # side column from 120
    FIRST_FIELD = "item"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="request.save"),
        Binding("ctrl+n", "work_note", "Work note", priority=True, id="request.note"),
        Binding("ctrl+t", "transition", "State", priority=True, id="request.transition"),
        Binding("ctrl+o", "task", "Task", priority=True, id="request.task",
                tooltip="Move the highlighted task on: start, complete, skip, reopen"),
        Binding("escape", "leave", "Back", priority=True, id="request.back"),
        Binding("f5", "reload", "Reload", show=False, id="request.reload",
                tooltip="Reload from the store (asks first when there are edits)"),
    ]  # fmt: skip

    view: RequestView | None

    def __init__(self, store: Store, settings: Settings, number: str | None = None) -> None:
        super().__init__(store, settings, number)
        self.catalog = dict(settings.itsm.catalog)
        self.keys = list(self.catalog)

    def ticket_ops(self) -> TicketOps:
        return REQUEST_OPS

    def load_job(self, number: str) -> Callable[[], RequestView]:
        return partial(load_request, self.store, self.settings, number)

    def save_job(self, values: dict[str, str], changed: set[str]) -> Callable[[], str]:
        version = self.view.version if self.view else None
        return partial(
            save_request, self.store, self.settings, self.number, version, values, changed
        )

    # --- the fields of the chosen item ---------------------------------------------------------

    def item_key(self) -> str:
        select = self.query_one("#item", Select)
        return "" if select.is_blank() else str(select.value)

    def item_fields(self) -> list[tuple[str, CatalogField]]:
        key = self.item_key()
        if key not in self.catalog:
            return []
        index = self.keys.index(key)
        return [(field_id(index, spec.name), spec) for spec in self.catalog[key].fields]

    def text_fields(self) -> tuple[str, ...]:
        return TEXT_FIELDS + tuple(
            wid for wid, spec in self.item_fields() if spec.kind in ("text", "number")
        )

    def select_fields(self) -> tuple[str, ...]:
        chosen = [wid for wid, spec in self.item_fields() if spec.kind in ("choice", "flag")]
        return ("item", *chosen)

    def fill(self, values: dict[str, str]) -> None:
        item = self.query_one("#item", Select)
        if values.get("item"):
            item.value = values["item"]  # first: it decides which fields are the item's
        else:
            item.clear()
        self._show_item()
        super().fill(values)

    def _field_widget(self, wid: str, spec: CatalogField) -> Input | Select[str]:
        if spec.kind == "choice":
            return Select([(c, c) for c in spec.choices], id=wid, compact=True,
                          prompt="(choose)")  # fmt: skip
        if spec.kind == "flag":
            return Select([("yes", "yes"), ("no", "no")], id=wid, compact=True, prompt="(not set)")
        hint = f"{spec.label or spec.name}{' (a number)' if spec.kind == 'number' else ''}"
        return Input(id=wid, placeholder=hint + (", required" if spec.required else ""))

    def compose(self) -> ComposeResult:
        items = [(item.title, key) for key, item in self.catalog.items()]
        yield Header()
        yield Static("", id="request-summary", classes="form-summary")
        with VerticalScroll(id="request-body"):
            with Vertical(id="request-form"):
                yield from self._row(
                    "item",
                    "Catalog item",
                    Select(items, id="item", prompt="choose a catalog item", compact=True,
                           disabled=self.number is not None),
                )  # fmt: skip
                yield Static("", id="item-description")
                yield from self._row(
                    "short_description",
                    "Short descr.",
                    Input(id="short_description", placeholder="(empty: from the item)"),
                )
                yield from self._row(
                    "requested_for",
                    "For",
                    Picker(
                        list_choices(people(self.settings)),
                        id="requested_for",
                        value=self.settings.actor,
                        placeholder="person",
                    ),
                )
                yield from self._assignment_rows("(empty: the item's group)")
                for index, item in enumerate(self.catalog.values()):
                    with Vertical(classes="item-fields", id=f"fields-item{index}"):
                        for spec in item.fields:
                            wid = field_id(index, spec.name)
                            yield from self._row(
                                wid, field_label(spec), self._field_widget(wid, spec)
                            )
                yield Static("", id="form-error", classes="form-error")
            with Vertical(id="request-side"):
                yield Static("Tasks  (Ctrl+O or Enter: move the highlighted task)",
                             classes="side-title")  # fmt: skip
                yield DataTable(id="request-tasks", cursor_type="row")
                yield Static("", id="request-planned")
                yield Static("", id="request-history", classes="form-history")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#request-tasks", DataTable)
        table.add_columns("Task", "State", "Group", "Assignee", "What")
        self._show_item()

    @on(Select.Changed, "#item")
    def _item_chosen(self) -> None:
        self._show_item()

    def _show_item(self) -> None:
        key = self.item_key()
        for index, item_key in enumerate(self.keys):
            self.query_one(f"#fields-item{index}").set_class(item_key == key, "-shown")
        item = self.catalog.get(key)
        description = self.query_one("#item-description", Static)
        planned = self.query_one("#request-planned", Static)
        self.query_one("#request-tasks").display = self.view is not None
        planned.display = self.view is None
        if item is None:
            description.update("")
            planned.update(Text("choose a catalog item: its tasks are listed here", style="dim"))
            return
        planned.update(
            Text("\n").join(
                [
                    Text("created on save:", style="dim"),
                    *(Text.assemble("· ", safe_text(t.short_description)) for t in item.tasks),
                ]
            )
        )
        tasks = len(item.tasks)
        description.update(
            Text.assemble(
                safe_text(item.description or item.title),
                f" · {tasks} task(s) · fulfil in {span(item.fulfillment)}",
            )
        )

    # --- painting ------------------------------------------------------------------------------

    def show_summary(self) -> None:
        view = self.view
        item = self.catalog.get(self.item_key())
        parts: list[Text | str] = [
            safe_text(self.number or "New request", "bold"),
            "  ",
            req.RequestState(view.state).label if view else "New",
        ]
        if item is not None:
            parts += ["  ", safe_text(item.title)]
        if view is not None and view.due:
            parts += ["  due ", view.due]
            if view.overdue:
                parts.append(Text(" OVERDUE", style="bold red"))
        parts += self.unsaved_mark()
        self.query_one("#request-summary", Static).update(Text.assemble(*parts))

    def show_view(self, view: RequestView) -> None:
        self._show_item()
        locked = view.state != req.RequestState.NEW.value
        for wid, _ in self.item_fields():
            self.query_one(f"#{wid}").disabled = locked
        table = self.query_one("#request-tasks", DataTable)
        cursor = table.cursor_row
        with self.app.batch_update():
            table.clear()
            for task in view.tasks:
                table.add_row(
                    safe_text(task.number),
                    Text(task.label),
                    safe_text(task.group),
                    safe_text(task.assignee),
                    safe_text(task.short_description),
                    key=task.number,
                )
            if view.tasks:
                first_open = next(
                    (i for i, t in enumerate(view.tasks) if not req.TaskState(t.state).closed), 0
                )
                table.move_cursor(row=cursor if 0 < cursor < len(view.tasks) else first_open)
        self.query_one("#request-history", Static).update(history_text(view.history))

    # --- tasks ---------------------------------------------------------------------------------

    def highlighted_task(self) -> TaskRow | None:
        view = self.view
        if view is None or not view.tasks:
            return None
        row = self.query_one("#request-tasks", DataTable).cursor_row
        return view.tasks[row] if 0 <= row < len(view.tasks) else None

    @on(DataTable.RowSelected, "#request-tasks")
    def action_task(self) -> None:
        view = self.view
        task = self.highlighted_task()
        refused = self.refuse_move()
        if refused:
            self.notify(refused, severity="warning", markup=False)
            return
        if view is None or task is None:
            self.notify("no task to move (save the request first)", severity="warning")
            return
        targets = task_targets(task)
        if not targets:
            self.notify(f"{task.number} is {task.label}: it is final", severity="warning")
            return
        self._move_task(view.id, task, targets)

    @work(exclusive=True, group="request-task", exit_on_error=False, name="moving a task")
    async def _move_task(self, request_id: int, task: TaskRow, targets: list[Target]) -> None:
        choice = await self.app.push_screen_wait(TransitionDialog(task.number, task.label, targets))
        if choice is None:
            return
        try:
            label = await asyncio.to_thread(
                move_task, self.store, self.settings, request_id, task, choice
            )
        except Exception as exc:
            self.post_message(Outcome("task", error=exc))
            return
        self.post_message(Outcome("task", (task.number, label)))

    def other_outcome(self, message: Outcome) -> None:
        if message.what != "task":
            return
        if message.error is not None:
            self.notify(
                explain(message.error), title="task refused", severity="error", markup=False
            )
            return
        number, label = message.value
        self.notify(f"{number} is now {label}", markup=False)
        if self.number is not None:
            self._load(self.number)
