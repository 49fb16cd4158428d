"""The poller and recorder against a real store, with a scripted collector (no network)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from opsconsole import clock
from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import add_ci, relate
from opsconsole.config import Settings
from opsconsole.monitoring.collectors.dispatch import CollectorSet, PollFailure
from opsconsole.monitoring.metrics import maintain
from opsconsole.monitoring.poller import Poller
from opsconsole.monitoring.sample import DiskUsage, HostSnapshot
from opsconsole.monitoring.targets import PollTarget, Shard, load_targets
from opsconsole.store import Store
from opsconsole.store.models import (
    CIClass,
    EventRecord,
    HostState,
    HostStateChange,
    MetricRollup,
    MetricSample,
    RelationType,
)

GB = 1024**3


class ScriptedCollectors(CollectorSet):
    """Answers from a dict the test edits: host -> disk use %, or None for 'no response'."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.disk: dict[str, float | None] = {}
        self.delay: dict[str, float] = {}
        self.calls: list[tuple[str, float]] = []

    async def collect(self, target: PollTarget) -> HostSnapshot:
        self.calls.append((target.name, time.monotonic()))
        await asyncio.sleep(self.delay.get(target.name, 0))
        used = self.disk.get(target.name, 50.0)
        if used is None:
            raise PollFailure("timeout")
        return HostSnapshot(
            host=target.name, at=clock.now(), cpu_percent=12.5, load=(0.5, 0.4, 0.3),
            mem_total_bytes=8 * GB, mem_used_bytes=2 * GB,
            disks=(DiskUsage("/", 100 * GB, int(used * GB)),),
        )  # fmt: skip


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    manual = ManualClock(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    previous = clock.use(manual)
    yield manual
    clock.use(previous)


@pytest.fixture
def chain(store: Store) -> Store:
    """core <- access <- web-01 and db-01 (connected_to), all monitored over SNMP."""
    with store.write("test") as s:
        core = add_ci(s, "core", CIClass.NETWORK_DEVICE, monitored=True, collector="snmp",
                      address="127.0.1.1", credential_profile="lab")  # fmt: skip
        access = add_ci(s, "access", CIClass.NETWORK_DEVICE, monitored=True, collector="snmp",
                        address="127.0.1.2", credential_profile="lab")  # fmt: skip
        relate(s, access, RelationType.CONNECTED_TO, core)
        for name in ("web-01", "db-01"):
            host = add_ci(s, name, CIClass.HOST, monitored=True, collector="snmp",
                          address="127.0.1.3", credential_profile="lab")  # fmt: skip
            relate(s, host, RelationType.CONNECTED_TO, access)
        add_ci(s, "unmonitored", CIClass.HOST)
    return store


def make_poller(store: Store, **monitoring: object) -> tuple[Poller, ScriptedCollectors]:
    settings = Settings.model_validate({"monitoring": monitoring})
    collectors = ScriptedCollectors(settings)
    return Poller(store, settings, collectors=collectors, name="test-poller"), collectors


def states(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.read() as s:
        return {
            row.ci.name: (row.state, row.unreachable_via) for row in s.scalars(select(HostState))
        }


def events(store: Store) -> list[tuple[str, str, str, bool]]:
    with store.read() as s:
        from opsconsole.store.models import CI

        names = dict(s.execute(select(CI.id, CI.name)).all())
        return [
            (names[e.ci_id] if e.ci_id else "-", e.check, e.severity, e.clear)
            for e in s.scalars(select(EventRecord).order_by(EventRecord.id))
        ]


async def test_samples_and_latest_reach_the_store(chain: Store, manual_clock: ManualClock) -> None:
    poller, _ = make_poller(chain)
    summary = await poller.poll_once()
    assert summary.polls == 4
    assert states(chain)["web-01"] == ("UP", None)
    with chain.read() as s:
        web = s.scalars(select(HostState)).all()[0]
        assert web.latest["metrics"]["cpu.percent"] == 12.5
        assert web.latest["disks"][0]["mount"] == "/"
        count = s.scalar(select(func.count()).select_from(MetricSample))
    assert count == 4 * len(summary_metrics())


def summary_metrics() -> dict[str, float]:
    snap = HostSnapshot("x", clock.now(), cpu_percent=1, load=(1, 1, 1), mem_total_bytes=1,
                        mem_used_bytes=1, disks=(DiskUsage("/", 1, 1),))  # fmt: skip
    return snap.metrics()


async def test_outage_of_the_core_is_one_root_alarm(
    chain: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(chain, down_after=3)
    await poller.poll_once()
    for name in ("core", "access", "web-01", "db-01"):
        collectors.disk[name] = None
    for _ in range(2):
        await poller.poll_once()
        assert {s for s, _ in states(chain).values()} == {"UP"}  # soft failures
    await poller.poll_once()
    assert states(chain) == {
        "core": ("DOWN", None),
        "access": ("UNREACHABLE", "core"),
        "web-01": ("UNREACHABLE", "access"),
        "db-01": ("UNREACHABLE", "access"),
    }
    raised = [e for e in events(chain) if not e[3]]
    assert [e for e in raised if e[2] == "critical"] == [
        ("core", "host.reachability", "critical", False)
    ]
    assert not [e for e in events(chain) if e[0] != "core" and e[1] == "host.reachability"]
    # recovery
    for name in collectors.disk:
        collectors.disk[name] = 50.0
    await poller.poll_once()
    assert {s for s, _ in states(chain).values()} == {"UP"}
    with chain.read() as s:
        changes = s.scalars(select(func.count()).select_from(HostStateChange)).one()
    assert changes >= 8  # UNKNOWN->UP x4, then out and back for each


async def test_threshold_crossing_and_clear_are_events(
    chain: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(chain)
    collectors.disk["db-01"] = 85.0
    await poller.poll_once()
    collectors.disk["db-01"] = 79.0  # inside the clear margin: still warning
    await poller.poll_once()
    collectors.disk["db-01"] = 60.0
    await poller.poll_once()
    fs_events = [e for e in events(chain) if e[1] == "fs.percent"]
    assert fs_events == [
        ("db-01", "fs.percent", "warning", False),
        ("db-01", "fs.percent", "info", True),
    ]


def test_shards_split_the_estate_without_overlap() -> None:
    names = [f"host-{i:04d}" for i in range(1000)]
    shards = [Shard(k, 3) for k in (1, 2, 3)]
    owners = [[s.owns(n) for s in shards].count(True) for n in names]
    assert owners == [1] * len(names)
    sizes = [sum(s.owns(n) for n in names) for s in shards]
    assert min(sizes) > 280  # roughly even
    with pytest.raises(ValueError, match="K/N"):
        Shard.parse("2-3")
    with pytest.raises(ValueError, match="between 1 and N"):
        Shard.parse("4/3")


async def test_a_slow_host_never_delays_the_others(chain: Store) -> None:
    poller, collectors = make_poller(chain, interval=5, write_batch_seconds=0.1)
    collectors.delay["core"] = 2.5
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    while not poller.targets:
        await asyncio.sleep(0.01)
    poller.poll_now()  # skip the first-poll jitter: everything due at once
    started = time.monotonic()
    while {"access", "web-01", "db-01"} - set(states(chain)) and time.monotonic() - started < 5:
        await asyncio.sleep(0.05)
    # the three fast hosts were polled and written while the slow one was still out
    assert time.monotonic() - started < 2.0
    assert "core" not in states(chain)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    # stopping waited for the slow poll and flushed it
    assert states(chain).get("core") == ("UP", None)
    assert {"access", "web-01", "db-01"} <= set(states(chain))


async def test_a_parent_going_down_in_a_later_batch_reclassifies_its_children(
    chain: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(chain, down_after=1)
    await poller.poll_once()
    collectors.disk["web-01"] = None
    await poller.poll_once()
    assert states(chain)["web-01"] == ("DOWN", None)
    collectors.disk["access"] = None
    await poller.poll_once()
    assert states(chain)["web-01"] == ("UNREACHABLE", "access")
    assert states(chain)["access"] == ("DOWN", None)
    web = [e for e in events(chain) if e[0] == "web-01"]
    assert web == [
        ("web-01", "host.reachability", "critical", False),
        ("web-01", "host.reachability", "info", True),
        ("web-01", "host.unreachable", "warning", False),
    ]


def test_backoff_and_retry_intervals(chain: Store) -> None:
    poller, _ = make_poller(chain, interval=60, retry_interval=10, down_after=3, max_backoff=300)
    target = PollTarget(1, "x", "host", "snmp", None, 161, None, 60.0, ())  # type: ignore[arg-type]
    delays = [poller._next_delay(target, ok=False) for _ in range(7)]
    assert delays == [10, 10, 60, 120, 240, 300, 300]
    assert poller._next_delay(target, ok=True) == 60


def test_rollups_and_retention(chain: Store, manual_clock: ManualClock) -> None:
    start = manual_clock.now()
    with chain.write("test") as s:
        ci_id = s.scalars(select(HostState.ci_id)).first() or 1
        s.add_all(
            MetricSample(ci_id=ci_id, metric="cpu.percent", at=start + timedelta(minutes=m),
                         value=float(m))
            for m in range(0, 20)
        )  # fmt: skip
    with chain.write("test") as s:
        done = maintain(s, start + timedelta(minutes=21), 300, 48, 90)
    assert (done.buckets, done.rollup_rows) == (4, 4)
    with chain.read() as s:
        rollups = s.scalars(select(MetricRollup).order_by(MetricRollup.bucket_start)).all()
        first = rollups[0]
        assert (first.count, first.avg, first.min, first.max) == (5, 2.0, 0.0, 4.0)
    with chain.write("test") as s:  # again: nothing new to roll up
        assert maintain(s, start + timedelta(minutes=21), 300, 48, 90).buckets == 0
    with chain.write("test") as s:  # three days later the raw samples are gone
        done = maintain(s, start + timedelta(days=3), 300, 48, 90)
    assert done.raw_deleted == 20
    with chain.write("test") as s:
        done = maintain(s, start + timedelta(days=100), 300, 48, 90)
    assert done.rollups_deleted == 4


async def test_a_failed_poll_keeps_the_last_good_sample(
    chain: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(chain, down_after=3)
    await poller.poll_once()
    collectors.disk["db-01"] = None
    manual_clock.advance(timedelta(seconds=60))
    await poller.poll_once()
    with chain.read() as s:
        db = {row.ci.name: row for row in s.scalars(select(HostState))}["db-01"]
        assert db.state == "UP" and db.consecutive_failures == 1  # soft failure
        assert db.last_error == "timeout"
        assert db.latest["metrics"]["cpu.percent"] == 12.5  # the last good sample stays
        assert db.last_ok_at is not None and db.last_poll_at is not None
        assert db.last_ok_at < db.last_poll_at
        assert db.levels.get("fs.percent:/") == "ok"
    collectors.disk["db-01"] = 85.0
    manual_clock.advance(timedelta(seconds=60))
    await poller.poll_once()
    with chain.read() as s:
        db = {row.ci.name: row for row in s.scalars(select(HostState))}["db-01"]
        assert (db.last_error, db.consecutive_failures) == (None, 0)
        assert db.last_ok_at == db.last_poll_at
        assert db.latest["metrics"]["fs.percent:/"] == 85.0
        assert db.levels["fs.percent:/"] == "warning"


async def test_new_threshold_settings_apply_at_once(
    chain: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(chain)
    collectors.disk["web-01"] = 70.0
    await poller.poll_once()
    assert not [e for e in events(chain) if e[1] == "fs.percent"]
    stricter = Settings.model_validate(
        {"thresholds": {"cis": {"web-01": {"fs.percent:*": {"warning": 60, "critical": 95}}}}}
    )
    poller.settings = stricter  # a reloaded config: the rule lookups must not be stale
    manual_clock.advance(timedelta(seconds=60))
    await poller.poll_once()
    assert [e for e in events(chain) if e[1] == "fs.percent"] == [
        ("web-01", "fs.percent", "warning", False)
    ]


async def test_poll_now_wakes_a_sleeping_loop(chain: Store) -> None:
    """The loop sleeps until the next thing due (here the next flush, 30 s away); a poll
    scheduled sooner than that wakes it at once."""
    poller, collectors = make_poller(chain, interval=3600, write_batch_seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    while not poller.targets:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # first polls are spread over the hour: nothing is due
    collectors.calls.clear()
    poller.poll_now()
    started = time.monotonic()
    while len(collectors.calls) < 4 and time.monotonic() - started < 5:
        await asyncio.sleep(0.01)
    assert sorted(name for name, _ in collectors.calls) == ["access", "core", "db-01", "web-01"]
    assert time.monotonic() - started < 1.0
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert {name for name in states(chain)} == {"access", "core", "db-01", "web-01"}  # flushed


def test_delay_all_keeps_the_spread(chain: Store) -> None:
    poller, _ = make_poller(chain)
    for ci_id, due in ((1, 100.0), (2, 105.0), (3, 101.0)):
        poller._schedule(ci_id, due)
    poller.delay_all(30.0)
    assert sorted((due, ci_id) for due, _, ci_id in poller._heap) == [
        (130.0, 1),
        (131.0, 3),
        (135.0, 2),
    ]


def test_snmp_rewalk_every_reaches_the_snmp_collector(chain: Store) -> None:
    from opsconsole.monitoring.collectors.snmp import DEFAULT_REWALK_EVERY

    settings = Settings.model_validate({"monitoring": {"snmp_rewalk_every": 4}})
    poller = Poller(chain, settings, name="test-poller")  # builds its own CollectorSet
    try:
        assert poller.collectors.snmp_collector().rewalk_every == 4
    finally:
        poller.collectors.close()
    default = Poller(chain, Settings(), name="test-poller").collectors
    try:
        assert default.snmp_collector().rewalk_every == DEFAULT_REWALK_EVERY
    finally:
        default.close()
    # a bench or test may still override the setting
    assert CollectorSet(settings, snmp_rewalk_every=1).snmp_collector().rewalk_every == 1
    with pytest.raises(ValueError, match="at least 1"):
        CollectorSet(settings, snmp_rewalk_every=0)


def test_poller_and_dashboard_use_one_interval_rule(chain: Store) -> None:
    from opsconsole.monitoring.dashboard_queries import host_index
    from opsconsole.monitoring.targets import expected_interval

    settings = Settings.model_validate(
        {"monitoring": {"interval": 120, "class_intervals": {"network_device": 30},
                        "local_interval": 3}}
    )  # fmt: skip
    with chain.write("test") as s:
        add_ci(s, "own-interval", CIClass.HOST, monitored=True, collector="snmp",
               address="127.0.1.9", credential_profile="lab", poll_interval=45)  # fmt: skip
        add_ci(s, "this-box", CIClass.HOST, monitored=True, collector="local")
    with chain.read() as s:
        targets = {t.name: t.interval for t in load_targets(s, settings.monitoring, Shard(), 3)}
        index = {h.name: h.interval for h in host_index(s, settings.monitoring).hosts}
    assert targets == {"core": 30, "access": 30, "web-01": 120, "db-01": 120,
                       "own-interval": 45, "this-box": 3}  # fmt: skip
    assert {name: index[name] for name in targets} == targets
    assert expected_interval("snmp", "database", None, settings.monitoring) == 120
    assert expected_interval("local", "host", None, settings.monitoring, local_interval=1) == 1
