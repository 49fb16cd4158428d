"""Remote hosts over SNMP v2c/v3 (pysnmp 7, asyncio): one host poll -> one HostSnapshot.

A poll asks for everything in a handful of PDUs:

1. one GET of every scalar (sysUpTime, sysName, sysDescr, hrSystemUptime, hrSystemProcesses,
   snmpEngineBoots, UCD laLoad.1-3, memory, swap and the ssCpuRaw* counters). If this gets no
   answer the host is unreachable and nothing else is sent;
2. then, concurrently, one GETBULK walk per table: hrProcessorLoad, hrStorageTable (5
   columns) and the interface columns (ifName, ifOperStatus, ifHCInOctets, ifHCOutOctets).
   All columns of a table walk side by side in the same PDU, and the repetitions asked for
   are the row count seen last time plus one (to see the table end), so a table whose size
   did not change costs exactly one PDU and one wasted varbind per column.

On a Linux host running net-snmp that is 4 PDUs and about 104 varbinds per poll (more only
for tables bigger than one PDU's varbind budget): about 9 ms of client CPU with v2c, 11.5 ms
with v3 authPriv (pysnmp 7.1.30). A PDU costs about 0.35 ms and a varbind about 0.07 ms
(pyasn1 decoding), so the varbind count matters as much as the PDU count: request varbinds
are built once and reused (pysnmp's MIB resolution of request OIDs was 40 % of a GET's CPU),
and columns the agent turned out not to have are not asked again (interfaces without 64-bit
counters are walked with the 32-bit ones from then on).

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
import importlib
import importlib.util
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
# lookupMib=False: answers stay plain (ObjectName, value) pairs, about 40 % cheaper.
_OPTIONS = {"lookupMib": False}
_FIRST_POLL_ROWS = {"processors": 8, "storage": 16, "interfaces": 16}
_IF_OPER_UP = 1
_SKIPPED_INTERFACES = frozenset({"lo"})
_MAX_INT32 = 1 << 32


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


class SnmpCollector:
    """Polls SNMP agents with one pysnmp `SnmpEngine` for the whole process.

    The engine is created on the first `collect` (about 0.1 s) and reused for every request
    to every host; it belongs to the event loop that first used it. Call `close()` at
    shutdown. At most `max_in_flight` requests are outstanding at once (beyond about 100 the
    engine's UDP receive buffer drops answers); a GETBULK asks for at most
    `max_bulk_varbinds` varbinds; a table walk stops after `max_table_rows` rows or
    `max_table_pdus` PDUs (a truncated table is reported as far as it was read).

    SNMPv3: an agent that reboots (same engine ID, snmpEngineBoots + 1) is resynchronised at
    once. An agent whose engine ID changed (a replaced device, an agent that lost its
    persistent state) stays unreachable for about 5 minutes: pysnmp keeps the engine ID it
    discovered for an address that long and drops answers from another one (measured: 307 s).

    `pdus_sent` counts request PDUs (not retries, not the SNMPv3 engine-ID discovery pysnmp
    does once per agent) and `varbinds_received` the varbinds in answers, for benchmarks.
    """

    def __init__(
        self,
        *,
        max_in_flight: int = 64,
        max_bulk_varbinds: int = 64,
        max_table_rows: int = 2048,
        max_table_pdus: int = 32,
    ) -> None:
        if max_in_flight < 1 or max_bulk_varbinds < 1 or max_table_rows < 1 or max_table_pdus < 1:
            raise ValueError("SnmpCollector limits must be positive")
        self.max_in_flight = max_in_flight
        self.max_bulk_varbinds = max_bulk_varbinds
        self.max_table_rows = max_table_rows
        self.max_table_pdus = max_table_pdus
        self.pdus_sent = 0
        self.varbinds_received = 0
        self.polls = 0
        self._engine: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: asyncio.Semaphore | None = None
        self._object_types: dict[Oid, Any] = {}

    # -- engine lifecycle --------------------------------------------------------------------
    def _ensure_engine(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._engine is None:
            api = _api()
            self._engine = api.SnmpEngine()
            self._loop = loop
            self._in_flight = asyncio.Semaphore(self.max_in_flight)
        elif self._loop is not loop:
            raise RuntimeError("an SnmpCollector is bound to the event loop it first ran in")
        return self._engine

    def close(self) -> None:
        """Release the engine's sockets; a later `collect` creates a new engine."""
        engine, self._engine = self._engine, None
        self._loop = None
        self._in_flight = None
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
        first time); rates and the counter-based CPU percent need it. Raises SnmpUnreachable
        when the agent does not answer."""
        self._ensure_engine()
        self.polls += 1
        session = await self._session(target)
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
            self._walk(session, STORAGE_COLUMNS, hints.get("storage")),
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
            for name in SCALARS
            if name.startswith("cpu_") and (value := _as_int(values.get(name))) is not None
        }
        cpu = cpu_percent(state.cpu_raw, cpu_raw) if state is not None else None
        if cpu is None and state is not None and cpu_raw and cpu_raw == state.cpu_raw:
            # The agent has not refreshed its CPU counters since the last poll (net-snmp
            # caches them for a few seconds): keep the older baseline for the next delta.
            cpu_raw = dict(state.cpu_raw)
        if cpu is None and per_core:
            cpu = sum(per_core) / len(per_core)

        counters, up_status = _interface_counters(if_columns, hc_octets)
        current = CounterState(
            monotonic=reading.monotonic,
            at=reading.at,
            uptime_ticks=reading.uptime_ticks,
            engine_boots=reading.engine_boots,
            interfaces=counters,
            cpu_raw=cpu_raw,
            table_rows=table_rows,
            hc_octets=hc_octets,
        )
        rates = interface_rates(state, current)
        mem_total, mem_used = _memory(values, storage)
        swap_total, swap_used = _swap(values)
        uptime_ticks = _as_int(values.get("host_uptime"))
        if uptime_ticks is None:
            uptime_ticks = reading.uptime_ticks
        snapshot = HostSnapshot(
            host=target.host,
            at=reading.at or clock.now(),
            cpu_percent=cpu,
            per_core_percent=per_core,
            load=_load(values),
            mem_total_bytes=mem_total,
            mem_used_bytes=mem_used,
            swap_total_bytes=swap_total,
            swap_used_bytes=swap_used,
            disks=_disks(storage),
            interfaces=tuple(
                InterfaceRate(name, rx, tx, up_status.get(name)) for name, (rx, tx) in rates.items()
            ),
            uptime_seconds=uptime_ticks / 100.0 if uptime_ticks is not None else None,
            process_count=_as_int(values.get("processes")),
            name=_as_text(values.get("sys_name")),
            description=_as_text(values.get("sys_descr")),
        )
        return snapshot, current

    # -- requests ----------------------------------------------------------------------------
    async def _session(self, target: SnmpTarget) -> _Session:
        api = _api()
        profile = target.profile
        try:
            auth = _auth_data(profile)
        except SnmpAuthError as exc:
            raise SnmpAuthError(f"{target.host}: {exc}") from None
        try:
            transport = await api.UdpTransportTarget.create(
                (target.address, target.port), timeout=profile.timeout, retries=profile.retries
            )
        except _pysnmp_errors() as exc:
            raise SnmpUnreachable(f"{target.host}: {target.address}:{target.port}: {exc}") from exc
        return _Session(target, auth, transport, api.ContextData())

    def _object_type(self, oid: Oid, *, cache: bool) -> Any:
        """A request varbind. pysnmp resolves each request OID against its MIB tree, which
        costs as much as decoding the answer; a resolved ObjectType is reused as is."""
        object_type = self._object_types.get(oid)
        if object_type is None:
            api = _api()
            object_type = api.ObjectType(api.ObjectIdentity(oid))
            if cache:
                self._object_types[oid] = object_type
        return object_type

    async def _request(self, session: _Session, kind: str, *args: Any) -> Any:
        """Send one PDU and return its varbinds; None when the agent answered with an error
        status. Raises SnmpUnreachable when no (usable) answer came."""
        api = _api()
        engine = self._ensure_engine()
        assert self._in_flight is not None
        profile = session.target.profile
        command = api.get_cmd if kind == "get" else api.bulk_cmd
        # pysnmp gives up after timeout x (retries + 1); this only guards against it never
        # calling back, so one silent host can never hold a poll forever.
        guard = profile.timeout * (profile.retries + 1) + 2.0
        async with self._in_flight:
            self.pdus_sent += 1
            try:
                async with asyncio.timeout(guard):
                    answer = await command(
                        engine, session.auth, session.transport, session.context, *args, **_OPTIONS
                    )
            except TimeoutError as exc:
                raise SnmpUnreachable(f"{session.describe()}: no answer in {guard:.1f} s") from exc
            except _pysnmp_errors() as exc:
                raise SnmpUnreachable(f"{session.describe()}: {exc}") from exc
        error_indication, error_status, error_index, varbinds = answer
        if error_indication:
            error = SnmpAuthError if _is_auth_error(error_indication) else SnmpUnreachable
            raise error(f"{session.describe()}: {error_indication}")
        self.varbinds_received += len(varbinds)
        if error_status and int(error_status) != 0:
            log.debug("%s: %s at varbind %s", session.describe(), error_status, int(error_index))
            return None
        return varbinds

    async def _get(self, session: _Session, oids: Sequence[Oid]) -> list[Any] | None:
        """GET: the values in `oids` order (None for a value the agent does not have), or
        None when the agent refused the whole PDU."""
        varbinds = await self._request(
            session, "get", *(self._object_type(oid, cache=True) for oid in oids)
        )
        if varbinds is None or len(varbinds) != len(oids):
            return None
        return [_present(value) for _, value in varbinds]

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
            request = [self._object_type(cursor[c], cache=cursor[c] == c) for c in pending]
            try:
                varbinds = await self._request(session, "bulk", 0, repetitions, *request)
            except SnmpUnreachable as exc:
                log.debug("%s: table %s left out: %s", session.describe(), name, exc)
                return None
            if varbinds is None:
                return None
            if not varbinds:
                break
            finished: set[Oid] = set()
            for position, (oid_value, value) in enumerate(varbinds):
                column = pending[position % len(pending)]
                if column in finished:
                    continue
                oid = tuple(oid_value)
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
            repetitions = self._repetitions(len(pending), None)
        return found

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
    context: Any

    def describe(self) -> str:
        return f"{self.target.host} ({self.target.address}:{self.target.port})"


# -- pysnmp, imported on first use --------------------------------------------------------
_api_module: Any = None


def _api() -> Any:
    global _api_module
    if _api_module is None:
        import pysnmp.hlapi.v3arch.asyncio as api

        _api_module = api
    return _api_module


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
    values: Mapping[str, Any], storage: Mapping[Oid, Mapping[Oid, Any]] | None
) -> tuple[int | None, int | None]:
    """(total, used) bytes. used = total - available, as the local collector counts it:
    available is memSysAvail (the kernel's MemAvailable) when the agent has it, else
    memAvailReal (free) + memBuffer + memCached. Without UCD-SNMP-MIB: hrStorageRam."""
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
    for _, size, used in _storage_rows(storage, HR_STORAGE_RAM):
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
        descr = _as_text(storage[HR_STORAGE_DESCR].get(index))
        units = _as_int(storage[HR_STORAGE_UNITS].get(index))
        size = _as_int(storage[HR_STORAGE_SIZE].get(index))
        used = _as_int(storage[HR_STORAGE_USED].get(index))
        if descr is None or units is None or size is None or used is None or units <= 0:
            continue
        # Integer32 columns: an agent that overflows them wraps negative.
        size, used = size % _MAX_INT32, used % _MAX_INT32
        rows.append((descr, size * units, min(used, size) * units))
    return rows


def _disks(storage: Mapping[Oid, Mapping[Oid, Any]] | None) -> tuple[DiskUsage, ...]:
    disks: dict[str, DiskUsage] = {}
    for mount, size, used in _storage_rows(storage, HR_STORAGE_FIXED_DISK):
        if size > 0 and mount not in disks:
            disks[mount] = DiskUsage(mount, size, used)
    return tuple(sorted(disks.values(), key=lambda disk: disk.mount))


def _interface_counters(
    columns: Mapping[Oid, Mapping[Oid, Any]] | None, hc_octets: bool | None
) -> tuple[dict[str, OctetCounters], dict[str, bool | None]]:
    """Interface name -> raw octet counters, and name -> oper status up, in ifIndex order.
    `lo` is skipped; a name seen twice gets its ifIndex appended."""
    if columns is None:
        return {}, {}
    if hc_octets:
        names, in_column, out_column, bits = IF_NAME, IF_HC_IN_OCTETS, IF_HC_OUT_OCTETS, 64
    else:
        names, in_column, out_column, bits = IF_DESCR, IF_IN_OCTETS, IF_OUT_OCTETS, 32
        if not columns.get(IF_DESCR):
            names = IF_NAME
    indexes = sorted(set(columns.get(names, {})) | set(columns.get(IF_OPER_STATUS, {})))
    counters: dict[str, OctetCounters] = {}
    status: dict[str, bool | None] = {}
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
    return counters, status
