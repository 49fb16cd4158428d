"""The console's embedded poller receives SNMP traps too: a real `snmptrap` reaches the store
as an alert, and the header on whatever screen is shown counts it. A second console on the
same port (the port is taken) says so once and goes on polling."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from opsconsole.app import OpsConsoleApp
from opsconsole.config import TrapSettings
from opsconsole.events import queries
from opsconsole.store.engine import Store
from tests.peers import require_binary
from tests.ui.conftest import LOCAL_HOST, ScriptedCollectors, make_settings

LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def console_with_traps(store: Store, port: int) -> OpsConsoleApp:
    settings = make_settings()
    settings = settings.model_copy(update={"traps": TrapSettings(port=port, in_console=True)})
    return OpsConsoleApp(
        store, settings, LOCAL_HOST, poll=True, collectors=ScriptedCollectors(settings)
    )


async def send_link_down(port: int) -> None:
    snmptrap = require_binary("snmptrap", "snmp")
    process = await asyncio.create_subprocess_exec(
        snmptrap, "-v2c", "-c", "public", f"127.0.0.1:{port}", "", LINK_DOWN,
        IF_INDEX + ".7", "i", "7",
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "MIBS": ""},
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr.decode(errors="replace")


def open_trap_alerts(store: Store) -> list[str]:
    with store.read() as session:
        page = queries.alert_page(session, queries.View.ALL, actor="alice", limit=100)
        return [row.message for row in page.rows if row.check == "snmp.link"]


async def test_a_real_trap_reaches_the_store_through_the_console(
    store: Store, wait_for: Any
) -> None:
    port = free_udp_port()
    app = console_with_traps(store, port)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.embedded is not None and app.embedded.running)
        await wait_for(pilot, lambda: app.embedded.trap_receiver is not None)  # type: ignore[union-attr]
        await send_link_down(port)
        await wait_for(pilot, lambda: len(open_trap_alerts(store)) == 1, timeout=15)
        assert "linkDown on ifIndex 7" in open_trap_alerts(store)[0]
        # linkDown is MAJOR: the header on the dashboard counts it.
        await wait_for(pilot, lambda: "MAJOR 1" in app.sub_title)


async def test_a_taken_trap_port_is_reported_once_and_polling_goes_on(
    store: Store, wait_for: Any
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = int(holder.getsockname()[1])
        app = console_with_traps(store, port)
        seen: list[str] = []
        original = app.notify

        def record(message: str, **kwargs: Any) -> None:
            seen.append(message)
            original(message, **kwargs)

        app.notify = record  # type: ignore[method-assign]
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: any("not receiving traps" in m for m in seen))
            await wait_for(pilot, lambda: app.batches_written > 0)  # the poller polls on
            assert app.embedded is not None and app.embedded.trap_receiver is None
