"""Turns a batch of poll results into store writes: samples, host state, state changes, events.

One call per batch, in one short transaction: a poller killed mid-write leaves either the whole
batch or none of it. Thresholds and reachability decide; this module only applies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from opsconsole.config import Settings
from opsconsole.events.pipeline import Event, submit
from opsconsole.monitoring.reachability import BLOCKING, after_poll, blocking_parent, reclassify
from opsconsole.monitoring.sample import HostSnapshot
from opsconsole.monitoring.targets import PollTarget
from opsconsole.monitoring.thresholds import Crossing, Level
from opsconsole.monitoring.thresholds import evaluate as evaluate_thresholds
from opsconsole.store.models import (
    CI,
    HostState,
    HostStateChange,
    HostStatus,
    MetricSample,
    Relationship,
    Severity,
)

SOURCE = "monitoring"
REACHABILITY_CHECK = "host.reachability"
UNREACHABLE_CHECK = "host.unreachable"


@dataclass(frozen=True)
class PollResult:
    target: PollTarget
    at: datetime
    ok: bool
    snapshot: HostSnapshot | None = None
    error: str | None = None
    duration: float = 0.0


@dataclass
class BatchSummary:
    polls: int = 0
    samples: int = 0
    events: int = 0
    state_changes: list[tuple[str, str, str]] = field(default_factory=list)  # name, old, new


def snapshot_document(snapshot: HostSnapshot) -> dict[str, Any]:
    """The latest sample as stored in host_state.latest (JSON)."""
    return {
        "at": snapshot.at.isoformat(),
        "metrics": snapshot.metrics(),
        "load": list(snapshot.load) if snapshot.load else None,
        "mem_total_bytes": snapshot.mem_total_bytes,
        "mem_used_bytes": snapshot.mem_used_bytes,
        "swap_total_bytes": snapshot.swap_total_bytes,
        "swap_used_bytes": snapshot.swap_used_bytes,
        "per_core_percent": list(snapshot.per_core_percent),
        "disks": [
            {"mount": d.mount, "total_bytes": d.total_bytes, "used_bytes": d.used_bytes}
            for d in snapshot.disks
        ],
        "interfaces": [
            {"name": i.name, "rx_bps": i.rx_bytes_per_s, "tx_bps": i.tx_bytes_per_s, "up": i.up}
            for i in snapshot.interfaces
        ],
        "name": snapshot.name,
        "description": snapshot.description,
    }


def record(
    session: Session, results: Sequence[PollResult], settings: Settings, poller: str
) -> BatchSummary:
    summary = BatchSummary(polls=len(results))
    if not results:
        return summary
    states = _load_states(session, {r.target.ci_id for r in results}, results[0].at)
    parent_ids = {pid for r in results for pid, _ in r.target.parents}
    parent_states = _load_states(session, parent_ids, None)
    events: list[Event] = []
    sample_rows: list[dict[str, Any]] = []
    changed: list[int] = []
    known = {**parent_states, **states}
    for result in parents_first(results):
        row = states[result.target.ci_id]
        parents = {name: known[i] for i, name in result.target.parents if i in known}
        parent_status = {name: HostStatus(p.state) for name, p in parents.items()}
        blocked_by = blocking_parent([n for _, n in result.target.parents], parent_status)
        suspect = any(
            p.consecutive_failures > 0 and HostStatus(p.state) not in BLOCKING
            for p in parents.values()
        )
        old = HostStatus(row.state)
        outcome = after_poll(
            old, row.consecutive_failures, result.ok, settings.monitoring.down_after,
            blocked_by, suspect,
        )  # fmt: skip
        row.last_poll_at = result.at
        row.consecutive_failures = outcome.failures
        row.poller = poller
        if result.ok and result.snapshot is not None:
            row.last_ok_at = result.at
            row.last_error = None
            row.latest = snapshot_document(result.snapshot)
            metrics = result.snapshot.metrics()
            sample_rows += [
                {"ci_id": row.ci_id, "metric": m, "at": result.at, "value": v}
                for m, v in metrics.items()
            ]
            levels, crossings = evaluate_thresholds(
                settings.thresholds, result.target.name, result.target.ci_class, metrics,
                row.levels,
            )  # fmt: skip
            row.levels = {**row.levels, **levels}
            events += [_threshold_event(result, c) for c in crossings]
        else:
            row.last_error = (result.error or "no response")[:400]
        via = outcome.unreachable_via
        reason = f"via {via}" if via else (result.error or "") if not result.ok else "poll ok"
        if _apply_state(session, row, outcome.state, via, result.at, reason):
            changed.append(row.ci_id)
            summary.state_changes.append((result.target.name, old.value, outcome.state.value))
            events += _state_events(result.target.name, row, old, result.at, result.error)
    events += _reclassify_downstream(session, changed, results[0].at, summary)
    if sample_rows:
        session.execute(insert(MetricSample), sample_rows)
    summary.samples = len(sample_rows)
    summary.events = submit(session, events)
    return summary


def parents_first(results: Sequence[PollResult]) -> list[PollResult]:
    """Order a batch so that a host comes after the parents polled in the same batch: the
    parent's verdict is then known when the child's is made."""
    pending = {r.target.ci_id: r for r in sorted(results, key=lambda r: r.at)}
    ordered: list[PollResult] = []
    while pending:
        ready = [r for r in pending.values() if not any(p in pending for p, _ in r.target.parents)]
        if not ready:  # a cycle among this batch: take the rest as they came
            ready = list(pending.values())
        for result in ready:
            ordered.append(result)
            del pending[result.target.ci_id]
    return ordered


def _load_states(session: Session, ci_ids: Iterable[int], create_at: datetime | None
                 ) -> dict[int, HostState]:  # fmt: skip
    ids = set(ci_ids)
    if not ids:
        return {}
    found = {s.ci_id: s for s in session.scalars(select(HostState).where(HostState.ci_id.in_(ids)))}
    if create_at is not None:
        for ci_id in ids - set(found):
            row = HostState(
                ci_id=ci_id, state=HostStatus.UNKNOWN.value, since=create_at,
                consecutive_failures=0, latest={}, levels={},
            )  # fmt: skip
            session.add(row)
            found[ci_id] = row
    return found


def _apply_state(
    session: Session, row: HostState, new: HostStatus, via: str | None, at: datetime, reason: str
) -> bool:
    old = HostStatus(row.state)
    row.unreachable_via = via if new is HostStatus.UNREACHABLE else None
    if new is old:
        return False
    row.state = new.value
    row.since = at
    session.add(
        HostStateChange(ci_id=row.ci_id, at=at, old_state=old.value, new_state=new.value,
                        reason=reason[:400])
    )  # fmt: skip
    return True


def _state_events(
    name: str, row: HostState, old: HostStatus, at: datetime, error: str | None
) -> list[Event]:
    """Each state has its own check, so leaving one clears exactly its alert: DOWN is the root
    alarm (host.reachability); UNREACHABLE (host.unreachable) is a consequence that
    correlation groups under the parent named in its payload."""
    new = HostStatus(row.state)
    events: list[Event] = []

    def emit(check: str, severity: Severity, message: str, **extra: Any) -> None:
        events.append(Event(source=SOURCE, check=check, severity=severity, message=message,
                            at=at, ci_id=row.ci_id, **extra))  # fmt: skip

    if old is HostStatus.DOWN:
        emit(REACHABILITY_CHECK, Severity.INFO, f"{name} is no longer DOWN ({new})", clear=True)
    if old is HostStatus.UNREACHABLE:
        emit(UNREACHABLE_CHECK, Severity.INFO, f"{name} is reachable again ({new})", clear=True)
    if new is HostStatus.DOWN:
        emit(
            REACHABILITY_CHECK,
            Severity.CRITICAL,
            f"{name} is DOWN" + (f": {error}" if error else ""),
        )
    if new is HostStatus.UNREACHABLE:
        via = row.unreachable_via
        emit(UNREACHABLE_CHECK, Severity.WARNING, f"{name} is unreachable via {via}",
             payload={"unreachable_via": via})  # fmt: skip
    return events


def _threshold_event(result: PollResult, crossing: Crossing) -> Event:
    check, _, resource = crossing.metric.partition(":")
    name = result.target.name
    subject = f"{check} {resource}".strip()
    if crossing.new is Level.OK:
        return Event(
            source=SOURCE, check=check, resource=resource, severity=Severity.INFO, clear=True,
            at=result.at, ci_id=result.target.ci_id,
            message=f"{name}: {subject} back to {crossing.value:.1f}",
        )  # fmt: skip
    severity = Severity.CRITICAL if crossing.new is Level.CRITICAL else Severity.WARNING
    return Event(
        source=SOURCE, check=check, resource=resource, severity=severity, at=result.at,
        ci_id=result.target.ci_id,
        message=f"{name}: {subject} at {crossing.value:.1f} (threshold {crossing.threshold:g})",
        payload={"value": crossing.value, "threshold": crossing.threshold},
    )  # fmt: skip


def _reclassify_downstream(
    session: Session, changed: Sequence[int], at: datetime, summary: BatchSummary
) -> list[Event]:
    """A host that changed state may turn its failed children from DOWN to UNREACHABLE (or
    back): walk down from it and re-derive every failed host below."""
    if not changed:
        return []
    children: dict[int, list[int]] = defaultdict(list)
    parents: dict[int, list[int]] = defaultdict(list)
    for source_id, target_id in session.execute(
        select(Relationship.source_id, Relationship.target_id)
    ):
        children[target_id].append(source_id)
        parents[source_id].append(target_id)
    below: set[int] = set()
    frontier = list(changed)
    while frontier:
        node = frontier.pop()
        for child in children.get(node, ()):
            if child not in below:
                below.add(child)
                frontier.append(child)
    if not below:
        return []
    involved = below | set(changed) | {p for c in below for p in parents.get(c, ())}
    rows = _load_states(session, involved, None)
    names = dict(session.execute(select(CI.id, CI.name).where(CI.id.in_(rows))).all())
    verdicts = reclassify(
        {names[i]: HostStatus(r.state) for i, r in rows.items()},
        {names[i]: [names[p] for p in parents.get(i, ()) if p in rows] for i in rows},
    )
    events: list[Event] = []
    by_name = {names[i]: r for i, r in rows.items()}
    for host, (state, via) in verdicts.items():
        row = by_name[host]
        if row.ci_id not in below:
            continue
        old = HostStatus(row.state)
        if state is old and row.unreachable_via == via:
            continue
        reason = f"via {via}" if via else "parent back, still failing"
        if _apply_state(session, row, state, via, at, reason):
            summary.state_changes.append((host, old.value, state.value))
            events += _state_events(host, row, old, at, None)
    return events
