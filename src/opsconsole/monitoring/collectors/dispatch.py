"""One entry point for "collect this target", whatever the protocol.

It owns the per-process collector state: one SNMP engine for every SNMP host (never one per
request), one LocalCollector per local CI (it keeps counters for rates), and the previous
SNMP counters of each host.
"""

from __future__ import annotations

import asyncio
from typing import Any

from opsconsole.config import Settings
from opsconsole.monitoring.collectors.local import LocalCollector
from opsconsole.monitoring.sample import HostSnapshot
from opsconsole.monitoring.targets import PollTarget
from opsconsole.store.models import Collector


class PollFailure(Exception):
    """The host did not answer (or could not be asked): counts as a failed poll."""


class CollectorSet:
    """`snmp_rewalk_every`: every how many polls an SNMP host's tables are walked again
    (between walks a poll is one GET of what changes); default (None): the setting
    `monitoring.snmp_rewalk_every`."""

    def __init__(self, settings: Settings, *, snmp_rewalk_every: int | None = None) -> None:
        self._settings = settings
        if snmp_rewalk_every is None:
            snmp_rewalk_every = settings.monitoring.snmp_rewalk_every
        if snmp_rewalk_every < 1:
            raise ValueError("snmp_rewalk_every must be at least 1")
        self.snmp_rewalk_every = snmp_rewalk_every
        self._local: dict[int, LocalCollector] = {}
        self._snmp: Any = None  # SnmpCollector, created on first use: pysnmp is slow to import
        self._counters: dict[int, Any] = {}

    async def collect(self, target: PollTarget) -> HostSnapshot:
        if target.collector is Collector.LOCAL:
            collector = self._local.get(target.ci_id)
            if collector is None:
                collector = self._local[target.ci_id] = LocalCollector(target.name)
            return await asyncio.to_thread(collector.collect)
        return await self._collect_snmp(target)

    async def _collect_snmp(self, target: PollTarget) -> HostSnapshot:
        from opsconsole.monitoring.collectors.snmp import SnmpTarget, SnmpUnreachable

        if not target.address:
            raise PollFailure("no address in the CMDB")
        if target.profile is None:
            raise PollFailure("no credential profile in the CMDB")
        profile = self._settings.credentials.get(target.profile)
        if profile is None:
            raise PollFailure(f"credential profile {target.profile!r} is not in the config")
        snmp_target = SnmpTarget(target.name, target.address, target.port, profile)
        try:
            snapshot, state = await self.snmp_collector().collect(
                snmp_target, self._counters.get(target.ci_id)
            )
        except SnmpUnreachable as exc:
            raise PollFailure(str(exc) or "no SNMP response") from None
        self._counters[target.ci_id] = state
        assert isinstance(snapshot, HostSnapshot)
        return snapshot

    def snmp_collector(self) -> Any:
        """The process's one SnmpCollector (created on first use: pysnmp is slow to import;
        its engine is made at its first request)."""
        if self._snmp is None:
            from opsconsole.monitoring.collectors.snmp import SnmpCollector

            self._snmp = SnmpCollector(rewalk_every=self.snmp_rewalk_every)
        return self._snmp

    @property
    def pdus_sent(self) -> int:
        return int(getattr(self._snmp, "pdus_sent", 0))

    def close(self) -> None:
        if self._snmp is not None:
            self._snmp.close()
            self._snmp = None
