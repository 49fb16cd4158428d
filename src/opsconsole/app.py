"""The Textual app: places (screens) and their keys, the command palette, the change feed.

One registry drives keys, help and palette: `PLACES` makes the number-key bindings and the
modes; `BINDINGS` of the app and of each screen make the footer, the `?` help (`HELP_GROUPS`)
and the palette's commands. Bindings carry ids so a keymap from config can move them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, OptionList
from textual.worker import Worker, WorkerState

from opsconsole.cmdb.service import list_cis
from opsconsole.config import Settings
from opsconsole.monitoring.collectors.local import LocalCollector
from opsconsole.screens import describe_error
from opsconsole.screens.cmdb import CIDetailScreen, CMDBScreen, class_label
from opsconsole.screens.dashboard import CollectorFactory, DashboardScreen
from opsconsole.screens.help import HelpGroup, HelpScreen, HelpSection, build_sections
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.engine import Store
from opsconsole.widgets.lists import KeyList, KeyTable
from opsconsole.widgets.text import safe_str, safe_text

PALETTE_CI_HITS = 20


@dataclass(frozen=True)
class Place:
    """A top-level screen: its mode name, its title and the key that shows it."""

    mode: str
    title: str
    key: str


PLACES = (
    Place("dashboard", "Dashboard", "1"),
    Place("cmdb", "CMDB", "2"),
)
HOME = PLACES[0].mode


class ChangeFeedMoved(Message):
    def __init__(self, change_id: int) -> None:
        super().__init__()
        self.change_id = change_id


def read_change_id(store: Store) -> int:
    with store.read() as session:
        return latest_change_id(session)


def find_ci_names(store: Store, text: str, limit: int = PALETTE_CI_HITS) -> list[tuple[str, str]]:
    with store.read() as session:
        return [(ci.name, ci.ci_class) for ci in list_cis(session, text=text, limit=limit)]


_PALETTE_PREFIX = re.compile(r"^\s*(open\s+)?(ci\s+)?", re.IGNORECASE)


def ci_search_text(query: str) -> str:
    """What to look CIs up by: "open CI web" and "web" both search for "web"."""
    return _PALETTE_PREFIX.sub("", query, count=1).strip()


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    action: str


class OpsCommands(Provider):
    """The palette: every app-level binding, and "open CI <name>" for CIs matching the query."""

    @property
    def console(self) -> OpsConsoleApp:
        assert isinstance(self.app, OpsConsoleApp)
        return self.app

    async def discover(self) -> Hits:
        for command in self.console.palette_commands():
            yield DiscoveryHit(
                command.title, partial(self.console.run_action, command.action), help=command.help
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.console.palette_commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    partial(self.console.run_action, command.action),
                    help=command.help,
                )
        needle = ci_search_text(query)
        if not needle:
            return
        try:
            found = await asyncio.to_thread(find_ci_names, self.console.store, needle)
        except Exception:  # the store being away must not break the palette
            return
        for name, ci_class in found:
            label = f"open CI {name}"
            # CI names are outside text: displayed as built Text, never through markup.
            display = Text.assemble("open CI ", safe_text(name))
            yield Hit(
                max(matcher.match(label), 0.1),
                display,
                partial(self.console.open_ci, name),
                text=safe_str(label),
                help=escape(class_label(ci_class)),  # help text is read as markup
            )


class OpsConsoleApp(App[None]):
    CSS_PATH = "opsconsole.tcss"
    TITLE = "opsconsole"
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (120, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(place.key, f"show('{place.mode}')", place.title, id=f"app.{place.mode}")
            for place in PLACES
        ),
        Binding("question_mark", "help", "Help", id="app.help"),
        # Shown at the right of the footer by Footer itself.
        Binding(
            "ctrl+p", "command_palette", "Palette", show=False, priority=True, id="app.palette"
        ),
        Binding("colon", "command_palette", "Palette", show=False, id="app.palette_colon"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
    ]
    COMMANDS = App.COMMANDS | {OpsCommands}
    HELP_GROUPS: ClassVar[tuple[HelpGroup, ...]] = ()  # filled in below the class

    change_id: reactive[int] = reactive(0, init=False)
    """Position of the store's change feed; screens watch it and reload what they show."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        local_host: str | None,
        collector_factory: Callable[[], Any] | None = None,
        poll: bool = True,
    ) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.local_host = local_host
        factory: CollectorFactory = collector_factory or (lambda: LocalCollector(local_host))
        self.add_mode(
            "dashboard", lambda: DashboardScreen(store, settings, local_host, factory, poll)
        )
        self.add_mode("cmdb", lambda: CMDBScreen(store))
        self.sub_title = f"{safe_str(settings.actor)}@{store.backend}"

    def on_mount(self) -> None:
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        else:
            self.notify(
                f"unknown theme {self.settings.ui.theme!r}; using {self.theme}",
                severity="warning",
                markup=False,
            )
        self.switch_mode(HOME)
        self._follow_change_feed()

    # --- change feed ---------------------------------------------------------------------

    @work(exclusive=True, group="change-feed", exit_on_error=False, name="following changes")
    async def _follow_change_feed(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.settings.ui.change_feed_interval)
            try:
                change_id = await asyncio.to_thread(read_change_id, self.store)
            except Exception as exc:
                if not failing:  # say it once, not at every poll
                    self.notify(
                        describe_error(exc),
                        title="cannot read the store",
                        severity="error",
                        markup=False,
                    )
                failing = True
                continue
            if failing:
                self.notify("the store answers again", markup=False)
                failing = False
            self.post_message(ChangeFeedMoved(change_id))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:  # the feed catches its own errors; this is a net
            self.notify(
                describe_error(event.worker.error),
                title=f"{event.worker.name or 'background task'} failed",
                severity="error",
                markup=False,
            )

    @on(ChangeFeedMoved)
    def _change_feed_moved(self, message: ChangeFeedMoved) -> None:
        self.change_id = message.change_id

    # --- actions -------------------------------------------------------------------------

    async def action_show(self, mode: str) -> None:
        await self.switch_mode(mode)

    async def action_back(self) -> None:
        """Esc: close the screen on top, or from a top-level screen go home."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.current_mode != HOME:
            await self.switch_mode(HOME)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.help_sections()))

    async def open_ci(self, name: str) -> None:
        await self.switch_mode("cmdb")
        await self.push_screen(CIDetailScreen(self.store, name))

    # --- the registry, read by help and palette ---------------------------------------------

    def keys_of(self, binding: Binding) -> list[str]:
        """The keys that trigger `binding` now (after the keymap), as the footer shows them."""
        keys = self._keymap.get(binding.id, binding.key) if binding.id else binding.key
        return [self.get_key_display(binding.with_key(key.strip())) for key in keys.split(",")]

    def help_sections(self) -> list[HelpSection]:
        return build_sections(self.HELP_GROUPS, self.keys_of)

    def palette_commands(self) -> list[PaletteCommand]:
        commands = []
        seen: set[str] = set()
        for binding in Binding.make_bindings(self.BINDINGS):
            if binding.action in seen or binding.action == "command_palette":
                continue
            seen.add(binding.action)
            keys = " or ".join(self.keys_of(binding))
            commands.append(PaletteCommand(binding.description, f"key {keys}", binding.action))
        return commands


OpsConsoleApp.HELP_GROUPS = (
    HelpGroup("Everywhere", (OpsConsoleApp, Screen)),
    HelpGroup("Dashboard", (DashboardScreen,)),
    HelpGroup("CMDB", (CMDBScreen,)),
    HelpGroup("CI detail", (CIDetailScreen,)),
    HelpGroup("Tables", (KeyTable, DataTable)),
    HelpGroup("Lists", (KeyList, OptionList)),
    HelpGroup("Help", (HelpScreen,)),
)
