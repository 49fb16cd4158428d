"""Host polls per second and the poller's own CPU per host poll, beside bare pysnmp.

    .venv/bin/python bench/poll.py [--quick] [--agents N] [--hosts N] [--interval S]
                                   [--windows N] [--rewalk-every N]

Real net-snmp snmpd agents (`opsconsole.monitoring.demo.DemoAgents`, one process each on its
own loopback address 127.0.3.x and port) stand in for the estate; a temporary SQLite store
holds a CMDB of `--hosts` monitored CIs spread over them (one switch per agent, every other
host connected to its agent's switch, so parents are looked up as in a real estate), all
polled every `--interval` seconds over SNMP v2c. The default, 1,000 hosts every 6 s (and
--quick: 835 hosts every 5 s), is the rate of 10,000 hosts every 60 s (166.7 host polls/s).

The poller runs as `opsconsole poll` runs it: `Poller.run()`, its scheduler spreading the
hosts over the interval, writing a batch every second in its thread: SNMP, counters,
thresholds, reachability, samples and host state in SQLite, events through the pipeline.
After a warm-up (every host's first poll, when its tables are learned) the run alternates:

1. a window of one interval of the poller, every PDU it sends recorded as it goes out; the
   poller is then stopped (in-flight polls finish, the last batch is written) and its
   schedule is shifted by the pause, so the hosts stay spread when it starts again;
2. the baseline: a bare pysnmp hlapi loop (one SnmpEngine, lookupMib=False, request varbinds
   and transport targets built once) sending exactly the PDUs of that window (same agents,
   same OIDs, same GETBULK repetitions, in the same order per host, each host starting at
   the same moment of the window as with the poller, at most as many in flight) and doing
   nothing with the answers.

Alternating windows share the machine's load (noisy: other processes) between the two.
CPU is `time.process_time()` of this process (every thread: the store writes run in one);
the snmpd agents are other processes and not counted. Figures are medians over windows (a
full garbage collection of the process, ~0.1 s, lands in one window or another: a reason
for medians and for more windows than --quick has). The collector walks each host's tables
every N polls, staggered across hosts, so every window holds about 1/N walks. Not counted:
the metrics maintenance (rollups, retention) that runs once a minute; measured apart it
adds about 0.06 ms per host poll at 10,000 hosts.

Every simulated host reports the CPU of this machine, which the bench keeps busy: with the
default cpu.percent rule they would all cross 90 % at once and the figure would measure the
event pipeline; the rule stays (it is evaluated on every poll) but above 100 %. The time the
event pipeline (`events.pipeline.submit`) takes inside the poller is shown, and its cost per
event is measured at the end on a burst of threshold events (not part of the targets).

Targets (issue 3):
- poller CPU per host poll <= 1.1x the baseline's (the poller adds little on top of pysnmp);
- 10,000 hosts at a 60 s interval (166.7 host polls/s) within half of one core, i.e.
  <= 3.0 ms of CPU per host poll, everything included.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsconsole.cmdb.service import add_ci, relate
from opsconsole.config import Settings, ThresholdSettings
from opsconsole.monitoring.collectors.dispatch import CollectorSet
from opsconsole.monitoring.demo import AgentSpec, DemoAgents, DemoError, snmpd_binary
from opsconsole.monitoring.poller import Poller
from opsconsole.store import Store, open_store
from opsconsole.store.models import CIClass, RelationType

TARGET_RATIO = 1.1
ESTATE_HOSTS = 10_000
ESTATE_INTERVAL_S = 60.0
CORE_SHARE = 0.5
TARGET_CPU_MS = 1000.0 * CORE_SHARE * ESTATE_INTERVAL_S / ESTATE_HOSTS  # 3.0 ms
COMMUNITY = "public"
AGENT_NET = "127.0.3."
ROUND_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 15.0

# One PDU as the poller sent it: (agent address, port, "get" | "bulk", max-repetitions, OIDs).
Pdu = tuple[str, int, str, int, tuple[tuple[int, ...], ...]]


@dataclass
class Figures:
    polls: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    pdus: int = 0
    varbinds: int = 0
    failures: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def add(self, other: Figures) -> None:
        self.polls += other.polls
        self.cpu_s += other.cpu_s
        self.wall_s += other.wall_s
        self.pdus += other.pdus
        self.varbinds += other.varbinds
        self.failures += other.failures
        for key, value in other.extra.items():
            self.extra[key] = self.extra.get(key, 0.0) + value

    @property
    def cpu_ms_per_poll(self) -> float:
        return 1000.0 * self.cpu_s / self.polls if self.polls else float("nan")

    @property
    def polls_per_s(self) -> float:
        return self.polls / self.wall_s if self.wall_s else float("nan")


# -- agents and estate ------------------------------------------------------------------------
def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def agent_specs(count: int) -> list[AgentSpec]:
    specs = []
    for i in range(count):
        address = f"{AGENT_NET}{i + 1}"
        specs.append(AgentSpec(f"bench-agent-{i:02d}", address, free_port(address)))
    return specs


async def wait_until_answering(specs: Sequence[AgentSpec]) -> None:
    """DemoAgents waits for the pid files; this waits for real answers (bounded)."""
    import pysnmp.hlapi.v3arch.asyncio as api

    engine = api.SnmpEngine()
    auth = api.CommunityData(COMMUNITY, mpModel=1)
    uptime = api.ObjectType(api.ObjectIdentity((1, 3, 6, 1, 2, 1, 1, 3, 0)))
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        for spec in specs:
            transport = await api.UdpTransportTarget.create(
                (spec.address, spec.port), timeout=0.3, retries=0
            )
            while True:
                error, status, _, _ = await api.get_cmd(
                    engine, auth, transport, api.ContextData(), uptime, lookupMib=False
                )
                if not error and not status:
                    break
                if time.monotonic() > deadline:
                    raise DemoError(f"{spec.name} does not answer: {error or status}")
                await asyncio.sleep(0.1)
    finally:
        engine.close_dispatcher()


def build_estate(store: Store, specs: Sequence[AgentSpec], hosts: int) -> None:
    with store.write("bench") as session:
        switches = []
        for i, spec in enumerate(specs):
            switches.append(
                add_ci(session, f"sw-{i:02d}", CIClass.NETWORK_DEVICE, monitored=True,
                       collector="snmp", address=spec.address, snmp_port=spec.port,
                       credential_profile="bench")
            )  # fmt: skip
        for i in range(max(0, hosts - len(specs))):
            agent = i % len(specs)
            host = add_ci(session, f"host-{i:05d}", CIClass.HOST, monitored=True,
                          collector="snmp", address=specs[agent].address,
                          snmp_port=specs[agent].port, credential_profile="bench")  # fmt: skip
            relate(session, host, RelationType.CONNECTED_TO, switches[agent])


def bench_settings(concurrency: int, interval: float) -> Settings:
    # cpu.percent above 100 %: see the module docstring.
    defaults = {name: rule.model_dump() for name, rule in ThresholdSettings().defaults.items()}
    defaults["cpu.percent"] = {"warning": 100.5, "critical": 100.5}
    thresholds = {"defaults": defaults}
    return Settings.model_validate(
        {
            "thresholds": thresholds,
            "monitoring": {
                "concurrency": concurrency,
                "local_host": False,
                "interval": interval,
                "write_batch_seconds": 1.0,
            },
            "credentials": {
                "bench": {"version": "2c", "community": COMMUNITY, "timeout": 2.0, "retries": 1}
            },
        }
    )


# -- the poller, with its PDUs recorded ---------------------------------------------------------
class PduRecorder:
    """Wraps the collector's one send method and notes every PDU that got an answer, per
    host, in send order. Costs the poller a list append per PDU (counted against it)."""

    def __init__(self, collector: Any) -> None:
        self.window: dict[str, list[Pdu]] = {}
        self.started: dict[str, float] = {}  # host -> when its first PDU went, from `origin`
        self.origin = time.monotonic()
        original = collector._send

        async def recorded(
            session: Any, bulk: Any, oids: tuple[tuple[int, ...], ...], *args: Any
        ) -> Any:
            self.started.setdefault(session.target.host, time.monotonic() - self.origin)
            answer = await original(session, bulk, oids, *args)
            kind, repetitions = ("get", 0) if bulk is None else ("bulk", bulk[1])
            target = session.target
            pdu = (target.address, target.port, kind, repetitions, tuple(oids))
            self.window.setdefault(target.host, []).append(pdu)
            return answer

        collector._send = recorded

    def new_window(self) -> None:
        self.window, self.started, self.origin = {}, {}, time.monotonic()


class KeptCollectors(CollectorSet):
    """The poller closes its collectors when it stops; between windows they must live on
    (one engine, the counters of every host): closed for real at the end."""

    def close(self) -> None:
        pass

    def close_for_real(self) -> None:
        super().close()


class PollDurations:
    """How long each host poll took (from its start to its result), per window."""

    def __init__(self, poller: Poller) -> None:
        self.seconds: list[float] = []
        original = poller.poll_target

        async def timed(target: Any) -> Any:
            result = await original(target)
            self.seconds.append(result.duration)
            return result

        poller.poll_target = timed  # type: ignore[method-assign]


class PipelineClock:
    """Thread CPU spent in `events.pipeline.submit` as the poller calls it."""

    def __init__(self) -> None:
        import opsconsole.monitoring.poller as poller_module
        import opsconsole.monitoring.recorder as recorder_module

        self.cpu_s = 0.0
        self.events = 0
        modules = [m for m in (poller_module, recorder_module) if hasattr(m, "submit")]
        for module in modules:
            module.submit = self._timed(module.submit)  # type: ignore[attr-defined]
        if not modules:  # the poller imports it where it uses it
            import opsconsole.events.pipeline as pipeline

            pipeline.submit = self._timed(pipeline.submit)

    def _timed(self, submit: Any) -> Any:
        def timed(session: Any, events: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return submit(session, events, *args, **kwargs)
            finally:
                self.cpu_s += time.thread_time() - started
                self.events += len(events)

        return timed


async def poller_window(
    poller: Poller, collectors: KeptCollectors, seconds: float, clock: PipelineClock
) -> Figures:
    """Run the poller as production does for `seconds`, stop it (in-flight polls finish, the
    last batch is written); the figures of what it did meanwhile."""
    snmp = collectors._snmp
    pdus0 = snmp.pdus_sent if snmp is not None else 0
    varbinds0 = snmp.varbinds_received if snmp is not None else 0
    polls0, failures0, events0 = poller.stats.polls, poller.stats.failures, clock.events
    pipeline0 = clock.cpu_s
    stop = asyncio.Event()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    running = asyncio.create_task(poller.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    async with asyncio.timeout(ROUND_TIMEOUT_S):
        await running
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    snmp = collectors._snmp
    return Figures(
        polls=poller.stats.polls - polls0,
        cpu_s=cpu,
        wall_s=wall,
        pdus=(snmp.pdus_sent - pdus0) if snmp is not None else 0,
        varbinds=(snmp.varbinds_received - varbinds0) if snmp is not None else 0,
        failures=poller.stats.failures - failures0,
        extra={"pipeline_s": clock.cpu_s - pipeline0, "events": clock.events - events0},
    )


# -- the baseline: bare pysnmp, the same PDUs ---------------------------------------------------
class Baseline:
    def __init__(self, concurrency: int) -> None:
        import pysnmp.hlapi.v3arch.asyncio as api

        self.api = api
        self.engine = api.SnmpEngine()
        self.auth = api.CommunityData(COMMUNITY, mpModel=1)
        self.context = api.ContextData()
        self.transports: dict[tuple[str, int], Any] = {}
        self.object_types: dict[tuple[int, ...], Any] = {}
        self.concurrency = concurrency

    async def prepare(self, window: dict[str, list[Pdu]]) -> None:
        """Transport targets and request varbinds, built once (as a tuned bare loop would)."""
        api = self.api
        for pdus in window.values():
            for address, port, _, _, oids in pdus:
                if (address, port) not in self.transports:
                    self.transports[address, port] = await api.UdpTransportTarget.create(
                        (address, port), timeout=2.0, retries=1
                    )
                for oid in oids:
                    if oid not in self.object_types:
                        self.object_types[oid] = api.ObjectType(api.ObjectIdentity(oid))

    async def replay(self, window: dict[str, list[Pdu]], started: dict[str, float]) -> Figures:
        """Each host's PDUs in order, the host starting when the poller's did (from the start
        of the window): the same PDUs at the same pace."""
        await self.prepare(window)
        api, engine, auth, context = self.api, self.engine, self.auth, self.context
        figures = Figures()
        gate = asyncio.Semaphore(self.concurrency)
        origin = time.monotonic()

        async def host_poll(host: str, pdus: list[Pdu]) -> None:
            await asyncio.sleep(max(0.0, started.get(host, 0.0) - (time.monotonic() - origin)))
            async with gate:
                for address, port, kind, repetitions, oids in pdus:
                    transport = self.transports[address, port]
                    request = [self.object_types[oid] for oid in oids]
                    if kind == "get":
                        answer = await api.get_cmd(
                            engine, auth, transport, context, *request, lookupMib=False
                        )
                    else:
                        answer = await api.bulk_cmd(
                            engine, auth, transport, context, 0, repetitions, *request,
                            lookupMib=False,
                        )  # fmt: skip
                    error, status, _, varbinds = answer
                    figures.pdus += 1
                    figures.varbinds += len(varbinds)
                    if error or status:
                        figures.failures += 1
            figures.polls += 1

        cpu0, wall0 = time.process_time(), time.perf_counter()
        async with asyncio.timeout(ROUND_TIMEOUT_S):
            await asyncio.gather(*(host_poll(host, pdus) for host, pdus in window.items()))
        figures.cpu_s = time.process_time() - cpu0
        figures.wall_s = time.perf_counter() - wall0
        return figures

    def close(self) -> None:
        self.engine.close_dispatcher()


# -- the run ------------------------------------------------------------------------------------
async def measure(args: argparse.Namespace, store: Store) -> tuple[list[Figures], list[Figures]]:
    settings = bench_settings(args.concurrency, args.interval)
    collectors = KeptCollectors(settings, snmp_rewalk_every=args.rewalk_every)
    poller = Poller(store, settings, name="bench", collectors=collectors)
    baseline = Baseline(args.concurrency)
    clock = PipelineClock()
    durations = PollDurations(poller)
    deadline = time.monotonic() + args.max_seconds
    try:
        # Warm-up: every host's first poll (spread over the first interval) learns its
        # tables; then one more interval.
        warm = await poller_window(poller, collectors, 2 * args.interval, clock)
        snmp = collectors._snmp
        print(
            f"warm-up: {warm.polls} polls in {warm.wall_s:.0f} s (first contact: tables walked), "
            f"re-walk every {getattr(snmp, 'rewalk_every', '?')} polls"
        )
        recorder = PduRecorder(snmp)
        reasons_before = collections.Counter(getattr(snmp, "walk_reasons", {}))
        mine: list[Figures] = []
        bare: list[Figures] = []
        for window in range(args.windows):
            if time.monotonic() > deadline:
                print(f"time budget of {args.max_seconds:.0f} s spent: {window} windows")
                break
            recorder.new_window()
            durations.seconds = []
            ours = await poller_window(poller, collectors, args.interval, clock)
            ours.extra["poll_s"] = statistics.median(durations.seconds or [0.0])
            ours.extra["poll_p95_s"] = sorted(durations.seconds or [0.0])[
                int(0.95 * (len(durations.seconds) - 1))
            ]
            paused = time.monotonic()
            theirs = await baseline.replay(recorder.window, recorder.started)
            poller.delay_all(time.monotonic() - paused)
            mine.append(ours)
            bare.append(theirs)
            took = f"{ours.extra['poll_s'] * 1000:.0f} ms median, "
            took += f"{ours.extra['poll_p95_s'] * 1000:.0f} p95"
            print(
                f"window {window + 1}: poller {ours.cpu_ms_per_poll:.3f} ms/poll "
                f"({ours.polls} polls, {ours.pdus} PDUs, {ours.varbinds} varbinds, "
                f"{ours.failures} failed, {ours.polls_per_s:,.0f} polls/s, "
                f"{int(ours.extra['events'])} events, a poll took {took}); "
                f"baseline {theirs.cpu_ms_per_poll:.3f} ms/poll ({theirs.pdus} PDUs, "
                f"{theirs.varbinds} varbinds, {theirs.failures} failed)"
            )
        args.walk_reasons = collections.Counter(getattr(snmp, "walk_reasons", {}))
        args.walk_reasons.subtract(reasons_before)
        args.walk_reasons = +args.walk_reasons  # during the windows only
        return mine, bare
    finally:
        collectors.close_for_real()
        baseline.close()


def pipeline_cost(store: Store, count: int) -> tuple[float, float]:
    """Thread CPU per event through `events.pipeline.submit` for a burst of `count` threshold
    events on as many hosts (one transaction), then for their clears."""
    from sqlalchemy import select

    from opsconsole import clock as clock_module
    from opsconsole.events.pipeline import Event, submit
    from opsconsole.store.models import CI, Severity

    with store.read() as session:
        ids = list(session.scalars(select(CI.id).order_by(CI.id).limit(count)))
    figures = []
    for clear in (False, True):
        at = clock_module.now()
        events = [
            Event(source="monitoring", check="fs.percent", resource="/bench", at=at, ci_id=ci_id,
                  severity=Severity.INFO if clear else Severity.WARNING, clear=clear,
                  message=f"bench: fs.percent /bench {'back' if clear else 'at 85.0'}")
            for ci_id in ids
        ]  # fmt: skip
        started = time.thread_time()
        with store.write("bench") as session:
            submit(session, events)
        figures.append(1000.0 * (time.thread_time() - started) / max(len(events), 1))
    return figures[0], figures[1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(
    args: argparse.Namespace,
    mine: list[Figures],
    bare: list[Figures],
    pipeline: tuple[float, float],
) -> bool:
    if not mine:
        print("nothing measured")
        return False
    cpu = median([f.cpu_ms_per_poll for f in mine])
    base = median([f.cpu_ms_per_poll for f in bare])
    ratios = [m.cpu_ms_per_poll / b.cpu_ms_per_poll for m, b in zip(mine, bare, strict=True)]
    ratio = median(ratios)
    rate = median([f.polls_per_s for f in mine])
    base_rate = median([f.polls_per_s for f in bare])
    polls = sum(f.polls for f in mine)
    pdus = sum(f.pdus for f in mine) / polls
    varbinds = sum(f.varbinds for f in mine) / polls
    failures = sum(f.failures for f in mine)
    events = sum(int(f.extra["events"]) for f in mine)
    in_pipeline = 1000.0 * sum(f.extra["pipeline_s"] for f in mine) / polls
    needed = ESTATE_HOSTS / ESTATE_INTERVAL_S
    cores = needed * cpu / 1000.0
    spread = [f.cpu_ms_per_poll for f in mine]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(f"{args.agents} snmpd agents, {args.hosts} hosts every {args.interval:g} s "
          f"({args.hosts / args.interval:.0f} polls/s scheduled), SNMP v2c, {len(mine)} windows "
          f"of {args.interval:g} s, {os.cpu_count()} CPUs, load average {load}")  # fmt: skip
    print(f"  PDUs per host poll                {pdus:8.2f}   varbinds {varbinds:.1f}")
    scheduled = args.hosts / args.interval
    print(f"  poller   host polls/s (wall)      {rate:8,.0f}   (scheduled: {scheduled:.0f})")
    print(
        f"  poller   CPU per host poll        {cpu:8.3f} ms   (windows {min(spread):.3f} .. "
        f"{max(spread):.3f}; in the event pipeline {in_pipeline:.3f}, {events} events)"
    )
    print(f"  baseline host polls/s (wall)      {base_rate:8,.0f}   (paced as the poller)")
    print(f"  baseline CPU per host poll        {base:8.3f} ms   (bare pysnmp hlapi, same PDUs)")
    print(
        f"  ratio poller/baseline             {ratio:8.2f}x   per window: "
        + ", ".join(f"{r:.2f}" for r in ratios)
    )
    print(f"  {ESTATE_HOSTS:,} hosts / {ESTATE_INTERVAL_S:.0f} s = {needed:.1f} polls/s "
          f"-> {cores:.2f} of one core")  # fmt: skip
    print(
        f"  event pipeline alone: {pipeline[0]:.2f} ms CPU per threshold event raised, "
        f"{pipeline[1]:.2f} ms per clear (burst of {args.pipeline_events}; not a target)"
    )
    if args.walk_reasons:
        print(
            "  table walks: "
            + ", ".join(f"{n} {why}" for why, n in args.walk_reasons.most_common())
        )
    if failures:
        print(f"  {failures} host polls failed: the figures are suspect")
    ok_ratio = ratio <= TARGET_RATIO
    ok_cpu = cpu <= TARGET_CPU_MS
    print(f"  target CPU/poll <= {TARGET_RATIO:.1f}x baseline:          "
          f"{'PASS' if ok_ratio else 'FAIL'} ({ratio:.2f}x)")  # fmt: skip
    print(f"  target <= {TARGET_CPU_MS:.1f} ms CPU/poll (10k hosts/60 s "
          f"in {CORE_SHARE:.1f} core): {'PASS' if ok_cpu else 'FAIL'} ({cpu:.3f} ms, "
          f"{cores:.2f} core)")  # fmt: skip
    return ok_ratio and ok_cpu and not failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under 60 s")
    parser.add_argument("--agents", type=int, help="snmpd processes (default 8, quick 4)")
    parser.add_argument("--hosts", type=int, help="monitored CIs (default 1000, quick 835)")
    parser.add_argument("--interval", type=float, help="poll interval, s (default 6, quick 5)")
    parser.add_argument("--windows", type=int, help="poller/baseline alternations (6, quick 3)")
    parser.add_argument(
        "--rewalk-every",
        type=int,
        help="SNMP table walk every N polls (default: monitoring.snmp_rewalk_every, 10)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="hosts in flight")
    parser.add_argument("--pipeline-events", type=int, default=200, help="events in the burst")
    parser.add_argument(
        "--max-seconds", type=float, help="stop starting windows after this (default 300, quick 45)"
    )
    parser.add_argument("--verbose", action="store_true", help="log the poller at INFO")
    args = parser.parse_args(argv)  # fmt: skip
    args.walk_reasons = collections.Counter()
    args.agents = args.agents or (4 if args.quick else 8)
    args.hosts = args.hosts or (835 if args.quick else 1000)
    args.interval = args.interval or (5.0 if args.quick else 6.0)
    args.windows = args.windows or (3 if args.quick else 6)
    args.max_seconds = args.max_seconds or (45.0 if args.quick else 300.0)
    if not 1 <= args.agents <= 200 or not args.agents <= args.hosts <= 20_000:
        parser.error("want 1..200 agents and agents..20000 hosts")
    if not 5 <= args.interval <= 600 or not 1 <= args.windows <= 100:
        parser.error("want an interval of 5..600 s and 1..100 windows")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if snmpd_binary() is None:
        print("snmpd is not installed (Debian: apt-get install snmpd): nothing to measure")
        return 2
    started = time.monotonic()
    specs = agent_specs(args.agents)
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-poll-") as tmp:
        store = open_store(f"sqlite+pysqlite:///{Path(tmp) / 'store.db'}")
        try:
            build_estate(store, specs, args.hosts)
            with DemoAgents(specs):
                asyncio.run(wait_until_answering(specs))
                mine, bare = asyncio.run(measure(args, store))
            pipeline = pipeline_cost(store, min(args.pipeline_events, args.hosts))
        finally:
            with contextlib.suppress(Exception):
                store.dispose()
    ok = report(args, mine, bare, pipeline)
    print(f"  ({time.monotonic() - started:.0f} s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
