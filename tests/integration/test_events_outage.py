"""A real outage: snmpd agents for a switch and the hosts behind it stop and start again; the
queue shows one DOWN alert for the switch with the hosts grouped under it, then resolves."""

from __future__ import annotations

import pytest

from opsconsole.cmdb.service import add_ci, relate
from opsconsole.config import Settings
from opsconsole.events import queries
from opsconsole.events.queries import View
from opsconsole.monitoring.poller import Poller
from opsconsole.store import Store
from opsconsole.store.alert_models import AlertState
from opsconsole.store.models import CIClass, RelationType
from tests.snmpd import SnmpdFactory

pytestmark = pytest.mark.peer("snmpd")


def settings() -> Settings:
    return Settings.model_validate(
        {
            "monitoring": {"local_host": False, "down_after": 1},
            "thresholds": {"defaults": {}},  # only reachability matters here
            "credentials": {
                "lab": {"version": "2c", "community": "public", "timeout": 0.5, "retries": 0}
            },
            "events": {"timer_interval": 0},
        }
    )


async def test_switch_outage_is_one_down_alert_with_its_hosts_grouped(
    sqlite_store: Store, snmpd_factory: SnmpdFactory
) -> None:
    store = sqlite_store
    agents = {name: snmpd_factory() for name in ("core-sw-01", "web-01", "db-01")}
    with store.write("test") as session:
        cis = {
            name: add_ci(
                session,
                name,
                CIClass.NETWORK_DEVICE if name.startswith("core") else CIClass.HOST,
                address=agent.host,
                snmp_port=agent.port,
                monitored=True,
                collector="snmp",
                credential_profile="lab",
            )
            for name, agent in agents.items()
        }
        shop = add_ci(session, "shop", CIClass.SERVICE, criticality="high")
        for host in ("web-01", "db-01"):
            relate(session, cis[host], RelationType.CONNECTED_TO, cis["core-sw-01"])
            relate(session, shop, RelationType.DEPENDS_ON, cis[host])
    poller = Poller(store, settings(), name="outage-test")
    await poller.poll_once()
    with store.read() as session:
        assert queries.alert_page(session, View.ALL).rows == []

    for agent in agents.values():
        agent.stop()
    await poller.poll_once()
    with store.read() as session:
        page = queries.alert_page(session, View.OPEN)
        assert [(r.ci_name, r.check, r.severity, r.children) for r in page.rows] == [
            ("core-sw-01", "host.reachability", "critical", 2)
        ]
        children = queries.children_of(session, page.rows[0].id)
        assert sorted((c.ci_name, c.state, c.suppressed_reason) for c in children) == [
            ("db-01", "suppressed", "unreachable via core-sw-01"),
            ("web-01", "suppressed", "unreachable via core-sw-01"),
        ]
        assert queries.severity_counts(session)["critical"] == 1

    for agent in agents.values():
        agent.start()
    await poller.poll_once()
    with store.read() as session:
        rows = queries.alert_page(session, View.ALL, roots_only=False).rows
        assert {(r.ci_name, r.state) for r in rows} == {
            ("core-sw-01", AlertState.RESOLVED),
            ("web-01", AlertState.RESOLVED),
            ("db-01", AlertState.RESOLVED),
        }
        assert queries.alert_page(session, View.ACTIVE).rows == []
