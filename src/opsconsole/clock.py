"""The one clock of the process.

Every domain function that needs "now" asks this module, so tests can freeze or step time
and everything is stored in UTC. Local time is a display concern only.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: for tests and replays."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)


_current: Clock = SystemClock()


def now() -> datetime:
    return _current.now()


def use(clock: Clock) -> Clock:
    """Install `clock` as the process clock; returns the previous one so callers can restore it."""
    global _current
    previous = _current
    _current = clock
    return previous


def to_local(when: datetime) -> datetime:
    """Convert a stored UTC time into the viewer's local zone for display."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone()
