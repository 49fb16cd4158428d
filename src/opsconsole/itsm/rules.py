"""Auto-incident rules: an alert that matches a rule in `itsm.rules` opens an incident, once
per correlated group of alerts.

The events pipeline calls `on_alert_batch(session, context)` at the end of every batch (its
rule hook), which runs the rules over the open alerts the batch created or changed, in the
pipeline's transaction; `apply_alert_rules(session, alerts)` can be called directly too.
The settings are the ones given to `configure` at start-up (defaults until then).

It is idempotent: a group (the root alert of a correlation, `parent_id`, or the alert itself)
fires a rule at most once, enforced by a unique key in the store, so a replay, a retry or two
pollers at once never open a second incident. Later alerts of a group that already has the
rule's incident are linked to that incident.

Only open alerts fire: suppressed ones (silence, maintenance, topology, flapping), resolved and
closed ones do not. If an operator already raised an open incident for the group's root alert
(or for the alert itself), the rule links to that one instead of opening its own.

The work is done per batch, not per alert: the CIs' class and environment, the rule firings of
the batch's groups, the incidents they opened and the alerts already linked to them are each
read in one query (per 900 keys); the criticality of the services a CI supports comes from the
pipeline's cached CMDB impact (`BatchContext.criticalities_of`) in the hook, and from one impact
analysis per CI when called directly. An alert repeated within a group that already has its
incident then costs no query at all, and the alerts newly linked to incidents are written
together (`incidents.link_alerts`), in their order, before the next incident is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.cmdb.impact import impacted_services
from opsconsole.itsm import journal as jn
from opsconsole.itsm.incidents import (
    OPEN_STATES,
    AlertLink,
    DuplicateIncident,
    create_incident_from_alert,
    incidents_for_alert,
    link_alerts,
)
from opsconsole.itsm.settings import SEVERITIES, AlertRule, ItsmSettings
from opsconsole.store.alert_models import Alert
from opsconsole.store.itsm_models import Incident, IncidentAlert, RuleFiring
from opsconsole.store.models import CI

RULES_ACTOR = "rules"
_IN_CHUNK = 900  # bound parameters per IN list (well under SQLite's limit)
_OPEN = "open"
_OPEN_INCIDENT_STATES = frozenset(s.value for s in OPEN_STATES)
_settings = ItsmSettings()


def configure(settings: ItsmSettings) -> None:
    """The `itsm` settings the pipeline's rule hook uses: call once at start-up."""
    global _settings
    _settings = settings


def current_settings() -> ItsmSettings:
    return _settings


class RuleSubject(Protocol):
    """What a rule reads of an alert (an `Alert`, or the columns of one)."""

    @property
    def id(self) -> int: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def state(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def check(self) -> str: ...
    @property
    def ci_id(self) -> int | None: ...


class CiFacts(Protocol):
    """What a rule reads of the alert's CI (a `CI`, or those columns of one)."""

    @property
    def ci_class(self) -> str: ...
    @property
    def environment(self) -> str: ...


@dataclass(frozen=True)
class _Subject:
    id: int
    parent_id: int | None
    state: str
    severity: str
    check: str
    ci_id: int | None


@dataclass(frozen=True)
class _Ci:
    ci_class: str
    environment: str


def group_key(alert: RuleSubject) -> str:
    """The correlated group an alert belongs to: its root alert."""
    return f"alert:{alert.parent_id or alert.id}"


def matches(
    rule: AlertRule, alert: RuleSubject, ci: CiFacts | None, criticalities: frozenset[str]
) -> bool:
    if not rule.enabled or alert.state != _OPEN:
        return False
    if alert.severity not in SEVERITIES:
        return False
    if SEVERITIES.index(alert.severity) > SEVERITIES.index(rule.min_severity):
        return False
    if not any(fnmatchcase(alert.check, pattern) for pattern in rule.checks):
        return False
    if rule.ci_classes and (ci is None or ci.ci_class not in rule.ci_classes):
        return False
    if rule.environments and (ci is None or ci.environment not in rule.environments):
        return False
    return not rule.service_criticality or bool(criticalities & set(rule.service_criticality))


def _open_incident(session: Session, incident_id: int | None) -> Incident | None:
    if incident_id is None:
        return None
    incident = session.get(Incident, incident_id)
    if incident is None or incident.state not in _OPEN_INCIDENT_STATES:
        return None
    return incident


# --- the lookups of one run, batched ------------------------------------------------------------

T = TypeVar("T")


def _chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _ci_facts(session: Session, ci_ids: Iterable[int]) -> dict[int, _Ci]:
    found: dict[int, _Ci] = {}
    for part in _chunks(sorted(set(ci_ids))):
        for ci_id, ci_class, environment in session.execute(
            select(CI.id, CI.ci_class, CI.environment).where(CI.id.in_(part))
        ):
            found[ci_id] = _Ci(ci_class, environment)
    return found


def _impact_criticalities(session: Session) -> Callable[[int], frozenset[str]]:
    """Criticalities of the services a CI supports, by one impact analysis per CI (cached for
    the run): for callers that have no pipeline view of the CMDB."""
    cache: dict[int, frozenset[str]] = {}

    def criticalities(ci_id: int) -> frozenset[str]:
        if ci_id not in cache:
            ci = session.get(CI, ci_id)
            found = impacted_services(session, ci) if ci is not None else []
            cache[ci_id] = frozenset(p.ci.criticality for p in found if p.ci.criticality)
        return cache[ci_id]

    return criticalities


class _Run:
    """The rule firings of the run's groups, the incidents they point to and the alerts already
    linked to those, read up front in a few queries and kept current as the run writes."""

    def __init__(
        self, session: Session, actor: str, rules: Sequence[AlertRule], alerts: Sequence[Any]
    ) -> None:
        self.session = session
        self.actor = actor
        names = sorted({r.name for r in rules})
        keys = sorted({group_key(a) for a in alerts})
        self._firings: dict[tuple[str, str], RuleFiring | None] = {
            (name, key): None for name in names for key in keys
        }
        for part in _chunks(keys):
            for firing in session.scalars(
                select(RuleFiring).where(RuleFiring.rule.in_(names), RuleFiring.group_key.in_(part))
            ):
                self._firings[(firing.rule, firing.group_key)] = firing
        incident_ids = sorted(
            {f.incident_id for f in self._firings.values() if f and f.incident_id is not None}
        )
        # Held here: the session's identity map keeps only weak references to clean objects,
        # and `_open_incident` then finds them there without a query.
        self._incidents: list[Incident] = []
        for ids in _chunks(incident_ids):
            self._incidents += session.scalars(select(Incident).where(Incident.id.in_(ids)))
        self._linked: set[tuple[int, int]] = set()
        self._pending: list[AlertLink] = []
        alert_ids = sorted({a.id for a in alerts})
        if incident_ids and alert_ids:
            for part in _chunks(alert_ids):
                self._linked.update(
                    (incident_id, alert_id)
                    for incident_id, alert_id in session.execute(
                        select(IncidentAlert.incident_id, IncidentAlert.alert_id).where(
                            IncidentAlert.alert_id.in_(part)
                        )
                    )
                )

    def firing(self, rule: str, key: str) -> RuleFiring | None:
        if (rule, key) not in self._firings:  # not read up front, or claimed by another process
            self._firings[(rule, key)] = self.session.scalar(
                select(RuleFiring).where(RuleFiring.rule == rule, RuleFiring.group_key == key)
            )
        return self._firings[(rule, key)]

    def fired(self, rule: str, key: str, firing: RuleFiring | None) -> None:
        if firing is None:
            self._firings.pop((rule, key), None)  # read it again if asked
        else:
            self._firings[(rule, key)] = firing

    def link(self, incident: Incident, alert_id: int) -> None:
        """Link the alert (as `link_alert`), skipped when the link is known to exist. The links
        are written together (`write_links`): before anything that reads them, and at the end
        of the run, so the journal keeps their order among the incidents the run opens."""
        if (incident.id, alert_id) in self._linked:
            return
        self._pending.append(AlertLink(incident, alert_id, clock.now()))
        self._linked.add((incident.id, alert_id))

    def linked(self, incident: Incident, alert_id: int) -> None:
        self._linked.add((incident.id, alert_id))

    def write_links(self) -> None:
        if self._pending:
            link_alerts(self.session, self.actor, self._pending)
            self._pending = []


def _run_rules(
    session: Session,
    alerts: Sequence[RuleSubject],
    settings: ItsmSettings,
    actor: str,
    criticalities_of: Callable[[int], frozenset[str]],
) -> list[Incident]:
    rules = [r for r in settings.rules if r.enabled]
    candidates = [a for a in alerts if a.state == _OPEN]
    if not rules or not candidates:
        return []
    facts = _ci_facts(session, (a.ci_id for a in candidates if a.ci_id is not None))
    run = _Run(session, actor, rules, candidates)
    opened: list[Incident] = []
    none: frozenset[str] = frozenset()
    for alert in candidates:
        ci = facts.get(alert.ci_id) if alert.ci_id is not None else None
        criticalities = criticalities_of(alert.ci_id) if alert.ci_id is not None else none
        for rule in rules:
            if not matches(rule, alert, ci, criticalities):
                continue
            key = group_key(alert)
            firing = run.firing(rule.name, key)
            if firing is not None:
                incident = _open_incident(session, firing.incident_id)
                if incident is not None:
                    run.link(incident, alert.id)
                continue
            run.write_links()  # what opening an incident reads (the alerts' links) is written
            fired, created = _fire(session, run, rule, alert, key, settings)
            run.fired(rule.name, key, fired)
            if created is not None:
                opened.append(created)
            break  # one rule per alert: the first that matches
    run.write_links()
    return opened


def apply_alert_rules(
    session: Session,
    alerts: Sequence[Alert],
    settings: ItsmSettings | None = None,
    *,
    actor: str = RULES_ACTOR,
) -> list[Incident]:
    """Run the configured rules over `alerts`; returns the incidents opened (not those only
    linked to). Safe to call again with the same alerts."""
    settings = settings if settings is not None else _settings
    if not alerts or not any(r.enabled for r in settings.rules):
        return []
    return _run_rules(session, alerts, settings, actor, _impact_criticalities(session))


def _fire(
    session: Session,
    run: _Run,
    rule: AlertRule,
    alert: RuleSubject,
    key: str,
    settings: ItsmSettings,
) -> tuple[RuleFiring | None, Incident | None]:
    """Claim the group for the rule and open its incident (or link to the open one the root
    alert, or the alert, already has). Returns the firing (None: another process claimed the
    group) and the incident opened, if one was."""
    # Claim the group first: a concurrent process that claimed it makes this insert fail
    # (after waiting for its commit on PostgreSQL), and then we leave the group to it.
    try:
        with session.begin_nested():
            firing = RuleFiring(rule=rule.name, group_key=key, alert_id=alert.id, at=clock.now())
            session.add(firing)
            session.flush()
    except IntegrityError:
        return None, None
    root_id = alert.parent_id or alert.id
    existing = next(
        (i for i in incidents_for_alert(session, root_id) if _open_incident(session, i.id)), None
    )
    if existing is None:
        try:
            incident = create_incident_from_alert(
                session,
                run.actor,
                alert.id,
                assign_to=rule.assign_to,
                assignment_group=rule.assignment_group,
                impact=rule.impact,
                urgency=rule.urgency,
                settings=settings,
            )
        except DuplicateIncident as refused:  # the alert (a child) has an open one already
            existing = session.get(Incident, refused.incident_id)
            if existing is None:  # pragma: no cover - refused names an incident that exists
                raise
    if existing is not None:
        firing.incident_id = existing.id
        run.link(existing, alert.id)
        return firing, None
    firing.incident_id = incident.id
    run.linked(incident, alert.id)
    jn.journal(
        session,
        run.actor,
        "incident",
        incident.id,
        "system",
        text=f"opened by rule {rule.name} for alert {alert.id}",
    )
    session.flush()
    return firing, incident


def _open_alerts(session: Session, ids: Sequence[int]) -> list[_Subject]:
    """The columns a rule reads, of those alerts that are open, in id order (as stored: a rule
    that ran before this one may have changed them)."""
    found: list[_Subject] = []
    columns = (Alert.id, Alert.parent_id, Alert.state, Alert.severity, Alert.check, Alert.ci_id)
    for part in _chunks(ids):
        found += (
            _Subject(*row)
            for row in session.execute(
                select(*columns).where(Alert.id.in_(part), Alert.state == _OPEN).order_by(Alert.id)
            )
        )
    return found


def on_alert_batch(session: Session, context: Any) -> None:
    """The events pipeline's rule hook: `context` is its `BatchContext`, whose `drafts` are the
    alerts of the batch (written already, with ids). Runs the configured rules over those that
    are open, with the criticalities of their CIs' services from the pipeline's CMDB view."""
    if not any(r.enabled for r in _settings.rules):
        return
    ids = sorted(
        {d.id for d in getattr(context, "drafts", ()) if d.id is not None and d.state == _OPEN}
    )
    if not ids:
        return
    alerts = _open_alerts(session, ids)
    view_criticalities = getattr(context, "criticalities_of", None)
    criticalities = (
        view_criticalities if callable(view_criticalities) else _impact_criticalities(session)
    )
    _run_rules(session, alerts, _settings, RULES_ACTOR, criticalities)
