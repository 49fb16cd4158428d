"""Service requests: a small catalog in config (items, their fields, fulfillment tasks).

A request is submitted for a catalog item with values for its fields; its tasks are created at
once from the item. States: New -> In Progress -> Fulfilled -> Closed, Canceled from New or
In Progress. The request follows its tasks: it goes In Progress when work on a task starts and
Fulfilled when every task is closed (complete or skipped); canceling skips the open tasks.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.itsm import journal as jn
from opsconsole.itsm.journal import ItsmError, NotFound, TransitionRefused
from opsconsole.itsm.query import ListQuery, Page, QueryError, Sort, SortKey, page, text_pattern
from opsconsole.itsm.settings import CatalogItem, ItsmSettings
from opsconsole.store.itsm_models import JournalEntry, RequestTask, ServiceRequest

RECORD = "request"
TASK = "task"


class RequestState(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    FULFILLED = "fulfilled"
    CLOSED = "closed"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


class TaskState(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED_COMPLETE = "closed_complete"
    CLOSED_SKIPPED = "closed_skipped"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()

    @property
    def closed(self) -> bool:
        return self in (TaskState.CLOSED_COMPLETE, TaskState.CLOSED_SKIPPED)


R, T = RequestState, TaskState
TRANSITIONS: dict[RequestState, tuple[RequestState, ...]] = {
    R.NEW: (R.IN_PROGRESS, R.CANCELED),
    R.IN_PROGRESS: (R.FULFILLED, R.CANCELED),
    R.FULFILLED: (R.CLOSED, R.IN_PROGRESS),
    R.CLOSED: (),
    R.CANCELED: (),
}
TASK_TRANSITIONS: dict[TaskState, tuple[TaskState, ...]] = {
    T.OPEN: (T.IN_PROGRESS, T.CLOSED_COMPLETE, T.CLOSED_SKIPPED),
    T.IN_PROGRESS: (T.CLOSED_COMPLETE, T.CLOSED_SKIPPED, T.OPEN),
    T.CLOSED_COMPLETE: (),
    T.CLOSED_SKIPPED: (),
}
OPEN = (R.NEW, R.IN_PROGRESS)


def _settings(settings: ItsmSettings | None) -> ItsmSettings:
    return settings if settings is not None else ItsmSettings()


def _key(text: str) -> str:
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def parse_state(text: str) -> RequestState:
    try:
        return RequestState(_key(text))
    except ValueError:
        names = ", ".join(s.value for s in RequestState)
        raise ItsmError(f"unknown request state {text!r} ({names})") from None


def parse_task_state(text: str) -> TaskState:
    key = {
        "done": "closed_complete",
        "complete": "closed_complete",
        "skip": "closed_skipped",
        "skipped": "closed_skipped",
    }.get(_key(text), _key(text))
    try:
        return TaskState(key)
    except ValueError:
        names = ", ".join(s.value for s in TaskState)
        raise ItsmError(f"unknown task state {text!r} ({names})") from None


# --- the catalog -----------------------------------------------------------------------------


def catalog(settings: ItsmSettings | None = None) -> dict[str, CatalogItem]:
    return dict(_settings(settings).catalog)


def catalog_item(key: str, settings: ItsmSettings | None = None) -> CatalogItem:
    items = _settings(settings).catalog
    if key not in items:
        raise ItsmError(f"no catalog item {key!r} ({', '.join(items) or 'the catalog is empty'})")
    return items[key]


def validate_values(item: CatalogItem, values: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values for the item's fields, or ItsmError naming the first bad field."""
    known = {f.name: f for f in item.fields}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ItsmError(f"{item.title}: no field {unknown[0]!r} ({', '.join(known)})")
    out: dict[str, Any] = {}
    for spec in item.fields:
        raw = values.get(spec.name)
        name = spec.label or spec.name
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if spec.required:
                raise ItsmError(f"{name} is required")
            continue
        if spec.kind == "number":
            try:
                number = float(raw)
            except (TypeError, ValueError):
                raise ItsmError(f"{name}: {raw!r} is not a number") from None
            out[spec.name] = int(number) if number.is_integer() else number
        elif spec.kind == "flag":
            text = str(raw).strip().lower()
            if text not in ("true", "false", "yes", "no", "1", "0"):
                raise ItsmError(f"{name}: say yes or no")
            out[spec.name] = text in ("true", "yes", "1")
        elif spec.kind == "choice":
            if str(raw) not in spec.choices:
                raise ItsmError(f"{name}: {raw!r} is not one of {', '.join(spec.choices)}")
            out[spec.name] = str(raw)
        else:
            out[spec.name] = str(raw).strip()
    return out


# --- requests --------------------------------------------------------------------------------


def find_request(session: Session, number: str) -> ServiceRequest | None:
    return session.scalar(
        select(ServiceRequest).where(ServiceRequest.number == number.strip().upper())
    )


def get_request(session: Session, number: str) -> ServiceRequest:
    request = find_request(session, number)
    if request is None:
        raise NotFound(f"no request {number.strip().upper()}")
    return request


def _locked(session: Session, number: str) -> ServiceRequest:
    request = session.scalar(
        select(ServiceRequest)
        .where(ServiceRequest.number == number.strip().upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise NotFound(f"no request {number.strip().upper()}")
    return request


def tasks_of(session: Session, request: ServiceRequest) -> Sequence[RequestTask]:
    return session.scalars(
        select(RequestTask)
        .where(RequestTask.request_id == request.id)
        .order_by(RequestTask.position)
    ).all()


def history(session: Session, request: ServiceRequest) -> Sequence[JournalEntry]:
    return jn.entries(session, RECORD, request.id)


def allowed_transitions(request: ServiceRequest) -> list[RequestState]:
    return list(TRANSITIONS[RequestState(request.state)])


def submit_request(
    session: Session,
    actor: str,
    item: str,
    values: Mapping[str, Any],
    *,
    requested_for: str | None = None,
    short_description: str | None = None,
    settings: ItsmSettings | None = None,
) -> ServiceRequest:
    spec = catalog_item(item, settings)
    typed = validate_values(spec, values)
    now = clock.now()
    summary = short_description or (
        spec.title
        + (
            f": {typed[spec.fields[0].name]}"
            if spec.fields and spec.fields[0].name in typed
            else ""
        )
    )
    request = ServiceRequest(
        number=jn.next_number(session, RECORD),
        item=item,
        short_description=summary[:200],
        requested_for=requested_for or actor,
        requested_by=actor,
        values=typed,
        assignment_group=spec.assignment_group,
        state=R.NEW.value,
        due_at=now + spec.fulfillment,
        opened_at=now,
    )
    session.add(request)
    session.flush()
    jn.journal(
        session,
        actor,
        RECORD,
        request.id,
        "system",
        text=f"requested {spec.title} for {request.requested_for}",
        data=typed,
        at=now,
    )
    jn.journal(session, actor, RECORD, request.id, "field", field="state", new=R.NEW.value, at=now)
    for position, task_spec in enumerate(spec.tasks, start=1):
        task = RequestTask(
            number=jn.next_number(session, TASK),
            request_id=request.id,
            position=position,
            short_description=task_spec.short_description,
            assignment_group=task_spec.assignment_group or spec.assignment_group,
            state=T.OPEN.value,
        )
        session.add(task)
        session.flush()
        jn.journal(
            session,
            actor,
            RECORD,
            request.id,
            "system",
            text=f"task {task.number} opened: {task.short_description}",
            at=now,
        )
    session.flush()
    session.expire(request, ["tasks"])
    return request


def transition_request(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    to: RequestState | str,
    *,
    note: str | None = None,
) -> ServiceRequest:
    target = parse_state(to) if isinstance(to, str) else to
    request = _locked(session, number)
    jn.check_version("request", request.number, request, expected_version)
    current = RequestState(request.state)
    if target not in TRANSITIONS[current]:
        offered = ", ".join(s.label for s in TRANSITIONS[current]) or "none: it is final"
        raise TransitionRefused(
            f"{request.number}: {current.label} cannot go to {target.label} (allowed: {offered})"
        )
    tasks = tasks_of(session, request)
    if target is R.FULFILLED and any(not TaskState(t.state).closed for t in tasks):
        raise TransitionRefused("every task must be closed before the request is fulfilled")
    if target is R.CANCELED and not (note or "").strip():
        raise TransitionRefused("say why the request is canceled (a note)")
    _move(session, actor, request, target)
    if target is R.CANCELED:
        for task in tasks:
            if not TaskState(task.state).closed:
                jn.set_fields(
                    session,
                    actor,
                    TASK,
                    task,
                    {"state": T.CLOSED_SKIPPED.value, "closed_at": clock.now()},
                )
    if note and note.strip():
        jn.note(session, actor, RECORD, request.id, note, internal=True)
    session.flush()
    return request


def _move(session: Session, actor: str, request: ServiceRequest, target: RequestState) -> None:
    now = clock.now()
    changes: dict[str, Any] = {"state": target.value}
    if target is R.FULFILLED:
        changes["fulfilled_at"] = now
    if target is R.IN_PROGRESS and request.fulfilled_at is not None:
        changes["fulfilled_at"] = None
    if target in (R.CLOSED, R.CANCELED):
        changes["closed_at"] = now
    jn.set_fields(session, actor, RECORD, request, changes, at=now)


def update_request(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    *,
    settings: ItsmSettings | None = None,
    **changes: Any,
) -> ServiceRequest:
    """Edit who it is for, its summary and assignment; the catalog item's `values` only while
    the request is New (validated against the item, like a submit): once work started, what
    was asked for is what is delivered (a note says what changed)."""
    allowed = {"assignment_group", "assignee", "short_description", "requested_for", "values"}
    unknown = set(changes) - allowed
    if unknown:
        raise ItsmError(f"not editable: {', '.join(sorted(unknown))}")
    request = _locked(session, number)
    jn.check_version("request", request.number, request, expected_version)
    if request.state in (R.CLOSED.value, R.CANCELED.value):
        raise ItsmError(f"{request.number} is {request.state}: it can no longer be edited")
    if "short_description" in changes:
        changes["short_description"] = str(changes["short_description"] or "").strip()
        if not changes["short_description"]:
            raise ItsmError("a short description is required")
    if "requested_for" in changes and not str(changes["requested_for"] or "").strip():
        raise ItsmError("say whom the request is for")
    if "values" in changes:
        typed = validate_values(catalog_item(request.item, settings), changes["values"] or {})
        if typed != request.values and request.state != R.NEW.value:
            raise ItsmError(
                f"{request.number} is {RequestState(request.state).label}: its "
                "values can change only while it is New"
            )
        changes["values"] = typed
    jn.set_fields(session, actor, RECORD, request, changes)
    session.flush()
    return request


def allowed_task_transitions(task: RequestTask) -> list[TaskState]:
    """The next states of a task, the usual next step first (start, then complete)."""
    return list(TASK_TRANSITIONS[TaskState(task.state)])


def get_task(session: Session, number: str) -> RequestTask:
    task = session.scalar(
        select(RequestTask)
        .where(RequestTask.number == number.strip().upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound(f"no task {number.strip().upper()}")
    return task


def update_task(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    *,
    state: TaskState | str | None = None,
    assignee: str | None = None,
    assignment_group: str | None = None,
    notes: str | None = None,
) -> RequestTask:
    """Work a fulfillment task; the request follows (In Progress, then Fulfilled)."""
    task = get_task(session, number)
    jn.check_version("task", task.number, task, expected_version)
    request = _locked(session, task.request.number)
    if request.state not in (R.NEW.value, R.IN_PROGRESS.value):
        raise ItsmError(f"{request.number} is {request.state}: its tasks are closed")
    changes: dict[str, Any] = {}
    if assignee is not None:
        changes["assignee"] = assignee or None
    if assignment_group is not None:
        changes["assignment_group"] = assignment_group or None
    if notes is not None:
        changes["notes"] = notes
    if state is not None:
        target = parse_task_state(state) if isinstance(state, str) else state
        current = TaskState(task.state)
        if target is not current:
            if target not in TASK_TRANSITIONS[current]:
                offered = ", ".join(s.label for s in TASK_TRANSITIONS[current]) or "none"
                raise TransitionRefused(
                    f"{task.number}: {current.label} cannot go to {target.label} "
                    f"(allowed: {offered})"
                )
            changes["state"] = target.value
            if target.closed:
                changes["closed_at"] = clock.now()
    now = clock.now()
    done = jn.set_fields(session, actor, TASK, task, changes, at=now)
    for name, (old, new) in done.items():
        if name != "closed_at":
            jn.journal(
                session,
                actor,
                RECORD,
                request.id,
                "field",
                field=f"{task.number}.{name}",
                old=old,
                new=new,
                at=now,
            )
    session.flush()
    if "state" in done:
        states = [TaskState(t.state) for t in tasks_of(session, request)]
        if request.state == R.NEW.value:
            _move(session, actor, request, R.IN_PROGRESS)
        if states and all(s.closed for s in states) and request.state == R.IN_PROGRESS.value:
            _move(session, actor, request, R.FULFILLED)
    session.flush()
    return task


def add_note(
    session: Session, actor: str, number: str, text: str, *, internal: bool = True
) -> JournalEntry:
    request = get_request(session, number)
    entry = jn.note(session, actor, RECORD, request.id, text, internal=internal)
    session.flush()
    return entry


SORTS = {
    "default": Sort((SortKey(ServiceRequest.id, descending=True),)),
    "newest": Sort((SortKey(ServiceRequest.id, descending=True),)),
    "due": Sort((SortKey(ServiceRequest.due_at), SortKey(ServiceRequest.id))),
}


def _filtered(query: ListQuery) -> Select[ServiceRequest]:
    statement = select(ServiceRequest)
    if query.view != "all" and not query.states:
        statement = statement.where(ServiceRequest.state.in_([s.value for s in OPEN]))
    if query.view == "mine":
        statement = statement.where(
            (ServiceRequest.assignee == query.me)
            | ServiceRequest.id.in_(
                select(RequestTask.request_id).where(RequestTask.assignee == query.me)
            )
        )
    elif query.view == "my_group":
        groups = list(query.my_groups)
        statement = statement.where(
            ServiceRequest.assignment_group.in_(groups)
            | ServiceRequest.id.in_(
                select(RequestTask.request_id).where(RequestTask.assignment_group.in_(groups))
            )
        )
    elif query.view == "unassigned":
        statement = statement.where(ServiceRequest.assignee.is_(None))
    elif query.view == "breaching":  # past the item's fulfillment time
        statement = statement.where(ServiceRequest.due_at <= clock.now())
    if query.states:
        statement = statement.where(
            ServiceRequest.state.in_([parse_state(s).value for s in query.states])
        )
    if query.assignment_group:
        statement = statement.where(ServiceRequest.assignment_group == query.assignment_group)
    if query.assignee:
        statement = statement.where(ServiceRequest.assignee == query.assignee)
    if query.text:
        pattern = text_pattern(query.text)
        statement = statement.where(
            ServiceRequest.number.ilike(pattern, escape="\\")
            | ServiceRequest.short_description.ilike(pattern, escape="\\")
        )
    return statement


def list_requests(
    session: Session,
    query: ListQuery | None = None,
    *,
    after: str | None = None,
    limit: int = 100,
) -> Page[ServiceRequest]:
    query = query or ListQuery()
    if query.sort not in SORTS:
        raise QueryError(f"unknown sort {query.sort!r} ({', '.join(SORTS)})")
    return page(session, _filtered(query), SORTS[query.sort], after, limit)
