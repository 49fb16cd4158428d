"""Auto-incident rules: which alerts fire, once per correlated group, idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from opsconsole.itsm import incidents as inc
from opsconsole.itsm.rules import RULES_ACTOR, apply_alert_rules, group_key
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.store import Store
from opsconsole.store.itsm_models import Incident, RuleFiring
from tests.itsm_support import add_alert, frozen, load_estate

DEFAULTS = ItsmSettings()


@pytest.fixture
def estate(store: Store) -> Iterator[Store]:
    with frozen():
        load_estate(store)
        yield store


def count(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Incident)) or 0


def test_critical_alert_on_production_ci_of_a_high_service_opens_a_p1(estate: Store) -> None:
    with estate.write("pipeline") as s:
        alert = add_alert(s, "db-01", severity="critical")
        opened = apply_alert_rules(s, [alert], DEFAULTS)
        assert len(opened) == 1
        incident = opened[0]
        assert (incident.priority, incident.opened_by) == (1, RULES_ACTOR)
        assert incident.assignment_group == "dba-team"
        assert inc.linked_alert_ids(s, incident) == [alert.id]
        notes = [e.text for e in inc.history(s, incident) if e.kind == "system"]
        assert (
            f"opened by rule critical-on-production-of-high-service for alert {alert.id}" in notes
        )


@pytest.mark.parametrize(
    ("ci", "severity", "state"),
    [
        ("db-01", "major", "open"),  # not critical enough
        ("stage-web-01", "critical", "open"),  # staging
        ("wiki-db", "critical", "open"),  # serves a low-criticality service only
        ("db-01", "critical", "suppressed"),  # maintenance / silenced
        ("db-01", "critical", "resolved"),
        (None, "critical", "open"),  # no CI: no environment, no service
    ],
)
def test_alerts_that_do_not_fire(estate: Store, ci: str | None, severity: str, state: str) -> None:
    with estate.write("pipeline") as s:
        alert = add_alert(s, ci, severity=severity, state=state)
        assert apply_alert_rules(s, [alert], DEFAULTS) == []
    assert count(estate) == 0


def test_once_per_correlated_group_and_idempotent(estate: Store) -> None:
    with estate.write("pipeline") as s:
        root = add_alert(s, "access-sw-02", severity="critical", message="switch DOWN")
        children = [
            add_alert(s, name, severity="critical", parent_id=root.id, check="host.unreachable")
            for name in ("app-01", "app-02")
        ]
        assert group_key(children[0]) == group_key(root) == f"alert:{root.id}"
        first = apply_alert_rules(s, [root, *children], DEFAULTS)
        assert len(first) == 1
        again = apply_alert_rules(s, [root, *children], DEFAULTS)
        assert again == []
        late = add_alert(s, "app-03", severity="critical", parent_id=root.id)
        assert apply_alert_rules(s, [late], DEFAULTS) == []
        assert inc.linked_alert_ids(s, first[0]) == sorted(
            [root.id, *(c.id for c in children), late.id]
        )
    assert count(estate) == 1
    with estate.write("pipeline") as s:  # a new transaction, as the next pipeline batch
        assert apply_alert_rules(s, [late], DEFAULTS) == []
        assert s.scalar(select(func.count()).select_from(RuleFiring)) == 1


def test_a_group_already_raised_by_hand_is_not_raised_again(estate: Store) -> None:
    with estate.write("ana") as s:
        root = add_alert(s, "db-01", severity="critical")
        mine = inc.create_incident_from_alert(s, "ana", root.id)
        child = add_alert(s, "shop-db", severity="critical", parent_id=root.id)
        assert apply_alert_rules(s, [child], DEFAULTS) == []
        assert inc.linked_alert_ids(s, mine) == [root.id, child.id]
    assert count(estate) == 1


def test_a_closed_groups_incident_is_not_reused_nor_reopened(estate: Store) -> None:
    with estate.write("pipeline") as s:
        root = add_alert(s, "db-01", severity="critical")
        (incident,) = apply_alert_rules(s, [root], DEFAULTS)
        inc.resolve_incident(s, "ana", incident.number, None, code="duplicate", notes="x")
        child = add_alert(s, "shop-db", severity="critical", parent_id=root.id)
        assert apply_alert_rules(s, [child], DEFAULTS) == []
        assert inc.linked_alert_ids(s, incident) == [root.id]


def test_rule_options(estate: Store) -> None:
    settings = ItsmSettings.model_validate(
        {
            "rules": [
                {"name": "off", "enabled": False},
                {
                    "name": "links",
                    "min_severity": "major",
                    "checks": ["snmp.link*"],
                    "ci_classes": ["network_device"],
                    "service_criticality": [],
                    "impact": 2,
                    "urgency": 2,
                    "assignment_group": "noc",
                    "assign_to": "nina",
                },
            ]
        }
    )
    with estate.write("pipeline") as s:
        fs = add_alert(s, "access-sw-01", check="fs.percent", severity="critical")
        link = add_alert(s, "access-sw-01", check="snmp.link", severity="major")
        host_link = add_alert(s, "web-01", check="snmp.link", severity="major")
        opened = apply_alert_rules(s, [fs, link, host_link], settings)
        assert [(i.priority, i.assignment_group, i.assignee) for i in opened] == [
            (3, "noc", "nina")
        ]
        assert inc.linked_alert_ids(s, opened[0]) == [link.id]
    assert apply_alert_rules.__name__ == "apply_alert_rules"  # the name the pipeline calls


# --- through the events pipeline -------------------------------------------------------------


def _down(store: Store, host: str) -> None:
    from opsconsole import clock
    from opsconsole.cmdb.service import get_ci
    from opsconsole.events.pipeline import Event, submit
    from opsconsole.store.models import Severity

    with store.write("poller") as s:
        submit(
            s,
            [
                Event(
                    source="monitoring",
                    check="host.reachability",
                    severity=Severity.CRITICAL,
                    message=f"{host} is DOWN",
                    at=clock.now(),
                    ci_id=get_ci(s, host).id,
                )
            ],
        )


def test_the_pipeline_runs_the_rules_once_per_group(estate: Store) -> None:
    _down(estate, "db-01")
    _down(estate, "db-01")  # the same alert again: deduplicated, no second incident
    with estate.read() as s:
        incidents = s.scalars(select(Incident)).all()
        assert [(i.priority, i.opened_by) for i in incidents] == [(1, RULES_ACTOR)]


def test_alerts_inside_an_implementing_change_open_nothing(estate: Store) -> None:
    from datetime import timedelta

    from opsconsole import clock
    from opsconsole.itsm import changes as chg
    from opsconsole.store.alert_models import Alert
    from tests.itsm_support import ci_id

    with estate.write("bob") as s:
        number = chg.create_change(
            s,
            "bob",
            change_type="standard",
            template="os-patching",
            ci_ids=[ci_id(s, "db-01")],
            planned_start=clock.now() - timedelta(minutes=5),
        ).number
        chg.transition_change(s, "bob", number, None, "scheduled")
        chg.transition_change(s, "bob", number, None, "implement")
    _down(estate, "db-01")
    with estate.read() as s:
        alert = s.scalars(select(Alert)).one()
        assert alert.state == "suppressed"
        assert number in (alert.suppressed_reason or "")
    assert count(estate) == 0


def test_a_child_with_its_own_open_incident_gets_no_second_one(estate: Store) -> None:
    """The group's root has no incident, but the alert itself has one (raised before it was
    grouped): the rule claims the group for that incident instead of opening a duplicate."""
    with estate.write("ana") as s:
        root = add_alert(s, "access-sw-02", severity="critical", message="switch DOWN")
        child = add_alert(s, "app-01", severity="critical")
        mine = inc.create_incident_from_alert(s, "ana", child.id)
        child.parent_id = root.id  # grouped afterwards
        s.flush()
        assert apply_alert_rules(s, [child], DEFAULTS) == []
        firing = s.scalars(select(RuleFiring)).one()
        assert (firing.group_key, firing.incident_id) == (f"alert:{root.id}", mine.id)
        late = add_alert(s, "app-02", severity="critical", parent_id=root.id)
        assert apply_alert_rules(s, [late], DEFAULTS) == []
        assert inc.linked_alert_ids(s, mine) == [child.id, late.id]
    assert count(estate) == 1


# --- per batch, not per alert ----------------------------------------------------------------


class Statements:
    """Counts the SQL statements an engine runs while `counting` is set."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        self.counting = False
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        if self.counting:
            self.count += 1


def _statements_for_a_group(store: Store, children: int) -> int:
    """Statements of one run over a group whose incident exists and links every alert."""
    statements = Statements(store)
    with store.write("pipeline") as s:
        root = add_alert(s, "access-sw-02", severity="critical")
        group = [root] + [
            add_alert(s, "app-01", check=f"check.{i}", severity="critical", parent_id=root.id)
            for i in range(children)
        ]
        (incident,) = apply_alert_rules(s, group, DEFAULTS)
        assert inc.linked_alert_ids(s, incident) == sorted(a.id for a in group)
        statements.counting = True
        assert apply_alert_rules(s, group, DEFAULTS) == []
        statements.counting = False
    return statements.count


def test_lookups_are_per_batch_not_per_alert(estate: Store) -> None:
    few = _statements_for_a_group(estate, 2)
    with frozen() as manual:  # a second group, apart in time
        manual.advance(timedelta(hours=1))
        many = _statements_for_a_group(estate, 40)
    assert few == many
    # CI facts, firings, incidents, links, and an impact analysis for each of the 2 CIs:
    # about ten, where each alert used to cost a few of its own.
    assert many <= 12


def test_the_hook_reads_impact_from_the_batch_and_costs_the_same_for_any_repeats(
    estate: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsconsole.itsm import rules

    def no_impact_analysis(*_: object) -> None:
        raise AssertionError("the hook has the pipeline's CMDB view")

    monkeypatch.setattr(rules, "impacted_services", no_impact_analysis)
    hook = rules.on_alert_batch
    counted: list[int] = []
    statements = Statements(estate)

    def counting_hook(session: Session, context: object) -> None:
        statements.count, statements.counting = 0, True
        try:
            hook(session, context)
        finally:
            statements.counting = False
        counted.append(statements.count)

    monkeypatch.setattr(rules, "on_alert_batch", counting_hook)
    checks = [f"app.check{i}" for i in range(30)]
    _send(estate, "db-01", checks[:3])  # a group of 3 on db-01 opens one incident
    _send(estate, "db-01", checks[:3])  # repeats of 3
    _send(estate, "db-01", checks)  # repeats of 3 and 27 new alerts of the group, linked
    _send(estate, "db-01", checks)  # repeats of 30
    assert count(estate) == 1
    with estate.read() as s:
        (incident,) = s.scalars(select(Incident)).all()
        assert len(inc.linked_alert_ids(s, incident)) == 30
    assert counted[1] == counted[3]  # 3 repeats or 30: the same few statements


def _send(store: Store, ci: str, checks: list[str]) -> None:
    from opsconsole import clock
    from opsconsole.cmdb.service import get_ci
    from opsconsole.events.pipeline import Event, submit
    from opsconsole.store.models import Severity

    with store.write("poller") as s:
        ci_id = get_ci(s, ci).id
        submit(
            s,
            [
                Event("monitoring", check, Severity.CRITICAL, "down", clock.now(), ci_id=ci_id)
                for check in checks
            ],
        )
