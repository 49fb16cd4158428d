"""Reading the alert queue: pages, filters, quick views, counts and the detail of one alert.

The queue is sorted worst first, then newest: severity_level, last_seen and id, all
descending, read by keyset paging along an index (`ix_alert_queue`, or `ix_alert_state_queue`
for a quick view of one state), never OFFSET, so a page costs the same at any depth of a
million alerts. A cursor is the sort key of the last row shown.
"""

from __future__ import annotations

import enum
import importlib
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from opsconsole import clock
from opsconsole.cmdb.impact import ImpactPath, impacted_services
from opsconsole.events.actions import get_alert
from opsconsole.store.alert_models import (
    ACTIVE_STATES,
    SEVERITY_LEVEL,
    Alert,
    AlertHistory,
    AlertState,
)
from opsconsole.store.models import CI, Severity

ACTIVE_VALUES = tuple(s.value for s in ACTIVE_STATES)
CHANGES_MODULE = "opsconsole.itsm.changes"
KNOWLEDGE_MODULE = "opsconsole.itsm.knowledge"


class View(enum.StrEnum):
    OPEN = "open"
    ACTIVE = "active"  # open, acknowledged and suppressed: everything not over
    MINE = "mine"
    ACKNOWLEDGED = "acknowledged"
    SUPPRESSED = "suppressed"
    ALL = "all"


class FilterError(ValueError):
    """A filter the operator typed that cannot be used, worded for them."""


@dataclass(frozen=True)
class Cursor:
    """The sort key of a row: page after it (next page) or before it (previous page)."""

    level: int
    last_seen: datetime
    id: int


# field:value terms of the `/` filter. Text fields match a part, case-insensitively.
TEXT_FIELDS: dict[str, Any] = {
    "ci": Alert.ci_name,
    "check": Alert.check,
    "service": Alert.services,
    "text": Alert.message,
    "message": Alert.message,
    "resource": Alert.resource,
    "source": Alert.source,
    "assignee": Alert.assignee,
    "reason": Alert.suppressed_reason,
}
EXACT_FIELDS = ("severity", "state", "id")
FILTER_FIELDS = (*TEXT_FIELDS, *EXACT_FIELDS)


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text (CI, check or message)
    value: str
    negate: bool = False


def parse_filter(text: str) -> list[Term]:
    """`web disk` (both words somewhere), `ci:web-01 severity:>=major -check:cpu "two words"`."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"filter: {exc}") from None
    terms = []
    for word in words:
        negate = word.startswith("-") and len(word) > 1
        if negate:
            word = word[1:]
        name, sep, value = word.partition(":")
        if sep and name.lower() in FILTER_FIELDS:
            if not value:
                raise FilterError(f"filter: {name}: needs a value")
            terms.append(Term(name.lower(), value, negate))
        else:
            terms.append(Term(None, word, negate))
    for term in terms:
        _condition(term)  # validate now, not when the query runs
    return terms


def _like(column: Any, value: str) -> ColumnElement[bool]:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.coalesce(column, "").ilike(f"%{escaped}%", escape="\\")


def _severity_condition(value: str) -> ColumnElement[bool]:
    op = ""
    for prefix in (">=", "<=", ">", "<", "="):
        if value.startswith(prefix):
            op, value = prefix, value[len(prefix) :]
            break
    try:
        level = SEVERITY_LEVEL[Severity(value.lower())]
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise FilterError(f"filter: severity: {value!r} is not one of {names}") from None
    column = Alert.severity_level
    return {
        "": column == level, "=": column == level, ">=": column >= level,
        "<=": column <= level, ">": column > level, "<": column < level,
    }[op]  # fmt: skip


def _condition(term: Term) -> ColumnElement[bool]:
    if term.field is None:
        condition = or_(
            _like(Alert.message, term.value),
            _like(Alert.ci_name, term.value),
            _like(Alert.check, term.value),
        )
    elif term.field in TEXT_FIELDS:
        condition = _like(TEXT_FIELDS[term.field], term.value)
    elif term.field == "severity":
        condition = _severity_condition(term.value)
    elif term.field == "state":
        try:
            condition = Alert.state == AlertState(term.value.lower()).value
        except ValueError:
            names = ", ".join(s.value for s in AlertState)
            raise FilterError(f"filter: state: {term.value!r} is not one of {names}") from None
    else:
        try:
            condition = Alert.id == int(term.value.lstrip("#"))
        except ValueError:
            raise FilterError(f"filter: id: {term.value!r} is not a number") from None
    return not_(condition) if term.negate else condition


@dataclass(frozen=True)
class AlertRow:
    """One row of the queue (plain values, safe to use after the session closed)."""

    id: int
    severity: str
    severity_level: int
    state: str
    ci_name: str
    check: str
    resource: str
    message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    services: str
    assignee: str | None
    acked_by: str | None
    snoozed_until: datetime | None
    suppressed_reason: str | None
    flapping: bool
    parent_id: int | None
    group_reason: str | None
    children: int = 0

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.severity_level, self.last_seen, self.id)

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or clock.now()) - self.first_seen

    def marker(self, now: datetime | None = None, seconds: float = 300.0) -> str:
        """ "new" or "resolved" for a few minutes after it happened (as Zabbix marks rows)."""
        now = now or clock.now()
        window = timedelta(seconds=seconds)
        if self.resolved_at is not None and now - self.resolved_at <= window:
            return "resolved"
        if now - self.first_seen <= window:
            return "new"
        return ""


ROW_COLUMNS = (
    Alert.id, Alert.severity, Alert.severity_level, Alert.state, Alert.ci_name, Alert.check,
    Alert.resource, Alert.message, Alert.count, Alert.first_seen, Alert.last_seen,
    Alert.resolved_at, Alert.services, Alert.assignee, Alert.acked_by, Alert.snoozed_until,
    Alert.suppressed_reason, Alert.flapping, Alert.parent_id, Alert.group_reason,
)  # fmt: skip


@dataclass(frozen=True)
class Page:
    rows: list[AlertRow]
    has_more: bool  # beyond the last row (paging forward) or before the first (backward)

    @property
    def first(self) -> Cursor | None:
        return self.rows[0].cursor if self.rows else None

    @property
    def last(self) -> Cursor | None:
        return self.rows[-1].cursor if self.rows else None


def _view_condition(view: View, actor: str | None) -> list[ColumnElement[bool]]:
    if view is View.ALL:
        return []
    if view is View.ACTIVE:
        return [Alert.state.in_(ACTIVE_VALUES)]
    if view is View.MINE:
        if not actor:
            raise FilterError("the 'mine' view needs to know who you are")
        return [Alert.assignee == actor, Alert.state.in_(ACTIVE_VALUES)]
    return [Alert.state == AlertState(view.value).value]


def alert_page(
    session: Session,
    view: View = View.OPEN,
    *,
    actor: str | None = None,
    text: str = "",
    after: Cursor | None = None,
    before: Cursor | None = None,
    limit: int = 200,
    roots_only: bool = True,
) -> Page:
    """A page of the queue: the first, the one after `after`, or the one before `before`.

    With `roots_only` a correlated child is not a row of its own: its parent's row counts it
    (`children`), and `children_of` lists them.
    """
    backward = before is not None and after is None
    cursor = after if after is not None else before
    query = _page_query(View(view), actor, text, roots_only, cursor is not None, backward)
    params: dict[str, Any] = {"limit": limit + 1}
    if cursor is not None:
        params.update(c_level=cursor.level, c_seen=cursor.last_seen, c_id=cursor.id)
    rows = list(session.execute(query, params).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    return Page([_row(row) for row in rows], has_more)


_PAGE_QUERIES: dict[tuple[Any, ...], Select[Any]] = {}
_MAX_CACHED_QUERIES = 256


def _page_query(
    view: View, actor: str | None, text: str, roots_only: bool, keyed: bool, backward: bool
) -> Select[Any]:
    """The statement for a page, built once per shape (cursor values are bound parameters),
    so paging through the queue costs no statement building or compiling."""
    cache_key = (view, actor, text, roots_only, keyed, backward)
    cached = _PAGE_QUERIES.get(cache_key)
    if cached is not None:
        return cached
    conditions = _view_condition(view, actor)
    conditions += [_condition(term) for term in parse_filter(text)]
    if roots_only:
        # Not `parent_id IS NULL`: without statistics SQLite would take that for a selective
        # equality and walk ix_alert_parent, then sort; the queue must walk the queue index.
        conditions.append(func.coalesce(Alert.parent_id, 0) == 0)
        child = aliased(Alert)
        children: Any = select(func.count()).where(child.parent_id == Alert.id).scalar_subquery()
    else:
        children = literal(0)
    columns: list[Any] = [*ROW_COLUMNS, children.label("children")]
    query: Select[Any] = select(*columns)
    if conditions:
        query = query.where(and_(*conditions))
    if keyed:
        key = tuple_(Alert.severity_level, Alert.last_seen, Alert.id)
        bound = tuple_(
            bindparam("c_level", type_=Alert.severity_level.type),
            bindparam("c_seen", type_=Alert.last_seen.type),
            bindparam("c_id", type_=Alert.id.type),
        )
        query = query.where(key > bound if backward else key < bound)
    order = (Alert.severity_level, Alert.last_seen, Alert.id)
    query = query.order_by(*(c.asc() if backward else c.desc() for c in order))
    query = query.limit(bindparam("limit", type_=Integer))
    if len(_PAGE_QUERIES) >= _MAX_CACHED_QUERIES:
        _PAGE_QUERIES.clear()
    _PAGE_QUERIES[cache_key] = query
    return query


def _row(row: Any, children: int | None = None) -> AlertRow:
    """A result row (ROW_COLUMNS, then maybe the children count) as an AlertRow."""
    values: tuple[Any, ...] = tuple(row)
    if children is not None:
        values = (*values, children)
    return AlertRow(*values)


def _child_counts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    query = (
        select(Alert.parent_id, func.count())
        .where(Alert.parent_id.in_(list(ids)))
        .group_by(Alert.parent_id)
    )
    return {parent: count for parent, count in session.execute(query) if parent is not None}


def children_of(session: Session, alert_id: int, limit: int = 500) -> list[AlertRow]:
    query = (
        select(*ROW_COLUMNS)
        .where(Alert.parent_id == alert_id)
        .order_by(Alert.severity_level.desc(), Alert.last_seen.desc(), Alert.id.desc())
        .limit(limit)
    )
    return [_row(r) for r in session.execute(query)]


def alert_row(session: Session, alert_id: int) -> AlertRow | None:
    row = session.execute(select(*ROW_COLUMNS).where(Alert.id == alert_id)).one_or_none()
    if row is None:
        return None
    return _row(row, _child_counts(session, [alert_id]).get(alert_id, 0))


def severity_counts(
    session: Session, states: Sequence[AlertState] = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
) -> dict[Severity, int]:
    """Alerts by severity in these states (the header's counts); every severity is present."""
    counts = dict.fromkeys(Severity, 0)
    by_level = {level: severity for severity, level in SEVERITY_LEVEL.items()}
    query = (
        select(Alert.severity_level, func.count())
        .where(Alert.state.in_([s.value for s in states]))
        .group_by(Alert.severity_level)
    )
    for level, count in session.execute(query):
        counts[by_level[level]] = count
    return counts


_COUNT_ACTIVE = (
    select(Alert.state, func.count()).where(Alert.state.in_(ACTIVE_VALUES)).group_by(Alert.state)
)
_COUNT_ALL = select(func.count()).select_from(Alert)


def view_counts(session: Session, actor: str | None = None) -> dict[View, int]:
    """How many alerts each quick view holds (roots and children alike).

    The active states are counted along `ix_alert_state_queue` (they are the few); the rest
    only in the total, which SQLite counts over its smallest index: a few ms over a million
    alerts, where grouping every state walked all of them (about 100 ms)."""
    by_state: dict[str, int] = {state: count for state, count in session.execute(_COUNT_ACTIVE)}
    counts = {
        View.OPEN: by_state.get(AlertState.OPEN.value, 0),
        View.ACTIVE: sum(by_state.get(s, 0) for s in ACTIVE_VALUES),
        View.ACKNOWLEDGED: by_state.get(AlertState.ACKNOWLEDGED.value, 0),
        View.SUPPRESSED: by_state.get(AlertState.SUPPRESSED.value, 0),
        View.ALL: session.scalar(_COUNT_ALL) or 0,
        View.MINE: 0,
    }
    if actor:
        counts[View.MINE] = (
            session.scalar(
                select(func.count()).where(Alert.assignee == actor, Alert.state.in_(ACTIVE_VALUES))
            )
            or 0
        )
    return counts


def latest_alert_id(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(Alert.id), 0))) or 0


def new_alerts_since(
    session: Session, after_id: int, min_severity: Severity = Severity.CRITICAL, limit: int = 50
) -> list[AlertRow]:
    """Open alerts created after `after_id` at least this severe (new criticals announce
    themselves; a suppressed one, silenced or in maintenance, is expected and does not)."""
    query = (
        select(*ROW_COLUMNS)
        .where(
            Alert.id > after_id,
            Alert.severity_level >= SEVERITY_LEVEL[min_severity],
            Alert.state == AlertState.OPEN.value,
        )
        .order_by(Alert.id)
        .limit(limit)
    )
    return [_row(r) for r in session.execute(query)]


# --- detail ------------------------------------------------------------------------------------


@dataclass
class AlertDetail:
    alert: Alert
    history: list[AlertHistory]
    parent: AlertRow | None
    children: list[AlertRow]
    services: list[ImpactPath]
    recent_changes: list[object] = field(default_factory=list)
    knowledge: list[object] = field(default_factory=list)


def alert_detail(session: Session, alert_id: int, change_days: float = 14) -> AlertDetail:
    """Everything the detail view shows: all fields, history, correlated children, impacted
    services (with the path), recent changes on the CI and knowledge articles for the check."""
    alert = get_alert(session, alert_id)
    history = list(
        session.scalars(
            select(AlertHistory).where(AlertHistory.alert_id == alert_id).order_by(AlertHistory.id)
        )
    )
    parent = alert_row(session, alert.parent_id) if alert.parent_id is not None else None
    services: list[ImpactPath] = []
    ci = session.get(CI, alert.ci_id) if alert.ci_id is not None else None
    if ci is not None:
        services = impacted_services(session, ci)
    return AlertDetail(
        alert=alert, history=history, parent=parent, children=children_of(session, alert_id),
        services=services,
        recent_changes=recent_changes(session, alert.ci_id, timedelta(days=change_days)),
        knowledge=knowledge_for_check(session, alert.check),
    )  # fmt: skip


def _optional(module_name: str, function: str) -> Any:
    """A function of a service-management module that may not exist yet (then None)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name in (module_name, module_name.rpartition(".")[0]):
            return None
        raise
    return getattr(module, function, None)


def recent_changes(
    session: Session, ci_id: int | None, within: timedelta = timedelta(days=14)
) -> list[object]:
    """Changes on this CI that ended (or are planned to end) within `within`, newest first,
    from `opsconsole.itsm.changes.recent_changes_for_ci(session, ci_id, since)`; empty while
    service management does not provide it."""
    if ci_id is None:
        return []
    changes_for_ci = _optional(CHANGES_MODULE, "recent_changes_for_ci")
    if changes_for_ci is None:
        return []
    return list(changes_for_ci(session, ci_id, clock.now() - within))


def knowledge_for_check(session: Session, check: str) -> list[object]:
    """Knowledge articles for a check, from `opsconsole.itsm.knowledge.articles_for_check(
    session, check)`; empty while service management does not provide it."""
    articles_for_check = _optional(KNOWLEDGE_MODULE, "articles_for_check")
    if articles_for_check is None:
        return []
    return list(articles_for_check(session, check))
