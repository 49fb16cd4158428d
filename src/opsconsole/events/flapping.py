"""Flapping detection as Icinga 2 does it.

Each result (event) of an alert is a state: 0 when it clears, else its severity level. The
last 20 results keep a flag "the state changed here"; the flapping value is the weighted share
of changes, older flags weighing 0.8 rising by 0.02 to 1.18 for the newest, over 20. An alert
starts flapping when the value rises above the high threshold (30 %) and stops when it falls
below the low one (25 %): the gap keeps it from toggling at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

WINDOW = 20
CLEAR_STATE = 0


@dataclass(frozen=True)
class FlapResult:
    changes: str  # "0"/"1" per result, oldest first, at most WINDOW long
    state: int
    value: float  # percent
    flapping: bool


@lru_cache(maxsize=8192)
def flap_value(changes: str) -> float:
    """Weighted share of state changes, in percent, over a full window of 20 results."""
    padded = changes[-WINDOW:].rjust(WINDOW, "0")
    weighted = sum(0.8 + 0.02 * i for i, flag in enumerate(padded) if flag == "1")
    return round(100.0 * weighted / WINDOW, 2)


def record_result(
    changes: str,
    last_state: int | None,
    new_state: int,
    was_flapping: bool,
    high: float,
    low: float,
) -> FlapResult:
    """Add one result; `last_state` None means no history (taken as clear, as Icinga does)."""
    previous = CLEAR_STATE if last_state is None else last_state
    changes = (changes + ("1" if new_state != previous else "0"))[-WINDOW:]
    value = flap_value(changes)
    flapping = value >= low if was_flapping else value > high
    return FlapResult(changes, new_state, value, flapping)
