"""What a collector hands over: one host's health at one moment, in plain numbers."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class DiskUsage:
    mount: str
    total_bytes: int
    used_bytes: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True)
class InterfaceRate:
    name: str
    rx_bytes_per_s: float | None  # None until two readings exist, or after a counter reset
    tx_bytes_per_s: float | None
    up: bool | None = None


@dataclass(frozen=True)
class HostSnapshot:
    """A host's health; fields a collector could not read are None (a partial sample)."""

    host: str
    at: datetime
    cpu_percent: float | None = None
    per_core_percent: tuple[float, ...] = ()
    load: tuple[float, float, float] | None = None
    mem_total_bytes: int | None = None
    mem_used_bytes: int | None = None
    swap_total_bytes: int | None = None
    swap_used_bytes: int | None = None
    disks: tuple[DiskUsage, ...] = ()
    interfaces: tuple[InterfaceRate, ...] = ()
    uptime_seconds: float | None = None
    process_count: int | None = None
    name: str | None = None
    description: str | None = None

    @property
    def mem_percent(self) -> float | None:
        if self.mem_total_bytes and self.mem_used_bytes is not None:
            return 100.0 * self.mem_used_bytes / self.mem_total_bytes
        return None

    @property
    def swap_percent(self) -> float | None:
        if self.swap_total_bytes and self.swap_used_bytes is not None:
            return 100.0 * self.swap_used_bytes / self.swap_total_bytes
        return None if self.swap_total_bytes is None else 0.0

    @property
    def rx_bytes_per_s(self) -> float | None:
        rates = [i.rx_bytes_per_s for i in self.interfaces if i.rx_bytes_per_s is not None]
        return sum(rates) if rates else None

    @property
    def tx_bytes_per_s(self) -> float | None:
        rates = [i.tx_bytes_per_s for i in self.interfaces if i.tx_bytes_per_s is not None]
        return sum(rates) if rates else None

    def metrics(self) -> dict[str, float]:
        """Flat metric name -> value, the form thresholds and the metrics store use."""
        values: dict[str, float | None] = {
            "cpu.percent": self.cpu_percent,
            "load.1": self.load[0] if self.load else None,
            "load.5": self.load[1] if self.load else None,
            "load.15": self.load[2] if self.load else None,
            "mem.percent": self.mem_percent,
            "swap.percent": self.swap_percent,
            "net.rx_bps": self.rx_bytes_per_s,
            "net.tx_bps": self.tx_bytes_per_s,
            "uptime.seconds": self.uptime_seconds,
            "proc.count": float(self.process_count) if self.process_count is not None else None,
        }
        for disk in self.disks:
            values[f"fs.percent:{disk.mount}"] = disk.percent
        return {k: v for k, v in values.items() if v is not None}


@dataclass
class MetricHistory:
    """The last N values of each metric of one host, for sparklines."""

    size: int
    series: dict[str, deque[float]] = field(default_factory=dict)

    def add(self, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self.series.setdefault(name, deque(maxlen=self.size)).append(value)

    def values(self, name: str) -> list[float]:
        return list(self.series.get(name, ()))

    def extend(self, snapshots: Iterable[HostSnapshot]) -> None:
        for snapshot in snapshots:
            self.add(snapshot.metrics())
