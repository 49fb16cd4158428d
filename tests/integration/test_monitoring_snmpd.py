"""The whole monitoring path against real snmpd agents: CMDB -> poller -> SNMP -> store.

A switch and a host behind it, each a real snmpd on its own loopback port; pinned values
(laLoad.1 = 7.77, hrProcessorLoad = 97) must arrive exactly; stopping the agents makes the
switch DOWN and the host UNREACHABLE via the switch; starting them again brings both UP.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from opsconsole.cmdb.service import add_ci, relate
from opsconsole.config import Settings
from opsconsole.monitoring.hosts import host_views
from opsconsole.monitoring.poller import Poller
from opsconsole.store import Store
from opsconsole.store.models import CIClass, EventRecord, MetricSample, RelationType
from tests.snmpd import SnmpdConfig, SnmpdFactory, V3User

pytestmark = pytest.mark.peer("snmpd")
V3 = V3User("opsmon")


def settings() -> Settings:
    return Settings.model_validate(
        {
            "monitoring": {"down_after": 2, "retry_interval": 1},
            "credentials": {
                "lab": {"version": "2c", "community": "public", "timeout": 0.5, "retries": 0},
                "lab3": {"version": 3, "user": V3.name, "auth_protocol": "SHA",
                         "auth_key": V3.auth_pass, "priv_protocol": "AES",
                         "priv_key": V3.priv_pass, "timeout": 0.5, "retries": 0},
            },
        }
    )  # fmt: skip


def states(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.read() as s:
        return {v.name: (v.state, v.unreachable_via) for v in host_views(s)}


async def test_pinned_values_outage_and_recovery(
    sqlite_store: Store, snmpd_factory: SnmpdFactory
) -> None:
    switch_agent = snmpd_factory(SnmpdConfig())
    host_agent = snmpd_factory(SnmpdConfig(users=(V3,)))
    with sqlite_store.write("test") as s:
        switch = add_ci(
            s,
            "sw-01",
            CIClass.NETWORK_DEVICE,
            address="127.0.0.1",
            monitored=True,
            collector="snmp",
            credential_profile="lab",
            snmp_port=switch_agent.port,
        )
        host = add_ci(
            s,
            "db-01",
            CIClass.HOST,
            address="127.0.0.1",
            monitored=True,
            collector="snmp",
            credential_profile="lab3",
            snmp_port=host_agent.port,
        )
        relate(s, host, RelationType.CONNECTED_TO, switch)  # fmt: skip
    poller = Poller(sqlite_store, settings(), name="it")
    try:
        await poller.poll_once()
        assert states(sqlite_store) == {"sw-01": ("UP", None), "db-01": ("UP", None)}
        with sqlite_store.read() as s:
            views = {v.name: v for v in host_views(s)}
            loads = set(
                s.scalars(select(MetricSample.value).where(MetricSample.metric == "load.1"))
            )
        assert views["db-01"].metrics["load.1"] == 7.77  # over SNMPv3 authPriv
        assert views["sw-01"].metrics["load.1"] == 7.77  # over v2c
        assert loads == {7.77}
        assert views["sw-01"].latest["per_core_percent"] == [97.0]
        assert any(d["mount"] == "/" for d in views["db-01"].latest["disks"])

        switch_agent.stop()
        host_agent.stop()
        await poller.poll_once()  # one failure: soft, still UP
        assert states(sqlite_store)["sw-01"] == ("UP", None)
        await poller.poll_once()
        assert states(sqlite_store) == {
            "sw-01": ("DOWN", None),
            "db-01": ("UNREACHABLE", "sw-01"),
        }
        switch_agent.restart()
        host_agent.restart()
        await poller.poll_once()
        assert states(sqlite_store) == {"sw-01": ("UP", None), "db-01": ("UP", None)}
    finally:
        poller.collectors.close()
    with sqlite_store.read() as s:
        raised = [
            (e.check, e.severity, e.clear)
            for e in s.scalars(select(EventRecord).order_by(EventRecord.id))
        ]
    assert raised.count(("host.reachability", "critical", False)) == 1  # one root alarm
    assert ("host.unreachable", "warning", False) in raised
    assert ("host.reachability", "info", True) in raised  # cleared on recovery
