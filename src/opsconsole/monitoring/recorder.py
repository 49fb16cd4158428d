"""Turns a batch of poll results into store writes: samples, host state, state changes, events.

One call per batch, in one short transaction: a poller killed mid-write leaves either the whole
batch or none of it. Thresholds and reachability decide; this module only applies.

Written for a batch of a few hundred polls every second (10,000 hosts at 60 s): the host_state
rows are read with one Core SELECT of the columns the decisions need (not the `latest`
documents), written back with one Core executemany per kind of row, samples go in with one
Core executemany, and the threshold rule of each (CI, metric) is looked up once per process.
State changes (rare) stay ORM objects, so they reach the change log like any ORM write.

Maintenance (a failing host whose CI is inside the window of a change being implemented is
MAINTENANCE, not DOWN or UNREACHABLE) is asked once per batch, and only for the hosts whose
poll failed: a batch where every host answered costs no query for it.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from opsconsole.config import Settings, ThresholdRule, ThresholdSettings
from opsconsole.events.pipeline import Event, submit
from opsconsole.monitoring.maintenance import MaintenanceWindows, maintenance_windows
from opsconsole.monitoring.reachability import BLOCKING, after_poll, blocking_parent, reclassify
from opsconsole.monitoring.sample import HostSnapshot
from opsconsole.monitoring.targets import PollTarget
from opsconsole.monitoring.thresholds import Crossing, Level, next_level, rule_for
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


@dataclass
class _Row:
    """The recorder's working copy of one host_state row: the columns its decisions read and
    write. Rows are read with one Core SELECT per batch and written back with Core
    executemany (no ORM identity map, no per-row flush, `latest` never read back)."""

    ci_id: int
    state: str
    since: datetime | None
    consecutive_failures: int
    unreachable_via: str | None
    levels: dict[str, str]
    exists: bool = True
    polled: PollResult | None = None  # set when this batch polled it
    latest: dict[str, Any] | None = None  # the new document (a good poll)
    error: str | None = None
    changed: bool = False  # state, since or unreachable_via moved


HOST_STATE: Table = HostState.__table__  # type: ignore[assignment]
METRIC_SAMPLE: Table = MetricSample.__table__  # type: ignore[assignment]
_ROW_COLUMNS = (
    HOST_STATE.c.ci_id,
    HOST_STATE.c.state,
    HOST_STATE.c.since,
    HOST_STATE.c.consecutive_failures,
    HOST_STATE.c.unreachable_via,
    HOST_STATE.c.levels,
)
_IN_CHUNK = 900  # bound parameters per IN list (well under SQLite's limit)


def _update(*columns: str) -> Any:
    return (
        update(HOST_STATE)
        .where(HOST_STATE.c.ci_id == bindparam("b_ci_id"))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


_STATE_COLUMNS = ("state", "since", "unreachable_via")
_POLL_COLUMNS = (*_STATE_COLUMNS, "last_poll_at", "consecutive_failures", "last_error", "poller")


@functools.cache
def _updates() -> tuple[Any, Any, Any]:
    """The UPDATEs for a good poll, a failed poll and a state change alone (built on first use:
    importing this module stays cheap for the console)."""
    return (
        _update(*_POLL_COLUMNS, "last_ok_at", "latest", "levels"),
        _update(*_POLL_COLUMNS),
        _update(*_STATE_COLUMNS),
    )


def record(
    session: Session, results: Sequence[PollResult], settings: Settings, poller: str
) -> BatchSummary:
    summary = BatchSummary(polls=len(results))
    if not results:
        return summary
    states = _load_states(session, {r.target.ci_id for r in results}, results[0].at)
    parent_ids = {pid for r in results for pid, _ in r.target.parents} - set(states)
    known = {**_load_states(session, parent_ids, None), **states}
    events: list[Event] = []
    sample_rows: list[tuple[int, str, datetime, float]] = []
    changed: list[int] = []
    down_after = settings.monitoring.down_after
    rules = _rules_for(settings.thresholds)
    failed = [r for r in results if not r.ok]
    windows: MaintenanceWindows | None = None  # only a failing host can be in MAINTENANCE
    if failed:
        times = [r.at for r in failed]
        windows = maintenance_windows(session, (r.target.ci_id for r in failed), min(times),
                                      max(times))  # fmt: skip
    for result in parents_first(results):
        target = result.target
        row = states[target.ci_id]
        row.polled = result
        blocked_by = suspect = None
        if target.parents:
            parents = {name: known[i] for i, name in target.parents if i in known}
            parent_status = {name: HostStatus(p.state) for name, p in parents.items()}
            blocked_by = blocking_parent([n for _, n in target.parents], parent_status)
            suspect = any(
                p.consecutive_failures > 0 and HostStatus(p.state) not in BLOCKING
                for p in parents.values()
            )
        old = HostStatus(row.state)
        change = None
        if windows is not None and not result.ok:
            change = windows.change_at(row.ci_id, result.at)
        outcome = after_poll(old, row.consecutive_failures, result.ok, down_after, blocked_by,
                             bool(suspect), in_maintenance=change is not None)  # fmt: skip
        row.consecutive_failures = outcome.failures
        if result.ok and result.snapshot is not None:
            row.latest = snapshot_document(result.snapshot)
            metrics = row.latest["metrics"]
            at, ci_id = result.at, row.ci_id
            sample_rows += [(ci_id, m, at, v) for m, v in metrics.items()]
            levels, crossings = _evaluate(rules, target.name, target.ci_class, metrics, row.levels)
            if levels:
                row.levels = {**row.levels, **levels}
            events += [_threshold_event(result, c) for c in crossings]
        else:
            row.error = (result.error or "no response")[:400]
        via = outcome.unreachable_via
        reason = f"via {via}" if via else (result.error or "") if not result.ok else "poll ok"
        if outcome.state is HostStatus.MAINTENANCE:
            reason = f"maintenance {change}: {reason}"
        if _apply_state(session, row, outcome.state, via, result.at, reason):
            changed.append(row.ci_id)
            summary.state_changes.append((target.name, old.value, outcome.state.value))
            events += _state_events(target.name, row, old, result.at, result.error, change)
    events += _reclassify_downstream(session, changed, results[0].at, summary, known)
    _write_states(session, [*states.values(), *(r for r in known.values() if r.changed
                                                and r.ci_id not in states)], poller)  # fmt: skip
    if sample_rows:
        _insert_samples(session, sample_rows)
    summary.samples = len(sample_rows)
    summary.events = submit(session, events)
    return summary


def parents_first(results: Sequence[PollResult]) -> list[PollResult]:
    """Order a batch so that a host comes after the parents polled in the same batch: the
    parent's verdict is then known when the child's is made."""
    ordered_in = sorted(results, key=lambda r: r.at)
    batch = {r.target.ci_id for r in ordered_in}
    if not any(p in batch for r in ordered_in for p, _ in r.target.parents):
        return ordered_in  # no parent polled in this batch: time order is enough
    pending = {r.target.ci_id: r for r in ordered_in}
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
                 ) -> dict[int, _Row]:  # fmt: skip
    ids = sorted(set(ci_ids))
    if not ids:
        return {}
    found: dict[int, _Row] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        part = ids[start : start + _IN_CHUNK]
        for ci_id, state, since, failures, via, levels in session.execute(
            select(*_ROW_COLUMNS).where(HOST_STATE.c.ci_id.in_(part))
        ):
            found[ci_id] = _Row(ci_id, state, since, failures or 0, via, dict(levels or {}))
    if create_at is not None:
        for ci_id in ids:
            if ci_id not in found:
                found[ci_id] = _Row(
                    ci_id, HostStatus.UNKNOWN.value, create_at, 0, None, {}, exists=False
                )
    return found


_SAMPLE_COLUMNS = ("ci_id", "metric", "at", "value")
_sample_sql: dict[tuple[str, str, str], tuple[str, Any]] = {}


def _insert_samples(session: Session, rows: Sequence[tuple[int, str, datetime, float]]) -> None:
    """One executemany. On SQLite straight to the driver, with each poll's time converted
    once (SQLAlchemy's per-row parameter processing cost more than SQLite's insert)."""
    connection = session.connection()
    dialect = connection.dialect
    key = (dialect.name, dialect.driver, dialect.paramstyle)
    held = _sample_sql.get(key)
    if held is None:
        compiled = METRIC_SAMPLE.insert().compile(dialect=dialect, column_keys=_SAMPLE_COLUMNS)
        direct = (
            dialect.name == "sqlite"
            and dialect.paramstyle == "qmark"
            and list(compiled.positiontup or ()) == list(_SAMPLE_COLUMNS)
        )
        convert = METRIC_SAMPLE.c.at.type.bind_processor(dialect)
        held = _sample_sql[key] = (str(compiled) if direct else "", convert)
    sql, convert = held
    if not sql:
        connection.execute(
            METRIC_SAMPLE.insert(), [dict(zip(_SAMPLE_COLUMNS, row, strict=True)) for row in rows]
        )
        return
    times: dict[int, Any] = {}
    params = []
    for ci_id, metric, at, value in rows:
        stored = times.get(id(at))
        if stored is None:
            stored = times[id(at)] = convert(at) if convert is not None else at
        params.append((ci_id, metric, stored, value))
    connection.exec_driver_sql(sql, params)


def _write_states(session: Session, rows: Sequence[_Row], poller: str) -> None:
    """Every row of the batch in a few executemany statements (a new host: one INSERT)."""
    ok: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for row in rows:
        values: dict[str, Any] = {
            "b_ci_id": row.ci_id,
            "v_state": row.state,
            "v_since": row.since,
            "v_unreachable_via": row.unreachable_via,
        }
        result = row.polled
        if result is None:
            if row.changed:
                moved.append(values)
            continue
        values.update(v_last_poll_at=result.at, v_consecutive_failures=row.consecutive_failures,
                      v_poller=poller)  # fmt: skip
        if row.latest is not None:
            values.update(v_last_error=None, v_last_ok_at=result.at, v_latest=row.latest,
                          v_levels=row.levels)  # fmt: skip
        else:
            values["v_last_error"] = row.error
        if not row.exists:
            new.append({key[2:]: value for key, value in values.items()})
            new[-1].setdefault("latest", {})
            new[-1].setdefault("levels", {})
            new[-1].setdefault("last_ok_at", None)
        elif row.latest is not None:
            ok.append(values)
        else:
            failed.append(values)
    connection = session.connection()
    if new:
        connection.execute(HOST_STATE.insert(), new)
    for statement, batch in zip(_updates(), (ok, failed, moved), strict=True):
        if batch:
            connection.execute(statement, batch)
    # Core statements changed rows the session may hold: reload them on next access.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, HostState):
            session.expire(obj)


def _apply_state(
    session: Session, row: _Row, new: HostStatus, via: str | None, at: datetime, reason: str
) -> bool:
    old = HostStatus(row.state)
    via = via if new is HostStatus.UNREACHABLE else None
    if via != row.unreachable_via:
        row.unreachable_via = via
        row.changed = True
    if new is old:
        return False
    row.state = new.value
    row.since = at
    row.changed = True
    session.add(
        HostStateChange(ci_id=row.ci_id, at=at, old_state=old.value, new_state=new.value,
                        reason=reason[:400])
    )  # fmt: skip
    return True


# -- thresholds, with the rule of each (CI, metric) looked up once ----------------------------
class _Rules:
    """Which rule applies to (CI name, class, metric) depends on the settings only, so it is
    looked up once per settings object (glob matching every metric of every poll was a
    large part of the recorder's time)."""

    LIMIT = 200_000

    def __init__(self, settings: ThresholdSettings) -> None:
        self.settings = settings
        self._found: dict[tuple[str, str, str], ThresholdRule | None] = {}

    def rule(self, ci_name: str, ci_class: str, metric: str) -> ThresholdRule | None:
        key = (ci_name, ci_class, metric)
        try:
            return self._found[key]
        except KeyError:
            if len(self._found) >= self.LIMIT:
                self._found.clear()
            found = self._found[key] = rule_for(self.settings, metric, ci_name, ci_class)
            return found


_rules: dict[int, _Rules] = {}


def _rules_for(settings: ThresholdSettings) -> _Rules:
    rules = _rules.get(id(settings))
    if rules is None or rules.settings is not settings:
        if len(_rules) >= 8:
            _rules.clear()
        rules = _rules[id(settings)] = _Rules(settings)
    return rules


def _evaluate(
    rules: _Rules,
    ci_name: str,
    ci_class: str,
    metrics: Mapping[str, float],
    levels: Mapping[str, str],
) -> tuple[dict[str, str], list[Crossing]]:
    """`thresholds.evaluate` with the rule lookups cached: the same levels and crossings."""
    new_levels: dict[str, str] = {}
    crossings: list[Crossing] = []
    for metric, value in metrics.items():
        rule = rules.rule(ci_name, ci_class, metric)
        if rule is None:
            continue
        old = Level(levels.get(metric, Level.OK.value))
        new = next_level(old, value, rule)
        new_levels[metric] = new.value
        if new is not old:
            crossings.append(Crossing(metric, old, new, value, rule))
    return new_levels, crossings


# The states whose alarm is host.reachability: the host itself does not answer. In
# MAINTENANCE the alarm is raised all the same (events flow; the pipeline marks the alert
# maintenance), and moving between DOWN and MAINTENANCE keeps the one alert.
_ROOT_ALARM = frozenset({HostStatus.DOWN, HostStatus.MAINTENANCE})


def _state_events(
    name: str,
    row: _Row,
    old: HostStatus,
    at: datetime,
    error: str | None,
    change: str | None = None,
) -> list[Event]:
    """Each state has its own check, so leaving one clears exactly its alert: DOWN (and
    MAINTENANCE) is the root alarm (host.reachability); UNREACHABLE (host.unreachable) is a
    consequence that correlation groups under the parent named in its payload."""
    new = HostStatus(row.state)
    events: list[Event] = []

    def emit(check: str, severity: Severity, message: str, **extra: Any) -> None:
        events.append(Event(source=SOURCE, check=check, severity=severity, message=message,
                            at=at, ci_id=row.ci_id, **extra))  # fmt: skip

    if old in _ROOT_ALARM and new not in _ROOT_ALARM:
        emit(REACHABILITY_CHECK, Severity.INFO, f"{name} is no longer {old} ({new})", clear=True)
    if old is HostStatus.UNREACHABLE:
        emit(UNREACHABLE_CHECK, Severity.INFO, f"{name} is reachable again ({new})", clear=True)
    if new is HostStatus.DOWN:
        emit(
            REACHABILITY_CHECK,
            Severity.CRITICAL,
            f"{name} is DOWN" + (f": {error}" if error else ""),
        )
    if new is HostStatus.MAINTENANCE:
        emit(
            REACHABILITY_CHECK,
            Severity.CRITICAL,
            f"{name} is not answering, in maintenance {change or ''}".rstrip()
            + (f": {error}" if error else ""),
            payload={"maintenance": change} if change else {},
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
    session: Session,
    changed: Sequence[int],
    at: datetime,
    summary: BatchSummary,
    known: dict[int, _Row],
) -> list[Event]:
    """A host that changed state may turn its failed children from DOWN to UNREACHABLE (or
    back): walk down from it and re-derive every failed host below. `known`: the rows the
    batch holds (with its decisions), extended with the ones read here."""
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
    known.update(_load_states(session, involved - set(known), None))
    rows = {i: known[i] for i in involved if i in known}
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
