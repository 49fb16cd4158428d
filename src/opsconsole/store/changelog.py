"""Every ORM write is recorded in change_log, in the same transaction as the write.

A session listener does it, so no domain function can forget: the audit trail is complete
by construction, and consoles can follow it as a change feed (`changes_since`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from opsconsole import clock
from opsconsole.store.models import Base, ChangeLog

SKIPPED_FIELDS = frozenset({"updated_at", "created_at", "version"})
SYSTEM_ACTOR = "system"


def _plain(value: Any) -> Any:
    """JSON-safe form of a column value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _column_values(obj: Base) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in SKIPPED_FIELDS
    }


def _changed_fields(obj: Base) -> dict[str, list[Any]]:
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in SKIPPED_FIELDS:
            continue
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            changes[attr.key] = [_plain(old), _plain(new)]
    return changes


def _describe(obj: Base) -> str:
    describe = getattr(obj, "describe_for_log", None)
    if callable(describe):
        return str(describe())[:400]
    name = getattr(obj, "name", None)
    return str(name)[:400] if name is not None else ""


def _entry(session: Session, obj: Base, action: str, changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": clock.now(),
        "actor": session.info.get("actor", SYSTEM_ACTOR),
        "entity": obj.__tablename__,
        "entity_id": getattr(obj, "id", None),
        "action": action,
        "changes": changes,
        "summary": _describe(obj),
    }


def _logged(obj: object) -> bool:
    # Telemetry tables (host_state, written every poll) opt out with __changelog__ = False;
    # their meaningful changes are logged through rows of their own (host_state_change).
    return isinstance(obj, Base) and getattr(obj, "__changelog__", True)


@event.listens_for(Session, "after_flush")
def _record_writes(session: Session, flush_context: UOWTransaction) -> None:
    # after_flush: new rows have their ids, and attribute history still holds old values.
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if _logged(obj):
            rows.append(_entry(session, obj, "insert", _column_values(obj)))
    for obj in session.dirty:
        if _logged(obj) and (changes := _changed_fields(obj)):
            rows.append(_entry(session, obj, "update", changes))
    for obj in session.deleted:
        if _logged(obj):
            rows.append(_entry(session, obj, "delete", _column_values(obj)))
    if rows:
        session.connection().execute(insert(ChangeLog), rows)


def latest_change_id(session: Session) -> int:
    """The feed position: a console compares it with what it last saw to know if it must reload."""
    return session.scalar(select(func.coalesce(func.max(ChangeLog.id), 0))) or 0


def changes_since(session: Session, after_id: int, limit: int = 1000) -> Sequence[ChangeLog]:
    return session.scalars(
        select(ChangeLog).where(ChangeLog.id > after_id).order_by(ChangeLog.id).limit(limit)
    ).all()


def history_of(session: Session, entity: str, entity_id: int) -> Sequence[ChangeLog]:
    return session.scalars(
        select(ChangeLog)
        .where(ChangeLog.entity == entity, ChangeLog.entity_id == entity_id)
        .order_by(ChangeLog.id)
    ).all()
