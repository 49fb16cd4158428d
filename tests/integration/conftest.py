from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.snmpd import SnmpdFactory
from tests.snmpd import snmpd_factory as _snmpd_factory


@pytest.fixture
def snmpd_factory(tmp_path: Path) -> Iterator[SnmpdFactory]:
    """Start real snmpd agents on free loopback ports: `snmpd_factory(SnmpdConfig(...))`.
    Every agent is stopped when the test ends. Skips on a machine without snmpd (fails
    instead under OPSCONSOLE_REQUIRE_PEERS=1)."""
    with _snmpd_factory(tmp_path / "snmpd") as factory:
        yield factory
