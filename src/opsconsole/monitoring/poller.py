"""The poller: one asyncio scheduler for every monitored CI of this shard.

- The next poll of a host is scheduled when its last one finishes, so polls never pile up.
- First polls are spread over the interval by a stable hash of the name (jitter), so a
  thousand hosts are not asked in the same millisecond.
- A semaphore bounds requests in flight (pysnmp drops packets past about 100 per engine).
- A failing host is re-polled at retry_interval until it is DOWN, then backs off
  exponentially up to max_backoff; a slow host only ever delays itself.
- Results are written in batches, in a thread, one short transaction per batch.
- The loop sleeps until the next thing is due and is woken only by what is due sooner (a
  poll scheduled before its deadline, "poll now", stop): a finished poll does not wake it.
  Polls due within START_SLACK of each other start together, so a thousand hosts spread over
  a minute cost a few dozen wake-ups a second, not one per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from opsconsole import clock
from opsconsole.config import Settings
from opsconsole.events.pipeline import Event, submit
from opsconsole.monitoring.collectors.dispatch import CollectorSet, PollFailure
from opsconsole.monitoring.metrics import maintain
from opsconsole.monitoring.recorder import BatchSummary, PollResult, record
from opsconsole.monitoring.targets import PollTarget, Shard, load_targets
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.engine import Store
from opsconsole.store.models import Collector

log = logging.getLogger(__name__)
TARGET_REFRESH_SECONDS = 15.0
STOP_GRACE_SECONDS = 10.0
START_SLACK = 0.05  # seconds: a poll may start this much early to share a wake-up


@dataclass
class PollerStats:
    polls: int = 0
    failures: int = 0
    batches: int = 0
    samples: int = 0
    events: int = 0
    write_seconds: float = 0.0
    state_changes: list[tuple[str, str, str]] = field(default_factory=list)


class Poller:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        shard: Shard | None = None,
        name: str = "poller",
        collectors: CollectorSet | None = None,
        on_batch: Callable[[BatchSummary], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.shard = shard or Shard()
        self.name = name
        self.collectors = collectors or CollectorSet(
            settings, snmp_rewalk_every=settings.monitoring.snmp_rewalk_every
        )
        self.on_batch = on_batch
        self.stats = PollerStats()
        self._targets: dict[int, PollTarget] = {}
        self._failures: dict[int, int] = {}
        self._heap: list[tuple[float, int, int]] = []  # (due, generation, ci_id)
        self._generation: dict[int, int] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._pending: list[PollResult] = []
        self._pending_events: list[Event] = []
        self._wake = asyncio.Event()
        self._sleep_until = -math.inf  # while the loop sleeps: when it will wake by itself
        self._feed_position = -1
        self._semaphore = asyncio.Semaphore(settings.monitoring.concurrency)

    # --- targets ---------------------------------------------------------------------------

    @property
    def targets(self) -> list[PollTarget]:
        return list(self._targets.values())

    async def refresh_targets(self) -> bool:
        """Reload the targets if the CMDB moved since the last look; True if it did."""
        position, targets = await asyncio.to_thread(self._read_targets)
        if position == self._feed_position:
            return False
        self._feed_position = position
        fresh = {t.ci_id: t for t in targets}
        now = time.monotonic()
        for ci_id, target in fresh.items():
            if ci_id not in self._targets:
                self._schedule(ci_id, now + self._first_offset(target))
        for ci_id in set(self._targets) - set(fresh):
            self._generation[ci_id] = self._generation.get(ci_id, 0) + 1  # drop its heap entry
        self._targets = fresh
        return True

    def _read_targets(self) -> tuple[int, list[PollTarget]]:
        with self.store.read() as session:
            position = latest_change_id(session)
            if position == self._feed_position:
                return position, []
            targets = load_targets(
                session,
                self.settings.monitoring,
                self.shard,
                self.settings.monitoring.local_interval,
            )
            return position, targets

    @staticmethod
    def _first_offset(target: PollTarget) -> float:
        if target.collector is Collector.LOCAL:
            return 0.0
        spread = zlib.crc32(target.name.encode()) / 2**32
        return spread * target.interval

    def _schedule(self, ci_id: int, due: float) -> None:
        generation = self._generation.get(ci_id, 0) + 1
        self._generation[ci_id] = generation
        heapq.heappush(self._heap, (due, generation, ci_id))
        if due < self._sleep_until:
            self._wake.set()

    def delay_all(self, seconds: float) -> None:
        """Push every scheduled poll `seconds` later, keeping their spread (after the
        process was paused, rather than every host falling due at once)."""
        self._heap = [(due + seconds, generation, ci_id) for due, generation, ci_id in self._heap]
        heapq.heapify(self._heap)

    def poll_now(self, ci_ids: set[int] | None = None) -> None:
        """Make these targets (default: all) due at once: the operator's "refresh now"."""
        now = time.monotonic()
        for ci_id in self._targets if ci_ids is None else ci_ids & set(self._targets):
            self._schedule(ci_id, now)

    def _next_delay(self, target: PollTarget, ok: bool) -> float:
        monitoring = self.settings.monitoring
        if ok:
            self._failures[target.ci_id] = 0
            return target.interval
        failures = self._failures.get(target.ci_id, 0) + 1
        self._failures[target.ci_id] = failures
        if failures < monitoring.down_after:
            return min(monitoring.retry_interval, target.interval)
        steps = failures - monitoring.down_after
        return float(min(monitoring.max_backoff, target.interval * 2 ** min(steps, 20)))

    # --- polling ---------------------------------------------------------------------------

    async def poll_target(self, target: PollTarget) -> PollResult:
        started = time.monotonic()
        at = clock.now()
        try:
            async with self._semaphore:
                snapshot = await self.collectors.collect(target)
        except PollFailure as exc:
            return PollResult(
                target, at, False, error=str(exc), duration=time.monotonic() - started
            )
        except Exception as exc:  # a collector bug must cost one poll, not the poller
            log.exception("poll of %s failed unexpectedly", target.name)
            return PollResult(target, at, False, error=f"internal error: {exc}",
                              duration=time.monotonic() - started)  # fmt: skip
        return PollResult(target, at, True, snapshot, duration=time.monotonic() - started)

    async def _poll_and_reschedule(self, target: PollTarget) -> None:
        try:
            result = await self.poll_target(target)
            self._pending.append(result)
            self.stats.polls += 1
            self.stats.failures += not result.ok
            if target.ci_id in self._targets:
                self._schedule(target.ci_id, time.monotonic() + self._next_delay(target, result.ok))
        finally:
            self._in_flight.pop(target.ci_id, None)

    def _start_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, generation, ci_id = heapq.heappop(self._heap)
            if self._generation.get(ci_id) != generation or ci_id in self._in_flight:
                continue
            target = self._targets.get(ci_id)
            if target is None:
                continue
            self._in_flight[ci_id] = asyncio.create_task(self._poll_and_reschedule(target))

    # --- writing ---------------------------------------------------------------------------

    def add_events(self, events: list[Event]) -> None:
        """Events from other sources of this process (the trap receiver), flushed with polls."""
        self._pending_events.extend(events)
        self._wake.set()

    async def flush(self) -> BatchSummary:
        batch, self._pending = self._pending, []
        events, self._pending_events = self._pending_events, []
        if not batch and not events:
            return BatchSummary()
        started = time.monotonic()
        try:
            summary = await asyncio.to_thread(self._write, batch, events)
        except Exception:
            # keep the batch for the next try (the store may be locked or briefly away)
            self._pending[:0] = batch
            self._pending_events[:0] = events
            raise
        self.stats.write_seconds += time.monotonic() - started
        self.stats.batches += 1
        self.stats.samples += summary.samples
        self.stats.events += summary.events
        self.stats.state_changes += summary.state_changes
        for host, old, new in summary.state_changes:
            log.info("%s: %s -> %s", host, old, new)
        if self.on_batch is not None:
            self.on_batch(summary)
        return summary

    def _write(self, batch: list[PollResult], events: list[Event]) -> BatchSummary:
        with self.store.write(self.name) as session:
            summary = record(session, batch, self.settings, self.name)
            summary.events += submit(session, events)
        return summary

    def _maintain(self) -> None:
        monitoring = self.settings.monitoring
        with self.store.write(self.name) as session:
            done = maintain(
                session,
                clock.now(),
                monitoring.rollup_period,
                monitoring.raw_retention_hours,
                monitoring.rollup_retention_days,
            )
        if done.buckets or done.raw_deleted or done.rollups_deleted:
            log.info("metrics: %s", done)

    # --- the loops -------------------------------------------------------------------------

    async def poll_once(self) -> BatchSummary:
        """Poll every target of the shard once, write, and return what was written."""
        await self.refresh_targets()
        results = await asyncio.gather(*(self.poll_target(t) for t in self.targets))
        self._pending.extend(results)
        self.stats.polls += len(results)
        self.stats.failures += sum(not r.ok for r in results)
        return await self.flush()

    async def run(self, stop: asyncio.Event) -> None:
        batch_every = self.settings.monitoring.write_batch_seconds
        maintain_every = max(60.0, self.settings.monitoring.rollup_period / 5)
        next_refresh = next_flush = time.monotonic()
        next_maintenance = time.monotonic() + maintain_every
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                self._wake.clear()  # before looking: a wake-up during this pass is not lost
                now = time.monotonic()
                if now >= next_refresh:
                    try:
                        await self.refresh_targets()
                    except Exception:  # the store may be briefly away: poll what we know
                        log.exception("could not refresh targets")
                    next_refresh = now + TARGET_REFRESH_SECONDS
                self._start_due(now + START_SLACK)
                if now >= next_flush:
                    await self._flush_logged()
                    next_flush = now + batch_every
                if now >= next_maintenance:
                    await asyncio.to_thread(self._maintain_logged)
                    next_maintenance = now + maintain_every
                due = self._heap[0][0] if self._heap else now + batch_every
                deadline = min(due, next_flush, next_refresh, next_maintenance)
                self._sleep_until = deadline  # _schedule wakes us for anything due sooner
                try:
                    wait = deadline - time.monotonic()
                    if wait > 0 and not self._wake.is_set():
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(wait):
                                await self._wake.wait()
                finally:
                    self._sleep_until = -math.inf
        finally:
            stopping.cancel()
        await self._drain()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:
            log.exception("could not write a batch; it is kept for the next try")

    def _maintain_logged(self) -> None:
        try:
            self._maintain()
        except Exception:
            log.exception("metrics maintenance failed")

    async def _drain(self) -> None:
        """On stop: let polls in flight finish (bounded), then write everything pending."""
        if self._in_flight:
            _, late = await asyncio.wait(set(self._in_flight.values()), timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
        await self.flush()
        self.collectors.close()
