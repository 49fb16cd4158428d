"""What every ITSM record shares: numbers, the journal, versions and refused edits."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.store.engine import Store, VersionConflict
from opsconsole.store.itsm_models import JournalEntry, NumberSequence

T = TypeVar("T")

# record type -> number prefix
PREFIXES = {
    "incident": "INC",
    "problem": "PRB",
    "change": "CHG",
    "request": "REQ",
    "task": "TASK",
    "article": "KB",
}
FIRST_NUMBER = 1001
NUMBER_DIGITS = 7


class ItsmError(Exception):
    """A request the rules refuse, worded for the operator (shown inline or on stderr)."""


class NotFound(ItsmError):
    pass


class TransitionRefused(ItsmError):
    pass


def next_number(session: Session, record_type: str) -> str:
    """INC0001001, INC0001002, ... unique across processes (see NumberSequence)."""
    prefix = PREFIXES[record_type]
    bump = (
        update(NumberSequence)
        .where(NumberSequence.prefix == prefix)
        .values(last_value=NumberSequence.last_value + 1)
        .returning(NumberSequence.last_value)
    )
    value = session.execute(bump).scalar_one_or_none()
    if value is None:
        # First number of this kind: create the counter. Two processes racing here collide on
        # the primary key; the loser (savepoint rolled back) bumps the winner's row instead.
        try:
            with session.begin_nested():
                session.execute(
                    insert(NumberSequence).values(prefix=prefix, last_value=FIRST_NUMBER)
                )
            value = FIRST_NUMBER
        except IntegrityError:
            value = session.execute(bump).scalar_one()
    return f"{prefix}{value:0{NUMBER_DIGITS}d}"


def plain(value: Any) -> str | None:
    """How a field value is written in the journal (text, None for empty)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def journal(
    session: Session,
    actor: str,
    record_type: str,
    record_id: int,
    kind: str,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    text: str = "",
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> JournalEntry:
    entry = JournalEntry(
        record_type=record_type,
        record_id=record_id,
        at=at or clock.now(),
        actor=actor,
        kind=kind,
        field=field,
        old_value=plain(old),
        new_value=plain(new),
        text=text,
        data=dict(data or {}),
    )
    session.add(entry)
    return entry


def set_fields(
    session: Session,
    actor: str,
    record_type: str,
    record: Any,
    changes: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Apply `changes` to `record`, journaling each field that really changes."""
    done: dict[str, tuple[Any, Any]] = {}
    for name, value in changes.items():
        old = getattr(record, name)
        if old == value:
            continue
        setattr(record, name, value)
        journal(
            session, actor, record_type, record.id, "field", field=name, old=old, new=value, at=at
        )
        done[name] = (old, value)
    return done


def note(
    session: Session, actor: str, record_type: str, record_id: int, text: str, *, internal: bool
) -> JournalEntry:
    text = text.strip()
    if not text:
        raise ItsmError("the note is empty")
    kind = "work_note" if internal else "comment"
    return journal(session, actor, record_type, record_id, kind, text=text)


def entries(session: Session, record_type: str, record_id: int) -> Sequence[JournalEntry]:
    return session.scalars(
        select(JournalEntry)
        .where(JournalEntry.record_type == record_type, JournalEntry.record_id == record_id)
        .order_by(JournalEntry.id)
    ).all()


def check_version(label: str, key: str, record: Any, expected: int | None) -> None:
    """Refuse an edit made on an older version (None: the caller read the record just now)."""
    if expected is not None and record.version != expected:
        raise VersionConflict(label, key, expected, record.version)


# --- refused edits ---------------------------------------------------------------------------


def record_refused_edit(
    session: Session,
    actor: str,
    record_type: str,
    record_id: int,
    attempted: Mapping[str, Any],
    reason: str,
) -> JournalEntry:
    """Journal an edit that was refused (in its own transaction: the edit's was rolled back),
    so the history tells the truth about both operators."""
    summary = ", ".join(f"{k}={plain(v)}" for k, v in attempted.items()) or "(no fields)"
    return journal(
        session,
        actor,
        record_type,
        record_id,
        "refused",
        text=f"edit refused: {reason}; attempted {summary}",
        data={"attempted": {k: plain(v) for k, v in attempted.items()}, "reason": reason},
    )


@dataclass(frozen=True)
class RecordRef:
    """How to find a record again after its transaction failed."""

    record_type: str
    record_id: int


def write_or_record_refusal(
    store: Store,
    actor: str,
    ref: RecordRef,
    attempted: Mapping[str, Any],
    action: Callable[[Session], T],
) -> T:
    """Run `action` in a write transaction; on a version conflict journal the refused attempt
    in a second transaction and re-raise, so the caller can show it and keep the edit."""
    try:
        with store.write(actor) as session:
            return action(session)
    except VersionConflict as exc:
        with store.write(actor) as session:
            record_refused_edit(session, actor, ref.record_type, ref.record_id, attempted, str(exc))
        raise
