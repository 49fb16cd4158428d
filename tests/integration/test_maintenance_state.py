"""MAINTENANCE against a real snmpd: CMDB -> change in Implement -> poller -> SNMP -> store.

A host whose agent is stopped while its CI is inside the window of a change being implemented
is MAINTENANCE (not DOWN), and its alarm still reaches the alert queue, marked maintenance;
once the change is closed the next polls make it DOWN (the alert open); with the agent
started again it is UP (the alert resolved). A second host on its own agent, with no change,
stays UP throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from opsconsole import clock
from opsconsole.cmdb.service import add_ci
from opsconsole.config import Settings
from opsconsole.events import pipeline
from opsconsole.events.settings import EventSettings
from opsconsole.itsm import changes
from opsconsole.monitoring.dashboard_queries import host_index
from opsconsole.monitoring.host_list import SortKey, sort_hosts
from opsconsole.monitoring.hosts import host_views
from opsconsole.monitoring.poller import Poller
from opsconsole.store import Store
from opsconsole.store.alert_models import Alert
from opsconsole.store.models import CIClass, EventRecord
from tests.snmpd import SnmpdConfig, SnmpdFactory

pytestmark = pytest.mark.peer("snmpd")


def settings() -> Settings:
    return Settings.model_validate(
        {
            "monitoring": {"down_after": 2, "retry_interval": 1, "local_host": False},
            "credentials": {
                "lab": {"version": "2c", "community": "public", "timeout": 0.5, "retries": 0}
            },
        }
    )


@pytest.fixture
def timers_every_batch() -> Iterator[None]:
    """The pipeline re-asks maintenance of open alerts in its timers, every 15 s by default:
    every batch here, so a closed change is seen at the next poll."""
    previous = pipeline.current_settings()
    pipeline.configure(EventSettings(timer_interval=0))
    yield
    pipeline.configure(previous)


def states(store: Store) -> dict[str, str]:
    with store.read() as s:
        return {v.name: v.state for v in host_views(s)}


def reachability_alert(store: Store, name: str) -> tuple[str, str | None, str | None]:
    with store.read() as s:
        alert = s.scalars(
            select(Alert).where(Alert.ci_name == name, Alert.check == "host.reachability")
        ).one()
        return alert.state, alert.suppression, alert.suppressed_reason


async def test_maintenance_then_down_then_up(
    sqlite_store: Store, snmpd_factory: SnmpdFactory, timers_every_batch: None
) -> None:
    agent = snmpd_factory(SnmpdConfig())
    control = snmpd_factory(SnmpdConfig())
    with sqlite_store.write("test") as s:
        db = add_ci(s, "db-01", CIClass.DATABASE, address="127.0.0.1", monitored=True,
                    collector="snmp", credential_profile="lab", snmp_port=agent.port)  # fmt: skip
        add_ci(s, "web-01", CIClass.HOST, address="127.0.0.1", monitored=True,
               collector="snmp", credential_profile="lab", snmp_port=control.port)  # fmt: skip
        now = clock.now()
        change = changes.create_change(
            s, "carol", change_type="normal", short_description="patch the database host",
            ci_ids=[db.id], planned_start=now - timedelta(minutes=1),
            planned_end=now + timedelta(hours=1),
        )  # fmt: skip
        # The approval flow is the ITSM tests' business: the state and the window matter here.
        change.state = changes.ChangeState.IMPLEMENT.value
        number = change.number
    poller = Poller(sqlite_store, settings(), name="it")
    try:
        await poller.poll_once()
        assert states(sqlite_store) == {"db-01": "UP", "web-01": "UP"}  # healthy: UP

        agent.stop()
        await poller.poll_once()  # one failure: soft
        assert states(sqlite_store)["db-01"] == "UP"
        await poller.poll_once()
        assert states(sqlite_store) == {"db-01": "MAINTENANCE", "web-01": "UP"}
        assert reachability_alert(sqlite_store, "db-01") == (
            "suppressed", "maintenance", f"maintenance {number}"
        )  # fmt: skip
        with sqlite_store.read() as s:  # the dashboard's read: MAINTENANCE, after the problems
            index = host_index(s, settings().monitoring)
        assert [(h.name, h.state) for h in sort_hosts(index.hosts, SortKey.PROBLEMS)] == [
            ("db-01", "MAINTENANCE"), ("web-01", "UP"),
        ]  # fmt: skip
        await poller.poll_once()  # still failing, still in the window: no change
        assert states(sqlite_store)["db-01"] == "MAINTENANCE"

        with sqlite_store.write("carol") as s:
            changes.transition_change(s, "carol", number, None, "review")
            changes.transition_change(s, "carol", number, None, "closed",
                                      close_code="successful", review_notes="ok")  # fmt: skip
        await poller.poll_once()
        assert states(sqlite_store) == {"db-01": "DOWN", "web-01": "UP"}
        assert reachability_alert(sqlite_store, "db-01") == ("open", None, None)

        agent.restart()
        await poller.poll_once()
        assert states(sqlite_store) == {"db-01": "UP", "web-01": "UP"}
        assert reachability_alert(sqlite_store, "db-01")[0] == "resolved"
    finally:
        poller.collectors.close()
    with sqlite_store.read() as s:
        raised = [
            (e.check, e.severity, e.clear, e.message)
            for e in s.scalars(
                select(EventRecord)
                .where(EventRecord.ci_id == db.id, EventRecord.check.like("host.%"))
                .order_by(EventRecord.id)
            )
        ]  # (thresholds left out: the agent reports this busy machine's CPU)
    assert [r[:3] for r in raised] == [
        ("host.reachability", "critical", False),  # MAINTENANCE: the alarm flows all the same
        ("host.reachability", "critical", False),  # DOWN: the same alert, no longer maintenance
        ("host.reachability", "info", True),  # UP
    ]
    assert f"in maintenance {number}" in raised[0][3]
