"""Journal lines for people: field changes that hold a record id (ci_id=12, problem_id=3) are
shown with the name or number of what they point at (web-01, PRB0001003).

The journal keeps ids as they were written; a record deleted since shows as `#id (deleted)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.store.itsm_models import Change, JournalEntry, Problem, ServiceRequest
from opsconsole.store.models import CI

# field -> (model, the column shown, the label shown instead of the field name)
REFERENCES: dict[str, tuple[type, str, str]] = {
    "ci_id": (CI, "name", "CI"),
    "service_id": (CI, "name", "service"),
    "problem_id": (Problem, "number", "problem"),
    "caused_by_change_id": (Change, "number", "caused by change"),
    "request_id": (ServiceRequest, "number", "request"),
}


def _ids(entries: Iterable[JournalEntry], field: str) -> set[int]:
    found: set[int] = set()
    for entry in entries:
        if entry.kind == "field" and entry.field == field:
            for value in (entry.old_value, entry.new_value):
                if value is not None and value.isdigit():
                    found.add(int(value))
    return found


def reference_labels(
    session: Session, entries: Sequence[JournalEntry]
) -> dict[str, dict[int, str]]:
    """field -> {id: name or number} for every id the entries' field changes mention."""
    labels: dict[str, dict[int, str]] = {}
    for field, (model, column, _) in REFERENCES.items():
        ids = _ids(entries, field)
        if not ids:
            continue
        key = model.id  # type: ignore[attr-defined]
        shown = getattr(model, column)
        rows = session.execute(select(key, shown).where(key.in_(sorted(ids))))
        labels[field] = {row[0]: row[1] for row in rows}
    return labels


def describe_entry(entry: JournalEntry, labels: dict[str, dict[int, str]]) -> str:
    """One line of history without the time and actor: a note's text, or `field old -> new`
    with references shown by name."""
    if entry.kind != "field" or entry.text:
        return entry.text or ""
    field = entry.field or ""
    shown = field
    values = [entry.old_value, entry.new_value]
    if field in REFERENCES:
        shown = REFERENCES[field][2]
        names = labels.get(field, {})

        def name(value: str | None) -> str | None:
            if value is None or not value.isdigit():
                return value
            return names.get(int(value), f"#{value} (deleted)")

        values = [name(v) for v in values]
    return f"{shown} {values[0] or '-'} -> {values[1] or '-'}"


def describe_history(session: Session, entries: Sequence[JournalEntry]) -> list[str]:
    """`describe_entry` for each entry, with one lookup per kind of reference."""
    labels = reference_labels(session, entries)
    return [describe_entry(entry, labels) for entry in entries]
