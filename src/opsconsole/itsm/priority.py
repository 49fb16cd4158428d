"""Priority = impact x urgency. The one writer of priority (DESIGN: "priority in itsm")."""

from __future__ import annotations

from opsconsole.itsm.settings import SEVERITIES, ItsmSettings
from opsconsole.store.models import Criticality

IMPACT_LABELS = {1: "1 - high", 2: "2 - medium", 3: "3 - low"}
URGENCY_LABELS = IMPACT_LABELS


class PriorityError(ValueError):
    """An impact or urgency outside 1 .. 3."""


def _level(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3:
        raise PriorityError(f"{name} must be 1 (high), 2 (medium) or 3 (low), not {value!r}")
    return value


def priority_of(impact: int, urgency: int, settings: ItsmSettings | None = None) -> int:
    """1 .. 5 from the configured matrix (rows impact, columns urgency)."""
    matrix = (settings or ItsmSettings()).priority_matrix
    return matrix[_level("impact", impact) - 1][_level("urgency", urgency) - 1]


def label(priority: int) -> str:
    return f"P{priority}"


def parse_priority(text: str | int) -> int:
    """'P2', 'p2' or 2 -> 2."""
    raw = str(text).strip().upper().removeprefix("P")
    if raw.isdigit() and 1 <= int(raw) <= 5:
        return int(raw)
    raise PriorityError(f"{text!r} is not a priority (P1 .. P5)")


def urgency_from_severity(severity: str, settings: ItsmSettings | None = None) -> int:
    if severity not in SEVERITIES:
        raise PriorityError(f"unknown severity {severity!r}")
    return (settings or ItsmSettings()).urgency_by_severity.get(severity, 3)


def impact_from_criticalities(criticalities: list[str | None], settings: ItsmSettings) -> int:
    """The highest impact among the services' criticalities (high 1, medium 2, low 3)."""
    known = {c.value for c in Criticality}
    found = [Criticality(c).impact for c in criticalities if c in known]
    return min(found) if found else settings.default_impact
