"""Shared by the sources: where an input went wrong (line and field), and time parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class FieldError(ValueError):
    """A bad value in one field of one event."""

    def __init__(self, field: str | None, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}" if field else message)


@dataclass(frozen=True)
class Problem:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


def parse_time(value: Any, name: str = "at") -> datetime:
    """An ISO 8601 / RFC 3339 time with a zone, as UTC (nanoseconds are cut to microseconds)."""
    if not isinstance(value, str):
        raise FieldError(name, "must be an ISO 8601 time string, e.g. 2026-11-23T10:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(name, f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise FieldError(name, f"{value!r} has no time zone (add Z or +00:00)")
    return parsed.astimezone(UTC)
