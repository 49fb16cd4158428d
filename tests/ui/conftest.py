"""A small estate on a temporary SQLite store, a fixed clock, and host health written into the
store the way the poller writes it (`record`), or by an embedded poller whose collectors are
scripted (no psutil, no network)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from textual.pilot import Pilot

from opsconsole import clock
from opsconsole.app import OpsConsoleApp
from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import relate
from opsconsole.config import MonitoringSettings, Settings, TrapSettings, UISettings
from opsconsole.monitoring.collectors.dispatch import CollectorSet, PollFailure
from opsconsole.monitoring.recorder import PollResult, record
from opsconsole.monitoring.sample import DiskUsage, HostSnapshot, InterfaceRate
from opsconsole.monitoring.targets import PollTarget, Shard, load_targets
from opsconsole.store import open_store
from opsconsole.store.engine import Store
from opsconsole.store.models import CI, RelationType

HOSTILE_NAME = "[bold red]x\x1b[2J"
HOSTILE_SHOWN = "[bold red]x\\x1b[2J"
LOCAL_HOST = "console-01"
START = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
GIB = 1024**3
ROUND_SECONDS = 30


@pytest.fixture(autouse=True)
def utc_display() -> Iterator[None]:
    """Local time is what screens show: pin it so snapshots do not depend on the machine."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    fixed = ManualClock(START)
    previous = clock.use(fixed)
    yield fixed
    clock.use(previous)


def build_estate(store: Store, manual_clock: ManualClock) -> None:
    """shop (high) -> shop-web -> web-01 -> access-sw-01 -> core-sw-01, this console's own
    host, and a hostile name. Monitored: console-01 (local), web-01, both switches and the
    hostile one (SNMP)."""
    with store.write("test") as session:

        def add(name: str, ci_class: str, **fields: object) -> CI:
            manual_clock.advance(timedelta(minutes=1))  # distinct, fixed timestamps
            ci = CI(name=name, ci_class=ci_class, **fields)
            session.add(ci)
            session.flush()
            return ci

        snmp = {"monitored": True, "collector": "snmp", "credential_profile": "lab"}
        shop = add(
            "shop",
            "service",
            criticality="high",
            owner="Web team",
            description="The online shop",
            attributes={"tier": "gold"},
        )
        shop_web = add(
            "shop-web",
            "application",
            address="127.0.0.10",
            support_group="web-ops",
        )
        web = add(
            "web-01",
            "host",
            address="127.0.0.11",
            support_group="unix-ops",
            attributes={"os": "Debian 12", "rack": "B4"},
            **snmp,
        )
        access = add(
            "access-sw-01",
            "network_device",
            address="127.0.0.20",
            support_group="net-ops",
            **snmp,
        )
        core = add(
            "core-sw-01", "network_device", address="127.0.0.21", support_group="net-ops", **snmp
        )
        add(
            HOSTILE_NAME,
            "database",
            address="127.0.0.30",
            description="evil\x1b]0;pwned\x07 [link=x]text[/link]",
            **snmp,
        )
        add(
            LOCAL_HOST,
            "host",
            address="127.0.0.1",
            monitored=True,
            collector="local",
            description="The machine this console runs on",
        )
        relate(session, shop, RelationType.DEPENDS_ON, shop_web)
        relate(session, shop_web, RelationType.RUNS_ON, web)
        relate(session, web, RelationType.CONNECTED_TO, access)
        relate(session, access, RelationType.CONNECTED_TO, core)
    manual_clock.set(START)


@pytest.fixture
def store(tmp_path: Path, manual_clock: ManualClock) -> Iterator[Store]:
    opened = open_store(f"sqlite+pysqlite:///{tmp_path / 't.db'}")
    build_estate(opened, manual_clock)
    yield opened
    opened.dispose()


CPU_SERIES = (12.0, 35.0, 20.0, 55.0, 80.0, 42.0, 25.0, 61.0, 30.0, 47.0, 15.0, 70.0, 93.0, 38.0)


def local_snapshot(host: str, at: datetime, cpu: float) -> HostSnapshot:
    return HostSnapshot(
        host=host,
        at=at,
        cpu_percent=cpu,
        per_core_percent=(cpu - 5, cpu + 5),
        load=(0.52, 0.41, 0.3),
        mem_total_bytes=8 * GIB,
        mem_used_bytes=int(3.5 * GIB),
        swap_total_bytes=2 * GIB,
        swap_used_bytes=0,
        disks=(DiskUsage("/", 100 * GIB, 61 * GIB), DiskUsage("/var", 50 * GIB, 12 * GIB)),
        interfaces=(InterfaceRate("eth0", 1536.0, 300.0, True),),
        uptime_seconds=3 * 86_400 + 4 * 3_600 + 120,
        process_count=231,
        name=host,
        description="Linux 6.1.0",
    )


def snmp_snapshot(host: str, at: datetime, cpu: float) -> HostSnapshot:
    return HostSnapshot(
        host=host,
        at=at,
        cpu_percent=cpu,
        per_core_percent=(cpu, cpu / 2, 97.0, 3.0),
        load=(7.77, 5.0, 2.5),
        mem_total_bytes=16 * GIB,
        mem_used_bytes=12 * GIB,
        disks=(DiskUsage("/", 20 * GIB, 9 * GIB), DiskUsage("/srv/data", 500 * GIB, 460 * GIB)),
        interfaces=(
            InterfaceRate("eth0", 125_000.0, 64_000.0, True),
            InterfaceRate("eth1", None, None, False),
        ),
        uptime_seconds=40 * 86_400,
        name=host,
        description="net-snmp on Debian",
    )


Outcome = HostSnapshot | str  # a sample, or the error of a failed poll


def targets_of(store: Store, settings: Settings) -> dict[str, PollTarget]:
    with store.read() as session:
        targets = load_targets(
            session, settings.monitoring, Shard(), settings.monitoring.local_interval
        )
    return {t.name: t for t in targets}


def write_polls(
    store: Store, settings: Settings, outcomes: Mapping[str, Outcome], at: datetime
) -> None:
    """One batch, as the poller writes it: samples, state, state changes, events."""
    targets = targets_of(store, settings)
    results = [
        PollResult(targets[name], at, True, outcome)
        if isinstance(outcome, HostSnapshot)
        else PollResult(targets[name], at, False, error=outcome)
        for name, outcome in outcomes.items()
    ]
    with store.write("test-poller") as session:
        record(session, results, settings, "test-poller")


def fill_estate(store: Store, manual_clock: ManualClock, rounds: int = 12) -> None:
    """`rounds` polls, 30 s apart, ending at START: the local host UP, the core switch DOWN
    (its last three polls failed), the access switch and web-01 UNREACHABLE behind it, the
    hostile name never polled (UNKNOWN). Last good CPU: console-01 70 %, core-sw-01 65 %,
    access-sw-01 55 %, web-01 45 %."""
    settings = make_settings()
    manual_clock.set(START - timedelta(seconds=ROUND_SECONDS * (rounds - 1)))
    for step in range(rounds):
        at = manual_clock.now()
        failing = step >= rounds - 3
        cpu = CPU_SERIES[step % len(CPU_SERIES)]
        outcomes: dict[str, Outcome] = {LOCAL_HOST: local_snapshot(LOCAL_HOST, at, cpu)}
        for name, error, offset in (
            ("core-sw-01", "no SNMP response from 127.0.0.21:161 (timeout 2 s)", 5),
            ("access-sw-01", "no SNMP response from 127.0.0.20:161 (timeout 2 s)", 15),
            ("web-01", "no SNMP response from 127.0.0.11:161 (timeout 2 s)", 25),
        ):
            outcomes[name] = error if failing else snmp_snapshot(name, at, 100 - cpu - offset)
        write_polls(store, settings, outcomes, at)
        if step < rounds - 1:
            manual_clock.advance(timedelta(seconds=ROUND_SECONDS))


def fill_many(store: Store, count: int, at: datetime, *, rounds: int = 2) -> list[str]:
    """`count` more monitored hosts, polled `rounds` times: every 17th DOWN (three failures
    in a row are needed, so it takes three rounds of failures), the rest UP."""
    names = [f"bulk-{index:04d}" for index in range(count)]
    with store.write("test") as session:
        session.execute(
            insert(CI),
            [
                {"name": name, "ci_class": "host",
                 "address": f"127.0.{index // 250 + 2}.{index % 250 + 1}",
                 "environment": "production", "monitored": True, "collector": "snmp",
                 "credential_profile": "lab", "attributes": {}, "version": 1,
                 "created_at": at, "updated_at": at}
                for index, name in enumerate(names)
            ],
        )  # fmt: skip
    settings = make_settings()
    for step in range(rounds):
        when = at + timedelta(seconds=ROUND_SECONDS * step)
        outcomes: dict[str, Outcome] = {}
        for index, name in enumerate(names):
            if index % 17 == 0 and step >= rounds - 3:
                outcomes[name] = "timeout"
            else:
                outcomes[name] = snmp_snapshot(name, when, float((index * 7 + step) % 100))
        write_polls(store, settings, outcomes, when)
    return names


class ScriptedCollectors(CollectorSet):
    """The embedded poller's collectors, answering from what the test says: a host -> an
    error text (a failed poll) or nothing (a sample); `delay` makes a host slow."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.errors: dict[str, str] = {}
        self.delay: dict[str, float] = {}
        self.calls: list[str] = []
        self.load: dict[str, float] = {}
        self.closed = False

    async def collect(self, target: PollTarget) -> HostSnapshot:
        self.calls.append(target.name)
        await asyncio.sleep(self.delay.get(target.name, 0))
        error = self.errors.get(target.name)
        if error is not None:
            raise PollFailure(error)
        cpu = CPU_SERIES[len(self.calls) % len(CPU_SERIES)]
        if target.collector.value == "local":
            return local_snapshot(target.name, clock.now(), cpu)
        snapshot = snmp_snapshot(target.name, clock.now(), cpu)
        if target.name in self.load:
            load = self.load[target.name]
            snapshot = replace(snapshot, load=(load, load, load))
        return snapshot

    def close(self) -> None:
        self.closed = True
        super().close()


def make_settings(
    *, local_interval: float = 0.5, feed_interval: float = 0.5, batch_seconds: float = 0.05
) -> Settings:
    return Settings(
        operator="alice",
        monitoring=MonitoringSettings(
            local_interval=local_interval, history_points=60, write_batch_seconds=batch_seconds
        ),
        ui=UISettings(change_feed_interval=feed_interval),
        # The console's trap receiver has a test of its own (test_console_traps.py).
        traps=TrapSettings(in_console=False),
    )


@dataclass(frozen=True)
class Estate:
    """What the tests need to know about the estate they run on (fixtures, not imports:
    another conftest.py elsewhere in tests/ would shadow a `from conftest import`)."""

    local_host: str = LOCAL_HOST
    hostile_name: str = HOSTILE_NAME
    hostile_shown: str = HOSTILE_SHOWN
    start: datetime = START


@pytest.fixture
def estate() -> Estate:
    return Estate()


@pytest.fixture
def filled(store: Store, manual_clock: ManualClock) -> Store:
    """The estate with twelve rounds of polls written: UP, DOWN, UNREACHABLE, UNKNOWN."""
    fill_estate(store, manual_clock)
    return store


AppFactory = Callable[..., OpsConsoleApp]


@pytest.fixture
def collectors() -> list[ScriptedCollectors]:
    """Every scripted collector set handed to an app, so tests can script and count."""
    return []


@pytest.fixture
def make_app(store: Store, collectors: list[ScriptedCollectors]) -> AppFactory:
    def make(
        *,
        poll: bool = False,
        local_interval: float = 0.5,
        feed_interval: float = 0.5,
    ) -> OpsConsoleApp:
        """An app on the test store; `poll=True` runs the embedded poller on scripted
        collectors (registered in `collectors`)."""
        settings = make_settings(local_interval=local_interval, feed_interval=feed_interval)
        scripted = None
        if poll:
            scripted = ScriptedCollectors(settings)
            collectors.append(scripted)
        return OpsConsoleApp(store, settings, LOCAL_HOST, poll=poll, collectors=scripted)

    return make


WaitFor = Callable[..., Awaitable[None]]


@pytest.fixture
def wait_for() -> WaitFor:
    async def wait(
        pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0
    ) -> None:
        """Let the app run until `condition` holds (data arrives from worker threads)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            await pilot.pause(0.02)

    return wait
