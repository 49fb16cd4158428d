"""Which CIs a poller watches, how often, and behind which parents."""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.config import MonitoringSettings
from opsconsole.store.models import CI, Collector, Relationship


@dataclass(frozen=True)
class Shard:
    """Shard K of N (1-based): N pollers split the estate by a stable hash of the CI name."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            k, n = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"--shard wants K/N, e.g. 1/3, not {text!r}") from None
        if not 1 <= k <= n:
            raise ValueError(f"--shard {text}: K must be between 1 and N")
        return cls(k, n)

    def owns(self, name: str) -> bool:
        return zlib.crc32(name.encode()) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class PollTarget:
    ci_id: int
    name: str
    ci_class: str
    collector: Collector
    address: str | None
    port: int
    profile: str | None
    interval: float
    parents: tuple[tuple[int, str], ...]  # monitored CIs it needs directly: (id, name)


def expected_interval(
    collector: str | None,
    ci_class: str,
    poll_interval: float | None,
    settings: MonitoringSettings,
    local_interval: float | None = None,
) -> float:
    """Seconds between two polls of a CI: its own poll_interval (CMDB), else the local
    host's interval for the psutil collector, else its class's interval, else the default.
    The poller schedules by it and the console judges a poll's age by it: one rule for both.
    `local_interval`: instead of `settings.local_interval` (a caller that overrides it)."""
    if poll_interval:
        return float(poll_interval)
    if collector == Collector.LOCAL.value:
        return settings.local_interval if local_interval is None else local_interval
    return settings.class_intervals.get(ci_class, settings.interval)


def load_targets(
    session: Session, settings: MonitoringSettings, shard: Shard, local_interval: float
) -> list[PollTarget]:
    monitored = session.scalars(select(CI).where(CI.monitored.is_(True))).all()
    names = {ci.id: ci.name for ci in monitored}
    parents: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for source_id, target_id in session.execute(
        select(Relationship.source_id, Relationship.target_id)
    ):
        if source_id in names and target_id in names:
            parents[source_id].append((target_id, names[target_id]))
    targets = []
    for ci in monitored:
        if ci.collector is None or not shard.owns(ci.name):
            continue
        collector = Collector(ci.collector)
        interval = expected_interval(
            collector.value, ci.ci_class, ci.poll_interval, settings, local_interval
        )
        targets.append(
            PollTarget(
                ci_id=ci.id,
                name=ci.name,
                ci_class=ci.ci_class,
                collector=collector,
                address=ci.address,
                port=ci.snmp_port or 161,
                profile=ci.credential_profile,
                interval=interval,
                parents=tuple(sorted(parents.get(ci.id, []), key=lambda p: p[1])),
            )
        )
    return sorted(targets, key=lambda t: t.name)
