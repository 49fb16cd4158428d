"""CMDB browser (classes on the left, a page of CIs on the right) and the CI detail screen.

Each screen has a fetch function that turns ORM rows into plain view data inside a read
session (run in a worker thread), and handlers that render that data. CIs are paged by name
(keyset), a page at a time, so the table never holds more than the operator scrolled through.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from opsconsole import clock
from opsconsole.cmdb.impact import dependencies, impacted_services
from opsconsole.cmdb.service import count_by_class, edges_of, find_ci, list_cis
from opsconsole.screens import OpsScreen
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.engine import Store
from opsconsole.store.models import CI, CIClass
from opsconsole.widgets.lists import KeyList, KeyTable
from opsconsole.widgets.text import safe_str, safe_text
from opsconsole.widgets.value import Value

PAGE_SIZE = 200
ALL_CLASSES = "all"
COLUMNS = (
    ("name", "Name"),
    ("class", "Class"),
    ("address", "Address"),
    ("environment", "Environment"),
    ("support_group", "Support group"),
)


def class_label(ci_class: str) -> str:
    try:
        return CIClass(ci_class).label
    except ValueError:  # a class this version does not know: show it as stored
        return safe_str(ci_class)


# --- CMDB browser: data ------------------------------------------------------------------


@dataclass(frozen=True)
class CIRow:
    name: str
    ci_class: str
    address: str | None
    environment: str
    support_group: str | None

    def cells(self) -> tuple[Text, ...]:
        return (
            safe_text(self.name),
            Text(class_label(self.ci_class)),
            safe_text(self.address or ""),
            safe_text(self.environment),
            safe_text(self.support_group or ""),
        )


@dataclass(frozen=True)
class Query:
    ci_class: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Page:
    query: Query
    rows: tuple[CIRow, ...]
    full: bool  # as many rows as asked for: there may be more after the last
    counts: dict[str, int]
    change_id: int


def _row(ci: CI) -> CIRow:
    return CIRow(ci.name, ci.ci_class, ci.address, ci.environment, ci.support_group)


def fetch_page(store: Store, query: Query, after: str | None, limit: int) -> Page:
    with store.read() as session:
        change_id = latest_change_id(session)
        counts = count_by_class(session)
        cis = list_cis(session, query.ci_class, query.text, after_name=after, limit=limit)
        rows = tuple(_row(ci) for ci in cis)
    return Page(query, rows, len(rows) >= limit, counts, change_id)


class PageLoaded(Message):
    def __init__(self, page: Page, mode: Literal["replace", "append", "refresh"]) -> None:
        super().__init__()
        self.page = page
        self.mode = mode


def _class_prompt(label: str, count: int | None) -> Text:
    shown = "…" if count is None else str(count)
    return Text(f"{label:<14}{shown:>4}", no_wrap=True, end="")


# --- CMDB browser: screen --------------------------------------------------------------


class CMDBScreen(OpsScreen):
    TITLE = "opsconsole · CMDB"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="cmdb.filter"),
        Binding("escape", "clear_or_back", "Clear/back", id="cmdb.back"),
        Binding("enter", "open", "Open CI", id="cmdb.open"),
        Binding("c", "focus_classes", "Classes", id="cmdb.classes"),
        Binding("r", "refresh", "Refresh", id="cmdb.refresh"),
    ]

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.query_state = Query()
        self.rows: list[CIRow] = []
        self.has_more = False
        self._loading_more = False

    def compose_body(self) -> ComposeResult:
        options = [Option(_class_prompt("All", None), id=ALL_CLASSES)]
        options += [Option(_class_prompt(c.label, None), id=c.value) for c in CIClass]
        with Horizontal(id="cmdb-body"):
            yield KeyList(*options, id="classes")
            with Vertical(id="cis-pane"):
                yield Input(placeholder="filter: name, address or support group", id="filter")
                yield KeyTable(id="cis", cursor_type="row", zebra_stripes=True)
                yield Value("", id="cmdb-status")

    def on_mount(self) -> None:
        table = self.query_one("#cis", KeyTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.focus()

    # --- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        self._load(self.query_state, None, max(PAGE_SIZE, len(self.rows)), "refresh")

    def _set_query(self, query: Query) -> None:
        if query != self.query_state:
            self.query_state = query
            self._load(query, None, PAGE_SIZE, "replace")

    @work(exclusive=True, group="cmdb-rows", exit_on_error=False, name="loading CIs")
    async def _load(
        self,
        query: Query,
        after: str | None,
        limit: int,
        mode: Literal["replace", "append", "refresh"],
    ) -> None:
        page = await asyncio.to_thread(fetch_page, self.store, query, after, limit)
        self.post_message(PageLoaded(page, mode))

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        page = message.page
        self._show_counts(page.counts)
        if page.query != self.query_state:
            return  # an answer to a question nobody is asking any more
        self.loaded_change_id = page.change_id
        table = self.query_one("#cis", KeyTable)
        if message.mode == "append":
            self._loading_more = False
            self._append(table, page.rows)
        elif message.mode == "replace":
            self._loading_more = False
            table.clear()
            self.rows = []
            self._append(table, page.rows)
            table.move_cursor(row=0)
        else:
            self._loading_more = False
            self._diff(table, page.rows)
        self.has_more = page.full
        self._show_status()

    def _append(self, table: KeyTable, rows: tuple[CIRow, ...]) -> None:
        known = {row.name for row in self.rows}
        fresh = [row for row in rows if row.name not in known]
        for row in fresh:
            table.add_row(*row.cells(), key=row.name)
        self.rows.extend(fresh)

    def _diff(self, table: KeyTable, rows: tuple[CIRow, ...]) -> None:
        """Apply a reload by key: changed cells and removed rows in place, so an idle table
        repaints nothing and the cursor stays on its CI. A DataTable cannot insert in the
        middle, so new rows rebuild the page in the store's order (rare: someone added a CI)."""
        if tuple(self.rows) == rows:
            return
        cursor_name = self._cursor_name()
        old = {row.name: row for row in self.rows}
        new = {row.name: row for row in rows}
        with self.app.batch_update():
            if new.keys() - old.keys():
                table.clear()
                for row in rows:
                    table.add_row(*row.cells(), key=row.name)
            else:
                for name in old.keys() - new.keys():
                    table.remove_row(name)
                for row in rows:
                    if old[row.name] != row:
                        for (column, _), cell in zip(COLUMNS, row.cells(), strict=True):
                            table.update_cell(row.name, column, cell)
        self.rows = list(rows)
        if cursor_name in new:
            table.move_cursor(row=table.get_row_index(cursor_name))

    def _cursor_name(self) -> str | None:
        table = self.query_one("#cis", KeyTable)
        if not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row].name

    def _show_counts(self, counts: dict[str, int]) -> None:
        classes = self.query_one("#classes", KeyList)
        classes.replace_option_prompt(ALL_CLASSES, _class_prompt("All", sum(counts.values())))
        for ci_class in CIClass:
            classes.replace_option_prompt(
                ci_class.value, _class_prompt(ci_class.label, counts.get(ci_class.value, 0))
            )

    def _show_status(self) -> None:
        query = self.query_state
        status = Text(f"{len(self.rows)}{'+' if self.has_more else ''} CIs")
        status.append(f" · {class_label(query.ci_class) if query.ci_class else 'all classes'}")
        if query.text:
            status.append(" · filter ")
            status.append_text(safe_text(query.text, style="bold"))
        if not self.rows:
            status.append(" · nothing matches")
        self.query_one("#cmdb-status", Value).show(status)

    # --- events --------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#classes")
    def _class_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        chosen = event.option.id
        ci_class = None if chosen in (None, ALL_CLASSES) else chosen
        self._set_query(Query(ci_class, self.query_state.text))

    @on(OptionList.OptionSelected, "#classes")
    def _class_selected(self) -> None:
        self.query_one("#cis", KeyTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_query(Query(self.query_state.ci_class, event.value.strip()))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one("#cis", KeyTable).focus()

    @on(DataTable.RowHighlighted, "#cis")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Keyset paging: reaching the last loaded row asks for the next page.
        at_end = event.cursor_row >= len(self.rows) - 1
        if at_end and self.has_more and not self._loading_more and self.rows:
            self._loading_more = True
            self._load(self.query_state, self.rows[-1].name, PAGE_SIZE, "append")

    @on(DataTable.RowSelected, "#cis")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_ci(event.row_key.value)

    # --- actions -------------------------------------------------------------------------

    def open_ci(self, name: str) -> None:
        self.app.push_screen(CIDetailScreen(self.store, name))

    def action_open(self) -> None:
        name = self._cursor_name()
        if name is not None:
            self.open_ci(name)

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.add_class("-shown")
        filter_input.focus()

    async def action_clear_or_back(self) -> None:
        filter_input = self.query_one("#filter", Input)
        if filter_input.has_class("-shown") or filter_input.value:
            filter_input.value = ""
            filter_input.remove_class("-shown")
            self.query_one("#cis", KeyTable).focus()
        else:
            await self.app.run_action("app.back")

    def action_focus_classes(self) -> None:
        self.query_one("#classes", KeyList).focus()

    def action_refresh(self) -> None:
        self.reload()


# --- CI detail: data ---------------------------------------------------------------------


@dataclass(frozen=True)
class Related:
    """A CI listed on the detail screen, with the words that say how it is related."""

    name: str
    prompt: Text


@dataclass(frozen=True)
class CIDetail:
    name: str
    ci_class: str
    criticality: str | None
    fields: tuple[tuple[str, str], ...]
    description: str | None
    attributes: tuple[tuple[str, str], ...]
    related: tuple[Related, ...]
    impacts: tuple[Related, ...]
    dependencies: tuple[Related, ...] | None  # None: not a service, nothing to list


@dataclass(frozen=True)
class DetailResult:
    name: str
    detail: CIDetail | None  # None: no such CI (deleted meanwhile, or a stale link)
    change_id: int


class DetailLoaded(Message):
    def __init__(self, result: DetailResult) -> None:
        super().__init__()
        self.result = result


def when(at: datetime | None) -> str:
    return clock.to_local(at).strftime("%Y-%m-%d %H:%M:%S %Z") if at else ""


def _attribute_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def _via(names: tuple[str, ...]) -> Text:
    text = Text(" via ", style="dim")
    for index, name in enumerate(names):
        if index:
            text.append(" → ", style="dim")
        text.append_text(safe_text(name))
    return text


def fetch_detail(store: Store, name: str) -> DetailResult:
    with store.read() as session:
        change_id = latest_change_id(session)
        ci = find_ci(session, name)
        if ci is None:
            return DetailResult(name, None, change_id)
        fields = (
            ("class", class_label(ci.ci_class)),
            ("address", ci.address or ""),
            ("environment", ci.environment),
            ("owner", ci.owner or ""),
            ("support group", ci.support_group or ""),
            ("criticality", ci.criticality or ""),
            ("monitored", f"yes ({ci.collector})" if ci.monitored else "no"),
            ("credential profile", ci.credential_profile or ""),
            ("SNMP port", "" if ci.snmp_port is None else str(ci.snmp_port)),
            ("poll interval", "" if ci.poll_interval is None else f"{ci.poll_interval}s"),
            ("created", when(ci.created_at)),
            ("updated", when(ci.updated_at)),
            ("version", str(ci.version)),
        )
        attributes = tuple(
            sorted((str(k), _attribute_value(v)) for k, v in (ci.attributes or {}).items())
        )
        related = []
        for edge in edges_of(session, ci):
            prompt = Text(f"{edge.wording:<13}", style="dim")
            prompt.append_text(safe_text(edge.other.name))
            prompt.append(f"  ({class_label(edge.other.ci_class)})", style="dim")
            related.append(Related(edge.other.name, prompt))
        impacts = []
        for path in impacted_services(session, ci):
            prompt = safe_text(path.ci.name)
            prompt.append(f" ({path.ci.criticality or 'criticality not set'})")
            if path.hops == 0:
                prompt.append(" · this service", style="dim")
            else:
                prompt.append_text(_via(path.path[:-1]))
            impacts.append(Related(path.ci.name, prompt))
        needs: list[Related] | None = None
        if ci.ci_class == CIClass.SERVICE:
            needs = []
            for path in dependencies(session, ci):
                prompt = safe_text(path.ci.name)
                prompt.append(f" ({class_label(path.ci.ci_class)})", style="dim")
                if path.hops > 1:
                    prompt.append_text(_via(path.path[1:-1]))
                needs.append(Related(path.ci.name, prompt))
        detail = CIDetail(
            ci.name,
            ci.ci_class,
            ci.criticality,
            fields,
            ci.description,
            attributes,
            tuple(related),
            tuple(impacts),
            None if needs is None else tuple(needs),
        )
    return DetailResult(name, detail, change_id)


def fields_text(detail: CIDetail) -> Text:
    width = 20
    text = Text(end="")
    for label, value in detail.fields:
        if not value:
            continue  # at 80x24 every line counts: leave out what is not set
        text.append(f"{label:<{width}}", style="dim")
        text.append_text(safe_text(value))
        text.append("\n")
    if detail.attributes:
        text.append("attributes\n", style="bold")
        for key, value in detail.attributes:
            text.append("  ")
            text.append_text(safe_text(key, style="dim"))
            text.append(" " * max(1, width - 2 - len(key)))
            text.append_text(safe_text(value))
            text.append("\n")
    if detail.description:
        text.append("description\n", style="bold")
        text.append_text(safe_text(detail.description, keep_newlines=True))
    text.rstrip()
    return text


# --- CI detail: screen -------------------------------------------------------------------


class CIDetailScreen(OpsScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.back", "Back", id="detail.back"),
        Binding("enter", "open", "Open related CI", id="detail.open"),
        Binding("r", "refresh", "Refresh", id="detail.refresh"),
    ]
    LISTS = ("impacts", "dependencies", "related")

    def __init__(self, store: Store, name: str) -> None:
        super().__init__(store)
        self.ci_name = name
        self.detail: CIDetail | None = None
        self._targets: dict[str, tuple[str, ...]] = {}
        self.title = f"opsconsole · CI {safe_str(name)}"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Value(safe_text(self.ci_name, style="bold"), id="ci-title")
            # Lists first: at 80x24 what the CI touches matters more than its fields.
            with Container(id="detail-columns"):
                with Vertical(id="detail-lists"):
                    yield Static("Impacted services", markup=False, classes="section")
                    yield KeyList(id="impacts")
                    yield Static("Depends on", markup=False, classes="section deps")
                    yield KeyList(id="dependencies", classes="deps")
                    yield Static("Relationships", markup=False, classes="section")
                    yield KeyList(id="related")
                with Vertical(id="detail-fields"):
                    yield Static("Details", markup=False, classes="section")
                    yield Static("loading…", markup=False, id="fields")

    def reload(self) -> None:
        self._load()

    @work(exclusive=True, group="ci-detail", exit_on_error=False, name="loading the CI")
    async def _load(self) -> None:
        result = await asyncio.to_thread(fetch_detail, self.store, self.ci_name)
        self.post_message(DetailLoaded(result))

    @on(DetailLoaded)
    def _detail_loaded(self, message: DetailLoaded) -> None:
        self.loaded_change_id = message.result.change_id
        detail = message.result.detail
        if detail is None:
            self.detail = None
            self.query_one("#fields", Static).update(
                safe_text(f"There is no CI named {self.ci_name!r} (any more).")
            )
            for list_id in self.LISTS:
                self._fill(list_id, ())
            return
        first_load = self.detail is None
        if detail == self.detail:
            return
        self.detail = detail
        title = safe_text(detail.name, style="bold")
        title.append(f"  {class_label(detail.ci_class)}")
        if detail.criticality:
            title.append(f" · criticality {detail.criticality}")
        self.query_one("#ci-title", Value).show(title)
        self.query_one("#fields", Static).update(fields_text(detail))
        self._fill("related", detail.related)
        self._fill("impacts", detail.impacts)
        self._fill("dependencies", detail.dependencies or ())
        for widget in self.query(".deps"):
            widget.display = detail.dependencies is not None
        if first_load:
            self._focus_first_list()

    def _fill(self, list_id: str, items: tuple[Related, ...]) -> None:
        option_list = self.query_one(f"#{list_id}", KeyList)
        highlighted = option_list.highlighted
        self._targets[list_id] = tuple(item.name for item in items)
        if items:
            option_list.set_options(
                Option(item.prompt, id=str(index)) for index, item in enumerate(items)
            )
            # set_options forgets the highlight; Enter must work at once, so put one back.
            option_list.highlighted = min(highlighted or 0, len(items) - 1)
        else:
            option_list.set_options([Option(Text("none", style="dim"), disabled=True)])

    def _focus_first_list(self) -> None:
        for list_id in self.LISTS:
            if self._targets.get(list_id):
                self.query_one(f"#{list_id}", KeyList).focus()
                return

    def _target(self, option_list: OptionList, index: int | None) -> str | None:
        names = self._targets.get(option_list.id or "", ())
        return names[index] if index is not None and 0 <= index < len(names) else None

    @on(OptionList.OptionSelected)
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        name = self._target(event.option_list, event.option_index)
        if name is not None:
            self.app.push_screen(CIDetailScreen(self.store, name))

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, OptionList):
            name = self._target(focused, focused.highlighted)
            if name is not None:
                self.app.push_screen(CIDetailScreen(self.store, name))

    def action_refresh(self) -> None:
        self.reload()
