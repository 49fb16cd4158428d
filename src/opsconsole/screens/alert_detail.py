"""One alert in full: every field, its history, correlated children, impacted services (with
the path that reaches them), recent changes on its CI and knowledge articles for its check.

The fetch turns the domain's AlertDetail into plain Text sections inside the read session.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from opsconsole import clock
from opsconsole.events import queries
from opsconsole.screens import OpsScreen
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.engine import Store
from opsconsole.widgets.text import safe_text

FIELDS = (
    "id", "severity", "state", "ci_name", "check", "resource", "message", "source", "count",
    "first_seen", "last_seen", "updated_at", "resolved_at", "closed_at", "closed_by",
    "reopen_count", "acked_by", "acked_at", "ack_note", "ack_ticket", "ack_sticky",
    "snoozed_until", "assignee", "suppression", "suppressed_reason", "silence_id", "flapping",
    "parent_id", "group_reason", "services", "key", "fingerprint",
)  # fmt: skip
SECTION_TITLES = (
    ("fields", "Alert"),
    ("history", "History"),
    ("children", "Correlated children"),
    ("services", "Impacted services"),
    ("changes", "Recent changes on the CI"),
    ("knowledge", "Knowledge articles"),
)


def _value(value: Any) -> Text:
    if value is None or value == "":
        return Text("—", style="dim")
    if isinstance(value, datetime):
        return Text(clock.to_local(value).strftime("%Y-%m-%d %H:%M:%S"))
    return safe_text(value)


@dataclass(frozen=True)
class DetailView:
    alert_id: int
    title: Text
    sections: dict[str, Text]
    change_id: int


def _lines(items: list[Text]) -> Text:
    if not items:
        return Text("none", style="dim")
    return Text("\n").join(items)


def fetch_detail(store: Store, alert_id: int) -> DetailView:
    with store.read() as session:
        change_id = latest_change_id(session)
        detail = queries.alert_detail(session, alert_id)
        alert = detail.alert
        fields = []
        for name in FIELDS:
            line = Text(f"{name:<18}", style="bold")
            line.append_text(_value(getattr(alert, name, None)))
            fields.append(line)
        history = []
        for entry in detail.history:
            line = Text(clock.to_local(entry.at).strftime("%m-%d %H:%M:%S "))
            line.append_text(safe_text(entry.actor, style="bold"))
            line.append(" ")
            line.append_text(safe_text(entry.action))
            if entry.old_state != entry.new_state:
                line.append(f" {entry.old_state or '—'} → {entry.new_state or '—'}")
            if entry.detail:
                line.append(" · ")
                line.append_text(safe_text(entry.detail))
            history.append(line)
        children = []
        for row in detail.children:
            line = Text(f"#{row.id} {row.severity.upper()} {row.state} ")
            line.append_text(safe_text(row.ci_name, style="bold"))
            line.append(" ")
            line.append_text(safe_text(f"{row.check} {row.message}"))
            children.append(line)
        services = []
        for path in detail.services:
            line = safe_text(path.ci.name, style="bold")
            line.append(" via ")
            line.append_text(safe_text(" → ".join(path.path)))
            services.append(line)
        changes = [safe_text(str(change)) for change in detail.recent_changes]
        knowledge = [safe_text(str(article)) for article in detail.knowledge]
        title = Text(f"#{alert.id} {alert.severity.upper()} ")
        title.append_text(safe_text(alert.ci_name, style="bold"))
        title.append_text(safe_text(f" · {alert.check}"))
    sections = {
        "fields": _lines(fields),
        "history": _lines(history),
        "children": _lines(children),
        "services": _lines(services),
        "changes": _lines(changes),
        "knowledge": _lines(knowledge),
    }
    return DetailView(alert_id, title, sections, change_id)


class DetailLoaded(Message):
    def __init__(self, view: DetailView) -> None:
        super().__init__()
        self.view = view


class AlertDetailScreen(OpsScreen):
    TITLE = "opsconsole · Alert"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="alert_detail.refresh"),
    ]

    def __init__(self, store: Store, alert_id: int) -> None:
        super().__init__(store)
        self.alert_id = alert_id
        self.view: DetailView | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="alert-detail"):
            yield Static(Text("loading…"), markup=False, id="alert-title")
            for key, title in SECTION_TITLES:
                yield Static(Text(title, style="bold underline"), markup=False)
                yield Static(Text(""), markup=False, id=f"alert-{key}")

    def on_mount(self) -> None:
        self.query_one("#alert-detail", VerticalScroll).focus()

    def reload(self) -> None:
        self._load()

    @work(exclusive=True, group="alert-detail", exit_on_error=False, name="loading the alert")
    async def _load(self) -> None:
        view = await asyncio.to_thread(fetch_detail, self.store, self.alert_id)
        self.post_message(DetailLoaded(view))

    @on(DetailLoaded)
    def _loaded(self, message: DetailLoaded) -> None:
        view = message.view
        self.view = view
        self.loaded_change_id = view.change_id
        self.query_one("#alert-title", Static).update(view.title)
        for key, _ in SECTION_TITLES:
            self.query_one(f"#alert-{key}", Static).update(view.sections[key])

    def action_refresh(self) -> None:
        self.reload()
