"""Keyset paging and quick views shared by the ticket lists (incidents, problems, changes,
requests): the same paging as the alert queue, cheap at any depth.

A page comes with an opaque cursor; pass it back as `after` for the next page. The cursor
holds the sort values of the last row, so rows inserted meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

VIEWS = ("open", "mine", "my_group", "unassigned", "breaching", "all")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class QueryError(ValueError):
    """A bad filter or cursor, worded for the operator."""


@dataclass(frozen=True)
class ListQuery:
    """What a list screen (or `opsconsole incident list`) asks for.

    view: open, mine (assignee is `me`), my_group (assignment group in `my_groups`),
    unassigned, breaching (incidents: a live SLA clock at warning or breached), all.
    """

    view: str = "open"
    me: str | None = None
    my_groups: tuple[str, ...] = ()
    text: str = ""
    states: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    assignment_group: str | None = None
    assignee: str | None = None
    ci_id: int | None = None
    sort: str = "default"

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise QueryError(f"unknown view {self.view!r} ({', '.join(VIEWS)})")
        if self.view == "mine" and not self.me:
            raise QueryError("the 'mine' view needs to know who you are")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    next_cursor: str | None = None  # None: this was the last page


@dataclass(frozen=True)
class SortKey:
    attribute: InstrumentedAttribute[Any]
    descending: bool = False

    @property
    def name(self) -> str:
        return self.attribute.key


@dataclass(frozen=True)
class Sort:
    keys: tuple[SortKey, ...] = field(default_factory=tuple)

    def order_by(self) -> list[ColumnElement[Any]]:
        return [k.attribute.desc() if k.descending else k.attribute.asc() for k in self.keys]


def _encode(values: Sequence[Any]) -> str:
    tagged = [
        {"t": "dt", "v": v.isoformat()} if isinstance(v, datetime) else {"t": "v", "v": v}
        for v in values
    ]
    raw = json.dumps(tagged, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        tagged = json.loads(raw)
        values = [
            datetime.fromisoformat(item["v"]) if item["t"] == "dt" else item["v"] for item in tagged
        ]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise QueryError("this page cursor is not valid (start from the first page)") from None
    if len(values) != size:
        raise QueryError("this page cursor belongs to another sort order")
    return values


def _after(sort: Sort, values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the sort order: (a > x) or (a = x and b > y) or ..."""
    clauses = []
    for i, key in enumerate(sort.keys):
        equal = [sort.keys[j].attribute == values[j] for j in range(i)]
        beyond = key.attribute < values[i] if key.descending else key.attribute > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def page(
    session: Session,
    statement: Select[T],
    sort: Sort,
    after: str | None,
    limit: int = DEFAULT_LIMIT,
) -> Page[T]:
    """Run `statement` sorted by `sort`, starting after the cursor, `limit` rows at most."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be 1 .. {MAX_LIMIT}")
    if after:
        statement = statement.where(_after(sort, _decode(after, len(sort.keys))))
    rows = list(session.scalars(statement.order_by(*sort.order_by()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        cursor = _encode([getattr(rows[-1], key.name) for key in sort.keys])
    return Page(rows, cursor)


def text_pattern(text: str) -> str:
    """A LIKE pattern that matches `text` literally anywhere (escape char: backslash)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
