"""The one entry point for events from every source.

Monitoring, traps and external senders (`opsconsole event send|ingest`, Alertmanager) all call
`submit(session, events)`. In the caller's transaction, per batch of events:

  normalize      CI resolved by id or name (cached CMDB view), severity checked, message cut,
                 the raw event kept in `event`
  fingerprint    source + CI + check + resource, or source + key   (fingerprint.py)
  dedup          one query loads every alert the batch touches; each event is applied in
                 memory (dedup.py): count, first/last seen, severity, auto-resolve, reopen
  suppress       silence, maintenance, topology, flapping, with the reason   (suppress.py)
  correlate      group under an active root: topology, same CI, same service   (correlation.py)
  store          a few Core executemany statements (not one round trip per event), journal
                 rows for every state change, one change-log row per batch for the change feed
  rules          silences "until the alert recovers" end with it; then the registered rules

Throughput comes from doing all of that per batch, never per event.
"""

from __future__ import annotations

import importlib
import json
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Engine, Table, and_, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.events.correlation import RootCandidate, choose_root
from opsconsole.events.dedup import (
    INSERT_COLUMNS,
    LOADED_COLUMNS,
    MUTABLE_COLUMNS,
    AlertDraft,
    NormalizedEvent,
    apply_event,
)
from opsconsole.events.fingerprint import ci_token, fingerprint
from opsconsole.events.services import CmdbView, cmdb_view, services_of, services_text
from opsconsole.events.settings import EventSettings
from opsconsole.events.silences import end_until_recovery
from opsconsole.events.suppress import UNREACHABLE_VIA, Decision, Suppressor, active_silences
from opsconsole.store.alert_models import (
    ACTIVE_STATES,
    SEVERITY_LEVEL,
    Alert,
    AlertHistory,
    AlertState,
)
from opsconsole.store.changelog import SYSTEM_ACTOR
from opsconsole.store.models import Base, ChangeLog, EventRecord, Severity

MAX_MESSAGE = 4000
REACHABILITY_CHECK = "host.reachability"  # the DOWN alarm a topology child groups under
_IN_CHUNK = 900  # bound parameters per IN list (well under SQLite's limit)
_PG_PIPELINE_LOCK = 0x6F7065  # serialises pipeline writers on PostgreSQL


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


ALERTS = _table(Alert)
ACTIVE_VALUES = tuple(s.value for s in ACTIVE_STATES)


@dataclass(frozen=True)
class Event:
    source: str  # "monitoring", "snmp-trap", "cli", "alertmanager", ...
    check: str  # e.g. "host.reachability", "fs.percent", "snmp.linkDown"
    severity: Severity
    message: str
    at: datetime
    ci_id: int | None = None
    resource: str = ""  # e.g. the mount point or interface the check is about
    clear: bool = False  # True: the condition is over (drives auto-resolve)
    key: str | None = None  # a source-given dedup key, when it has one
    payload: dict[str, Any] = field(default_factory=dict)
    ci: str | None = None  # the CI by name, for sources that do not know CMDB ids


@dataclass
class BatchOutcome:
    """What one `process` call did, for callers that report (CLI, bench, tests)."""

    accepted: int = 0
    created: list[int] = field(default_factory=list)
    updated: int = 0
    resolved: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    suppressed: int = 0
    new_critical: list[int] = field(default_factory=list)

    def merge(self, other: BatchOutcome) -> None:
        self.accepted += other.accepted
        self.created += other.created
        self.updated += other.updated
        self.resolved += other.resolved
        self.reopened += other.reopened
        self.suppressed += other.suppressed
        self.new_critical += other.new_critical


# A rule runs at the end of every batch, in its transaction, with the alerts it touched:
# the place for "alert -> incident". Rules are registered with `register_rule`, or provided by
# a module of RULE_MODULES as a function `on_alert_batch(session, context)` (imported lazily,
# so the events domain does not depend on service management).
Rule = Callable[[Session, "BatchContext"], None]
RULE_MODULES: tuple[str, ...] = ("opsconsole.itsm.rules",)
_rules: list[Rule] = []
_defaults = EventSettings()
_timer_runs: weakref.WeakKeyDictionary[Engine, datetime] = weakref.WeakKeyDictionary()


def configure(settings: EventSettings) -> None:
    """Settings for `submit` calls that pass none (the poller's): call once at start-up."""
    global _defaults
    _defaults = settings


def current_settings() -> EventSettings:
    return _defaults


def register_rule(rule: Rule) -> None:
    if rule not in _rules:
        _rules.append(rule)


def unregister_rule(rule: Rule) -> None:
    if rule in _rules:
        _rules.remove(rule)


@dataclass
class BatchContext:
    """What a rule gets: the alerts the batch wrote (drafts with ids, in their new state) and
    the CMDB view the pipeline already holds (so a rule need not walk the graph again)."""

    actor: str
    now: datetime
    settings: EventSettings
    drafts: list[AlertDraft]
    outcome: BatchOutcome
    view: CmdbView

    @property
    def fresh(self) -> list[AlertDraft]:
        """Alerts this batch created, reopened, raised in severity or turned open (e.g. no
        longer suppressed): the ones a rule has not judged in their current form. Repeats of
        an unchanged alert are not here, and they are most of a busy stream."""
        reopened = set(self.outcome.reopened)
        return [
            d
            for d in self.drafts
            if d.new
            or d.escalated
            or d.id in reopened
            or (d.state == AlertState.OPEN.value and d.loaded_state != d.state)
        ]

    def services_of(self, ci_id: int | None) -> tuple[str, ...]:
        """Impacted business services of a CI, most critical first (cached CMDB impact)."""
        return self.view.services.get(ci_id, ()) if ci_id is not None else ()

    def criticalities_of(self, ci_id: int | None) -> frozenset[str]:
        """The criticalities (high, medium, low) of those services (known for the CI of every
        alert in `drafts`)."""
        return frozenset(c for s in self.services_of(ci_id) if (c := self.view.criticality.get(s)))


def submit(session: Session, events: Sequence[Event], settings: EventSettings | None = None) -> int:
    """Run events through the pipeline in the caller's transaction; returns how many were
    accepted."""
    return process(session, events, settings).accepted


def process(
    session: Session, events: Sequence[Event], settings: EventSettings | None = None
) -> BatchOutcome:
    settings = settings or _defaults
    outcome = BatchOutcome()
    now = clock.now()
    actor = str(session.info.get("actor", SYSTEM_ACTOR))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_PIPELINE_LOCK})
    _maybe_run_timers(session, settings, now)
    if not events:
        return outcome
    view = cmdb_view(session)
    normalized = [_normalize(e, view, settings) for e in events]
    if settings.store_raw_events:
        _store_raw(session, normalized)
    for start in range(0, len(normalized), settings.batch_size):
        chunk = normalized[start : start + settings.batch_size]
        outcome.merge(_process_chunk(session, chunk, view, settings, actor, now))
    outcome.accepted = len(normalized)
    return outcome


def _expire_alerts(session: Session) -> None:
    """Core statements changed rows the session may hold as objects (loaded by timers, say):
    reload them on next access, or an ORM write would work on stale versions."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Alert):
            session.expire(obj)


# --- normalize -------------------------------------------------------------------------------


_CRITICAL = Severity.CRITICAL.value
_SEVERITIES = {s.value: (s.value, SEVERITY_LEVEL[s]) for s in Severity}


def _normalize(e: Event, view: CmdbView, settings: EventSettings) -> NormalizedEvent:
    ci_id = e.ci_id if e.ci_id is not None and e.ci_id in view.names else None
    if ci_id is not None:
        name = view.names[ci_id]
    else:
        name = (e.ci or (f"ci#{e.ci_id}" if e.ci_id is not None else "")).strip()
        ci_id = view.ids.get(name)
        if ci_id is None and name in view.addresses:  # a sender that knows only the address
            ci_id = view.addresses[name]
            name = view.names[ci_id]
    known = _SEVERITIES.get(e.severity)
    if known is None:
        raise ValueError(f"unknown severity {e.severity!r}")
    severity, level = known
    at = e.at
    if at.tzinfo is not UTC:
        if at.tzinfo is None:
            raise ValueError(f"naive event time {at!r}: events carry timezone-aware times")
        at = at.astimezone(UTC)
    resource = e.resource or ""
    message = e.message
    if "\x00" in message:  # PostgreSQL text cannot hold NUL; show it as the text it was
        message = message.replace("\x00", "\\x00")
    message = message[: settings.max_message]
    return NormalizedEvent(
        source=e.source, ci_id=ci_id, ci_name=name, check=e.check, resource=resource,
        severity=severity, level=level, clear=bool(e.clear),
        message=message, at=at, key=e.key or None,
        payload=e.payload or {},
        fingerprint=fingerprint(e.source, ci_id, name, e.check, resource, e.key),
    )  # fmt: skip


_RAW_COLUMNS = ("at", "source", "ci_id", "check", "resource", "severity", "clear", "message",
                "key", "payload")  # fmt: skip


def _store_raw(session: Session, events: Sequence[NormalizedEvent]) -> None:
    """Keep the events as they came. On SQLite straight through the driver's executemany (the
    values formatted as SQLAlchemy stores them): this is the highest-volume write there is."""
    connection = session.connection()
    rows = [
        (e.at, e.source, e.ci_id, e.check, e.resource, e.severity, e.clear, e.message, e.key,
         e.payload if e.ci_id is not None else {**e.payload, "ci": e.ci_name})
        for e in events
    ]  # fmt: skip
    if connection.dialect.name == "sqlite":
        stamp = _sqlite_datetime(connection.dialect)
        columns = ", ".join(f'"{c}"' for c in _RAW_COLUMNS)
        connection.exec_driver_sql(
            f"INSERT INTO event ({columns}) VALUES ({', '.join('?' * len(_RAW_COLUMNS))})",
            [(stamp(r[0]), *r[1:9], _json(r[9])) for r in rows],
        )
        return
    session.execute(
        insert(_table(EventRecord)), [dict(zip(_RAW_COLUMNS, r, strict=True)) for r in rows]
    )


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value) if value else "{}"


def _sqlite_datetime(dialect: Any) -> Callable[[datetime], Any]:
    """UTCDateTime's SQLite form (naive UTC text), exactly as SQLAlchemy's bind processor
    writes it; `isoformat` when it gives the same text (it does for the default format)."""
    process = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    sample = datetime(2026, 1, 2, 3, 4, 5, 6)
    if process(sample) == sample.isoformat(" ", "microseconds"):
        # UTC in, "+00:00" cut off: the naive text without a replace() per value.
        return lambda at: at.isoformat(" ", "microseconds")[:26]
    return lambda at: process(at.replace(tzinfo=None))


# --- one chunk ---------------------------------------------------------------------------------


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


# Rows are locked as they are read (PostgreSQL; SQLite's write transaction already excludes
# every other writer): an operator's edit racing this batch then waits and fails its version
# check, instead of being overwritten by the batch's copy. In id order, as the ORM writes.
_LOAD_BY_KEY = (
    select(*(ALERTS.c[name] for name in LOADED_COLUMNS))
    .where(ALERTS.c.dedup_key.in_(bindparam("keys", expanding=True)))
    .order_by(ALERTS.c.id)
    .with_for_update()
)
_IDS_BY_KEY = select(ALERTS.c.id, ALERTS.c.dedup_key).where(
    ALERTS.c.dedup_key.in_(bindparam("keys", expanding=True))
)


def _load_drafts(session: Session, keys: Iterable[str]) -> dict[str, AlertDraft]:
    found: dict[str, AlertDraft] = {}
    for part in _chunks(sorted(set(keys))):
        for row in session.execute(_LOAD_BY_KEY, {"keys": list(part)}):
            draft = AlertDraft.from_row(row._mapping)
            found[draft.fingerprint] = draft
    return found


def _parent_fingerprint(ev: NormalizedEvent, view: CmdbView) -> str | None:
    via = ev.payload.get(UNREACHABLE_VIA)
    if not via or not isinstance(via, str):
        return None
    return fingerprint(ev.source, view.ids.get(via), via, REACHABILITY_CHECK, "", None)


def _process_chunk(
    session: Session,
    events: list[NormalizedEvent],
    view: CmdbView,
    settings: EventSettings,
    actor: str,
    now: datetime,
) -> BatchOutcome:
    events.sort(key=lambda e: e.at)  # stable: simultaneous events keep their order
    parents = {fp for e in events if (fp := _parent_fingerprint(e, view))}
    drafts = _load_drafts(session, {e.fingerprint for e in events} | parents)
    retired: list[AlertDraft] = []
    for ev in events:
        held, gave_up = apply_event(drafts.get(ev.fingerprint), ev, settings, now)
        if held is not None:
            drafts[ev.fingerprint] = held
        if gave_up is not None:
            retired.append(gave_up)
    touched = [d for d in drafts.values() if d.dirty]
    services_of(session, view, {d.ci_id for d in touched if d.ci_id is not None})
    for d in touched:
        if d.ci_id is not None:
            d.services = services_text(view.services.get(d.ci_id, ()))
    _suppress(session, touched, now)
    _promote_children(session, drafts, touched)
    _correlate(session, drafts, touched, view, settings)
    touched = [d for d in drafts.values() if d.dirty]  # grouping may touch more
    outcome = _write(session, [*retired, *touched], actor, now)
    _expire_alerts(session)
    end_until_recovery(session, outcome.resolved, now)
    written = [*retired, *touched]
    # Rules read the impact of every alert of the batch (children regrouped above included),
    # from the view: one analysis per CI, cached across batches.
    services_of(session, view, {d.ci_id for d in written if d.ci_id is not None})
    context = BatchContext(actor, now, settings, written, outcome, view)
    for rule in [*_rules, *_module_rules()]:
        rule(session, context)
    return outcome


def _module_rules() -> list[Rule]:
    found: list[Rule] = []
    for name in RULE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # not written yet
            raise
        rule = getattr(module, "on_alert_batch", None)
        if callable(rule):
            found.append(rule)
    return found


def _suppress(session: Session, drafts: Sequence[AlertDraft], now: datetime) -> None:
    active = [d for d in drafts if d.active]
    if not active:
        return
    suppressor = Suppressor(session, now, active_silences(session, now))
    suppressor.prefetch(d.ci_id for d in active if d.correlate and d.ci_id is not None)
    for d in active:
        # Maintenance is asked for new and reopened alerts; for the others the timers keep
        # it current (a window opening or closing), not every repeat of every event.
        decision = suppressor.decide(d, ask_maintenance=d.correlate)
        apply_decision(d, decision, d.last_result_at)


def apply_decision(d: AlertDraft, decision: Decision | None, at: datetime) -> None:
    new = (decision.kind.value, decision.reason, decision.silence_id) if decision else (None,) * 3
    old = (d.suppression, d.suppressed_reason, d.silence_id)
    if new == old:
        return
    d.suppression, d.suppressed_reason, d.silence_id = new
    if decision is not None:
        d.note(at, "suppressed", decision.reason)
    else:
        d.note(at, "unsuppressed", f"no longer {old[1]}")


def _promote_children(
    session: Session, drafts: dict[str, AlertDraft], touched: Sequence[AlertDraft]
) -> None:
    """A root that resolved hands its active children to the oldest of them: an active alert
    is never hidden under a resolved one."""
    roots = [d for d in touched if d.resolved_now and d.parent_id is None and d.parent is None]
    if not roots:
        return
    by_id = {d.id: d for d in drafts.values() if d.id is not None}
    root_ids = [d.id for d in roots if d.id is not None]
    columns = [ALERTS.c[name] for name in LOADED_COLUMNS]
    for part in _chunks(root_ids):
        query = (
            select(*columns)
            .where(ALERTS.c.parent_id.in_(part), ALERTS.c.state.in_(ACTIVE_VALUES))
            .order_by(ALERTS.c.id)
            .with_for_update()
        )
        for row in session.execute(query):
            if row.id not in by_id:
                child = AlertDraft.from_row(row._mapping)
                drafts.setdefault(child.fingerprint, child)
                by_id[row.id] = child
    for root in roots:
        kids = sorted(
            (
                d
                for d in drafts.values()
                if d.active
                and d is not root
                and (d.parent is root or (root.id is not None and d.parent_id == root.id))
            ),
            key=lambda d: (d.first_seen, d.fingerprint),
        )
        if not kids:
            continue
        head, rest = kids[0], kids[1:]
        head.parent_id, head.parent, head.group_reason = None, None, None
        head.note(head.last_result_at, "regrouped", f"heads the group: #{root.id} resolved")
        for kid in rest:
            kid.parent_id, kid.parent = head.id, (head if head.id is None else None)
            kid.dirty = True


def _correlate(
    session: Session,
    drafts: dict[str, AlertDraft],
    touched: Sequence[AlertDraft],
    view: CmdbView,
    settings: EventSettings,
) -> None:
    pending = sorted(
        (d for d in touched if d.correlate and d.active and d.parent_id is None),
        key=lambda d: (d.first_seen, d.fingerprint),
    )
    if not pending:
        return
    window = timedelta(seconds=settings.correlation_window)
    candidates = _root_candidates(session, drafts, pending, window, settings)
    for d in pending:
        if d.parent is not None:
            continue
        found = _topology_root(d, drafts, view)
        if found is None:
            choice = choose_root(
                ci_token(d.ci_id, d.ci_name), frozenset(view.services.get(d.ci_id or -1, ())),
                d.first_seen, d.fingerprint, candidates.values(), window,
                settings.correlate_by_service,
            )  # fmt: skip
            if choice is not None:
                candidate, reason = choice
                root = drafts.get(candidate.fingerprint)
                if root is None or root.id != candidate.id:
                    root = None
                found = (root, candidate.id, reason)
        if found is None:
            if not _has_children(d, drafts):
                candidates[d.fingerprint] = RootCandidate.of(
                    d.id, d.ci_id, d.ci_name, d.services, d.first_seen, d.fingerprint
                )
            continue
        root_draft, root_id, reason = found
        if root_draft is not None and root_draft.id is None:
            d.parent, d.parent_id = root_draft, None
        else:
            d.parent, d.parent_id = None, root_id
        d.group_reason = reason[:200]
        if root_draft is not None and root_draft.id is None:
            d.note(d.last_result_at, "grouped", f"under {{ref}}: {reason}", root_draft)
        else:
            d.note(d.last_result_at, "grouped", f"under #{root_id}: {reason}")
        candidates.pop(d.fingerprint, None)
        for child in drafts.values():  # groups stay one level deep
            if child is not d and (child.parent is d or (d.id and child.parent_id == d.id)):
                child.parent = d.parent
                child.parent_id = d.parent_id
                child.dirty = True


def _has_children(d: AlertDraft, drafts: dict[str, AlertDraft]) -> bool:
    return any(c.parent is d or (d.id is not None and c.parent_id == d.id) for c in drafts.values())


def _topology_root(
    d: AlertDraft, drafts: dict[str, AlertDraft], view: CmdbView
) -> tuple[AlertDraft | None, int | None, str] | None:
    via = d.payload.get(UNREACHABLE_VIA)
    if not via or not isinstance(via, str):
        return None
    parent_fp = fingerprint(d.source, view.ids.get(via), via, REACHABILITY_CHECK, "", None)
    parent = drafts.get(parent_fp)
    if parent is None or not parent.active or parent is d:
        return None
    if parent.parent is not None:  # join the parent's own root: one level
        parent = parent.parent
    elif parent.parent_id is not None:
        return None, parent.parent_id, f"unreachable via {via}"
    return parent, parent.id, f"unreachable via {via}"


def _root_candidates(
    session: Session,
    drafts: dict[str, AlertDraft],
    pending: Sequence[AlertDraft],
    window: timedelta,
    settings: EventSettings,
) -> dict[str, RootCandidate]:
    columns = (ALERTS.c.id, ALERTS.c.ci_id, ALERTS.c.ci_name, ALERTS.c.services,
               ALERTS.c.first_seen, ALERTS.c.fingerprint)  # fmt: skip
    roots = and_(ALERTS.c.parent_id.is_(None), ALERTS.c.state.in_(ACTIVE_VALUES))
    rows: list[Any] = []
    ci_ids = sorted({d.ci_id for d in pending if d.ci_id is not None})
    for part in _chunks(ci_ids):
        rows += session.execute(select(*columns).where(roots, ALERTS.c.ci_id.in_(part))).all()
    names = sorted({d.ci_name for d in pending if d.ci_id is None and d.ci_name})
    for part in _chunks(names):
        rows += session.execute(
            select(*columns).where(roots, ALERTS.c.ci_id.is_(None), ALERTS.c.ci_name.in_(part))
        ).all()
    if settings.correlate_by_service and any(d.services for d in pending):
        since = min(d.first_seen for d in pending) - window
        rows += session.execute(
            select(*columns).where(roots, ALERTS.c.first_seen >= since, ALERTS.c.services != "")
        ).all()
    candidates: dict[str, RootCandidate] = {}
    for row in rows:
        draft = drafts.get(row.fingerprint)
        if draft is not None and draft.id == row.id:
            continue  # touched in this batch: judged from the draft below
        candidates[row.fingerprint] = RootCandidate.of(
            row.id, row.ci_id, row.ci_name, row.services, row.first_seen, row.fingerprint
        )
    pending_set = {id(d) for d in pending}
    for d in drafts.values():
        if (
            d.active and d.parent_id is None and d.parent is None and id(d) not in pending_set
            and d.dirty
        ):  # fmt: skip
            candidates[d.fingerprint] = RootCandidate.of(
                d.id, d.ci_id, d.ci_name, d.services, d.first_seen, d.fingerprint
            )
    return candidates


# --- store ---------------------------------------------------------------------------------------


_UPDATE = (
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("b_id"))
    .values(
        {
            **{name: bindparam(f"v_{name}") for name in MUTABLE_COLUMNS},
            "version": ALERTS.c.version + 1,
        }
    )
)
_SET_PARENT = (
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("b_id"))
    .values(parent_id=bindparam("b_parent"), version=ALERTS.c.version + 1)
)


def _insert_drafts(session: Session, drafts: Sequence[AlertDraft]) -> None:
    if not drafts:
        return
    for d in drafts:
        d.state = d.derive_state()
        if d.parent is not None:
            d.parent_id = d.parent.id
    keyed = [d for d in drafts if d.dedup_key]
    for d in drafts:  # born and replaced within one batch: no key to find it by
        if not d.dedup_key:
            d.id = session.execute(
                insert(ALERTS).returning(ALERTS.c.id), d.column_values(INSERT_COLUMNS)
            ).scalar_one()
    if not keyed:
        return
    session.execute(insert(ALERTS), [d.column_values(INSERT_COLUMNS) for d in keyed])
    by_key = {d.dedup_key: d for d in keyed}
    for part in _chunks(sorted(k for k in by_key if k)):
        for alert_id, key in session.execute(_IDS_BY_KEY, {"keys": list(part)}):
            by_key[key].id = alert_id


def _write(
    session: Session, drafts: Sequence[AlertDraft], actor: str, now: datetime
) -> BatchOutcome:
    outcome = BatchOutcome()
    existing = [d for d in drafts if d.id is not None and d.dirty]
    if existing:
        rows = []
        for d in existing:
            d.state = d.derive_state()
            values = {f"v_{name}": getattr(d, name) for name in MUTABLE_COLUMNS}
            if d.parent is not None:  # a parent created in this batch: set once it has an id
                values["v_parent_id"] = None
            values["b_id"] = d.id
            rows.append(values)
        session.execute(_UPDATE, rows)
    new = [d for d in drafts if d.id is None]
    _insert_drafts(session, [d for d in new if d.parent is None])
    _insert_drafts(session, [d for d in new if d.parent is not None])
    late = [{"b_id": d.id, "b_parent": d.parent.id} for d in existing if d.parent is not None]
    if late:
        session.execute(_SET_PARENT, late)
    history = [
        {"alert_id": d.id, "at": h.at, "actor": actor, "action": h.action,
         "old_state": h.old_state, "new_state": h.new_state, "detail": h.text()}
        for d in drafts for h in d.history
    ]  # fmt: skip
    if history:
        session.execute(insert(_table(AlertHistory)), history)
    for d in drafts:
        assert d.id is not None
        actions = {h.action for h in d.history}
        if d.new:
            outcome.created.append(d.id)
            if d.severity == _CRITICAL:
                outcome.new_critical.append(d.id)
        else:
            outcome.updated += 1
        if d.resolved_now:
            outcome.resolved.append(d.id)
        if "reopened" in actions:
            outcome.reopened.append(d.id)
        if "suppressed" in actions:
            outcome.suppressed += 1
    if drafts:
        _log_batch(session, outcome, actor, now)
    return outcome


def _log_batch(session: Session, outcome: BatchOutcome, actor: str, now: datetime) -> None:
    """One change-log row per batch: the change feed wakes consoles without a row per event."""
    summary = (
        f"{len(outcome.created)} new, {outcome.updated} updated, "
        f"{len(outcome.resolved)} resolved, {len(outcome.reopened)} reopened"
    )
    session.execute(
        insert(_table(ChangeLog)),
        [{
            "at": now, "actor": actor, "entity": Alert.__tablename__, "entity_id": None,
            "action": "pipeline", "summary": summary,
            "changes": {
                "created": outcome.created[:100], "resolved": outcome.resolved[:100],
                "reopened": outcome.reopened[:100], "updated": outcome.updated,
            },
        }],
    )  # fmt: skip


# --- timers ---------------------------------------------------------------------------------------


def _maybe_run_timers(session: Session, settings: EventSettings, now: datetime) -> None:
    from opsconsole.events.timers import run_timers

    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    last = _timer_runs.get(engine)
    if last is not None and last <= now and (now - last).total_seconds() < settings.timer_interval:
        return
    _timer_runs[engine] = now
    run_timers(session, settings)
