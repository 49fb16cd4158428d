"""Driving the console with the keyboard, at 80x24 and at 160x50.

Data arrives from worker threads, so tests wait for a condition on widget content
(`wait_for`), never for a fixed time.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
from typing import Any

import pytest
from rich.text import Text

from opsconsole.app import OpsConsoleApp, help_groups
from opsconsole.cmdb.service import add_ci, get_ci
from opsconsole.screens.cmdb import CIDetailScreen, CMDBScreen
from opsconsole.screens.dashboard import DashboardScreen
from opsconsole.screens.help import HelpScreen, own_bindings
from opsconsole.store.engine import Store
from opsconsole.store.models import CIClass
from opsconsole.widgets.keybar import KeyBar
from opsconsole.widgets.lists import KeyList, KeyTable
from opsconsole.widgets.text import safe_text
from opsconsole.widgets.value import Value

SIZES = [(80, 24), (160, 50)]


def record_notifications(app: OpsConsoleApp) -> list[tuple[str, str]]:
    """(message, severity) of every notification the app raises."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append((message, kwargs.get("severity", "information")))
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


def table_names(screen: CMDBScreen) -> list[str]:
    return [row.name for row in screen.rows]


def list_texts(screen: CIDetailScreen, list_id: str) -> list[str]:
    option_list = screen.query_one(f"#{list_id}", KeyList)
    texts = []
    for option in option_list.options:
        prompt = option.prompt
        texts.append(prompt.plain if isinstance(prompt, Text) else str(prompt))
    return texts


async def open_dashboard(pilot: Any, wait_for: Any) -> DashboardScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    screen = app.screen
    # Loaded, and the panels (mounted once the grid knows its size) bound and laid out.
    await wait_for(
        pilot,
        lambda: (
            screen.index is not None
            and any(p.host is not None for p in screen.panels)
            and all(p.region.height for p in screen.panels if p.host is not None)
        ),
    )
    await pilot.pause()
    return screen  # type: ignore[no-any-return]


async def open_cmdb(pilot: Any, wait_for: Any) -> CMDBScreen:
    app = pilot.app
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(app.screen, CMDBScreen) and bool(app.screen.rows))
    return app.screen  # type: ignore[no-any-return]


async def open_detail(pilot: Any, wait_for: Any, name: str) -> CIDetailScreen:
    app = pilot.app
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, CIDetailScreen)
            and app.screen.ci_name == name
            and app.screen.detail is not None
        ),
    )
    return app.screen  # type: ignore[no-any-return]


# --- small widgets -----------------------------------------------------------------------------


def test_value_skips_unchanged_text() -> None:
    value = Value("12.0%")
    assert value.show("12.0%") is False
    assert value.show(Text("12.0%")) is False


# --- CMDB and CI detail --------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_cmdb_class_to_ci_to_impact_and_back(make_app, wait_for, size) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await open_dashboard(pilot, wait_for)
        cmdb = await open_cmdb(pilot, wait_for)
        assert len(cmdb.rows) == 7
        classes = cmdb.query_one("#classes", KeyList)
        assert "host" in str(classes.get_option(CIClass.HOST.value).prompt)

        # Pick the class "host" with the keyboard: All, service, application, host.
        await pilot.press("c", "down", "down", "down", "enter")
        await wait_for(pilot, lambda: table_names(cmdb) == ["console-01", "web-01"])
        assert isinstance(app.focused, KeyTable)
        assert "host" in cmdb.query_one("#cmdb-status", Value).shown.plain

        await pilot.press("j", "enter")
        web = await open_detail(pilot, wait_for, "web-01")
        impacts = list_texts(web, "impacts")
        assert impacts == ["shop (high) via web-01 → shop-web"]
        assert list_texts(web, "related") == [
            "connected to access-sw-01  (network device)",
            "runs         shop-web  (application)",
        ]
        fields = str(web.query_one("#fields").render())
        assert "2026-11-23 09:33:00 UTC" in fields  # created, shown in local time (TZ=UTC)
        assert "Debian 12" in fields

        # Follow a relationship: Tab from the impacted services to the relationships, Enter.
        assert app.focused is web.query_one("#impacts")
        await pilot.press("tab")
        assert app.focused is web.query_one("#related")
        await pilot.press("enter")
        access = await open_detail(pilot, wait_for, "access-sw-01")
        assert "serves       web-01  (host)" in list_texts(access, "related")
        assert list_texts(access, "impacts") == ["shop (high) via access-sw-01 → web-01 → shop-web"]

        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is web)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is cmdb)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_service_lists_what_it_depends_on(make_app, wait_for) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dashboard(pilot, wait_for)
        await app.open_ci("shop")
        shop = await open_detail(pilot, wait_for, "shop")
        assert list_texts(shop, "impacts") == ["shop (high) · this service"]
        assert list_texts(shop, "dependencies") == [
            "shop-web (application)",
            "web-01 (host) via shop-web",
            "access-sw-01 (network device) via shop-web → web-01",
            "core-sw-01 (network device) via shop-web → web-01 → access-sw-01",
        ]


async def test_filter_narrows_and_escape_clears(make_app, wait_for) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        cmdb = await open_cmdb(pilot, wait_for)
        await pilot.press("slash", "s", "w")
        await wait_for(pilot, lambda: table_names(cmdb) == ["access-sw-01", "core-sw-01"])
        assert "filter sw" in cmdb.query_one("#cmdb-status", Value).shown.plain
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(cmdb.rows) == 7)
        assert app.screen is cmdb  # the first Esc clears the filter, it does not go back
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_cmdb_pages_by_keyset(make_app, store: Store, wait_for) -> None:
    with store.write("test") as session:
        for index in range(450):
            add_ci(session, f"bulk-{index:04d}", CIClass.HOST, address="127.0.1.1")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        cmdb = await open_cmdb(pilot, wait_for)
        assert len(cmdb.rows) == 200 and cmdb.has_more
        table = cmdb.query_one("#cis", KeyTable)
        await pilot.press("G")
        await wait_for(pilot, lambda: len(cmdb.rows) == 400)
        await pilot.press("G")
        await wait_for(pilot, lambda: len(cmdb.rows) == 457 and not cmdb.has_more)
        assert table.row_count == 457
        names = table_names(cmdb)
        assert names == sorted(names)


async def test_change_feed_reloads_visible_screen(make_app, store: Store, wait_for) -> None:
    app = make_app(feed_interval=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        cmdb = await open_cmdb(pilot, wait_for)
        table = cmdb.query_one("#cis", KeyTable)
        table.move_cursor(row=table.get_row_index("shop"))
        with store.write("someone-else") as session:
            add_ci(session, "db-01", CIClass.DATABASE, address="127.0.0.40")
        await wait_for(pilot, lambda: "db-01" in table_names(cmdb))
        assert table.row_count == 8
        assert cmdb.rows[table.cursor_row].name == "shop"  # the cursor stayed on its CI
        counts = str(cmdb.query_one("#classes", KeyList).get_option("database").prompt)
        assert counts.split()[-1] == "2"

        with store.write("someone-else") as session:
            get_ci(session, "web-01").address = "127.0.0.99"
        await wait_for(pilot, lambda: str(table.get_cell("web-01", "address")) == "127.0.0.99")
        assert table.row_count == 8


async def test_a_ci_that_is_gone_says_so(make_app, wait_for) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dashboard(pilot, wait_for)
        await app.open_ci("no-such-ci")
        screen = app.screen
        assert isinstance(screen, CIDetailScreen)
        await wait_for(pilot, lambda: "no CI named" in str(screen.query_one("#fields").render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CMDBScreen))


# --- help, palette, safety, errors ---------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_help_lists_every_binding(make_app, wait_for, size) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await open_dashboard(pilot, wait_for)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_text = app.screen.plain
        for group in help_groups():
            assert group.title in help_text
            for owner in group.owners:
                for binding in own_bindings(owner):
                    if binding.description and not binding.system:
                        # Help gives the longer wording (the tooltip) where there is one.
                        assert (binding.tooltip or binding.description) in help_text, binding
        assert "^q" in help_text and "Open related CI" in help_text
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_palette_opens_a_ci(make_app, wait_for) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dashboard(pilot, wait_for)
        await pilot.press("ctrl+p")
        await pilot.press(*"web-01")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await open_detail(pilot, wait_for, "web-01")
        assert app.current_mode == "cmdb"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CMDBScreen))


async def test_palette_offers_the_screens(make_app, wait_for) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dashboard(pilot, wait_for)
        await pilot.press("ctrl+p")
        await pilot.press(*"cmdb")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CMDBScreen))


def test_safe_text_escapes_controls_and_markup() -> None:
    shown = safe_text("[bold red]x\x1b[2J\x9b\u202e\n")
    assert shown.plain == "[bold red]x\\x1b[2J\\x9b\\u202e\\x0a"
    assert {span.style for span in shown.spans} == {"reverse"}  # only the escapes are styled
    assert safe_text("a\nb", keep_newlines=True).plain == "a\nb"


async def test_hostile_ci_name_renders_literally(make_app, wait_for, estate) -> None:
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await open_dashboard(pilot, wait_for)
        dashboard_svg = app.export_screenshot()
        cmdb = await open_cmdb(pilot, wait_for)
        table = cmdb.query_one("#cis", KeyTable)
        cell = table.get_cell(estate.hostile_name, "name")
        assert isinstance(cell, Text) and cell.plain == estate.hostile_shown
        cmdb_svg = app.export_screenshot()
        await app.open_ci(estate.hostile_name)
        detail = await open_detail(pilot, wait_for, estate.hostile_name)
        fields = str(detail.query_one("#fields").render())
        assert "evil\\x1b]0;pwned\\x07 [link=x]text[/link]" in fields
        detail_svg = app.export_screenshot()
    for svg in (dashboard_svg, cmdb_svg, detail_svg):
        assert "\x1b" not in svg and "\x07" not in svg
        # The screen's text, styles dropped: the name is there character for character.
        text = html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
        assert estate.hostile_shown in text


async def test_database_error_is_a_notification_not_a_crash(
    make_app, store: Store, wait_for
) -> None:
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        cmdb = await open_cmdb(pilot, wait_for)
        # Lose the database under the running console: the next read finds no tables.
        store.engine.dispose()
        database = store.engine.url.database
        assert database is not None
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(database + suffix)
        await pilot.press("r")
        await wait_for(pilot, lambda: any(sev == "error" for _, sev in notes))
        assert app.is_running and app.screen is cmdb
        assert any("no such table" in message for message, _ in notes)


async def test_the_key_bar_follows_the_screen_and_the_keymap(
    make_app: Any, wait_for: Any
) -> None:
    """One line of keys per screen: the screen's shown bindings first, the app's after, the
    palette at the right; it changes with the screen, and a keymap moves what it shows."""
    app = make_app()
    app.set_keymap({"dashboard.sort": "o"})
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dashboard(pilot, wait_for)
        bar = app.screen.query_one(KeyBar)
        line = bar.plain
        assert len(line) == 80
        assert line.startswith("⏎Open /Filter ")
        assert "oSort" in line and "sSort" not in line
        assert line.rstrip().endswith("^pPalette")
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, CMDBScreen))
        cmdb_line = app.screen.query_one(KeyBar).plain
        assert "oSort" not in cmdb_line and "Filter" in cmdb_line
