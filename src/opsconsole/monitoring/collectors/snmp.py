"""Remote hosts over SNMP v2c/v3 (pysnmp 7, asyncio): one host poll -> one HostSnapshot.

Two kinds of poll:

* A **walk** learns the agent: one GET of every scalar (sysUpTime, sysName, sysDescr,
  hrSystemUptime, hrSystemProcesses, snmpEngineBoots, UCD laLoad.1-3, memory, swap and the
  ssCpuRaw* counters; if this gets no answer the host is unreachable and nothing else is
  sent), then, concurrently, GETBULK walks of hrProcessorLoad, of hrStorageType (followed by
  one GET of the other columns of the fixed disks only: most rows are memory figures that
  UCD-SNMP-MIB gives better) and of the interface columns (ifName, ifOperStatus,
  ifHCInOctets, ifHCOutOctets). The columns of a table walk side by side in the same PDU,
  and the repetitions asked for are the row count seen last time plus one (to see the table
  end), doubling when a table turns out longer. On a Linux net-snmp host that is 5 PDUs and
  about 70 varbinds.
* A **steady** poll asks for what changes between walks and nothing else, in ONE GET:
  sysUpTime, hrSystemProcesses, laLoad.1-3, available memory (and swap, when there is any),
  the ssCpuRaw* counters, hrProcessorLoad of the known processors, hrStorageUsed of the
  known fixed disks, and ifOperStatus plus the octet counters of the known interfaces
  (about 20 varbinds; more than `max_bulk_varbinds` go in several GETs). Names, sizes,
  sysName, sysDescr, total memory and the table layout come from the last walk;
  hrSystemUptime is the walk's value advanced by sysUpTime (both from the agent's clock).

A host is walked on its first poll, then every `rewalk_every`-th poll (default 10: new disks
and interfaces, resized filesystems and renamed hosts show up within that many polls; the
first run of steady polls is shortened by a hash of the host name, so hosts first polled
together do not all walk again in the same round), and at once, in the same poll, when the
steady answer shows that the layout moved: the agent restarted (sysUpTime went back or
lagged the wall clock), a known row or scalar is gone, an interface that was down came up,
or the agent refused the GET. A walk whose table PDU got no answer is repeated at the next
poll. An interface that was down (or notPresent, lowerLayerDown) at the walk is watched by
its ifOperStatus only: its rates are 0 while it stays so (nothing passes), it coming up
triggers a walk, and the next walk reports its average rate since the one before.
`walks` and `walk_reasons` count them.

Cost (client CPU, pysnmp 7.1.30, v2c, a quiet 2-core box): a PDU costs about 0.4 ms and a
varbind about 0.05-0.09 ms (pyasn1 encoding and decoding), so both counts matter: 1.5-2 ms
for a steady poll, 6 ms for a walk. Requests go through pysnmp's command generator directly
(`pysnmp.entity.rfc3413.cmdgen`, the layer under `hlapi`, same engine and dispatcher) with
request varbinds built once and, for v2c, whole request PDUs built once per request shape:
hlapi rebuilds and re-resolves every request varbind on every call, about a quarter of a
GET's CPU. Transport targets and the engine's target configuration are made once per agent
(an address that is a name is resolved again at each walk).

CPU percent comes from the ssCpuRaw* deltas between two polls; on a first poll, after an
agent restart, or without UCD-SNMP-MIB it is the average of hrProcessorLoad (which is also
`per_core_percent`).

Anything the agent does not have (noSuchObject, noSuchInstance, endOfMibView, a column that
walks out of its subtree, a table PDU that got no answer) leaves that part of the snapshot
None or empty: a partial sample, never an error. Only "no answer at all" to the first GET
raises `SnmpUnreachable`.

pysnmp is imported on first use: importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import collections
import importlib
import importlib.util
import ipaddress
import logging
import math
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from opsconsole import clock
from opsconsole.config import AuthProtocol, PrivProtocol, SnmpV2cProfile, SnmpV3Profile
from opsconsole.monitoring.counters import (
    CounterState,
    OctetCounters,
    agent_restarted,
    cpu_percent,
    interface_rates,
)
from opsconsole.monitoring.sample import DiskUsage, HostSnapshot, InterfaceRate

log = logging.getLogger(__name__)

Oid = tuple[int, ...]
DEFAULT_REWALK_EVERY = 10


def _oid(dotted: str) -> Oid:
    return tuple(int(part) for part in dotted.strip(".").split("."))


# -- what is asked for ---------------------------------------------------------------------
_UCD = "1.3.6.1.4.1.2021"
SCALARS: Mapping[str, Oid] = {
    "sys_uptime": _oid("1.3.6.1.2.1.1.3.0"),  # TimeTicks: agent uptime, the rate clock
    "sys_name": _oid("1.3.6.1.2.1.1.5.0"),
    "sys_descr": _oid("1.3.6.1.2.1.1.1.0"),
    "host_uptime": _oid("1.3.6.1.2.1.25.1.1.0"),  # hrSystemUptime: since the host booted
    "processes": _oid("1.3.6.1.2.1.25.1.6.0"),  # hrSystemProcesses
    "engine_boots": _oid("1.3.6.1.6.3.10.2.1.2.0"),  # snmpEngineBoots: restart detection
    "load1": _oid(f"{_UCD}.10.1.3.1"),  # laLoad.1-3: strings such as "0.25"
    "load5": _oid(f"{_UCD}.10.1.3.2"),
    "load15": _oid(f"{_UCD}.10.1.3.3"),
    "swap_total": _oid(f"{_UCD}.4.3.0"),  # memTotalSwap, KB
    "swap_avail": _oid(f"{_UCD}.4.4.0"),  # memAvailSwap
    "mem_total": _oid(f"{_UCD}.4.5.0"),  # memTotalReal
    "mem_avail": _oid(f"{_UCD}.4.6.0"),  # memAvailReal: free memory (MemFree on Linux)
    "mem_buffer": _oid(f"{_UCD}.4.14.0"),  # memBuffer
    "mem_cached": _oid(f"{_UCD}.4.15.0"),  # memCached
    "mem_sys_avail": _oid(f"{_UCD}.4.27.0"),  # memSysAvail (net-snmp >= 5.9: MemAvailable)
    "cpu_user": _oid(f"{_UCD}.11.50.0"),  # ssCpuRaw*: Counter32 ticks
    "cpu_nice": _oid(f"{_UCD}.11.51.0"),
    "cpu_system": _oid(f"{_UCD}.11.52.0"),
    "cpu_idle": _oid(f"{_UCD}.11.53.0"),
    "cpu_wait": _oid(f"{_UCD}.11.54.0"),
    "cpu_steal": _oid(f"{_UCD}.11.64.0"),
}
# The scalars a steady poll asks again (when the walk found them); the others come from the
# walk: names and totals do not change between walks, hrSystemUptime advances with sysUpTime
# and snmpEngineBoots only matters across a restart (which sysUpTime shows too).
STEADY_SCALARS = (
    "processes", "load1", "load5", "load15", "mem_sys_avail", "mem_avail", "mem_buffer",
    "mem_cached", "swap_avail", "cpu_user", "cpu_nice", "cpu_system", "cpu_idle", "cpu_wait",
    "cpu_steal",
)  # fmt: skip
_CPU_SCALARS = tuple(name for name in SCALARS if name.startswith("cpu_"))

HR_PROCESSOR_LOAD = _oid("1.3.6.1.2.1.25.3.3.1.2")
HR_STORAGE_TYPE = _oid("1.3.6.1.2.1.25.2.3.1.2")
HR_STORAGE_DESCR = _oid("1.3.6.1.2.1.25.2.3.1.3")
HR_STORAGE_UNITS = _oid("1.3.6.1.2.1.25.2.3.1.4")
HR_STORAGE_SIZE = _oid("1.3.6.1.2.1.25.2.3.1.5")
HR_STORAGE_USED = _oid("1.3.6.1.2.1.25.2.3.1.6")
HR_STORAGE_RAM = _oid("1.3.6.1.2.1.25.2.1.2")
HR_STORAGE_FIXED_DISK = _oid("1.3.6.1.2.1.25.2.1.4")
IF_DESCR = _oid("1.3.6.1.2.1.2.2.1.2")
IF_OPER_STATUS = _oid("1.3.6.1.2.1.2.2.1.8")
IF_IN_OCTETS = _oid("1.3.6.1.2.1.2.2.1.10")
IF_OUT_OCTETS = _oid("1.3.6.1.2.1.2.2.1.16")
IF_NAME = _oid("1.3.6.1.2.1.31.1.1.1.1")
IF_HC_IN_OCTETS = _oid("1.3.6.1.2.1.31.1.1.1.6")
IF_HC_OUT_OCTETS = _oid("1.3.6.1.2.1.31.1.1.1.10")

PROCESSOR_COLUMNS = (HR_PROCESSOR_LOAD,)
STORAGE_COLUMNS = (
    HR_STORAGE_TYPE,
    HR_STORAGE_DESCR,
    HR_STORAGE_UNITS,
    HR_STORAGE_SIZE,
    HR_STORAGE_USED,
)
# 64-bit counters and ifName (both in ifXTable); a device without them is walked with the
# 32-bit counters and ifDescr, always both together so an interface keeps one name.
INTERFACE_HC_COLUMNS = (IF_NAME, IF_OPER_STATUS, IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS)
INTERFACE_32_COLUMNS = (IF_DESCR, IF_OPER_STATUS, IF_IN_OCTETS, IF_OUT_OCTETS)
INTERFACE_32_FALLBACK = (IF_DESCR, IF_IN_OCTETS, IF_OUT_OCTETS)

# Rows expected in a table never seen before (the first poll of a host).
_FIRST_POLL_ROWS = {"processors": 8, "storage": 16, "interfaces": 16}
_IF_OPER_UP = 1
# ifOperStatus down(2), notPresent(6), lowerLayerDown(7): nothing passes while it stays so.
_IF_IDLE = frozenset({2, 6, 7})
_SKIPPED_INTERFACES = frozenset({"lo"})
_MAX_INT32 = 1 << 32
_CACHE_LIMIT = 4096  # prebuilt request varbinds / PDUs kept per collector
_SESSION_LIMIT = 200_000  # agents whose engine configuration is kept (a few hundred bytes each)

# A request: None for GET, else (non-repeaters, max-repetitions) of a GETBULK.
Bulk = tuple[int, int] | None
Answer = list[tuple[Oid, Any]]


# -- public API -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SnmpTarget:
    """One agent to poll: `host` is the name the snapshot carries (the CMDB CI name)."""

    host: str
    address: str
    port: int
    profile: SnmpV2cProfile | SnmpV3Profile


class SnmpUnreachable(Exception):
    """No usable answer from the agent: a timeout (a wrong v2c community and a dead port look
    the same: silence for timeout x (retries + 1)), an unresolvable address, or an answer
    that could not be used (see `SnmpAuthError`)."""


class SnmpAuthError(SnmpUnreachable):
    """The agent answered with an SNMPv3 security report: unknown user, wrong
    authentication or privacy key, unsupported security level."""


@dataclass(frozen=True)
class _Interface:
    """An interface as the last walk saw it, and where its values are in a steady answer."""

    name: str
    index: Oid
    bits: int
    counted: bool  # its octet counters are asked in steady polls (it was not idle)
    oper: int | None  # positions in the steady answer (None: not asked)
    rx: int | None
    tx: int | None


@dataclass(frozen=True)
class AgentShape:
    """What the last walk learned about an agent: the steady GET and how to read its answer.

    Kept in `CounterState.shape`, so it travels with the counters the caller keeps per host.
    """

    oids: tuple[Oid, ...]  # the steady GET; sysUpTime first
    scalars: tuple[tuple[str, int], ...]  # scalar name -> position in the answer
    static: Mapping[str, Any]  # scalar values from the walk that steady polls do not ask
    processors: tuple[tuple[Oid, int], ...]  # row index -> position
    # Fixed disks (and RAM rows): type, description, units, size (from the walk) and the
    # position of hrStorageUsed in the answer.
    storage: tuple[tuple[Oid | None, str | None, int | None, int | None, int], ...]
    interfaces: tuple[_Interface, ...]
    uptime_offset: int | None  # hrSystemUptime - sysUpTime at the walk, in ticks
    walk_uptime: int | None  # sysUpTime at the walk
    walk_monotonic: float
    complete: bool  # every table answered at the walk
    since_walk: int = 0  # steady polls since the walk
    walk_after: int = 0  # steady polls allowed before the next walk
    pdus: tuple[Any, ...] = field(default=(), compare=False, repr=False)  # prebuilt (v2c)


class SnmpCollector:
    """Polls SNMP agents with one pysnmp `SnmpEngine` for the whole process.

    The engine is created on the first `collect` (about 0.1 s) and reused for every request
    to every host; it belongs to the event loop that first used it. Call `close()` at
    shutdown. At most `max_in_flight` requests are outstanding at once (beyond about 100 the
    engine's UDP receive buffer drops answers); a GETBULK asks for at most
    `max_bulk_varbinds` varbinds, and a steady GET carries at most that many (more are split
    into several GETs); a table walk stops after `max_table_rows` rows or `max_table_pdus`
    PDUs (a truncated table is reported as far as it was read). `rewalk_every`: every how
    many polls a host's tables are walked again (1: every poll, the pre-steady behaviour);
    `stagger`: a host's first walk is followed by fewer steady polls, by a hash of its name,
    so that hosts polled together from the start do not walk again in the same round.

    SNMPv3: an agent that reboots (same engine ID, snmpEngineBoots + 1) is resynchronised at
    once. An agent whose engine ID changed (a replaced device, an agent that lost its
    persistent state) stays unreachable for about 5 minutes: pysnmp keeps the engine ID it
    discovered for an address that long and drops answers from another one (measured: 307 s).

    `pdus_sent` counts request PDUs (not retries, not the SNMPv3 engine-ID discovery pysnmp
    does once per agent), `varbinds_received` the varbinds in answers, `walks` the polls
    that walked the tables and `walk_reasons` why, for benchmarks and tests.
    """

    def __init__(
        self,
        *,
        max_in_flight: int = 64,
        max_bulk_varbinds: int = 64,
        max_table_rows: int = 2048,
        max_table_pdus: int = 32,
        rewalk_every: int = DEFAULT_REWALK_EVERY,
        stagger: bool = True,
    ) -> None:
        if min(max_in_flight, max_bulk_varbinds, max_table_rows, max_table_pdus, rewalk_every) < 1:
            raise ValueError("SnmpCollector limits must be positive")
        self.max_in_flight = max_in_flight
        self.max_bulk_varbinds = max_bulk_varbinds
        self.max_table_rows = max_table_rows
        self.max_table_pdus = max_table_pdus
        self.rewalk_every = rewalk_every
        self.stagger = stagger
        self.pdus_sent = 0
        self.varbinds_received = 0
        self.polls = 0
        self.walks = 0
        self.walk_reasons: collections.Counter[str] = collections.Counter()
        self._engine: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: asyncio.Semaphore | None = None
        self._generator: Any = None
        self._targets: dict[tuple[str, int, SnmpV2cProfile | SnmpV3Profile], _Session] = {}
        self._auth: dict[SnmpV2cProfile | SnmpV3Profile, Any] = {}
        self._varbinds: dict[Oid, Any] = {}
        self._pdus: dict[tuple[Bulk, tuple[Oid, ...]], Any] = {}

    # -- engine lifecycle --------------------------------------------------------------------
    def _ensure_engine(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._engine is None:
            api = _api()
            self._engine = api.SnmpEngine()
            self._loop = loop
            self._in_flight = asyncio.Semaphore(self.max_in_flight)
            self._generator = _low().cmdgen.CommandGenerator()
        elif self._loop is not loop:
            raise RuntimeError("an SnmpCollector is bound to the event loop it first ran in")
        return self._engine

    def close(self) -> None:
        """Release the engine's sockets; a later `collect` creates a new engine."""
        engine, self._engine = self._engine, None
        self._loop = None
        self._in_flight = None
        self._generator = None
        self._targets.clear()
        if engine is not None:
            engine.close_dispatcher()

    async def __aenter__(self) -> SnmpCollector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    # -- one poll ----------------------------------------------------------------------------
    async def collect(
        self, target: SnmpTarget, state: CounterState | None = None
    ) -> tuple[HostSnapshot, CounterState]:
        """Poll one agent. `state` is what the previous poll of this target returned (None the
        first time); rates, the counter-based CPU percent and steady polls need it. Raises
        SnmpUnreachable when the agent does not answer."""
        self._ensure_engine()
        self.polls += 1
        shape = state.shape if state is not None else None
        steady = (
            isinstance(shape, AgentShape) and shape.complete and shape.since_walk < shape.walk_after
        )
        if not steady:
            reason = "first contact" if not isinstance(shape, AgentShape) else "scheduled"
            if isinstance(shape, AgentShape) and not shape.complete:
                reason = "a table did not answer at the last walk"
            self.walk_reasons[reason] += 1
        session = await self._session(target, refresh=not steady)
        if steady:
            assert state is not None and isinstance(shape, AgentShape)
            polled = await self._steady_poll(session, state, shape)
            if polled is not None:
                return polled
        return await self._walk_poll(session, state)

    async def _walk_poll(
        self, session: _Session, state: CounterState | None
    ) -> tuple[HostSnapshot, CounterState]:
        self.walks += 1
        target = session.target
        scalars = await self._get(session, tuple(SCALARS.values()))
        values = dict(zip(SCALARS, scalars, strict=True)) if scalars is not None else {}
        reading = CounterState(
            monotonic=time.monotonic(),
            at=clock.now(),
            uptime_ticks=_as_int(values.get("sys_uptime")),
            engine_boots=_as_int(values.get("engine_boots")),
        )
        if state is not None and agent_restarted(state, reading):
            state = None  # counters, learned table sizes and capabilities start over
        hints: Mapping[str, int] = state.table_rows if state is not None else {}
        hc_octets = state.hc_octets if state is not None else None

        processors, storage, interfaces = await asyncio.gather(
            self._walk(session, PROCESSOR_COLUMNS, hints.get("processors")),
            self._walk_storage(session, hints.get("storage"), ram=_kb(values, "mem_total") is None),
            self._walk_interfaces(session, hc_octets, hints.get("interfaces")),
        )
        if_columns, hc_octets = interfaces

        table_rows = dict(hints)
        for key, table in (("processors", processors), ("storage", storage)):
            if table is not None:
                table_rows[key] = _row_count(table)
        if if_columns is not None:
            table_rows["interfaces"] = _row_count(if_columns)

        per_core = _per_core(processors)
        cpu_raw = {
            name.removeprefix("cpu_"): value
            for name in _CPU_SCALARS
            if (value := _as_int(values.get(name))) is not None
        }
        cpu, cpu_raw = _cpu(state, cpu_raw, per_core)

        counters, up_status, indexes = _interface_counters(if_columns, hc_octets)
        # The first walk of a host is followed by a staggered number of steady polls (by a hash
        # of its name), then by rewalk_every - 1: hosts first polled together (a poller start)
        # do not all walk again in the same round.
        walk_after = self.rewalk_every - 1
        if state is None and self.stagger:
            walk_after = zlib.crc32(target.host.encode()) % self.rewalk_every
        shape = self._learn(
            session, values, reading, processors, storage, if_columns, hc_octets, indexes,
            walk_after=walk_after,
            complete=scalars is not None and None not in (processors, storage, if_columns),
        )  # fmt: skip
        current = CounterState(
            monotonic=reading.monotonic,
            at=reading.at,
            uptime_ticks=reading.uptime_ticks,
            engine_boots=reading.engine_boots,
            interfaces=counters,
            cpu_raw=cpu_raw,
            table_rows=table_rows,
            hc_octets=hc_octets,
            shape=shape,
        )
        rates = interface_rates(state, current)
        rates.update(_rates_since_walk(state, current))
        uptime_ticks = _as_int(values.get("host_uptime"))
        if uptime_ticks is None:
            uptime_ticks = reading.uptime_ticks
        mem_total, mem_used = _memory(values, _storage_rows(storage, HR_STORAGE_RAM))
        return _snapshot(
            target, reading, values, cpu, per_core, mem_total, mem_used,
            _disks(_storage_rows(storage, HR_STORAGE_FIXED_DISK)), rates, up_status, uptime_ticks,
        ), current  # fmt: skip

    async def _steady_poll(
        self, session: _Session, state: CounterState, shape: AgentShape
    ) -> tuple[HostSnapshot, CounterState] | None:
        """One GET of what changes; None when the answer says the agent must be walked."""
        answer = await self._get_steady(session, shape)
        if answer is None:
            self._walk_because("the agent refused the GET", session)
            return None
        return self._read_steady(session, state, shape, answer)

    def _walk_because(self, reason: str, session: _Session) -> None:
        log.debug("%s: %s: walking it again", session.describe(), reason)
        self.walk_reasons[reason] += 1

    def _read_steady(
        self, session: _Session, state: CounterState, shape: AgentShape, answer: Sequence[Any]
    ) -> tuple[HostSnapshot, CounterState] | None:
        reading = CounterState(
            monotonic=time.monotonic(),
            at=clock.now(),
            uptime_ticks=_as_int(answer[0]),
            engine_boots=state.engine_boots,
        )
        if reading.uptime_ticks is None or agent_restarted(state, reading):
            self._walk_because("agent restarted", session)
            return None
        null = _univ().Null
        if any(isinstance(value, null) for value in answer):  # a scalar or a known row is gone
            self._walk_because("a known row or scalar is gone", session)
            return None

        values = dict(shape.static)
        for name, position in shape.scalars:
            values[name] = answer[position]
        per_core = _per_core({HR_PROCESSOR_LOAD: {i: answer[p] for i, p in shape.processors}})
        cpu_raw = {
            name.removeprefix("cpu_"): value
            for name in _CPU_SCALARS
            if (value := _as_int(values.get(name))) is not None
        }
        cpu, cpu_raw = _cpu(state, cpu_raw, per_core)

        fixed: list[tuple[str, int, int]] = []
        ram: list[tuple[str, int, int]] = []
        for kind, descr, units, size, position in shape.storage:
            usage = _usage(descr, units, size, _as_int(answer[position]))
            if usage is not None:
                (fixed if kind == HR_STORAGE_FIXED_DISK else ram).append(usage)

        counters: dict[str, OctetCounters] = {}
        up_status: dict[str, bool | None] = {}
        idle: list[str] = []
        for interface in shape.interfaces:
            oper = _as_int(answer[interface.oper]) if interface.oper is not None else None
            up = None if oper is None else oper == _IF_OPER_UP
            name = interface.name
            if interface.counted:
                counters[name] = OctetCounters(
                    _as_int(answer[interface.rx]) if interface.rx is not None else None,
                    _as_int(answer[interface.tx]) if interface.tx is not None else None,
                    interface.bits,
                )
            else:
                if oper not in _IF_IDLE:
                    self._walk_because("an interface came up", session)
                    return None
                counters[name] = state.interfaces.get(name) or OctetCounters(
                    None, None, interface.bits
                )
                idle.append(name)
            up_status[name] = up

        current = CounterState(
            monotonic=reading.monotonic,
            at=reading.at,
            uptime_ticks=reading.uptime_ticks,
            engine_boots=reading.engine_boots,
            interfaces=counters,
            cpu_raw=cpu_raw,
            table_rows=state.table_rows,
            hc_octets=state.hc_octets,
            shape=replace(shape, since_walk=shape.since_walk + 1),
        )
        rates = interface_rates(state, current)
        for name in idle:
            rates[name] = (0.0, 0.0)  # down since the walk: nothing moves
        uptime_ticks = reading.uptime_ticks
        if shape.uptime_offset is not None and uptime_ticks is not None:
            uptime_ticks += shape.uptime_offset
        mem_total, mem_used = _memory(values, ram)
        return _snapshot(
            session.target, reading, values, cpu, per_core, mem_total, mem_used,
            _disks(fixed), rates, up_status, uptime_ticks,
        ), current  # fmt: skip

    def _learn(
        self,
        session: _Session,
        values: Mapping[str, Any],
        reading: CounterState,
        processors: Mapping[Oid, Mapping[Oid, Any]] | None,
        storage: Mapping[Oid, Mapping[Oid, Any]] | None,
        if_columns: Mapping[Oid, Mapping[Oid, Any]] | None,
        hc_octets: bool | None,
        indexes: Mapping[str, Oid],
        *,
        walk_after: int,
        complete: bool,
    ) -> AgentShape:
        """The steady GET for this agent, from what the walk found."""
        oids: list[Oid] = [SCALARS["sys_uptime"]]
        scalars: list[tuple[str, int]] = []
        wanted = set(STEADY_SCALARS)
        if not _as_int(values.get("swap_total")):
            wanted.discard("swap_avail")  # no swap: nothing to watch
        if _as_int(values.get("mem_sys_avail")) is not None:
            wanted -= {"mem_avail", "mem_buffer", "mem_cached"}  # unused beside MemAvailable
        static: dict[str, Any] = {}
        for name, oid in SCALARS.items():
            value = values.get(name)
            if name in wanted and not _is_end(value):
                scalars.append((name, len(oids)))
                oids.append(oid)
            elif name != "sys_uptime":
                static[name] = value

        cells: list[tuple[Oid, int]] = []
        if processors is not None:
            for index, value in sorted(processors[HR_PROCESSOR_LOAD].items()):
                if not _is_end(value):
                    cells.append((index, len(oids)))
                    oids.append(HR_PROCESSOR_LOAD + index)
        rows: list[tuple[Oid | None, str | None, int | None, int | None, int]] = []
        if storage is not None:
            # Fixed disks, and the RAM row where it stands in for memory (no UCD-SNMP-MIB).
            kinds = {HR_STORAGE_FIXED_DISK}
            if _kb(values, "mem_total") is None:
                kinds.add(HR_STORAGE_RAM)
            for index, kind in sorted(storage[HR_STORAGE_TYPE].items()):
                if _as_oid(kind) not in kinds:
                    continue
                used = storage[HR_STORAGE_USED].get(index)
                if _as_int(used) is None:
                    continue
                rows.append((
                    _as_oid(kind), _as_text(storage[HR_STORAGE_DESCR].get(index)),
                    _as_int(storage[HR_STORAGE_UNITS].get(index)),
                    _as_int(storage[HR_STORAGE_SIZE].get(index)), len(oids),
                ))  # fmt: skip
                oids.append(HR_STORAGE_USED + index)
        interfaces: list[_Interface] = []
        if if_columns is not None:
            in_column, out_column = (
                (IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS) if hc_octets else (IF_IN_OCTETS, IF_OUT_OCTETS)
            )
            bits = 64 if hc_octets else 32
            opers = if_columns.get(IF_OPER_STATUS, {})
            for name, index in indexes.items():
                # Cells the walk did not find are not asked (they stay None, as in the walk).
                status = _as_int(opers.get(index))
                oper = rx = tx = None
                if status is not None:
                    oper = len(oids)
                    oids.append(IF_OPER_STATUS + index)
                counted = status not in _IF_IDLE
                if counted and _as_int(if_columns.get(in_column, {}).get(index)) is not None:
                    rx = len(oids)
                    oids.append(in_column + index)
                if counted and _as_int(if_columns.get(out_column, {}).get(index)) is not None:
                    tx = len(oids)
                    oids.append(out_column + index)
                interfaces.append(_Interface(name, index, bits, counted, oper, rx, tx))
        uptime = reading.uptime_ticks
        host_uptime = _as_int(values.get("host_uptime"))
        return AgentShape(
            oids=tuple(oids),
            scalars=tuple(scalars),
            static=static,
            processors=tuple(cells),
            storage=tuple(rows),
            interfaces=tuple(interfaces),
            uptime_offset=host_uptime - uptime
            if host_uptime is not None and uptime is not None
            else None,
            walk_uptime=uptime,
            walk_monotonic=reading.monotonic,
            complete=complete and uptime is not None,
            walk_after=walk_after,
            pdus=tuple(self._build_pdu(None, chunk) for chunk in self._chunks(oids))
            if session.v2c
            else (),
        )

    def _chunks(self, oids: Sequence[Oid]) -> list[tuple[Oid, ...]]:
        size = self.max_bulk_varbinds
        return [tuple(oids[i : i + size]) for i in range(0, len(oids), size)]

    # -- requests ----------------------------------------------------------------------------
    async def _session(self, target: SnmpTarget, *, refresh: bool) -> _Session:
        """The engine's configuration for this agent, made once (an address that is a name
        is resolved again at every walk)."""
        key = (target.address, target.port, target.profile)
        session = self._targets.get(key)
        if session is not None and not (refresh and not session.literal):
            if session.target is target or session.target.host == target.host:
                return session
            return replace(session, target=target)
        api = _api()
        profile = target.profile
        auth = self._auth.get(profile)
        if auth is None:
            try:
                auth = _auth_data(profile)
            except SnmpAuthError as exc:
                raise SnmpAuthError(f"{target.host}: {exc}") from None
            self._auth[profile] = auth
        try:
            transport = await api.UdpTransportTarget.create(
                (target.address, target.port), timeout=profile.timeout, retries=profile.retries
            )
        except _pysnmp_errors() as exc:
            raise SnmpUnreachable(f"{target.host}: {target.address}:{target.port}: {exc}") from exc
        v2c = isinstance(profile, SnmpV2cProfile)
        engine = self._ensure_engine()
        addr_name, _ = _low().lcd.configure(engine, auth, transport, b"")
        session = _Session(target, auth, transport, addr_name, v2c, _is_literal(target.address))
        if len(self._targets) >= _SESSION_LIMIT:
            self._targets.clear()
        self._targets[key] = session
        return session

    def _varbind(self, oid: Oid) -> Any:
        """A request varbind (the OID and a Null), built once: pysnmp's own request path
        rebuilds (and hlapi re-resolves) each one on every request."""
        varbind = self._varbinds.get(oid)
        if varbind is None:
            low = _low()
            varbind = low.v2c.apiVarBind.set_oid_value(
                low.rfc1905.VarBind(), (low.univ.ObjectIdentifier(oid), low.v2c.null)
            )
            if len(self._varbinds) >= _CACHE_LIMIT * 4:
                self._varbinds.clear()
            self._varbinds[oid] = varbind
        return varbind

    def _build_pdu(self, bulk: Bulk, oids: Sequence[Oid]) -> Any:
        low = _low()
        if bulk is None:
            pdu = low.v2c.GetRequestPDU()
            low.v2c.apiPDU.set_defaults(pdu)
        else:
            pdu = low.v2c.GetBulkRequestPDU()
            low.v2c.apiBulkPDU.set_defaults(pdu)
            low.v2c.apiBulkPDU.set_non_repeaters(pdu, bulk[0])
            low.v2c.apiBulkPDU.set_max_repetitions(pdu, bulk[1])
        varbinds = pdu.setComponentByPosition(3).getComponentByPosition(3)
        for position, oid in enumerate(oids):
            varbinds.setComponentByPosition(
                position, self._varbind(oid), verifyConstraints=False, matchTags=False,
                matchConstraints=False,
            )  # fmt: skip
        return pdu

    def _pdu(
        self, session: _Session, bulk: Bulk, oids: tuple[Oid, ...], prebuilt: Any, cache: bool
    ) -> Any:
        """The request PDU. v2c: a request sent again and again (a steady GET, the first PDU
        of a table walk) is built once and reused: pysnmp swaps in a unique request-id while
        it encodes, then puts the PDU back as it was. v3 sends the PDU's own request-id, so
        it gets a fresh PDU (from prebuilt varbinds) every time."""
        if not session.v2c or not (cache or prebuilt is not None):
            return self._build_pdu(bulk, oids)
        if prebuilt is not None:
            return prebuilt
        key = (bulk, oids)
        pdu = self._pdus.get(key)
        if pdu is None:
            pdu = self._build_pdu(bulk, oids)
            if len(self._pdus) >= _CACHE_LIMIT:
                self._pdus.clear()
            self._pdus[key] = pdu
        return pdu

    async def _request(
        self,
        session: _Session,
        bulk: Bulk,
        oids: tuple[Oid, ...],
        prebuilt: Any = None,
        *,
        cache: bool = True,
    ) -> Answer | None:
        """Send one PDU (GET, or GETBULK when `bulk` is given) and return its varbinds as
        (OID, value) pairs; None when the agent answered with an error status. Raises
        SnmpUnreachable when no (usable) answer came."""
        varbinds = await self._send(session, bulk, oids, prebuilt, cache)
        if varbinds is None:
            return None
        return [(varbind[0].asTuple(), varbind[1].getComponent(1)) for varbind in varbinds]

    async def _send(
        self, session: _Session, bulk: Bulk, oids: tuple[Oid, ...], prebuilt: Any, cache: bool
    ) -> Any:
        """`_request` without unpacking: the answer's varbind list (pyasn1), or None."""
        engine = self._ensure_engine()
        assert self._in_flight is not None
        profile = session.target.profile
        # pysnmp gives up after timeout x (retries + 1); this only guards against it never
        # calling back, so one silent host can never hold a poll forever.
        guard = profile.timeout * (profile.retries + 1) + 2.0
        async with self._in_flight:
            self.pdus_sent += 1
            answered: asyncio.Future[tuple[Any, Any]] = asyncio.get_running_loop().create_future()
            try:
                if not session.v2c:  # as hlapi does: a user's keys may differ between agents
                    _low().lcd.configure(engine, session.auth, session.transport, b"")
                pdu = self._pdu(session, bulk, oids, prebuilt, cache)
                self._generator.send_pdu(
                    engine, session.addr_name, None, b"", pdu, _answered, answered
                )
                async with asyncio.timeout(guard):
                    error_indication, response = await answered
            except TimeoutError as exc:
                raise SnmpUnreachable(f"{session.describe()}: no answer in {guard:.1f} s") from exc
            except _pysnmp_errors() as exc:
                raise SnmpUnreachable(f"{session.describe()}: {exc}") from exc
        if error_indication:
            error = SnmpAuthError if _is_auth_error(error_indication) else SnmpUnreachable
            raise error(f"{session.describe()}: {error_indication}")
        varbinds = response.getComponentByPosition(3)
        self.varbinds_received += len(varbinds)
        error_status = response.getComponentByPosition(1)
        if error_status:
            log.debug("%s: %s at varbind %s", session.describe(), error_status,
                      int(response.getComponentByPosition(2)))  # fmt: skip
            return None
        return varbinds

    async def _get(self, session: _Session, oids: tuple[Oid, ...]) -> list[Any] | None:
        """GET: the values in `oids` order (None for a value the agent does not have), or
        None when the agent refused the whole PDU."""
        varbinds = await self._request(session, None, oids)
        if varbinds is None or len(varbinds) != len(oids):
            return None
        return [_present(value) for _, value in varbinds]

    async def _get_steady(self, session: _Session, shape: AgentShape) -> list[Any] | None:
        """The steady GET's values in `shape.oids` order (noSuchInstance and the like kept as
        they came), in PDUs of at most max_bulk_varbinds; None when the agent refused one or
        only some of them got an answer. Raises SnmpUnreachable when none did."""
        chunks = self._chunks(shape.oids)
        prebuilt = shape.pdus if len(shape.pdus) == len(chunks) else (None,) * len(chunks)
        if len(chunks) == 1:
            parts: list[Any] = [await self._send(session, None, chunks[0], prebuilt[0], False)]
        else:
            parts = await asyncio.gather(
                *(self._send(session, None, chunk, pdu, False)
                  for chunk, pdu in zip(chunks, prebuilt, strict=True)),
                return_exceptions=True,
            )  # fmt: skip
            failures = [part for part in parts if isinstance(part, BaseException)]
            if failures and len(failures) == len(parts):
                raise failures[0]
            for failure in failures:
                if not isinstance(failure, SnmpUnreachable):
                    raise failure
        values: list[Any] = []
        for part in parts:
            if part is None or isinstance(part, BaseException):
                return None
            # A GET's answer lists the OIDs asked, in order: only the values are needed.
            values += [varbind.getComponentByPosition(1).getComponent(True) for varbind in part]
        return values if len(values) == len(shape.oids) else None

    async def _walk(
        self, session: _Session, columns: Sequence[Oid], rows_hint: int | None
    ) -> dict[Oid, dict[Oid, Any]] | None:
        """GETBULK walk of table columns side by side: column -> {row index: value}. None when
        a PDU got no answer or an error status (that table is left out of this poll)."""
        name = _table_name(columns)
        if rows_hint is None:
            rows_hint = _FIRST_POLL_ROWS.get(name, 16)
        found: dict[Oid, dict[Oid, Any]] = {column: {} for column in columns}
        cursor: dict[Oid, Oid] = {column: column for column in columns}
        pending = list(columns)
        repetitions = self._repetitions(len(pending), rows_hint)
        for _ in range(self.max_table_pdus):
            request = tuple(cursor[c] for c in pending)
            try:
                varbinds = await self._request(
                    session, (0, repetitions), request, cache=request == tuple(columns)
                )
            except SnmpUnreachable as exc:
                log.debug("%s: table %s left out: %s", session.describe(), name, exc)
                return None
            if varbinds is None:
                return None
            if not varbinds:
                break
            finished: set[Oid] = set()
            for position, (oid, value) in enumerate(varbinds):
                column = pending[position % len(pending)]
                if column in finished:
                    continue
                if _is_end(value) or oid[: len(column)] != column or oid <= cursor[column]:
                    finished.add(column)
                    continue
                found[column][oid[len(column) :]] = value
                cursor[column] = oid
            pending = [column for column in pending if column not in finished]
            if not pending:
                return found
            if max(len(rows) for rows in found.values()) >= self.max_table_rows:
                limit = self.max_table_rows
                log.info("%s: table %s cut at %d rows", session.describe(), name, limit)
                return found
            # The table is longer than expected: ask for twice as many rows next (not the
            # whole budget: a table that grew by a row would cost a PDU full of varbinds past
            # its end), up to the budget.
            repetitions = min(self._repetitions(len(pending), None), repetitions * 2)
        return found

    async def _walk_storage(
        self, session: _Session, rows_hint: int | None, *, ram: bool
    ) -> dict[Oid, dict[Oid, Any]] | None:
        """hrStorageTable as far as it is used: hrStorageType of every row (walked), then the
        other columns of the fixed disks (and of the RAM row when `ram`) by GET. Most rows are
        memory figures that UCD-SNMP-MIB gives better: this costs about half the varbinds of
        walking all five columns."""
        types = await self._walk(session, (HR_STORAGE_TYPE,), rows_hint)
        if types is None:
            return None
        kinds = {HR_STORAGE_FIXED_DISK, HR_STORAGE_RAM} if ram else {HR_STORAGE_FIXED_DISK}
        table: dict[Oid, dict[Oid, Any]] = {column: {} for column in STORAGE_COLUMNS}
        table[HR_STORAGE_TYPE] = types[HR_STORAGE_TYPE]
        wanted = [i for i, kind in table[HR_STORAGE_TYPE].items() if _as_oid(kind) in kinds]
        columns = STORAGE_COLUMNS[1:]
        cells = tuple(column + index for index in wanted for column in columns)
        answers = await asyncio.gather(
            *(self._get(session, chunk) for chunk in self._chunks(cells)), return_exceptions=True
        )
        values: list[Any] = []
        for answer in answers:
            if isinstance(answer, SnmpUnreachable):
                log.debug("%s: table storage left out: %s", session.describe(), answer)
                return None
            if isinstance(answer, BaseException):
                raise answer
            if answer is None:
                return None
            values += answer
        for position, value in enumerate(values):
            index = wanted[position // len(columns)]
            if value is not None:
                table[columns[position % len(columns)]][index] = value
        return table

    async def _walk_interfaces(
        self, session: _Session, hc_octets: bool | None, rows_hint: int | None
    ) -> tuple[dict[Oid, dict[Oid, Any]] | None, bool | None]:
        """The interface columns and whether they hold 64-bit counters."""
        if hc_octets is False:
            return await self._walk(session, INTERFACE_32_COLUMNS, rows_hint), False
        columns = await self._walk(session, INTERFACE_HC_COLUMNS, rows_hint)
        if columns is None:
            return None, hc_octets
        if columns[IF_HC_IN_OCTETS] or columns[IF_HC_OUT_OCTETS]:
            return columns, True
        if not columns[IF_OPER_STATUS]:
            return columns, hc_octets  # no interfaces at all (or no IF-MIB): ask again later
        # Interfaces without 64-bit counters: the 32-bit ones, named by ifDescr, from now on.
        fallback = await self._walk(session, INTERFACE_32_FALLBACK, rows_hint)
        if fallback is None:
            return None, hc_octets
        return {**fallback, IF_OPER_STATUS: columns[IF_OPER_STATUS]}, False

    def _repetitions(self, columns: int, rows_hint: int | None) -> int:
        budget = max(1, self.max_bulk_varbinds // max(columns, 1))
        if rows_hint is None:
            return budget
        return max(1, min(rows_hint + 1, budget))


@dataclass(frozen=True)
class _Session:
    target: SnmpTarget
    auth: Any
    transport: Any
    addr_name: str  # the engine's name for this agent's target configuration
    v2c: bool
    literal: bool  # the address is an IP address (nothing to resolve again)

    def describe(self) -> str:
        return f"{self.target.host} ({self.target.address}:{self.target.port})"


def _answered(
    engine: Any, handle: Any, error_indication: Any, pdu: Any, future: asyncio.Future[Any]
) -> None:
    if not future.done():  # the guard may have given up on it already
        future.set_result((error_indication, pdu))


def _is_literal(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


# -- pysnmp, imported on first use --------------------------------------------------------
_api_module: Any = None
_low_module: Any = None


def _api() -> Any:
    global _api_module
    if _api_module is None:
        import pysnmp.hlapi.v3arch.asyncio as api

        _api_module = api
    return _api_module


class _Low:
    """pysnmp's layer under hlapi: the command generator, PDU and varbind types."""

    def __init__(self) -> None:
        from pysnmp.entity.rfc3413 import cmdgen
        from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
        from pysnmp.proto import rfc1905
        from pysnmp.proto.api import v2c

        self.univ = _univ()
        self.cmdgen = cmdgen
        self.lcd = CommandGeneratorLcdConfigurator()
        self.rfc1905 = rfc1905
        self.v2c = v2c


def _low() -> _Low:
    global _low_module
    if _low_module is None:
        _api()
        _low_module = _Low()
    return _low_module  # type: ignore[no-any-return]


def _pysnmp_errors() -> tuple[type[BaseException], ...]:
    from pysnmp.error import PySnmpError

    return (PySnmpError, OSError)


_AUTH_ERRORS = (
    "UnknownUserName",
    "WrongDigest",
    "DecryptionError",
    "UnknownSecurityName",
    "UnsupportedSecurityLevel",
    "AuthenticationError",
    "AuthenticationFailure",
    "UnsupportedAuthProtocol",
    "UnsupportedPrivProtocol",
    "EncryptionError",  # no cipher library: a local installation problem, not the network
    "NoEncryption",
)


def _is_auth_error(indication: object) -> bool:
    return type(indication).__name__ in _AUTH_ERRORS


def _auth_data(profile: SnmpV2cProfile | SnmpV3Profile) -> Any:
    api = _api()
    if isinstance(profile, SnmpV2cProfile):
        return api.CommunityData(profile.community, mpModel=1)
    if profile.priv_protocol is not None and importlib.util.find_spec("cryptography") is None:
        # pysnmp would send nothing and report "Ciphering services not available".
        raise SnmpAuthError(
            f"SNMPv3 privacy ({profile.priv_protocol}) needs the 'cryptography' package"
        )
    auth_protocols = {
        AuthProtocol.MD5: api.usmHMACMD5AuthProtocol,
        AuthProtocol.SHA: api.usmHMACSHAAuthProtocol,
        AuthProtocol.SHA224: api.usmHMAC128SHA224AuthProtocol,
        AuthProtocol.SHA256: api.usmHMAC192SHA256AuthProtocol,
        AuthProtocol.SHA384: api.usmHMAC256SHA384AuthProtocol,
        AuthProtocol.SHA512: api.usmHMAC384SHA512AuthProtocol,
    }
    # AES-192/256 keys as net-snmp ("AES-192", "AES-256") and most Linux agents extend them
    # (draft-blumenthal); Cisco's "AES192C"-style extension (Reeder) is usmAesCfb192Protocol.
    priv_protocols = {
        PrivProtocol.DES: api.usmDESPrivProtocol,
        PrivProtocol.AES: api.usmAesCfb128Protocol,
        PrivProtocol.AES192: api.usmAesBlumenthalCfb192Protocol,
        PrivProtocol.AES256: api.usmAesBlumenthalCfb256Protocol,
    }
    return api.UsmUserData(
        profile.user,
        authKey=profile.auth_key,
        privKey=profile.priv_key,
        authProtocol=(
            auth_protocols[profile.auth_protocol]
            if profile.auth_protocol is not None
            else api.usmNoAuthProtocol
        ),
        privProtocol=(
            priv_protocols[profile.priv_protocol]
            if profile.priv_protocol is not None
            else api.usmNoPrivProtocol
        ),
    )


# -- values -------------------------------------------------------------------------------
# Decoded values are pyasn1 objects, some of pysnmp's SNMP types (Counter32, Gauge32, ...),
# some plain pyasn1 ones (an OBJECT IDENTIFIER comes back as univ.ObjectIdentifier), so they
# are told apart by their pyasn1 base classes. noSuchObject, noSuchInstance and endOfMibView
# are all univ.Null (which pyasn1 derives from OctetString: test it first).
_univ_module: Any = None


def _univ() -> Any:
    global _univ_module
    if _univ_module is None:
        _univ_module = importlib.import_module("pyasn1.type.univ")
    return _univ_module


def _is_end(value: Any) -> bool:
    """noSuchObject / noSuchInstance / endOfMibView (or no value at all)."""
    return value is None or isinstance(value, _univ().Null)


def _present(value: Any) -> Any:
    return None if _is_end(value) else value


def _as_int(value: Any) -> int | None:
    if _is_end(value) or not isinstance(value, _univ().Integer):
        return None
    return int(value)


def _as_text(value: Any) -> str | None:
    if _is_end(value) or not isinstance(value, _univ().OctetString):
        return None
    text: str = bytes(value.asOctets()).decode("utf-8", errors="replace")
    return text.strip("\x00").strip()


def _as_float(value: Any) -> float | None:
    text = _as_text(value)
    if text is None:
        number = _as_int(value)
        return float(number) if number is not None else None
    try:
        number_f = float(text)
    except ValueError:
        return None
    return number_f if math.isfinite(number_f) else None


def _as_oid(value: Any) -> Oid | None:
    if _is_end(value) or not isinstance(value, _univ().ObjectIdentifier):
        return None
    return tuple(value)


# -- turning varbinds into a snapshot ------------------------------------------------------
def _snapshot(
    target: SnmpTarget,
    reading: CounterState,
    values: Mapping[str, Any],
    cpu: float | None,
    per_core: tuple[float, ...],
    mem_total: int | None,
    mem_used: int | None,
    disks: tuple[DiskUsage, ...],
    rates: Mapping[str, tuple[float | None, float | None]],
    up_status: Mapping[str, bool | None],
    uptime_ticks: int | None,
) -> HostSnapshot:
    swap_total, swap_used = _swap(values)
    return HostSnapshot(
        host=target.host,
        at=reading.at or clock.now(),
        cpu_percent=cpu,
        per_core_percent=per_core,
        load=_load(values),
        mem_total_bytes=mem_total,
        mem_used_bytes=mem_used,
        swap_total_bytes=swap_total,
        swap_used_bytes=swap_used,
        disks=disks,
        interfaces=tuple(
            InterfaceRate(name, rx, tx, up_status.get(name)) for name, (rx, tx) in rates.items()
        ),
        uptime_seconds=uptime_ticks / 100.0 if uptime_ticks is not None else None,
        process_count=_as_int(values.get("processes")),
        name=_as_text(values.get("sys_name")),
        description=_as_text(values.get("sys_descr")),
    )


def _cpu(
    state: CounterState | None, cpu_raw: dict[str, int], per_core: tuple[float, ...]
) -> tuple[float | None, dict[str, int]]:
    """CPU percent from the ssCpuRaw* deltas (else the hrProcessorLoad average), and the
    counters to keep for the next delta."""
    cpu = cpu_percent(state.cpu_raw, cpu_raw) if state is not None else None
    if cpu is None and state is not None and cpu_raw and cpu_raw == state.cpu_raw:
        # The agent has not refreshed its CPU counters since the last poll (net-snmp
        # caches them for a few seconds): keep the older baseline for the next delta.
        cpu_raw = dict(state.cpu_raw)
    if cpu is None and per_core:
        cpu = sum(per_core) / len(per_core)
    return cpu, cpu_raw


def _rates_since_walk(
    state: CounterState | None, current: CounterState
) -> dict[str, tuple[float | None, float | None]]:
    """At a walk that follows steady polls: interfaces that were down since the walk before
    had their counters read at that walk only; their rate is the average since then."""
    shape = state.shape if state is not None else None
    if state is None or not isinstance(shape, AgentShape) or shape.since_walk == 0:
        return {}
    idle = [i.name for i in shape.interfaces if not i.counted and i.name in current.interfaces]
    if not idle:
        return {}
    walk = CounterState(
        monotonic=shape.walk_monotonic,
        uptime_ticks=shape.walk_uptime,
        engine_boots=state.engine_boots,
        interfaces={name: state.interfaces[name] for name in idle if name in state.interfaces},
    )
    now = replace(current, interfaces={name: current.interfaces[name] for name in idle})
    return interface_rates(walk, now)


def _table_name(columns: Sequence[Oid]) -> str:
    if columns[0] == HR_PROCESSOR_LOAD:
        return "processors"
    if columns[0] == HR_STORAGE_TYPE:
        return "storage"
    return "interfaces"


def _row_count(table: Mapping[Oid, Mapping[Oid, Any]]) -> int:
    return max((len(rows) for rows in table.values()), default=0)


def _per_core(table: Mapping[Oid, Mapping[Oid, Any]] | None) -> tuple[float, ...]:
    if table is None:
        return ()
    loads = (_as_int(value) for _, value in sorted(table[HR_PROCESSOR_LOAD].items()))
    return tuple(float(load) for load in loads if load is not None and 0 <= load <= 100)


def _load(values: Mapping[str, Any]) -> tuple[float, float, float] | None:
    one, five, fifteen = (_as_float(values.get(key)) for key in ("load1", "load5", "load15"))
    if one is None or five is None or fifteen is None:
        return None
    return (one, five, fifteen)


def _kb(values: Mapping[str, Any], key: str) -> int | None:
    number = _as_int(values.get(key))
    return number * 1024 if number is not None and number >= 0 else None


def _memory(
    values: Mapping[str, Any], ram: Sequence[tuple[str, int, int]]
) -> tuple[int | None, int | None]:
    """(total, used) bytes. used = total - available, as the local collector counts it:
    available is memSysAvail (the kernel's MemAvailable) when the agent has it, else
    memAvailReal (free) + memBuffer + memCached. Without UCD-SNMP-MIB: the first hrStorageRam
    row (`ram`, as `_storage_rows` gives them)."""
    total = _kb(values, "mem_total")
    if total is not None:
        available = _kb(values, "mem_sys_avail")
        if available is None:
            free = _kb(values, "mem_avail")
            if free is not None:
                available = free + (_kb(values, "mem_buffer") or 0)
                available += _kb(values, "mem_cached") or 0
        if available is None:
            return total, None
        return total, min(total, max(0, total - available))
    for _, size, used in ram:
        return size, used
    return None, None


def _swap(values: Mapping[str, Any]) -> tuple[int | None, int | None]:
    total = _kb(values, "swap_total")
    available = _kb(values, "swap_avail")
    if total is None:
        return None, None
    if available is None:
        return total, None
    return total, min(total, max(0, total - available))


def _storage_rows(
    storage: Mapping[Oid, Mapping[Oid, Any]] | None, storage_type: Oid
) -> list[tuple[str, int, int]]:
    """(description, size bytes, used bytes) of the hrStorageTable rows of one type."""
    if storage is None:
        return []
    rows: list[tuple[str, int, int]] = []
    for index, type_value in sorted(storage[HR_STORAGE_TYPE].items()):
        if _as_oid(type_value) != storage_type:
            continue
        usage = _usage(
            _as_text(storage[HR_STORAGE_DESCR].get(index)),
            _as_int(storage[HR_STORAGE_UNITS].get(index)),
            _as_int(storage[HR_STORAGE_SIZE].get(index)),
            _as_int(storage[HR_STORAGE_USED].get(index)),
        )
        if usage is not None:
            rows.append(usage)
    return rows


def _usage(
    descr: str | None, units: int | None, size: int | None, used: int | None
) -> tuple[str, int, int] | None:
    """(description, size bytes, used bytes) of one hrStorageTable row, if it is usable."""
    if descr is None or units is None or size is None or used is None or units <= 0:
        return None
    # Integer32 columns: an agent that overflows them wraps negative.
    size, used = size % _MAX_INT32, used % _MAX_INT32
    return descr, size * units, min(used, size) * units


def _disks(rows: Sequence[tuple[str, int, int]]) -> tuple[DiskUsage, ...]:
    """The fixed disks of `_storage_rows`, one per mount point, by mount point."""
    disks: dict[str, DiskUsage] = {}
    for mount, size, used in rows:
        if size > 0 and mount not in disks:
            disks[mount] = DiskUsage(mount, size, used)
    return tuple(sorted(disks.values(), key=lambda disk: disk.mount))


def _interface_counters(
    columns: Mapping[Oid, Mapping[Oid, Any]] | None, hc_octets: bool | None
) -> tuple[dict[str, OctetCounters], dict[str, bool | None], dict[str, Oid]]:
    """Interface name -> raw octet counters, name -> oper status up, and name -> ifIndex, in
    ifIndex order. `lo` is skipped; a name seen twice gets its ifIndex appended."""
    if columns is None:
        return {}, {}, {}
    if hc_octets:
        names, in_column, out_column, bits = IF_NAME, IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS, 64
    else:
        names, in_column, out_column, bits = IF_DESCR, IF_IN_OCTETS, IF_OUT_OCTETS, 32
        if not columns.get(IF_DESCR):
            names = IF_NAME
    indexes = sorted(set(columns.get(names, {})) | set(columns.get(IF_OPER_STATUS, {})))
    counters: dict[str, OctetCounters] = {}
    status: dict[str, bool | None] = {}
    where: dict[str, Oid] = {}
    for index in indexes:
        name = _as_text(columns.get(names, {}).get(index)) or "if" + ".".join(map(str, index))
        if name in _SKIPPED_INTERFACES:
            continue
        if name in counters:
            name = f"{name}#{'.'.join(map(str, index))}"
        oper = _as_int(columns.get(IF_OPER_STATUS, {}).get(index))
        counters[name] = OctetCounters(
            rx=_as_int(columns.get(in_column, {}).get(index)),
            tx=_as_int(columns.get(out_column, {}).get(index)),
            bits=bits,
        )
        status[name] = None if oper is None else oper == _IF_OPER_UP
        where[name] = index
    return counters, status, where
