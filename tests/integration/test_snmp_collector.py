"""The SNMP collector against a real net-snmp snmpd on a loopback port (tests/snmpd.py)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import time
from collections.abc import AsyncIterator

import pytest

from opsconsole.config import SnmpV2cProfile, SnmpV3Profile
from opsconsole.monitoring.collectors.snmp import (
    INTERFACE_HC_COLUMNS,
    PROCESSOR_COLUMNS,
    STORAGE_COLUMNS,
    AgentShape,
    SnmpAuthError,
    SnmpCollector,
    SnmpTarget,
    SnmpUnreachable,
)
from opsconsole.monitoring.counters import CounterState
from opsconsole.monitoring.sample import HostSnapshot
from tests.snmpd import Snmpd, SnmpdConfig, SnmpdFactory, V3User, free_udp_port

pytestmark = pytest.mark.peer("snmpd")

TIMEOUT = 0.5
RETRIES = 1
SILENCE = TIMEOUT * (RETRIES + 1)  # how long an agent that does not answer takes to give up
SLACK = 1.5
POLL_LIMIT = 15.0  # no single poll of a live agent in these tests may take longer

V3_PRIV = V3User("opspriv")  # SHA + AES
V3_AUTH = V3User("opsauth", priv_protocol=None, priv_pass=None)  # SHA, no privacy

MEM_TOTAL_REAL = "1.3.6.1.4.1.2021.4.5.0"
MEM_SYS_AVAIL = "1.3.6.1.4.1.2021.4.27.0"
MEM_TOTAL_SWAP = "1.3.6.1.4.1.2021.4.3.0"
MEM_AVAIL_SWAP = "1.3.6.1.4.1.2021.4.4.0"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"


def v2c(community: str = "public") -> SnmpV2cProfile:
    return SnmpV2cProfile(version="2c", community=community, timeout=TIMEOUT, retries=RETRIES)


def v3(user: V3User, *, auth_key: str | None = None) -> SnmpV3Profile:
    return SnmpV3Profile.model_validate(
        {
            "version": "3",
            "user": user.name,
            "auth_protocol": "SHA" if user.auth_protocol else None,
            "auth_key": (auth_key or user.auth_pass) if user.auth_protocol else None,
            "priv_protocol": "AES" if user.priv_protocol else None,
            "priv_key": user.priv_pass if user.priv_protocol else None,
            "timeout": TIMEOUT,
            "retries": RETRIES,
        }
    )


def target(agent: Snmpd, profile: SnmpV2cProfile | SnmpV3Profile) -> SnmpTarget:
    return SnmpTarget(host="agent", address=agent.host, port=agent.port, profile=profile)


@pytest.fixture
async def collector() -> AsyncIterator[SnmpCollector]:
    polling = SnmpCollector()
    yield polling
    polling.close()


async def poll(
    collector: SnmpCollector, where: SnmpTarget, state: CounterState | None = None
) -> tuple[HostSnapshot, CounterState]:
    async with asyncio.timeout(POLL_LIMIT):
        return await collector.collect(where, state)


async def unreachable_within(
    collector: SnmpCollector, where: SnmpTarget, limit: float
) -> SnmpUnreachable:
    started = time.monotonic()
    with pytest.raises(SnmpUnreachable) as raised:
        await poll(collector, where)
    assert time.monotonic() - started < limit
    return raised.value


# An ifTable/ifXTable row snmpd serves from its config (`override`), so a test can make an
# interface appear or vanish without touching the machine's network.
NEW_INTERFACE = (
    'override .1.3.6.1.2.1.31.1.1.1.1.990 octet_str "opsfake0"',
    "override .1.3.6.1.2.1.2.2.1.8.990 integer 1",
)
FAKE_IF_NAME = "1.3.6.1.2.1.31.1.1.1.1.990"


# snmpd does not drop an override on SIGHUP, but it does re-read its views: excluding the
# row from the view makes it vanish for the poller.
HIDE_NEW_INTERFACE = (
    "view limited excluded .1.3.6.1.2.1.31.1.1.1.1.990",
    "view limited excluded .1.3.6.1.2.1.2.2.1.8.990",
)


def reconfigure(agent: Snmpd, add: tuple[str, ...], wanted: str | None) -> None:
    """Add lines to the running agent's config and make it re-read it (SIGHUP: no restart,
    the same sysUpTime and engine); wait (bounded) until ifName.990 reads `wanted`."""
    lines = agent.conf_path.read_text().splitlines()
    agent.conf_path.write_text("\n".join([*lines, *add]) + "\n")
    assert agent.pid is not None
    os.kill(agent.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while agent.snmpget(FAKE_IF_NAME)[FAKE_IF_NAME] != wanted:
        assert time.monotonic() < deadline, "snmpd did not take the new config"
        time.sleep(0.05)


def expected_pdus(state: CounterState) -> int:
    """PDUs of a walk of tables that did not change size: one GET of the scalars; per table
    the row count plus one (to see its end) in repetitions of at most 64 varbinds per PDU,
    hrStorageTable by its type column only, then one GET of the fixed disks' other columns."""
    pdus = 1
    for name, columns in (
        ("processors", PROCESSOR_COLUMNS),
        ("storage", STORAGE_COLUMNS[:1]),
        ("interfaces", INTERFACE_HC_COLUMNS),
    ):
        per_pdu = 64 // len(columns)
        pdus += math.ceil((state.table_rows[name] + 1) / per_pdu)
    assert isinstance(state.shape, AgentShape)
    return pdus + math.ceil(len(state.shape.storage) * (len(STORAGE_COLUMNS) - 1) / 64)


# -- v2c: the whole sample, exact where the agent pins it -------------------------------------
async def test_v2c_poll_brings_the_pinned_and_the_real_numbers(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector
) -> None:
    agent = snmpd_factory()
    snapshot, state = await poll(collector, target(agent, v2c()))
    tool = agent.snmpget(
        MEM_TOTAL_REAL, MEM_SYS_AVAIL, MEM_TOTAL_SWAP, MEM_AVAIL_SWAP, SYS_DESCR, SYS_NAME
    )

    assert snapshot.host == "agent"
    assert snapshot.load is not None
    assert snapshot.load[0] == 7.77  # override laLoad.1 "7.77"
    assert snapshot.per_core_percent[0] == 97.0  # override hrProcessorLoad.196608 97
    # First poll: no ssCpuRaw delta yet, so the CPU percent is the hrProcessorLoad average.
    assert snapshot.cpu_percent == sum(snapshot.per_core_percent) / len(snapshot.per_core_percent)

    assert snapshot.name == socket.gethostname() == tool[SYS_NAME]
    assert snapshot.description == tool[SYS_DESCR]

    total_kb, available_kb = int(tool[MEM_TOTAL_REAL] or 0), int(tool[MEM_SYS_AVAIL] or 0)
    assert snapshot.mem_total_bytes == total_kb * 1024
    assert snapshot.mem_used_bytes is not None
    # snmpd caches memory figures for a few seconds, so this is nearly always exact; allow a
    # cache refresh between the two reads.
    used = (total_kb - available_kb) * 1024
    assert abs(snapshot.mem_used_bytes - used) <= max(64 << 20, snapshot.mem_total_bytes // 50)
    assert snapshot.swap_total_bytes == int(tool[MEM_TOTAL_SWAP] or 0) * 1024
    swap_used = (int(tool[MEM_TOTAL_SWAP] or 0) - int(tool[MEM_AVAIL_SWAP] or 0)) * 1024
    assert snapshot.swap_used_bytes is not None
    assert abs(snapshot.swap_used_bytes - swap_used) <= 64 << 20

    root = [disk for disk in snapshot.disks if disk.mount == "/"]
    assert len(root) == 1
    assert 0 < root[0].used_bytes <= root[0].total_bytes

    names = [interface.name for interface in snapshot.interfaces]
    assert names, "the agent's interfaces are listed"
    assert "lo" not in names
    assert all(i.rx_bytes_per_s is None and i.tx_bytes_per_s is None for i in snapshot.interfaces)
    assert any(interface.up for interface in snapshot.interfaces)

    assert snapshot.uptime_seconds is not None and snapshot.uptime_seconds > 0
    assert snapshot.process_count is not None and snapshot.process_count > 0
    assert state.uptime_ticks is not None
    assert state.hc_octets is True


async def test_second_poll_has_rates_in_one_pdu(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector
) -> None:
    agent = snmpd_factory()
    where = target(agent, v2c())
    first, state = await poll(collector, where)
    await asyncio.sleep(1.1)  # sysUpTime counts hundredths: let some pass
    pdus_before, varbinds_before = collector.pdus_sent, collector.varbinds_received
    second, _ = await poll(collector, where, state)
    pdus = collector.pdus_sent - pdus_before
    varbinds = collector.varbinds_received - varbinds_before

    assert [i.name for i in second.interfaces] == [i.name for i in first.interfaces]
    for interface in second.interfaces:
        assert interface.rx_bytes_per_s is not None and interface.rx_bytes_per_s >= 0
        assert interface.tx_bytes_per_s is not None and interface.tx_bytes_per_s >= 0
    assert second.cpu_percent is not None and 0 <= second.cpu_percent <= 100
    assert pdus == 1, f"{pdus} PDUs for a steady host poll"
    assert varbinds <= 40, f"{varbinds} varbinds for a steady host poll"
    assert collector.walks == 1
    print(f"steady poll: {pdus} PDU, {varbinds} varbinds (first poll {pdus_before} PDUs)")


async def test_steady_polls_give_what_a_walk_gives(snmpd_factory: SnmpdFactory) -> None:
    """A steady poll (one GET) and a walk of the same agent at the same moment agree: the
    pinned values exactly, names and sizes exactly, the moving values closely."""
    agent = snmpd_factory()
    where = target(agent, v2c())
    async with SnmpCollector() as steady, SnmpCollector(rewalk_every=1) as walking:
        _, steady_state = await poll(steady, where)
        _, walking_state = await poll(walking, where)
        await asyncio.sleep(1.1)
        mine, _ = await poll(steady, where, steady_state)
        theirs, _ = await poll(walking, where, walking_state)
    assert (steady.walks, walking.walks) == (1, 2)
    assert mine.load is not None and mine.load[0] == 7.77
    assert mine.per_core_percent == theirs.per_core_percent == (97.0,)
    for name in ("name", "description", "mem_total_bytes", "swap_total_bytes"):
        assert getattr(mine, name) == getattr(theirs, name), name
    assert [(d.mount, d.total_bytes) for d in mine.disks] == [
        (d.mount, d.total_bytes) for d in theirs.disks
    ]
    assert [(i.name, i.up) for i in mine.interfaces] == [(i.name, i.up) for i in theirs.interfaces]
    assert mine.uptime_seconds is not None and theirs.uptime_seconds is not None
    assert abs(mine.uptime_seconds - theirs.uptime_seconds) < 2.0  # derived from sysUpTime
    assert mine.process_count is not None and mine.process_count > 0
    assert mine.mem_used_bytes is not None and mine.mem_total_bytes is not None
    assert 0 < mine.mem_used_bytes <= mine.mem_total_bytes


async def test_tables_are_walked_again_every_nth_poll(snmpd_factory: SnmpdFactory) -> None:
    agent = snmpd_factory()
    where = target(agent, v2c())
    pdus: list[int] = []
    async with SnmpCollector(rewalk_every=3, stagger=False) as collector:
        state = None
        for _ in range(6):
            before = collector.pdus_sent
            _, state = await poll(collector, where, state)
            pdus.append(collector.pdus_sent - before)
            if len(pdus) == 3:
                walked_with = state  # what the walk at poll 4 starts from
    assert pdus[1:3] == [1, 1] and pdus[4:] == [1, 1]
    # a walk of tables whose size did not change: the learned sizes, no extra PDU
    assert pdus[0] >= 4 and pdus[3] == expected_pdus(walked_with)
    assert collector.walks == 2


async def test_first_walks_again_are_staggered(snmpd_factory: SnmpdFactory) -> None:
    """Hosts first polled together (a poller starting) do not all walk again in the same
    round: the first steady run is shortened by a hash of the name, then it is every Nth."""
    agent = snmpd_factory()
    walked_again_at: dict[str, int] = {}
    async with SnmpCollector(rewalk_every=4) as collector:
        for name in ("sw-a", "sw-b", "sw-c", "sw-d", "sw-e", "sw-f"):
            where = SnmpTarget(name, agent.host, agent.port, v2c())
            _, state = await poll(collector, where)
            for poll_number in range(2, 6):
                walks = collector.walks
                _, state = await poll(collector, where, state)
                if collector.walks > walks:
                    walked_again_at[name] = poll_number
                    break
    assert sorted(walked_again_at) == ["sw-a", "sw-b", "sw-c", "sw-d", "sw-e", "sw-f"]
    assert all(2 <= number <= 5 for number in walked_again_at.values())
    assert len(set(walked_again_at.values())) > 1, walked_again_at


async def test_a_new_interface_appears_at_the_next_walk(snmpd_factory: SnmpdFactory) -> None:
    agent = snmpd_factory()
    where = target(agent, v2c())
    async with SnmpCollector(rewalk_every=3, stagger=False) as collector:
        first, state = await poll(collector, where)
        assert "opsfake0" not in [i.name for i in first.interfaces]
        # snmpd re-reads its config on SIGHUP (same uptime, same engine): a new ifTable row.
        reconfigure(agent, NEW_INTERFACE, "opsfake0")
        steady, state = await poll(collector, where, state)
        assert "opsfake0" not in [i.name for i in steady.interfaces]  # not walked yet
        steady, state = await poll(collector, where, state)
        assert "opsfake0" not in [i.name for i in steady.interfaces]
        assert collector.walks == 1
        walked, state = await poll(collector, where, state)
        assert collector.walks == 2
        assert "opsfake0" in [i.name for i in walked.interfaces]
        fake = {i.name: i for i in walked.interfaces}["opsfake0"]
        assert fake.up is True
        # ... and from then on it is in the steady GET
        pdus_before = collector.pdus_sent
        steady, _ = await poll(collector, where, state)
        assert collector.pdus_sent - pdus_before == 1
        assert {i.name: i.up for i in steady.interfaces}["opsfake0"] is True


async def test_a_known_row_that_goes_away_forces_a_walk(snmpd_factory: SnmpdFactory) -> None:
    agent = snmpd_factory(SnmpdConfig(view=(".1",), extra=NEW_INTERFACE))
    where = target(agent, v2c())
    async with SnmpCollector(rewalk_every=10) as collector:
        first, state = await poll(collector, where)
        assert "opsfake0" in [i.name for i in first.interfaces]
        _, state = await poll(collector, where, state)
        reconfigure(agent, HIDE_NEW_INTERFACE, None)  # the row is gone
        pdus_before = collector.pdus_sent
        again, _ = await poll(collector, where, state)
        assert collector.walks == 2, "the steady GET found a known row gone: walked at once"
        assert collector.pdus_sent - pdus_before > 1
        assert "opsfake0" not in [i.name for i in again.interfaces]
        assert again.load is not None and again.load[0] == 7.77


async def test_an_agent_restart_forces_a_walk(snmpd_factory: SnmpdFactory) -> None:
    agent = snmpd_factory()
    where = target(agent, v2c())
    async with SnmpCollector() as collector:
        _, state = await poll(collector, where)
        await asyncio.sleep(1.1)
        second, state = await poll(collector, where, state)
        assert collector.walks == 1
        assert all(i.rx_bytes_per_s is not None for i in second.interfaces)
        agent.restart()
        pdus_before = collector.pdus_sent
        third, state = await poll(collector, where, state)
        assert collector.walks == 2, "sysUpTime went back: the agent was walked again"
        assert collector.pdus_sent - pdus_before > 1
        assert all(i.rx_bytes_per_s is None for i in third.interfaces)  # nothing across it
        assert third.load is not None and third.load[0] == 7.77
        await asyncio.sleep(1.1)
        pdus_before = collector.pdus_sent
        fourth, _ = await poll(collector, where, state)
        assert collector.pdus_sent - pdus_before == 1  # steady again
        assert all(i.rx_bytes_per_s is not None for i in fourth.interfaces)


# -- v3 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("user", [V3_PRIV, V3_AUTH], ids=["authPriv-SHA-AES", "authNoPriv-SHA"])
async def test_v3_poll(snmpd_factory: SnmpdFactory, collector: SnmpCollector, user: V3User) -> None:
    agent = snmpd_factory(SnmpdConfig(community=None, users=(V3_PRIV, V3_AUTH)))
    profile = v3(user)
    assert profile.security_level == ("authPriv" if user.priv_protocol else "authNoPriv")
    where = target(agent, profile)
    snapshot, state = await poll(collector, where)
    assert snapshot.load is not None and snapshot.load[0] == 7.77
    assert snapshot.per_core_percent[0] == 97.0
    assert snapshot.name == socket.gethostname()
    assert (
        snapshot.mem_total_bytes == int(agent.snmpget(MEM_TOTAL_REAL)[MEM_TOTAL_REAL] or 0) * 1024
    )
    await asyncio.sleep(1.1)
    again, _ = await poll(collector, where, state)
    assert again.interfaces and all(i.rx_bytes_per_s is not None for i in again.interfaces)


async def test_v3_wrong_key_is_an_auth_error(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector
) -> None:
    agent = snmpd_factory(SnmpdConfig(community=None, users=(V3_PRIV,)))
    error = await unreachable_within(
        collector, target(agent, v3(V3_PRIV, auth_key="not-the-key")), SILENCE + SLACK
    )
    assert isinstance(error, SnmpAuthError)


# -- no answer --------------------------------------------------------------------------------
async def test_wrong_community_is_unreachable_after_the_timeout(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector
) -> None:
    agent = snmpd_factory()
    started = time.monotonic()
    error = await unreachable_within(collector, target(agent, v2c("not-public")), SILENCE + SLACK)
    assert time.monotonic() - started >= SILENCE * 0.9  # it waited: silence, not a refusal
    assert not isinstance(error, SnmpAuthError)
    assert collector.pdus_sent == 1, "nothing more is sent to a host that did not answer"


@pytest.mark.parametrize("version", ["2c", "3"])
async def test_stopped_agent_is_unreachable_and_restarted_one_answers_again(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector, version: str
) -> None:
    agent = snmpd_factory(SnmpdConfig(users=(V3_PRIV,)))
    where = target(agent, v2c() if version == "2c" else v3(V3_PRIV))
    _, state = await poll(collector, where)

    agent.stop()
    await unreachable_within(collector, where, SILENCE + SLACK)

    agent.restart()
    snapshot, state2 = await poll(collector, where, state)
    assert snapshot.load is not None and snapshot.load[0] == 7.77
    # The agent restarted: no rate may be computed across it.
    assert all(i.rx_bytes_per_s is None for i in snapshot.interfaces)
    assert state2.uptime_ticks is not None


async def test_dead_port_is_unreachable(collector: SnmpCollector) -> None:
    nobody = SnmpTarget("ghost", "127.0.0.1", free_udp_port(), v2c())
    await unreachable_within(collector, nobody, SILENCE + SLACK)


async def test_a_silent_host_does_not_hold_up_the_others(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector
) -> None:
    agent = snmpd_factory()
    alive = target(agent, v2c())
    await poll(collector, alive)  # first contact out of the way
    silent = SnmpTarget("ghost", "127.0.0.1", free_udp_port(), v2c())

    async def timed(where: SnmpTarget) -> float:
        started = time.monotonic()
        with contextlib.suppress(SnmpUnreachable):
            await poll(collector, where)
        return time.monotonic() - started

    alive_took, silent_took = await asyncio.gather(timed(alive), timed(silent))
    assert alive_took < SILENCE / 2
    assert silent_took >= SILENCE * 0.9


# -- devices that lack parts -------------------------------------------------------------------
async def test_device_without_ucd_mib_gives_a_partial_sample(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector
) -> None:
    agent = snmpd_factory(SnmpdConfig(view=(".1.3.6.1.2.1",)))
    assert agent.snmpget("1.3.6.1.4.1.2021.10.1.3.1") == {"1.3.6.1.4.1.2021.10.1.3.1": None}
    where = target(agent, v2c())
    snapshot, state = await poll(collector, where)

    assert snapshot.load is None
    assert snapshot.swap_total_bytes is None and snapshot.swap_used_bytes is None
    assert state.cpu_raw == {}
    # What HOST-RESOURCES-MIB and IF-MIB still give:
    assert snapshot.per_core_percent[0] == 97.0
    assert snapshot.cpu_percent is not None
    assert snapshot.mem_total_bytes is not None and snapshot.mem_total_bytes > 0  # hrStorageRam
    assert snapshot.mem_used_bytes is not None
    assert any(disk.mount == "/" for disk in snapshot.disks)
    assert snapshot.name == socket.gethostname()
    assert snapshot.interfaces

    await asyncio.sleep(1.1)
    again, _ = await poll(collector, where, state)
    assert again.load is None
    assert again.cpu_percent is not None  # still hrProcessorLoad: no ssCpuRaw to diff
    assert all(i.rx_bytes_per_s is not None for i in again.interfaces)


async def test_device_without_64_bit_counters_is_polled_with_32_bit_ones(
    snmpd_factory: SnmpdFactory,
) -> None:
    # No ifXTable (ifName, ifHC*): ifDescr names and the 32-bit ifIn/OutOctets instead.
    agent = snmpd_factory(SnmpdConfig(view=(".1",), view_excluded=(".1.3.6.1.2.1.31",)))
    where = target(agent, v2c())
    async with SnmpCollector(rewalk_every=2) as collector:
        first, state = await poll(collector, where)
        assert state.hc_octets is False
        assert first.interfaces and "lo" not in [i.name for i in first.interfaces]
        assert all(counters.bits == 32 for counters in state.interfaces.values())
        assert first.load is not None and first.load[0] == 7.77

        await asyncio.sleep(1.1)
        pdus_before = collector.pdus_sent
        second, state2 = await poll(collector, where, state)
        assert collector.pdus_sent - pdus_before == 1  # steady: the 32-bit counters by GET
        assert [i.name for i in second.interfaces] == [i.name for i in first.interfaces]
        assert all(i.rx_bytes_per_s is not None for i in second.interfaces)

        await asyncio.sleep(1.1)
        pdus_before = collector.pdus_sent
        third, _ = await poll(collector, where, state2)
        assert collector.walks == 2
        assert collector.pdus_sent - pdus_before == expected_pdus(state2)  # no HC probing
        assert [i.name for i in third.interfaces] == [i.name for i in first.interfaces]
        assert all(i.rx_bytes_per_s is not None for i in third.interfaces)


async def test_one_engine_serves_every_poll(
    snmpd_factory: SnmpdFactory, collector: SnmpCollector
) -> None:
    first_agent, second_agent = snmpd_factory(), snmpd_factory()
    await poll(collector, target(first_agent, v2c()))
    engine = collector._engine
    assert engine is not None
    await asyncio.gather(
        poll(collector, target(first_agent, v2c())),
        poll(collector, target(second_agent, v2c())),
    )
    assert collector._engine is engine
    collector.close()
    assert collector._engine is None
