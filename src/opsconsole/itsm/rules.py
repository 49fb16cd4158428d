"""Auto-incident rules: an alert that matches a rule in `itsm.rules` opens an incident, once
per correlated group of alerts.

The events pipeline calls `on_alert_batch(session, context)` at the end of every batch (its
rule hook), which runs `apply_alert_rules(session, alerts)` over the alerts the batch created
or changed, in the pipeline's transaction; `apply_alert_rules` can be called directly too.
The settings are the ones given to `configure` at start-up (defaults until then).

It is idempotent: a group (the root alert of a correlation, `parent_id`, or the alert itself)
fires a rule at most once, enforced by a unique key in the store, so a replay, a retry or two
pollers at once never open a second incident. Later alerts of a group that already has the
rule's incident are linked to that incident.

Only open alerts fire: suppressed ones (silence, maintenance, topology, flapping), resolved and
closed ones do not. If an operator already raised an open incident for the group's root alert,
the rule links to that one instead of opening its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.cmdb.impact import impacted_services
from opsconsole.itsm import journal as jn
from opsconsole.itsm.incidents import (
    OPEN_STATES,
    create_incident_from_alert,
    incidents_for_alert,
    link_alert,
)
from opsconsole.itsm.settings import SEVERITIES, AlertRule, ItsmSettings
from opsconsole.store.alert_models import Alert
from opsconsole.store.itsm_models import Incident, RuleFiring
from opsconsole.store.models import CI

RULES_ACTOR = "rules"
_settings = ItsmSettings()


def configure(settings: ItsmSettings) -> None:
    """The `itsm` settings the pipeline's rule hook uses: call once at start-up."""
    global _settings
    _settings = settings


def current_settings() -> ItsmSettings:
    return _settings


@dataclass(frozen=True)
class _Context:
    ci: CI | None
    criticalities: frozenset[str]


def group_key(alert: Alert) -> str:
    """The correlated group an alert belongs to: its root alert."""
    return f"alert:{alert.parent_id or alert.id}"


def matches(rule: AlertRule, alert: Alert, ci: CI | None, criticalities: frozenset[str]) -> bool:
    if not rule.enabled or alert.state != "open":
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


def _context(session: Session, alert: Alert, cache: dict[int, _Context]) -> _Context:
    if alert.ci_id is None:
        return _Context(None, frozenset())
    if alert.ci_id not in cache:
        ci = session.get(CI, alert.ci_id)
        found = impacted_services(session, ci) if ci is not None else []
        cache[alert.ci_id] = _Context(
            ci, frozenset(p.ci.criticality for p in found if p.ci.criticality)
        )
    return cache[alert.ci_id]


def _open_incident(session: Session, incident_id: int | None) -> Incident | None:
    if incident_id is None:
        return None
    incident = session.get(Incident, incident_id)
    if incident is None or incident.state not in [s.value for s in OPEN_STATES]:
        return None
    return incident


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
    rules = [r for r in settings.rules if r.enabled]
    if not rules or not alerts:
        return []
    opened: list[Incident] = []
    cache: dict[int, _Context] = {}
    for alert in alerts:
        if alert.state != "open":
            continue
        context = _context(session, alert, cache)
        for rule in rules:
            if not matches(rule, alert, context.ci, context.criticalities):
                continue
            key = group_key(alert)
            firing = session.scalar(
                select(RuleFiring).where(RuleFiring.rule == rule.name, RuleFiring.group_key == key)
            )
            if firing is not None:
                incident = _open_incident(session, firing.incident_id)
                if incident is not None:
                    link_alert(session, actor, incident, alert.id)
                continue
            created = _fire(session, actor, rule, alert, key, settings)
            if created is not None:
                opened.append(created)
            break  # one rule per alert: the first that matches
    return opened


def _fire(
    session: Session, actor: str, rule: AlertRule, alert: Alert, key: str, settings: ItsmSettings
) -> Incident | None:
    # Claim the group first: a concurrent process that claimed it makes this insert fail
    # (after waiting for its commit on PostgreSQL), and then we leave the group to it.
    try:
        with session.begin_nested():
            firing = RuleFiring(rule=rule.name, group_key=key, alert_id=alert.id, at=clock.now())
            session.add(firing)
            session.flush()
    except IntegrityError:
        return None
    root_id = alert.parent_id or alert.id
    existing = next(
        (i for i in incidents_for_alert(session, root_id) if _open_incident(session, i.id)), None
    )
    if existing is not None:
        firing.incident_id = existing.id
        link_alert(session, actor, existing, alert.id)
        return None
    incident = create_incident_from_alert(
        session,
        actor,
        alert.id,
        assign_to=rule.assign_to,
        assignment_group=rule.assignment_group,
        impact=rule.impact,
        urgency=rule.urgency,
        settings=settings,
    )
    firing.incident_id = incident.id
    jn.journal(
        session,
        actor,
        "incident",
        incident.id,
        "system",
        text=f"opened by rule {rule.name} for alert {alert.id}",
    )
    session.flush()
    return incident


def on_alert_batch(session: Session, context: Any) -> None:
    """The events pipeline's rule hook: `context.drafts` are the alerts of the batch (written
    already, with ids). Runs the configured rules over those that are open."""
    ids = sorted(
        {d.id for d in getattr(context, "drafts", ()) if d.id is not None and d.state == "open"}
    )
    if not ids or not any(r.enabled for r in _settings.rules):
        return
    alerts = session.scalars(
        select(Alert)
        .where(Alert.id.in_(ids))
        .order_by(Alert.id)
        .execution_options(populate_existing=True)
    ).all()
    apply_alert_rules(session, alerts, _settings)
