"""The console's embedded poller against a real net-snmp snmpd: the pinned laLoad.1 (7.77)
and hrProcessorLoad (97) of tests/snmpd.py reach the host's panel on the dashboard.

Skips without snmpd (fails instead under OPSCONSOLE_REQUIRE_PEERS=1, via tests.peers).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.app import OpsConsoleApp
from opsconsole.cmdb.service import add_ci
from opsconsole.config import Settings
from opsconsole.screens.dashboard import DashboardScreen
from opsconsole.store import open_store
from opsconsole.store.engine import Store
from opsconsole.store.models import CIClass
from opsconsole.widgets.host_panel import HostPanel
from tests.snmpd import LOAD_1, SnmpdConfig, SnmpdFactory
from tests.snmpd import snmpd_factory as make_snmpd_factory

pytestmark = pytest.mark.peer("snmpd")
HOST = "snmp-lab-01"


@pytest.fixture
def snmpd_factory(tmp_path: Path) -> Iterator[SnmpdFactory]:
    """As tests/integration/conftest.py builds it: real agents on free loopback ports."""
    with make_snmpd_factory(tmp_path / "snmpd") as factory:
        yield factory


@pytest.fixture
def snmp_store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite+pysqlite:///{tmp_path / 'snmp.db'}")
    yield opened
    opened.dispose()


def settings() -> Settings:
    return Settings.model_validate(
        {
            "operator": "alice",
            "monitoring": {"write_batch_seconds": 0.1},
            "ui": {"change_feed_interval": 0.5},
            "credentials": {
                "lab": {"version": "2c", "community": "public", "timeout": 0.5, "retries": 0}
            },
        }
    )


def panel(screen: DashboardScreen) -> HostPanel | None:
    for candidate in screen.panels:
        if candidate.host is not None and candidate.host.name == HOST:
            return candidate
    return None


async def test_pinned_snmp_values_reach_the_panel(
    snmp_store: Store, snmpd_factory: SnmpdFactory
) -> None:
    agent = snmpd_factory(SnmpdConfig())
    with snmp_store.write("test") as session:
        add_ci(
            session,
            HOST,
            CIClass.HOST,
            address="127.0.0.1",
            monitored=True,
            collector="snmp",
            credential_profile="lab",
            snmp_port=agent.port,
        )
    app = OpsConsoleApp(snmp_store, settings(), None, poll=True)
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + 30
        found: HostPanel | None = None
        while time.monotonic() < deadline:
            screen = app.screen
            if isinstance(screen, DashboardScreen):
                found = panel(screen)
                if found is not None and found.text("load") == f"load {LOAD_1.value}":
                    break
            # The first poll of an SNMP host is spread over its interval: ask for it now
            # (again, until the poller has loaded its targets).
            await pilot.press("r")
            await pilot.pause(0.5)
        assert found is not None, "no panel for the host"
        assert found.text("load") == "load 7.77"
        assert found.state == "UP"
        assert found.text("cpu") == " 97.0%"  # hrProcessorLoad, pinned
        assert app.embedded is not None and app.embedded.running
