"""Events per second through the whole pipeline into SQLite, beside the floor of the store.

    .venv/bin/python bench/ingest.py [--quick] [--events N] [--alerts N] [--config FILE]
                                     [--budget SECONDS]

1. Ingest: N events (a few thousand fingerprints on a CMDB of hosts and services, repeats,
   severity changes, some clears) through `events.pipeline.process` in batches, one write
   transaction each: normalize, dedup, suppress, correlate, store, rules. The configuration is
   the console's start-up one: the config (`--config`, else the defaults) handed to
   `events.pipeline.configure` and `itsm.rules.configure`, so the ITSM rule hook runs on every
   batch with the configured rules (it opens incidents: the hosts are production ones of
   high-criticality services). For comparison only, the same events again without the hook.
   Baseline, same run: the same rows upserted into the same `alert` table with plain sqlite3
   executemany, `ON CONFLICT(dedup_key) DO UPDATE SET count = count + 1, ...`, one transaction
   per batch. Targets: >= 20,000 events/s, and within 10x of the baseline.
   Bounded: N events, and each pipeline run stops after `--budget` seconds (then every figure,
   baseline included, is taken over the events that run got through).
2. Queue: a store of 1,000,000 alerts (built with raw sqlite3 executemany), then one page of
   the queue (200 rows, `events.queries.alert_page`, keyset paging) fetched at the top, the
   middle and the end, for the "all" and the "open" views. Target: < 5 ms at any depth.

Figures are medians where repeated; the machine is noisy, so compare within one run.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsconsole import clock
from opsconsole.cmdb.service import add_ci, relate
from opsconsole.config import Settings
from opsconsole.config import load as load_config
from opsconsole.events import pipeline
from opsconsole.events.fingerprint import fingerprint
from opsconsole.events.pipeline import Event, process
from opsconsole.events.queries import Cursor, View, alert_page
from opsconsole.itsm import rules as itsm_rules
from opsconsole.store import open_store
from opsconsole.store.alert_models import SEVERITY_LEVEL
from opsconsole.store.models import CIClass, RelationType, Severity

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CHECKS = ("cpu.percent", "mem.percent", "fs.percent", "if.errors", "app.latency", "ntp.offset")
RESOURCES = {"fs.percent": ("/", "/var", "/home"), "if.errors": ("eth0", "eth1")}
SEVERITIES = (Severity.WARNING, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL)
TARGET_EPS = 20_000
TARGET_RATIO = 10.0
TARGET_PAGE_MS = 5.0


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sqlite_timestamp(when: datetime) -> str:
    """How SQLAlchemy stores a UTCDateTime in SQLite (naive UTC, microseconds)."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def build_estate(url: str, hosts: int, services: int) -> dict[str, int]:
    store = open_store(url)
    ids: dict[str, int] = {}
    with store.write("bench") as session:
        svc = [
            add_ci(session, f"svc-{i:02d}", CIClass.SERVICE, criticality="high")
            for i in range(services)
        ]
        for i in range(hosts):
            host = add_ci(
                session, f"host-{i:04d}", CIClass.HOST, address=f"127.0.{i // 250}.{i % 250 + 1}"
            )
            relate(session, svc[i % services], RelationType.DEPENDS_ON, host)
            ids[host.name] = host.id
    store.dispose()
    return ids


def make_events(
    count: int, hosts: dict[str, int], fingerprints: int, seed: int = 42
) -> list[Event]:
    rng = random.Random(seed)
    names = sorted(hosts)
    series = []
    for _ in range(fingerprints):
        check = rng.choice(CHECKS)
        series.append((rng.choice(names), check, rng.choice(RESOURCES.get(check, ("",))),
                       rng.choice(SEVERITIES)))  # fmt: skip
    events = []
    for i in range(count):
        name, check, resource, usual = series[int(rng.paretovariate(1.2) * 7) % fingerprints]
        clear = rng.random() < 0.05
        # Mostly the series' usual severity; now and then worse or better.
        severity = (
            Severity.INFO if clear else (rng.choice(SEVERITIES) if rng.random() < 0.1 else usual)
        )
        events.append(Event(
            source="bench", check=check, severity=severity,
            message=f"{check} {resource} on {name}: {i}",
            at=START + timedelta(milliseconds=i * 5), ci_id=hosts[name], resource=resource,
            clear=clear,
        ))  # fmt: skip
    return events


def configure_as_startup(settings: Settings) -> str:
    """What the console's start-up does with the config (cli._configure_domains): the events
    pipeline and the ITSM rule hook get their settings. Returns a line saying so."""
    pipeline.configure(settings.events)
    itsm_rules.configure(settings.itsm)
    enabled = [r.name for r in settings.itsm.rules if r.enabled]
    hook = f"ON, rules: {', '.join(enabled)}" if enabled else "on, but no rule enabled"
    return (
        f"start-up configuration: pipeline.configure + itsm.rules.configure; "
        f"ITSM rule hook {hook}; events.batch_size {settings.events.batch_size:,}"
    )


@dataclass
class Run:
    seconds: float
    cpu: float
    events: int  # how many went through before the budget ran out (all, normally)
    incidents: int = 0
    links: int = 0


def run_pipeline(
    url: str, events: list[Event], batch: int, budget: float, rules: bool = True
) -> Run:
    """Events through `process` with the configured settings (as the poller calls it), one
    transaction per `batch` events, until done or `budget` seconds passed."""
    store = open_store(url)
    clock.use(clock.ManualClock(START + timedelta(hours=2)))
    saved = pipeline.RULE_MODULES
    pipeline.RULE_MODULES = saved if rules else ()
    done = 0
    try:
        began, cpu = time.perf_counter(), time.process_time()
        for part in chunks(events, batch):
            with store.write("bench") as session:
                process(session, part)
            done += len(part)
            if time.perf_counter() - began > budget:
                break
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        pipeline.RULE_MODULES = saved
    run = Run(elapsed, cpu, done)
    with store.engine.connect() as conn:
        try:
            run.incidents = conn.exec_driver_sql("SELECT count(*) FROM incident").scalar() or 0
            run.links = conn.exec_driver_sql("SELECT count(*) FROM incident_alert").scalar() or 0
        except Exception:  # no service management tables
            pass
    store.dispose()
    return run


UPSERT = """
INSERT INTO alert (fingerprint, dedup_key, source, ci_id, ci_name, "check", resource, key,
    severity, severity_level, state, message, count, first_seen, last_seen, updated_at,
    reopen_count, ack_sticky, flap_changes, flap_value, flapping, problem, services, payload,
    version)
VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 'open', ?, 1, ?, ?, ?, 0, 0, '', 0, 0, 1, '', '{}', 1)
ON CONFLICT(dedup_key) DO UPDATE SET count = count + 1, last_seen = excluded.last_seen,
    message = excluded.message, severity = excluded.severity,
    severity_level = excluded.severity_level, updated_at = excluded.updated_at,
    version = version + 1
"""


def run_baseline(path: Path, events: list[Event], batch: int, names: dict[int, str]) -> float:
    store = open_store(f"sqlite+pysqlite:///{path}")  # the same schema, migrated
    store.dispose()
    rows = [
        (fp, fp, e.source, e.ci_id, names[e.ci_id or 0], e.check, e.resource, e.severity.value,
         SEVERITY_LEVEL[e.severity], e.message, ts, ts, ts)
        for e in events
        for fp, ts in [(fingerprint(e.source, e.ci_id, names[e.ci_id or 0], e.check,
                                    e.resource, None), sqlite_timestamp(e.at))]
    ]  # fmt: skip
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    began = time.perf_counter()
    for part in chunks(rows, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(UPSERT, part)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return elapsed


# --- the queue over a million alerts -----------------------------------------------------------

STATES = (("open", 5), ("acknowledged", 2), ("suppressed", 1), ("resolved", 80), ("closed", 12))


def build_queue(path: Path, count: int, seed: int = 7) -> float:
    store = open_store(f"sqlite+pysqlite:///{path}")
    store.dispose()
    rng = random.Random(seed)
    states = [s for s, weight in STATES for _ in range(weight)]
    levels = list(SEVERITY_LEVEL.items())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    sql = """INSERT INTO alert (id, fingerprint, dedup_key, source, ci_name, "check", resource,
        severity, severity_level, state, message, count, first_seen, last_seen, updated_at,
        reopen_count, ack_sticky, flap_changes, flap_value, flapping, problem, services, payload,
        version, parent_id)
        VALUES (?, ?, ?, 'bench', ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', 0, 0, 1, ?, '{}', 1,
        ?)"""
    began = time.perf_counter()
    step = 50_000
    for start in range(1, count + 1, step):
        rows = []
        for i in range(start, min(start + step, count + 1)):
            severity, level = levels[rng.randrange(len(levels))]
            state = rng.choice(states)
            seen = sqlite_timestamp(START - timedelta(seconds=count - i + rng.randrange(600)))
            fp = f"{i:040x}"
            parent = i - 1 - rng.randrange(5) if i > 10 and rng.random() < 0.1 else None
            rows.append((
                i, fp, fp if state != "closed" else None, f"host-{i % 5000:04d}",
                CHECKS[i % len(CHECKS)], severity.value, level, state, f"alert {i}",
                1 + i % 7, seen, seen, seen, f"svc-{i % 30:02d}", parent,
            ))  # fmt: skip
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - began


def cursor_at(path: Path, view: View, depth: int) -> Cursor | None:
    """The sort key `depth` rows down (setup only: OFFSET is fine here, never in the queue)."""
    where = "parent_id IS NULL" + ("" if view is View.ALL else f" AND state = '{view.value}'")
    conn = sqlite3.connect(path)
    row = conn.execute(
        f"SELECT severity_level, last_seen, id FROM alert WHERE {where} "
        "ORDER BY severity_level DESC, last_seen DESC, id DESC LIMIT 1 OFFSET ?",
        (depth,),
    ).fetchone()
    total = conn.execute(f"SELECT count(*) FROM alert WHERE {where}").fetchone()[0]
    conn.close()
    if row is None or depth <= 0:
        return None
    del total
    return Cursor(row[0], datetime.fromisoformat(row[1]).replace(tzinfo=UTC), row[2])


def time_pages(path: Path, view: View, repeats: int) -> list[tuple[str, float, int]]:
    conn = sqlite3.connect(path)
    where = "parent_id IS NULL" + ("" if view is View.ALL else f" AND state = '{view.value}'")
    total = conn.execute(f"SELECT count(*) FROM alert WHERE {where}").fetchone()[0]
    conn.close()
    store = open_store(f"sqlite+pysqlite:///{path}", upgrade=False)
    results = []
    for label, depth in (("top", 0), ("middle", total // 2), ("end", max(total - 150, 0))):
        cursor = cursor_at(path, view, depth)
        times = []
        rows = 0
        with store.read() as session:
            alert_page(session, view, after=cursor, limit=200)  # warm the statement cache
            for _ in range(repeats):
                began = time.perf_counter()
                page = alert_page(session, view, after=cursor, limit=200)
                times.append((time.perf_counter() - began) * 1000)
                rows = len(page.rows)
        results.append((f"{label} (row {depth:,})", statistics.median(times), rows))
    store.dispose()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: runs in under 30 s")
    parser.add_argument("--events", type=int, help="events to ingest")
    parser.add_argument("--alerts", type=int, help="alerts in the queue store")
    parser.add_argument("--batch", type=int, default=5000, help="events per transaction")
    parser.add_argument("--config", help="config file (default: the built-in defaults)")
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds at most per pipeline run"
    )
    args = parser.parse_args(argv)
    events_n = args.events or (30_000 if args.quick else 200_000)
    alerts_n = args.alerts or (100_000 if args.quick else 1_000_000)
    settings = load_config(args.config) if args.config else Settings()
    ok = True
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-") as tmp:
        base = Path(tmp)
        url = f"sqlite+pysqlite:///{base / 'pipeline.db'}"
        hosts = build_estate(url, hosts=500, services=30)
        names = {ci_id: name for name, ci_id in hosts.items()}
        events = make_events(events_n, hosts, fingerprints=5000)
        print(f"ingest: {events_n:,} events, 500 production hosts, 30 high-criticality "
              f"services, {args.batch:,} events per transaction")  # fmt: skip
        print(f"  {configure_as_startup(settings)}")
        real = run_pipeline(url, events, args.batch, args.budget)
        if real.events < events_n:
            print(f"  budget of {args.budget:.0f} s reached: figures over the first "
                  f"{real.events:,} events")  # fmt: skip
            events = events[: real.events]
        counted = real.events
        bare_url = f"sqlite+pysqlite:///{base / 'bare.db'}"
        build_estate(bare_url, hosts=500, services=30)
        bare = run_pipeline(bare_url, events, args.batch, args.budget, rules=False)
        baseline_s = run_baseline(base / "baseline.db", events, args.batch, names)
        eps, floor = counted / real.seconds, counted / baseline_s
        ratio = floor / eps
        print(
            f"  pipeline, rule hook on (start-up) {eps:>10,.0f} events/s"
            f"   ({counted / real.cpu:,.0f} per CPU second; the rules opened {real.incidents} "
            f"incidents and linked {real.links} alerts)"
        )
        print(
            f"  for comparison: no rule hook      {bare.events / bare.seconds:>10,.0f} events/s"
            f"   ({bare.events / bare.cpu:,.0f} per CPU second; not the real configuration)"
        )
        print(f"  baseline (sqlite3 upsert)         {floor:>10,.0f} events/s")
        print(
            f"  ratio baseline/pipeline           {ratio:>10.1f}x   (target <= {TARGET_RATIO:.0f}x)"
        )
        met_eps = "met" if eps >= TARGET_EPS else "MISSED"
        met_ratio = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(f"  target >= {TARGET_EPS:,} events/s with the rule hook: {met_eps}; within "
              f"{TARGET_RATIO:.0f}x: {met_ratio}")  # fmt: skip
        ok = ok and eps >= TARGET_EPS and ratio <= TARGET_RATIO

        queue = base / "queue.db"
        build_s = build_queue(queue, alerts_n)
        print(f"queue: {alerts_n:,} alerts built in {build_s:.1f} s (raw sqlite3 executemany)")
        for view in (View.ALL, View.OPEN):
            for label, ms, rows in time_pages(queue, view, repeats=5 if args.quick else 15):
                mark = "" if ms < TARGET_PAGE_MS else "   MISSED"
                print(f"  {view.value:<5} page at {label:<22} {ms:6.2f} ms  ({rows} rows){mark}")
                ok = ok and ms < TARGET_PAGE_MS
        print(f"  target < {TARGET_PAGE_MS:.0f} ms per page at any depth")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
