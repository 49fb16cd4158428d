"""Which hosts of a batch of polls are inside a maintenance window: one query per batch.

The question is the one the events pipeline asks of every new alert
(`opsconsole.itsm.changes.maintenance_change`): is there a change in state Implement, on this
CI, whose planned window [planned_start, planned_end) holds this moment? If several do, the
one that started first (then the lowest id) names the maintenance. The pipeline asks it one CI
at a time; the recorder asks it for every host of a batch in one query (a few hundred polls a
second must not cost a query each).

The query reads the store's change tables directly rather than importing the ITSM domain:
monitoring sits below events and ITSM and does not depend on them (as the events pipeline
reaches ITSM only through importlib). `tests/unit/test_maintenance_state.py` checks that it
answers exactly as `maintenance_change` does, window edges and change states included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.store.itsm_models import Change, ChangeCI

IMPLEMENT = "implement"  # itsm.changes.ChangeState.IMPLEMENT: the only state with a window
_IN_CHUNK = 900  # bound parameters per IN list (well under SQLite's limit)


@dataclass(frozen=True)
class MaintenanceWindows:
    """Implementing changes' windows per CI, in the order `maintenance_change` prefers them:
    (planned_start, planned_end, change number)."""

    windows: dict[int, tuple[tuple[datetime, datetime, str], ...]] = field(default_factory=dict)

    def change_at(self, ci_id: int, at: datetime) -> str | None:
        """The number of the change whose window holds `at` on `ci_id`, or None."""
        for start, end, number in self.windows.get(ci_id, ()):
            if start <= at < end:
                return number
        return None

    def __bool__(self) -> bool:
        return bool(self.windows)


NO_WINDOWS = MaintenanceWindows()


def maintenance_windows(
    session: Session, ci_ids: Iterable[int], start: datetime, end: datetime
) -> MaintenanceWindows:
    """The windows of changes being implemented on `ci_ids` that overlap [start, end]: enough
    to answer `change_at` for any moment from `start` to `end` (the polls of a batch). One
    query per 900 CIs; none for no CI."""
    ids = sorted(set(ci_ids))
    if not ids:
        return NO_WINDOWS
    found: defaultdict[int, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for first in range(0, len(ids), _IN_CHUNK):
        part = ids[first : first + _IN_CHUNK]
        rows = session.execute(
            select(ChangeCI.ci_id, Change.planned_start, Change.planned_end, Change.number)
            .join(Change, Change.id == ChangeCI.change_id)
            .where(
                ChangeCI.ci_id.in_(part),
                Change.state == IMPLEMENT,
                Change.planned_start <= end,
                Change.planned_end > start,
            )
            .order_by(Change.planned_start, Change.id)
        )
        for ci_id, planned_start, planned_end, number in rows:
            if planned_start is not None and planned_end is not None:
                found[ci_id].append((planned_start, planned_end, number))
    return MaintenanceWindows({ci_id: tuple(rows) for ci_id, rows in found.items()})
