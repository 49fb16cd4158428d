"""Words of the store that screens need before the store is open: plain enums, no SQLAlchemy,
so the console's first screen can be drawn while the store opens behind it.
`opsconsole.store.models` re-exports them."""

from __future__ import annotations

import enum


class HostStatus(enum.StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    UNREACHABLE = "UNREACHABLE"  # a parent it needs (CMDB) is down: not its own fault
    UNKNOWN = "UNKNOWN"  # no data yet
    MAINTENANCE = "MAINTENANCE"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 is the worst: sort ascending to get the most severe first."""
        return list(Severity).index(self)


__all__ = ["HostStatus", "Severity"]
