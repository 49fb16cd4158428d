"""Numbers in the units an operator reads at a glance (binary prefixes, short durations).

Fixed-width where it is cheap, so a value that changes does not shift its neighbours.
"""

from __future__ import annotations

_BINARY_PREFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
MISSING = "\u2013"  # en dash: a figure the collector could not read


def human_bytes(count: float | None) -> str:
    if count is None:
        return MISSING
    value = float(count)
    for unit in _BINARY_PREFIXES:
        if abs(value) < 1024 or unit == _BINARY_PREFIXES[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def human_rate(bytes_per_s: float | None) -> str:
    return MISSING if bytes_per_s is None else f"{human_bytes(bytes_per_s)}/s"


def percent(value: float | None) -> str:
    return f"{MISSING:>5} " if value is None else f"{value:5.1f}%"


def human_duration(seconds: float | None) -> str:
    """Two most significant units: 3d 4h, 5h 3m, 12m 5s, 42s."""
    if seconds is None:
        return MISSING
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "m"),
        (minutes, "m", secs, "s"),
    ):
        if big:
            return f"{big}{big_unit} {small}{small_unit}" if small else f"{big}{big_unit}"
    return f"{secs}s"
