"""`opsconsole poll`: the poller and the trap receiver, headless, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opsconsole.config import Settings
from opsconsole.monitoring.poller import Poller
from opsconsole.monitoring.recorder import BatchSummary
from opsconsole.monitoring.targets import Shard
from opsconsole.monitoring.trap_events import address_map, ensure_unknown_source, trap_event
from opsconsole.store.engine import Store

if TYPE_CHECKING:
    from opsconsole.monitoring.traps import TrapReceiver

log = logging.getLogger("opsconsole.poll")
ADDRESS_REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class DaemonOptions:
    shard: Shard = field(default_factory=Shard)
    once: bool = False
    traps: bool = True
    trap_port: int | None = None
    name: str = "poller"


async def run_daemon(store: Store, settings: Settings, options: DaemonOptions) -> BatchSummary:
    poller = Poller(store, settings, shard=options.shard, name=options.name)
    if options.once:
        summary = await poller.poll_once()
        poller.collectors.close()
        return summary
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    receiver = None
    if options.traps:
        port = options.trap_port if options.trap_port is not None else settings.traps.port
        receiver = await start_traps(store, settings, poller, stop, name=options.name, port=port)
    log.info("polling shard %s; Ctrl+C or SIGTERM stops", options.shard)
    try:
        await poller.run(stop)
    finally:
        if receiver is not None:
            receiver.stop()
    log.info(
        "stopped: %d polls (%d failed), %d samples, %d events written",
        poller.stats.polls, poller.stats.failures, poller.stats.samples, poller.stats.events,
    )  # fmt: skip
    return BatchSummary(polls=poller.stats.polls, samples=poller.stats.samples,
                        events=poller.stats.events)  # fmt: skip


async def start_traps(
    store: Store,
    settings: Settings,
    poller: Poller,
    stop: asyncio.Event,
    *,
    name: str,
    port: int,
) -> TrapReceiver:
    """Receive traps on `port` into the poller's event batches until `stop` is set (the caller
    stops the receiver). Raises OSError when the port cannot be bound."""
    from opsconsole.monitoring.traps import TrapMessage, TrapReceiver

    def load() -> tuple[dict[str, int], int]:
        with store.write(name) as session:
            unknown = ensure_unknown_source(session)
            return address_map(session), unknown

    addresses, unknown = await asyncio.to_thread(load)

    def on_trap(message: TrapMessage) -> None:
        poller.add_events([trap_event(message, addresses, unknown)])

    receiver = TrapReceiver(settings.traps.host, port, settings.traps.communities, on_trap)
    await receiver.start()
    log.info("receiving traps on %s:%d", settings.traps.host, receiver.bound_port)

    async def refresh_addresses() -> None:
        while not stop.is_set():
            await asyncio.sleep(ADDRESS_REFRESH_SECONDS)
            try:
                fresh, _ = await asyncio.to_thread(load)
            except Exception:
                log.exception("could not refresh the trap sender map")
                continue
            addresses.clear()
            addresses.update(fresh)

    refresher = asyncio.create_task(refresh_addresses())
    stop_task = asyncio.create_task(stop.wait())
    stop_task.add_done_callback(lambda _: refresher.cancel())
    return receiver
