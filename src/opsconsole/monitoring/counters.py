"""Counter arithmetic for polled agents: deltas across wraps, restarts, rates and CPU percent.

SNMP counters (Counter32, Counter64, ssCpuRaw*) only ever go up and wrap to 0 at 2**bits; a
rate needs two readings. These are pure functions over two readings, so every rule is
unit-tested without an agent. The rules:

* First reading (no previous value), or a value missing from either reading: no delta (None).
* Agent restarted between the readings: no delta. A restart is seen when sysUpTime went
  backwards, when snmpEngineBoots changed, or when sysUpTime advanced clearly less than the
  wall clock did (the agent restarted and has been up less than the poll interval, which is
  the case a "went backwards" test alone misses). sysUpTime itself wraps after 497 days;
  that looks like a restart and costs one reading, which is the safe side.
* cur >= prev: cur - prev.
* cur < prev without a restart: the counter wrapped once, delta = cur + 2**bits - prev, but
  only if that is less than half the counter's range. A bigger "wrapped" delta is far more
  likely a discontinuity (interface reset, counter cleared, device replaced behind the same
  address) than a wrap: report None rather than a huge false rate. For Counter64 this means
  any decrease is treated as a discontinuity in practice; for Counter32 a true delta of more
  than 2**31 between polls (1 Gbit/s for 17 s) is lost rather than misreported.
* Elapsed time for a rate: the agent's sysUpTime delta (TimeTicks, 1/100 s, stamped by the
  agent when it answered, free of our scheduling and network jitter) when both readings
  have it, else the local monotonic clock. Zero or negative elapsed time: no rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

TICKS_PER_SECOND = 100  # SNMP TimeTicks are hundredths of a second

# A restart is declared when sysUpTime advanced less than the wall clock minus this slack
# (seconds), plus a fraction of the wall interval for clock-rate differences. The slack
# covers request latency and retries between the two readings' timestamps.
RESTART_SLACK_SECONDS = 5.0
RESTART_SLACK_FRACTION = 0.05

# ssCpuRaw* fields that add up to the total CPU time (UCD-SNMP-MIB systemStats). On Linux
# net-snmp's ssCpuRawSystem already includes interrupt and softirq time, and guest time is
# inside user time, so ssCpuRawKernel/Interrupt/SoftIRQ/Guest are left out (no double count).
CPU_TOTAL_FIELDS = ("user", "nice", "system", "idle", "wait", "steal")
CPU_IDLE_FIELDS = ("idle", "wait")  # iowait is idle time, as psutil's cpu_percent counts it


@dataclass(frozen=True)
class OctetCounters:
    """One interface's raw octet counters and their width (64 for ifHC*, 32 for if*Octets)."""

    rx: int | None
    tx: int | None
    bits: int


@dataclass(frozen=True)
class CounterState:
    """One agent's raw readings from the last poll: what the next poll's rates start from.

    `interfaces` maps interface name -> octet counters; `cpu_raw` maps ssCpuRaw field name
    (user, nice, system, idle, wait, steal) -> ticks. `uptime_ticks` is sysUpTime,
    `engine_boots` snmpEngineBoots (None where the agent does not show it). `monotonic` is
    time.monotonic() when the answer arrived and `at` the wall-clock time of the sample.

    `table_rows` and `hc_octets` are what the collector learned about the agent (rows per
    table, whether 64-bit interface counters exist) so the next poll asks just for that;
    `shape` is whatever else the collector needs for its next poll (for SNMP, what the last
    table walk found: `collectors.snmp.AgentShape`), opaque here.
    """

    monotonic: float
    at: datetime | None = None
    uptime_ticks: int | None = None
    engine_boots: int | None = None
    interfaces: Mapping[str, OctetCounters] = field(default_factory=dict)
    cpu_raw: Mapping[str, int] = field(default_factory=dict)
    table_rows: Mapping[str, int] = field(default_factory=dict)
    hc_octets: bool | None = None
    shape: object | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Own copies, so a caller mutating its dict later cannot change a past reading.
        object.__setattr__(self, "interfaces", dict(self.interfaces))
        object.__setattr__(self, "cpu_raw", dict(self.cpu_raw))
        object.__setattr__(self, "table_rows", dict(self.table_rows))


def counter_delta(
    prev: int | None, cur: int | None, bits: int, *, restarted: bool = False
) -> int | None:
    """How much a `bits`-wide counter advanced from `prev` to `cur`; None when that is not
    knowable (first reading, agent restart, or a discontinuity - see the module rules)."""
    if bits <= 0:
        raise ValueError(f"counter width must be positive, not {bits}")
    if prev is None or cur is None or restarted:
        return None
    modulus = 1 << bits
    if not (0 <= prev < modulus and 0 <= cur < modulus):
        raise ValueError(f"counter value out of range for {bits} bits: {prev} -> {cur}")
    if cur >= prev:
        return cur - prev
    wrapped = cur + modulus - prev
    return wrapped if wrapped < modulus // 2 else None


def agent_restarted(prev: CounterState, cur: CounterState) -> bool:
    """Did the agent restart (or its sysUpTime wrap) between two readings?"""
    if (
        prev.engine_boots is not None
        and cur.engine_boots is not None
        and prev.engine_boots != cur.engine_boots
    ):
        return True
    if prev.uptime_ticks is None or cur.uptime_ticks is None:
        return False
    if cur.uptime_ticks < prev.uptime_ticks:
        return True
    uptime_elapsed = (cur.uptime_ticks - prev.uptime_ticks) / TICKS_PER_SECOND
    wall_elapsed = cur.monotonic - prev.monotonic
    slack = RESTART_SLACK_SECONDS + RESTART_SLACK_FRACTION * max(wall_elapsed, 0.0)
    return uptime_elapsed + slack < wall_elapsed


def elapsed_seconds(prev: CounterState, cur: CounterState) -> float | None:
    """Seconds between two readings: by the agent's sysUpTime when both have it, else by the
    local monotonic clock. None after a restart or when no time passed."""
    if agent_restarted(prev, cur):
        return None
    if prev.uptime_ticks is not None and cur.uptime_ticks is not None:
        seconds = (cur.uptime_ticks - prev.uptime_ticks) / TICKS_PER_SECOND
    else:
        seconds = cur.monotonic - prev.monotonic
    return seconds if seconds > 0 else None


def counter_rate(
    prev: int | None, cur: int | None, bits: int, elapsed: float | None
) -> float | None:
    """Units per second between two readings `elapsed` seconds apart (None when unknown).
    Pass the result of `elapsed_seconds`, which is None across a restart."""
    if elapsed is None or elapsed <= 0:
        return None
    delta = counter_delta(prev, cur, bits)
    return None if delta is None else delta / elapsed


def interface_rates(
    prev: CounterState | None, cur: CounterState
) -> dict[str, tuple[float | None, float | None]]:
    """Interface name -> (rx, tx) bytes per second for every interface in `cur`; (None, None)
    for one seen for the first time or whose counter width changed (HC appeared/vanished)."""
    elapsed = elapsed_seconds(prev, cur) if prev is not None else None
    rates: dict[str, tuple[float | None, float | None]] = {}
    for name, now in cur.interfaces.items():
        before = prev.interfaces.get(name) if prev is not None else None
        if before is None or before.bits != now.bits:
            rates[name] = (None, None)
            continue
        rates[name] = (
            counter_rate(before.rx, now.rx, now.bits, elapsed),
            counter_rate(before.tx, now.tx, now.bits, elapsed),
        )
    return rates


def cpu_percent(
    prev: Mapping[str, int], cur: Mapping[str, int], *, restarted: bool = False
) -> float | None:
    """Busy CPU percent (0-100) from two readings of the ssCpuRaw* Counter32 tick counters.

    None when either reading lacks the idle counter, after a restart, when a counter had a
    discontinuity, or when no tick was counted in between (the agent caches these counters
    for a few seconds: two polls inside that window see the same numbers)."""
    if restarted or "idle" not in prev or "idle" not in cur:
        return None
    total = 0
    idle = 0
    for name in CPU_TOTAL_FIELDS:
        if name not in prev or name not in cur:
            continue  # a field this agent does not report: it is in neither total nor idle
        delta = counter_delta(prev[name], cur[name], 32)
        if delta is None:
            return None
        total += delta
        if name in CPU_IDLE_FIELDS:
            idle += delta
    if total <= 0:
        return None
    return 100.0 * (total - idle) / total
