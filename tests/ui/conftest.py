"""A small estate on a temporary SQLite store, a fixed clock and a deterministic collector."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from opsconsole import clock
from opsconsole.app import OpsConsoleApp
from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import relate
from opsconsole.config import MonitoringSettings, Settings, UISettings
from opsconsole.monitoring.sample import DiskUsage, HostSnapshot, InterfaceRate
from opsconsole.store import open_store
from opsconsole.store.engine import Store
from opsconsole.store.models import CI, RelationType

HOSTILE_NAME = "[bold red]x\x1b[2J"
HOSTILE_SHOWN = "[bold red]x\\x1b[2J"
LOCAL_HOST = "console-01"
START = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
GIB = 1024**3


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
    """shop (high) -> shop-web -> web-01 -> access-sw-01 -> core-sw-01, and a hostile name."""
    with store.write("test") as session:

        def add(name: str, ci_class: str, **fields: object) -> CI:
            manual_clock.advance(timedelta(minutes=1))  # distinct, fixed timestamps
            ci = CI(name=name, ci_class=ci_class, **fields)
            session.add(ci)
            session.flush()
            return ci

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
            monitored=True,
            collector="snmp",
            credential_profile="lab",
            attributes={"os": "Debian 12", "rack": "B4"},
        )
        access = add(
            "access-sw-01",
            "network_device",
            address="127.0.0.20",
            support_group="net-ops",
        )
        core = add("core-sw-01", "network_device", address="127.0.0.21", support_group="net-ops")
        add(
            HOSTILE_NAME,
            "database",
            address="127.0.0.30",
            monitored=True,
            collector="snmp",
            description="evil\x1b]0;pwned\x07 [link=x]text[/link]",
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


class FakeCollector:
    """Same shape as LocalCollector: fixed figures, CPU walking through a fixed series."""

    def __init__(self) -> None:
        self.calls = 0
        self._cpu = cycle(CPU_SERIES)

    def collect(self) -> HostSnapshot:
        self.calls += 1
        return HostSnapshot(
            host=LOCAL_HOST,
            at=clock.now(),
            cpu_percent=next(self._cpu),
            per_core_percent=(10.0, 20.0),
            load=(0.52, 0.41, 0.3),
            mem_total_bytes=8 * GIB,
            mem_used_bytes=int(3.5 * GIB),
            swap_total_bytes=2 * GIB,
            swap_used_bytes=0,
            disks=(DiskUsage("/", 100 * GIB, 61 * GIB), DiskUsage("/var", 50 * GIB, 12 * GIB)),
            interfaces=(InterfaceRate("eth0", 1536.0, 300.0, True),),
            uptime_seconds=3 * 86_400 + 4 * 3_600 + 120,
            process_count=231,
        )


def settings(*, local_interval: float = 0.5, feed_interval: float = 0.5) -> Settings:
    return Settings(
        operator="alice",
        monitoring=MonitoringSettings(local_interval=local_interval, history_points=60),
        ui=UISettings(change_feed_interval=feed_interval),
    )


@dataclass(frozen=True)
class Estate:
    """What the tests need to know about the estate they run on (fixtures, not imports:
    another conftest.py elsewhere in tests/ would shadow a `from conftest import`)."""

    local_host: str = LOCAL_HOST
    hostile_name: str = HOSTILE_NAME
    hostile_shown: str = HOSTILE_SHOWN


@pytest.fixture
def estate() -> Estate:
    return Estate()


AppFactory = Callable[..., OpsConsoleApp]


@pytest.fixture
def collectors() -> list[FakeCollector]:
    """Every fake collector handed to an app, so tests can count its calls."""
    return []


@pytest.fixture
def make_app(store: Store, collectors: list[FakeCollector]) -> AppFactory:
    def make(
        *,
        poll: bool = True,
        local_interval: float = 0.5,
        feed_interval: float = 0.5,
        collector: Any = None,
    ) -> OpsConsoleApp:
        if collector is None:
            collector = FakeCollector()
            collectors.append(collector)
        return OpsConsoleApp(
            store,
            settings(local_interval=local_interval, feed_interval=feed_interval),
            LOCAL_HOST,
            collector_factory=lambda: collector,
            poll=poll,
        )

    return make


WaitFor = Callable[[Pilot[None], Callable[[], bool]], Awaitable[None]]


@pytest.fixture
def wait_for() -> WaitFor:
    async def wait(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Let the app run until `condition` holds (data arrives from worker threads)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            await pilot.pause(0.02)

    return wait
