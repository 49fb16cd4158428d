"""`opsconsole incident|change|problem|request|kb ...`: tickets from scripts.

The same domain functions as the screens; `--json` for machines. A save made with
`--expected-version N` is refused if the ticket moved on since version N (the refusal is
journaled on the ticket), exactly as a form save is. Errors: one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial, wraps
from typing import Any

from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.cmdb.service import get_ci
from opsconsole.config import Settings
from opsconsole.itsm import changes as chg
from opsconsole.itsm import incidents as inc
from opsconsole.itsm import knowledge as kb
from opsconsole.itsm import problems as prb
from opsconsole.itsm import requests as req
from opsconsole.itsm.calendars import CalendarError
from opsconsole.itsm.journal import ItsmError, RecordRef, write_or_record_refusal
from opsconsole.itsm.priority import PriorityError, label, parse_priority
from opsconsole.itsm.query import VIEWS, ListQuery, Page, QueryError
from opsconsole.itsm.sla import ClockStatus
from opsconsole.store import open_store
from opsconsole.store.engine import Store, VersionConflict
from opsconsole.store.itsm_models import (
    Change,
    Incident,
    JournalEntry,
    Problem,
    ServiceRequest,
)
from opsconsole.store.models import CI

Handler = Callable[[argparse.Namespace, Settings], int]


def _guard(fn: Handler) -> Handler:
    """Domain refusals become one line on stderr and exit 1."""

    @wraps(fn)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return fn(args, settings)
        except (ItsmError, VersionConflict, QueryError, PriorityError, CalendarError) as exc:
            print(f"opsconsole: {exc}", file=sys.stderr)
            return 1

    return run


# --- helpers ---------------------------------------------------------------------------------


def _store(args: argparse.Namespace, settings: Settings) -> Store:
    return open_store(settings.database_url(args.db))


def _plain(text: object) -> str:
    """Text from outside never writes terminal escapes."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(text))


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _local(when: datetime | None) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M") if when else "-"


def _when(text: str) -> datetime:
    """ISO 8601; a time without a zone is local time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ItsmError(
            f"{text!r} is not a time: write it like 2026-12-01T22:00 or with +01:00"
        ) from None
    return value.astimezone() if value.tzinfo is None else value


def _ci_id(session: Session, name: str | None) -> int | None:
    if name is None:
        return None
    if name == "":
        return None
    return get_ci(session, name).id


def _ci_name(session: Session, ci_id: int | None) -> str | None:
    if ci_id is None:
        return None
    ci = session.get(CI, ci_id)
    return ci.name if ci else None


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def _journal_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "kind": entry.kind,
        "field": entry.field,
        "old": entry.old_value,
        "new": entry.new_value,
        "text": entry.text,
    }


def _journal_line(entry: JournalEntry) -> str:
    head = f"{_local(entry.at)}  {_plain(entry.actor)}  {entry.kind}"
    if entry.kind == "field":
        body = (
            f"{entry.field}: {_plain(entry.old_value or '-')} -> {_plain(entry.new_value or '-')}"
        )
        return f"{head}  {body}" + (f"  ({_plain(entry.text)})" if entry.text else "")
    return f"{head}  {_plain(entry.text)}"


def _query(args: argparse.Namespace, settings: Settings, ci_id: int | None) -> ListQuery:
    return ListQuery(
        view=args.view,
        me=settings.actor,
        my_groups=tuple(settings.itsm.groups_of(settings.actor)),
        text=args.text or "",
        states=tuple(args.state or ()),
        priorities=tuple(parse_priority(p) for p in getattr(args, "priority", None) or ()),
        assignment_group=args.group,
        assignee=args.assignee,
        ci_id=ci_id,
        sort=args.sort,
    )


def _add_list_arguments(parser: argparse.ArgumentParser, *, priorities: bool = True) -> None:
    parser.add_argument("--view", choices=VIEWS, default="open", help="quick view (open)")
    parser.add_argument("--state", action="append", help="only this state (repeatable)")
    if priorities:
        parser.add_argument("--priority", action="append", help="P1 .. P5 (repeatable)")
    parser.add_argument("--group", help="assignment group")
    parser.add_argument("--assignee")
    parser.add_argument("--ci", help="CI name")
    parser.add_argument("--text", help="words in the number or short description")
    parser.add_argument("--sort", default="default")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--after", metavar="CURSOR", help="the next page (printed by a list)")
    parser.add_argument("--json", action="store_true")


def _version_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--expected-version",
        type=int,
        metavar="N",
        help="refuse the save if the ticket is no longer at version N",
    )


def _save(
    store: Store,
    settings: Settings,
    ref: Callable[[Session], RecordRef],
    attempted: dict[str, Any],
    action: Callable[[Session], Any],
) -> Any:
    """Run an edit; if refused for a version conflict, journal the refused attempt."""
    with store.read() as session:
        target = ref(session)
    return write_or_record_refusal(store, settings.actor, target, attempted, action)


def _fields_from(args: argparse.Namespace, options: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Field values from the options given (`''` clears a field: None)."""
    fields: dict[str, Any] = {}
    for option, field in options:
        value = getattr(args, option)
        if value is not None:
            fields[field] = value if value != "" else None
    return fields


# --- what the incident and change commands share ------------------------------------------------


@dataclass(frozen=True)
class Tickets:
    """One kind of ticket as the shared sub-commands (list, show, create, edit, note) see it."""

    record: str  # the journal's record type
    get: Callable[[Session, str], Any]
    describe: Callable[..., dict[str, Any]]  # (session, ticket, settings, *, full) -> JSON
    page: Callable[..., Page[Any]]
    add_note: Callable[..., JournalEntry]
    header: str
    line: Callable[[Any, dict[str, Any]], str]  # (ticket, its JSON) -> a list line
    print_full: Callable[[dict[str, Any]], None]
    print_saved: Callable[[dict[str, Any]], None]
    saved_full: bool = False  # does the answer to a save describe the ticket in full

    def ref(self, number: str) -> Callable[[Session], RecordRef]:
        return lambda session: RecordRef(self.record, self.get(session, number).id)


def _list_tickets(kind: Tickets, args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        query = _query(args, settings, _ci_id(session, args.ci))
        result = kind.page(session, query, after=args.after, limit=args.limit)
        rows = [kind.describe(session, ticket, settings) for ticket in result.rows]
    if args.json:
        _print_json({"rows": rows, "next": result.next_cursor})
        return 0
    print(kind.header)
    for ticket, row in zip(result.rows, rows, strict=True):
        print(kind.line(ticket, row))
    if result.next_cursor:
        print(f"# more: --after {result.next_cursor}", file=sys.stderr)
    return 0


def _show_ticket(kind: Tickets, args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        data = kind.describe(session, kind.get(session, args.number), settings, full=True)
    if args.json:
        _print_json(data)
    else:
        kind.print_full(data)
    return 0


def _saved(
    kind: Tickets, args: argparse.Namespace, store: Store, settings: Settings, number: str
) -> int:
    """The answer to a save: the ticket as it is now."""
    with store.read() as session:
        data = kind.describe(session, kind.get(session, number), settings, full=kind.saved_full)
    if args.json:
        _print_json(data)
    else:
        kind.print_saved(data)
    return 0


def _write_ticket(
    kind: Tickets, args: argparse.Namespace, settings: Settings, write: Callable[[Session], Any]
) -> int:
    """`write` in one transaction; the answer shows the ticket it returns."""
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        number = write(session).number
    return _saved(kind, args, store, settings, number)


def _edit_ticket(
    kind: Tickets,
    args: argparse.Namespace,
    store: Store,
    settings: Settings,
    attempted: dict[str, Any],
    edit: Callable[[Session], Any],
) -> int:
    """`edit` the ticket `args.number`; a refusal for a version conflict is journaled."""
    number = _save(store, settings, kind.ref(args.number), attempted, lambda s: edit(s).number)
    return _saved(kind, args, store, settings, number)


def _note_ticket(kind: Tickets, args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        entry = kind.add_note(
            session, settings.actor, args.number, args.text, internal=not args.comment
        )
        result = _journal_json(entry)
    if args.json:
        _print_json(result)
    else:
        print(f"{args.number.upper()}: {result['kind'].replace('_', ' ')} added")
    return 0


def _add_list_parser(sub: Any, kind: Tickets, help: str, *, priorities: bool = True) -> None:
    p = sub.add_parser("list", help=help)
    _add_list_arguments(p, priorities=priorities)
    p.set_defaults(handler=_guard(partial(_list_tickets, kind)))


def _add_show_parser(sub: Any, name: str, handler: Handler, help: str | None = None) -> None:
    """`NAME number [--json]`."""
    p = sub.add_parser(name, **({"help": help} if help else {}))
    p.add_argument("number")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=handler)


def _add_note_parser(sub: Any, kind: Tickets, help: str, comment_help: str | None) -> None:
    p = sub.add_parser("note", help=help)
    p.add_argument("number")
    p.add_argument("text")
    p.add_argument("--comment", action="store_true", help=comment_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_guard(partial(_note_ticket, kind)))


# --- incidents -------------------------------------------------------------------------------


def _clock_json(status: ClockStatus) -> dict[str, Any]:
    return {
        "stage": status.stage.value,
        "level": status.level.value,
        "target_seconds": status.target.total_seconds(),
        "elapsed_seconds": status.elapsed.total_seconds(),
        "percent": round(status.percent, 1),
        "warn_at": _iso(status.warn_at),
        "due_at": _iso(status.due_at),
        "breached_at": _iso(status.breached_at),
        "text": status.describe(),
    }


def incident_json(
    session: Session, incident: Incident, settings: Settings, *, full: bool = False
) -> dict[str, Any]:
    sla = inc.sla_badge(incident, settings.itsm)
    data: dict[str, Any] = {
        "number": incident.number,
        "short_description": incident.short_description,
        "state": incident.state,
        "priority": label(incident.priority),
        "impact": incident.impact,
        "urgency": incident.urgency,
        "category": incident.category,
        "caller": incident.caller,
        "ci": _ci_name(session, incident.ci_id),
        "service": _ci_name(session, incident.service_id),
        "assignment_group": incident.assignment_group,
        "assignee": incident.assignee,
        "opened_at": _iso(incident.opened_at),
        "opened_by": incident.opened_by,
        "updated_at": _iso(incident.updated_at),
        "version": incident.version,
        "sla": {"level": sla.level.value, "text": sla.text, "due_at": _iso(sla.due_at)},
    }
    if full:
        clocks = inc.incident_sla(session, incident, settings.itsm)
        data.update(
            description=incident.description,
            on_hold_reason=incident.on_hold_reason,
            resolution_code=incident.resolution_code,
            resolution_notes=incident.resolution_notes,
            responded_at=_iso(incident.responded_at),
            resolved_at=_iso(incident.resolved_at),
            closed_at=_iso(incident.closed_at),
            problem=incident.problem.number if incident.problem else None,
            caused_by_change=incident.caused_by_change.number
            if incident.caused_by_change
            else None,
            alerts=inc.linked_alert_ids(session, incident),
            clocks={
                "response": _clock_json(clocks.response),
                "resolution": _clock_json(clocks.resolution),
            },
            allowed_transitions=[s.value for s in inc.allowed_transitions(incident)],
            journal=[_journal_json(e) for e in inc.history(session, incident)],
        )
    return data


def _print_incident(data: dict[str, Any]) -> None:
    for key in (
        "number",
        "short_description",
        "state",
        "priority",
        "impact",
        "urgency",
        "category",
        "caller",
        "ci",
        "service",
        "assignment_group",
        "assignee",
        "on_hold_reason",
        "resolution_code",
        "resolution_notes",
        "problem",
        "caused_by_change",
        "alerts",
        "opened_at",
        "version",
    ):
        if key in data and data[key] not in (None, "", []):
            print(f"{key:<18} {_plain(data[key])}")
    if "clocks" in data:
        for name, status in data["clocks"].items():
            print(f"{'sla ' + name:<18} {status['text']} [{status['level']}]")
        print(f"{'next states':<18} {', '.join(data['allowed_transitions']) or '-'}")
    if data.get("description"):
        print("\n" + _plain(data["description"]).replace("\\x0a", "\n"))
    if data.get("journal"):
        print("\njournal:")
        for entry in data["journal"]:
            print(
                "  "
                + _plain(entry["at"][:16])
                + "  "
                + _plain(entry["actor"])
                + "  "
                + entry["kind"]
                + "  "
                + _plain(entry["field"] or "")
                + " "
                + _plain(entry["old"] or "")
                + (" -> " if entry["field"] else "")
                + _plain(entry["new"] or "")
                + " "
                + _plain(entry["text"])
            )


def _print_incident_saved(data: dict[str, Any]) -> None:
    print(f"{data['number']} {data['state']} {data['priority']} version {data['version']}")


def _incident_line(_: Incident, row: dict[str, Any]) -> str:
    return (
        f"{row['number']:<11} {row['priority']:<3} {row['state']:<11} "
        f"{_plain(row['sla']['text'])[:24]:<24} {_plain(row['assignee'] or '-')[:14]:<14} "
        f"{_plain(row['short_description'])}"
    )


INCIDENTS = Tickets(
    record="incident",
    get=inc.get_incident,
    describe=incident_json,
    page=inc.list_incidents,
    add_note=inc.add_note,
    header=(
        f"{'NUMBER':<11} {'PRI':<3} {'STATE':<11} {'SLA':<24} {'ASSIGNEE':<14} SHORT DESCRIPTION"
    ),
    line=_incident_line,
    print_full=_print_incident,
    print_saved=_print_incident_saved,
)
INCIDENT_FIELDS = (
    ("short", "short_description"),
    ("description", "description"),
    ("caller", "caller"),
    ("category", "category"),
    ("impact", "impact"),
    ("urgency", "urgency"),
    ("group", "assignment_group"),
    ("assign", "assignee"),
)


@_guard
def incident_create(args: argparse.Namespace, settings: Settings) -> int:
    def create(session: Session) -> Incident:
        if args.from_alert is not None:
            return inc.create_incident_from_alert(
                session,
                settings.actor,
                args.from_alert,
                assign_to=args.assign,
                assignment_group=args.group,
                short_description=args.short,
                impact=args.impact,
                urgency=args.urgency,
                settings=settings.itsm,
            )
        if not args.short:
            raise ItsmError("--short is required (or --from-alert ID)")
        return inc.create_incident(
            session,
            settings.actor,
            short_description=args.short,
            description=args.description or "",
            caller=args.caller or settings.actor,
            category=args.category,
            ci_id=_ci_id(session, args.ci),
            service_id=_ci_id(session, args.service),
            impact=args.impact or 3,
            urgency=args.urgency or 3,
            assignment_group=args.group,
            assignee=args.assign,
            settings=settings.itsm,
        )

    return _write_ticket(INCIDENTS, args, settings, create)


@_guard
def incident_update(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    changes = _fields_from(args, INCIDENT_FIELDS)
    if args.unassign:
        changes["assignee"] = None
    refs: dict[str, Any] = {
        "ci": args.ci,
        "service": args.service,
        "problem": args.problem,
        "caused_by": args.caused_by,
    }
    if not changes and all(v is None for v in refs.values()):
        raise ItsmError("nothing to change: give at least one field option")

    def edit(session: Session) -> Incident:
        fields = dict(changes)
        if args.ci is not None:
            fields["ci_id"] = _ci_id(session, args.ci)
        if args.service is not None:
            fields["service_id"] = _ci_id(session, args.service)
        if args.problem is not None:
            fields["problem_id"] = (
                prb.get_problem(session, args.problem).id if args.problem else None
            )
        if args.caused_by is not None:
            fields["caused_by_change_id"] = (
                chg.get_change(session, args.caused_by).id if args.caused_by else None
            )
        return inc.update_incident(
            session,
            settings.actor,
            args.number,
            args.expected_version,
            settings=settings.itsm,
            **fields,
        )

    attempted = {**changes, **{k: v for k, v in refs.items() if v is not None}}
    return _edit_ticket(INCIDENTS, args, store, settings, attempted, edit)


@_guard
def incident_transition(args: argparse.Namespace, settings: Settings) -> int:
    def edit(session: Session) -> Incident:
        return inc.transition_incident(
            session,
            settings.actor,
            args.number,
            args.expected_version,
            args.state,
            on_hold_reason=args.reason,
            resolution_code=args.code,
            resolution_notes=args.notes,
            note=args.note,
            settings=settings.itsm,
        )

    attempted = {"state": args.state}
    return _edit_ticket(INCIDENTS, args, _store(args, settings), settings, attempted, edit)


@_guard
def incident_resolve(args: argparse.Namespace, settings: Settings) -> int:
    def edit(session: Session) -> Incident:
        return inc.resolve_incident(
            session,
            settings.actor,
            args.number,
            args.expected_version,
            code=args.code,
            notes=args.notes,
            settings=settings.itsm,
        )

    attempted = {"state": "resolved", "resolution_code": args.code}
    return _edit_ticket(INCIDENTS, args, _store(args, settings), settings, attempted, edit)


def _register_incident(commands: Any) -> None:
    parser = commands.add_parser("incident", help="incidents: list, show, create, update, ...")
    sub = parser.add_subparsers(dest="incident_command", metavar="ACTION")
    sub.required = True

    _add_list_parser(sub, INCIDENTS, "a page of incidents (quick views, filters)")
    _add_show_parser(
        sub,
        "show",
        _guard(partial(_show_ticket, INCIDENTS)),
        "one incident with its SLA clocks and journal",
    )

    p = sub.add_parser("create", help="raise an incident (by hand or from an alert)")
    p.add_argument("--short", help="short description")
    p.add_argument("--description")
    p.add_argument("--caller")
    p.add_argument("--category")
    p.add_argument("--ci", help="CI name")
    p.add_argument("--service", help="impacted business service (CI name)")
    p.add_argument("--impact", type=int, choices=(1, 2, 3))
    p.add_argument("--urgency", type=int, choices=(1, 2, 3))
    p.add_argument("--group", help="assignment group")
    p.add_argument("--assign", metavar="PERSON")
    p.add_argument(
        "--from-alert",
        type=int,
        metavar="ALERT_ID",
        help="prefill from an alert (impact from its services) and link it",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=incident_create)

    p = sub.add_parser("update", help="change fields (priority follows impact and urgency)")
    p.add_argument("number")
    _version_argument(p)
    p.add_argument("--short")
    p.add_argument("--description")
    p.add_argument("--caller")
    p.add_argument("--category")
    p.add_argument("--ci", help="CI name ('' to clear)")
    p.add_argument("--service", help="service name ('' to clear)")
    p.add_argument("--impact", type=int, choices=(1, 2, 3))
    p.add_argument("--urgency", type=int, choices=(1, 2, 3))
    p.add_argument("--group")
    p.add_argument("--assign", metavar="PERSON")
    p.add_argument("--unassign", action="store_true")
    p.add_argument("--problem", metavar="PRB", help="linked problem ('' to clear)")
    p.add_argument("--caused-by", metavar="CHG", help="the change that caused it ('' to clear)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=incident_update)

    p = sub.add_parser("transition", help="move to an allowed next state")
    p.add_argument("number")
    p.add_argument("state", help="in_progress, on_hold, resolved, closed, canceled")
    _version_argument(p)
    p.add_argument("--reason", help="on-hold reason")
    p.add_argument("--code", help="resolution code")
    p.add_argument("--notes", help="resolution notes")
    p.add_argument("--note", help="a work note to add with the move")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=incident_transition)

    p = sub.add_parser("resolve", help="resolve with a code and notes")
    p.add_argument("number")
    p.add_argument("--code", required=True, help="resolution code")
    p.add_argument("--notes", required=True, help="resolution notes")
    _version_argument(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=incident_resolve)

    _add_note_parser(
        sub, INCIDENTS, "add a work note (or a user-facing comment)", "user-facing comment"
    )


# --- changes ---------------------------------------------------------------------------------


def change_json(
    session: Session, change: Change, settings: Settings, *, full: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": change.number,
        "type": change.change_type,
        "template": change.template,
        "short_description": change.short_description,
        "state": change.state,
        "risk": change.risk,
        "impact": change.impact,
        "cis": [ci.name for ci in chg.change_cis(session, change)],
        "planned_start": _iso(change.planned_start),
        "planned_end": _iso(change.planned_end),
        "assignment_group": change.assignment_group,
        "assignee": change.assignee,
        "requested_by": change.requested_by,
        "conflicts": len(chg.stored_conflicts(session, change)),
        "version": change.version,
    }
    if full:
        data.update(
            description=change.description,
            justification=change.justification,
            implementation_plan=change.implementation_plan,
            backout_plan=change.backout_plan,
            test_plan=change.test_plan,
            actual_start=_iso(change.actual_start),
            actual_end=_iso(change.actual_end),
            close_code=change.close_code,
            close_notes=change.close_notes,
            review_notes=change.review_notes,
            cancel_reason=change.cancel_reason,
            conflict_override=change.conflict_override,
            conflict_override_by=change.conflict_override_by,
            approvals=[
                {
                    "approver": a.approver,
                    "decision": a.decision,
                    "comment": a.comment,
                    "decided_by": a.decided_by,
                    "decided_at": _iso(a.decided_at),
                }
                for a in chg.approvals(session, change)
            ],
            conflict_list=[
                {"kind": c.kind, "detail": c.detail} for c in chg.stored_conflicts(session, change)
            ],
            allowed_transitions=[s.value for s in chg.allowed_transitions(change)],
            journal=[_journal_json(e) for e in chg.history(session, change)],
        )
    return data


def _print_change(data: dict[str, Any]) -> None:
    for key in (
        "number",
        "type",
        "template",
        "short_description",
        "state",
        "risk",
        "impact",
        "cis",
        "planned_start",
        "planned_end",
        "actual_start",
        "actual_end",
        "assignment_group",
        "assignee",
        "requested_by",
        "close_code",
        "conflict_override",
        "version",
    ):
        value = data.get(key)
        if value not in (None, "", []):
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"{key:<18} {_plain(shown)}")
    for key in (
        "justification",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "review_notes",
        "close_notes",
    ):
        if data.get(key):
            print(f"{key:<18} {_plain(data[key])}")
    for approval in data.get("approvals", []):
        comment = f" ({_plain(approval['comment'])})" if approval["comment"] else ""
        print(f"{'approval':<18} {_plain(approval['approver'])}: {approval['decision']}{comment}")
    for conflict in data.get("conflict_list", []):
        print(f"{'CONFLICT':<18} {conflict['kind']}: {_plain(conflict['detail'])}")
    if "allowed_transitions" in data:
        print(f"{'next states':<18} {', '.join(data['allowed_transitions']) or '-'}")
    if data.get("journal"):
        print("\njournal:")
        for entry in data["journal"]:
            field = (
                f"{entry['field']}: {entry['old'] or '-'} -> {entry['new'] or '-'} "
                if (entry["field"])
                else ""
            )
            print(
                f"  {entry['at'][:16]}  {_plain(entry['actor'])}  {entry['kind']}  "
                f"{_plain(field)}{_plain(entry['text'])}"
            )


def _print_change_saved(data: dict[str, Any]) -> None:
    print(f"{data['number']} {data['type']} {data['state']} version {data['version']}")
    for conflict in data["conflict_list"]:
        print(f"  CONFLICT {conflict['kind']}: {_plain(conflict['detail'])}")


def _change_line(change: Change, row: dict[str, Any]) -> str:
    return (
        f"{row['number']:<11} {row['type']:<9} {row['state']:<10} "
        f"{_local(change.planned_start):<16} {row['conflicts']:>4}  "
        f"{_plain(row['short_description'])}"
    )


CHANGES = Tickets(
    record="change",
    get=chg.get_change,
    describe=change_json,
    page=chg.list_changes,
    add_note=chg.add_note,
    header=f"{'NUMBER':<11} {'TYPE':<9} {'STATE':<10} {'PLANNED START':<16} {'CONF':>4}  SHORT",
    line=_change_line,
    print_full=_print_change,
    print_saved=_print_change_saved,
    saved_full=True,
)
CHANGE_FIELDS = (
    ("short", "short_description"),
    ("description", "description"),
    ("justification", "justification"),
    ("risk", "risk"),
    ("impact", "impact"),
    ("group", "assignment_group"),
    ("assign", "assignee"),
    ("implementation", "implementation_plan"),
    ("backout", "backout_plan"),
    ("test", "test_plan"),
    ("close_code", "close_code"),
    ("close_notes", "close_notes"),
    ("review", "review_notes"),
)


@_guard
def change_create(args: argparse.Namespace, settings: Settings) -> int:
    def create(session: Session) -> Change:
        return chg.create_change(
            session,
            settings.actor,
            change_type=args.type,
            template=args.template,
            short_description=args.short or "",
            description=args.description or "",
            justification=args.justification or "",
            ci_ids=[get_ci(session, name).id for name in args.ci or ()],
            planned_start=_when(args.start) if args.start else None,
            planned_end=_when(args.end) if args.end else None,
            risk=args.risk,
            impact=args.impact or 3,
            assignment_group=args.group,
            assignee=args.assign,
            implementation_plan=args.implementation or "",
            backout_plan=args.backout or "",
            test_plan=args.test or "",
            settings=settings.itsm,
        )

    return _write_ticket(CHANGES, args, settings, create)


@_guard
def change_update(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    fields = _fields_from(args, CHANGE_FIELDS)
    if args.start:
        fields["planned_start"] = _when(args.start)
    if args.end:
        fields["planned_end"] = _when(args.end)
    if not fields and args.ci is None:
        raise ItsmError("nothing to change: give at least one field option")

    def edit(session: Session) -> Change:
        ci_ids = [get_ci(session, n).id for n in args.ci] if args.ci is not None else None
        return chg.update_change(
            session,
            settings.actor,
            args.number,
            args.expected_version,
            ci_ids=ci_ids,
            settings=settings.itsm,
            **fields,
        )

    attempted = {**fields, **({"cis": args.ci} if args.ci is not None else {})}
    return _edit_ticket(CHANGES, args, store, settings, attempted, edit)


@_guard
def change_transition(args: argparse.Namespace, settings: Settings) -> int:
    def edit(session: Session) -> Change:
        return chg.transition_change(
            session,
            settings.actor,
            args.number,
            args.expected_version,
            args.state,
            override_conflicts=args.override,
            close_code=args.close_code,
            close_notes=args.close_notes,
            review_notes=args.review,
            cancel_reason=args.reason,
            note=args.note,
            settings=settings.itsm,
        )

    attempted = {"state": args.state}
    return _edit_ticket(CHANGES, args, _store(args, settings), settings, attempted, edit)


@_guard
def change_approve(args: argparse.Namespace, settings: Settings) -> int:
    def approve(session: Session) -> Change:
        if args.add:
            chg.add_approver(session, settings.actor, args.number, args.add, settings.itsm)
            return chg.get_change(session, args.number)
        decision = "rejected" if args.reject else "approved"
        return chg.decide(
            session,
            settings.actor,
            args.number,
            decision,
            args.comment or "",
            approver=args.approver,
            settings=settings.itsm,
        )

    return _write_ticket(CHANGES, args, settings, approve)


@_guard
def change_conflicts(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        change = chg.get_change(session, args.number)
        chg.recheck_conflicts(session, change, settings.itsm)
        rows = [{"kind": c.kind, "detail": c.detail} for c in chg.stored_conflicts(session, change)]
    if args.json:
        _print_json(rows)
    elif not rows:
        print(f"{args.number.upper()}: no conflicts")
    for row in [] if args.json else rows:
        print(f"{row['kind']:<13} {_plain(row['detail'])}")
    return 0


@_guard
def change_calendar(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    start = _when(args.start) if args.start else clock.now()
    end = _when(args.end) if args.end else start + timedelta(days=args.days)
    with store.read() as session:
        ids = [get_ci(session, name).id for name in args.ci]
        entries = chg.change_calendar(session, ids, start, end, include_related=not args.only)
    rows = [
        {
            "number": e.number,
            "state": e.state,
            "type": e.change_type,
            "start": _iso(e.start),
            "end": _iso(e.end),
            "cis": list(e.ci_names),
            "relation": e.relation,
            "short_description": e.short_description,
        }
        for e in entries
    ]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no changes planned in that window")
    for e in entries:
        print(
            f"{_local(e.start)} .. {_local(e.end)}  {e.number:<11} {e.state:<10} "
            f"{e.relation:<12} {_plain(', '.join(e.ci_names))}: {_plain(e.short_description)}"
        )
    return 0


def _change_fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--short", help="short description")
    p.add_argument("--description")
    p.add_argument("--justification")
    p.add_argument("--start", help="planned start (ISO 8601; local time without a zone)")
    p.add_argument("--end", help="planned end")
    p.add_argument("--risk")
    p.add_argument("--impact", type=int, choices=(1, 2, 3))
    p.add_argument("--group", help="assignment group")
    p.add_argument("--assign", metavar="PERSON")
    p.add_argument("--implementation", help="implementation plan")
    p.add_argument("--backout", help="backout plan")
    p.add_argument("--test", help="test plan")
    p.add_argument("--json", action="store_true")


def _register_change(commands: Any) -> None:
    parser = commands.add_parser("change", help="changes: list, show, create, transition, ...")
    sub = parser.add_subparsers(dest="change_command", metavar="ACTION")
    sub.required = True

    _add_list_parser(sub, CHANGES, "a page of changes", priorities=False)
    _add_show_parser(
        sub,
        "show",
        _guard(partial(_show_ticket, CHANGES)),
        "one change: plans, CIs, approvals, conflicts, journal",
    )

    p = sub.add_parser("create", help="a new change (standard ones from a template)")
    p.add_argument("--type", default="normal", choices=("standard", "normal", "emergency"))
    p.add_argument("--template", help="standard change template")
    p.add_argument("--ci", action="append", help="CI name (repeatable)")
    _change_fields(p)
    p.set_defaults(handler=change_create)

    p = sub.add_parser("update", help="change fields; --ci replaces the CI list")
    p.add_argument("number")
    _version_argument(p)
    p.add_argument("--ci", action="append", help="CI name (repeatable; the full new list)")
    p.add_argument("--close-code")
    p.add_argument("--close-notes")
    p.add_argument("--review", help="post-implementation review notes")
    _change_fields(p)
    p.set_defaults(handler=change_update)

    p = sub.add_parser("transition", help="move to an allowed next state")
    p.add_argument("number")
    p.add_argument("state", help="assess, authorize, scheduled, implement, review, closed, ...")
    _version_argument(p)
    p.add_argument("--override", metavar="REASON", help="schedule despite conflicts, because")
    p.add_argument("--close-code")
    p.add_argument("--close-notes")
    p.add_argument("--review", help="post-implementation review notes")
    p.add_argument("--reason", help="why it is canceled")
    p.add_argument("--note", help="a work note to add with the move")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=change_transition)

    p = sub.add_parser("approve", help="approve (or --reject) as a named approver")
    p.add_argument("number")
    p.add_argument("--reject", action="store_true")
    p.add_argument("--comment", help="the approver's comment (a rejection needs one)")
    p.add_argument(
        "--as",
        dest="approver",
        metavar="APPROVER",
        help="decide this approver's approval (you or your group)",
    )
    p.add_argument("--add", metavar="APPROVER", help="ask one more approver instead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=change_approve)

    _add_note_parser(sub, CHANGES, "add a work note (or a comment)", None)
    _add_show_parser(
        sub, "conflicts", change_conflicts, "re-run conflict detection and list the conflicts"
    )

    p = sub.add_parser("calendar", help="changes planned on CIs and their neighbours")
    p.add_argument("--ci", action="append", required=True, help="CI name (repeatable)")
    p.add_argument("--start", help="from (default now)")
    p.add_argument("--end", help="until (default: --days after the start)")
    p.add_argument("--days", type=float, default=14)
    p.add_argument("--only", action="store_true", help="only these CIs, not their neighbours")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=change_calendar)


# --- problems --------------------------------------------------------------------------------


def problem_json(session: Session, problem: Problem, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": problem.number,
        "short_description": problem.short_description,
        "state": problem.state,
        "priority": label(problem.priority),
        "known_error": problem.known_error,
        "ci": _ci_name(session, problem.ci_id),
        "assignment_group": problem.assignment_group,
        "assignee": problem.assignee,
        "version": problem.version,
    }
    if full:
        data.update(
            description=problem.description,
            root_cause=problem.root_cause,
            workaround=problem.workaround,
            fix_notes=problem.fix_notes,
            incidents=[i.number for i in prb.linked_incidents(session, problem)],
            allowed_transitions=[s.value for s in prb.allowed_transitions(problem)],
            journal=[_journal_json(e) for e in prb.history(session, problem)],
        )
    return data


def _show_record(args: argparse.Namespace, data: dict[str, Any]) -> int:
    if args.json:
        _print_json(data)
        return 0
    for key, value in data.items():
        if key == "journal":
            print("journal:")
            for entry in value:
                text = (
                    f"{entry['field']}: {entry['old'] or '-'} -> {entry['new'] or '-'}"
                    if (entry["field"])
                    else entry["text"]
                )
                print(
                    f"  {entry['at'][:16]}  {_plain(entry['actor'])}  {entry['kind']}  "
                    f"{_plain(text)}"
                )
        elif key == "tasks":
            for task in value:
                print(
                    f"{'task':<18} {task['number']} {task['state']:<15} "
                    f"{_plain(task['assignee'] or '-')}  {_plain(task['short_description'])}"
                )
        elif value not in (None, "", [], {}):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            print(f"{key:<18} {_plain(shown)}")
    return 0


@_guard
def problem_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        query = _query(args, settings, _ci_id(session, args.ci))
        result = prb.list_problems(session, query, after=args.after, limit=args.limit)
        rows = [problem_json(session, p) for p in result.rows]
    if args.json:
        _print_json({"rows": rows, "next": result.next_cursor})
        return 0
    for row in rows:
        known = "KE" if row["known_error"] else "  "
        print(
            f"{row['number']:<11} {row['priority']:<3} {row['state']:<20} {known} "
            f"{_plain(row['short_description'])}"
        )
    return 0


@_guard
def problem_show(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        data = problem_json(session, prb.get_problem(session, args.number), full=True)
    return _show_record(args, data)


@_guard
def problem_create(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        problem = prb.create_problem(
            session,
            settings.actor,
            short_description=args.short,
            description=args.description or "",
            ci_id=_ci_id(session, args.ci),
            priority=parse_priority(args.priority) if args.priority else 4,
            assignment_group=args.group,
            assignee=args.assign,
            incident_numbers=args.incident or (),
        )
        data = problem_json(session, problem)
    return _show_record(args, data)


PROBLEM_FIELDS = (
    ("short", "short_description"),
    ("description", "description"),
    ("group", "assignment_group"),
    ("assign", "assignee"),
    ("root_cause", "root_cause"),
    ("workaround", "workaround"),
    ("fix_notes", "fix_notes"),
)


@_guard
def problem_update(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    fields = _fields_from(args, PROBLEM_FIELDS)
    if args.priority:
        fields["priority"] = parse_priority(args.priority)

    def action(session: Session) -> dict[str, Any]:
        for number in args.incident or ():
            prb.link_incident(session, settings.actor, args.number, number)
        if args.known_error:
            prb.mark_known_error(
                session,
                settings.actor,
                args.number,
                args.expected_version,
                fields.pop("workaround", None) or "",
                fields.get("root_cause"),
            )
        problem = prb.update_problem(
            session,
            settings.actor,
            args.number,
            None if args.known_error else args.expected_version,
            **fields,
        )
        return problem_json(session, problem)

    def ref(session: Session) -> RecordRef:
        return RecordRef("problem", prb.get_problem(session, args.number).id)

    data = _save(store, settings, ref, dict(fields), action)
    return _show_record(args, data)


@_guard
def problem_transition(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)

    def action(session: Session) -> dict[str, Any]:
        problem = prb.transition_problem(
            session,
            settings.actor,
            args.number,
            args.expected_version,
            args.state,
            root_cause=args.root_cause,
            fix_notes=args.fix_notes,
            note=args.note,
        )
        return problem_json(session, problem)

    def ref(session: Session) -> RecordRef:
        return RecordRef("problem", prb.get_problem(session, args.number).id)

    return _show_record(args, _save(store, settings, ref, {"state": args.state}, action))


@_guard
def problem_note(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        prb.add_note(session, settings.actor, args.number, args.text, internal=not args.comment)
    print(f"{args.number.upper()}: note added")
    return 0


def _register_problem(commands: Any) -> None:
    parser = commands.add_parser("problem", help="problems: root causes and known errors")
    sub = parser.add_subparsers(dest="problem_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("list")
    _add_list_arguments(p)
    p.set_defaults(handler=problem_list)
    _add_show_parser(sub, "show", problem_show)
    for name in ("create", "update"):
        p = sub.add_parser(name)
        if name == "update":
            p.add_argument("number")
            _version_argument(p)
            p.add_argument("--short")
            p.add_argument("--root-cause")
            p.add_argument("--workaround")
            p.add_argument("--fix-notes")
            p.add_argument(
                "--known-error", action="store_true", help="flag a known error (needs --workaround)"
            )
        else:
            p.add_argument("--short", required=True, help="the problem statement")
            p.add_argument("--ci", help="CI name")
        p.add_argument("--description")
        p.add_argument("--priority", help="P1 .. P5")
        p.add_argument("--group")
        p.add_argument("--assign", metavar="PERSON")
        p.add_argument("--incident", action="append", help="link an incident (repeatable)")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=problem_create if name == "create" else problem_update)
    p = sub.add_parser("transition")
    p.add_argument("number")
    p.add_argument("state", help="assess, rca, fix, resolved, closed")
    _version_argument(p)
    p.add_argument("--root-cause")
    p.add_argument("--fix-notes")
    p.add_argument("--note")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=problem_transition)
    p = sub.add_parser("note")
    p.add_argument("number")
    p.add_argument("text")
    p.add_argument("--comment", action="store_true")
    p.set_defaults(handler=problem_note)


# --- service requests ------------------------------------------------------------------------


def request_json(
    session: Session, request: ServiceRequest, *, full: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": request.number,
        "item": request.item,
        "short_description": request.short_description,
        "state": request.state,
        "requested_for": request.requested_for,
        "assignment_group": request.assignment_group,
        "assignee": request.assignee,
        "due_at": _iso(request.due_at),
        "version": request.version,
    }
    if full:
        data.update(
            values=request.values,
            tasks=[
                {
                    "number": t.number,
                    "short_description": t.short_description,
                    "state": t.state,
                    "assignment_group": t.assignment_group,
                    "assignee": t.assignee,
                    "version": t.version,
                }
                for t in req.tasks_of(session, request)
            ],
            allowed_transitions=[s.value for s in req.allowed_transitions(request)],
            journal=[_journal_json(e) for e in req.history(session, request)],
        )
    return data


@_guard
def request_catalog(args: argparse.Namespace, settings: Settings) -> int:
    items = req.catalog(settings.itsm)
    if args.json:
        _print_json({key: item.model_dump(mode="json") for key, item in items.items()})
        return 0
    for key, item in items.items():
        print(f"{key}: {item.title}")
        for spec in item.fields:
            need = " (required)" if spec.required else ""
            choices = f" [{', '.join(spec.choices)}]" if spec.choices else ""
            print(f"    {spec.name}={spec.kind}{choices}{need}  {spec.label}")
    return 0


@_guard
def request_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        query = _query(args, settings, None)
        result = req.list_requests(session, query, after=args.after, limit=args.limit)
        rows = [request_json(session, r) for r in result.rows]
    if args.json:
        _print_json({"rows": rows, "next": result.next_cursor})
        return 0
    for row in rows:
        print(
            f"{row['number']:<11} {row['state']:<11} {_plain(row['requested_for']):<14} "
            f"{_plain(row['short_description'])}"
        )
    return 0


@_guard
def request_show(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        data = request_json(session, req.get_request(session, args.number), full=True)
    return _show_record(args, data)


def _pairs(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ItsmError(f"{item!r}: give fields as NAME=VALUE")
        out[key.strip()] = value
    return out


@_guard
def request_submit(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        request = req.submit_request(
            session,
            settings.actor,
            args.item,
            _pairs(args.field),
            requested_for=args.requested_for,
            settings=settings.itsm,
        )
        data = request_json(session, request, full=True)
    return _show_record(args, data)


@_guard
def request_transition(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)

    def action(session: Session) -> dict[str, Any]:
        request = req.transition_request(
            session, settings.actor, args.number, args.expected_version, args.state, note=args.note
        )
        return request_json(session, request)

    def ref(session: Session) -> RecordRef:
        return RecordRef("request", req.get_request(session, args.number).id)

    return _show_record(args, _save(store, settings, ref, {"state": args.state}, action))


@_guard
def request_task(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        task = req.update_task(
            session,
            settings.actor,
            args.task,
            args.expected_version,
            state=args.state,
            assignee=args.assign,
            notes=args.notes,
        )
        data = request_json(session, task.request, full=True)
    return _show_record(args, data)


def _register_request(commands: Any) -> None:
    parser = commands.add_parser("request", help="service requests from the catalog")
    sub = parser.add_subparsers(dest="request_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("catalog", help="what can be requested, with its fields")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=request_catalog)
    p = sub.add_parser("list")
    _add_list_arguments(p, priorities=False)
    p.set_defaults(handler=request_list)
    _add_show_parser(sub, "show", request_show)
    p = sub.add_parser("submit", help="request a catalog item")
    p.add_argument("item")
    p.add_argument("field", nargs="*", metavar="NAME=VALUE")
    p.add_argument("--for", dest="requested_for", metavar="PERSON")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=request_submit)
    p = sub.add_parser("transition")
    p.add_argument("number")
    p.add_argument("state", help="in_progress, fulfilled, closed, canceled")
    _version_argument(p)
    p.add_argument("--note")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=request_transition)
    p = sub.add_parser("task", help="work a fulfillment task")
    p.add_argument("task", metavar="TASK_NUMBER")
    p.add_argument("--state", help="in_progress, done, skipped, open")
    p.add_argument("--assign", metavar="PERSON")
    p.add_argument("--notes")
    _version_argument(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=request_task)


# --- knowledge -------------------------------------------------------------------------------


@_guard
def kb_sync(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        result = kb.sync_articles(session, settings.actor, kb.kb_directories(settings.itsm))
    print(f"knowledge: {result}")
    return 0


@_guard
def kb_search(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        hits = kb.search_articles(
            session,
            " ".join(args.words),
            ci_class=args.ci_class,
            check=args.check,
            limit=args.limit,
        )
        rows = [
            {
                "number": h.article.number,
                "title": h.article.title,
                "score": round(h.score, 2),
                "checks": h.article.checks,
                "ci_classes": h.article.ci_classes,
                "snippet": h.snippet,
            }
            for h in hits
        ]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no article matches (run `opsconsole kb sync` to load data/kb)")
    for row in rows:
        print(f"{row['number']}  {_plain(row['title'])}")
    return 0


@_guard
def kb_show(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        article = kb.get_article(session, args.article)
        data = {
            "number": article.number,
            "title": article.title,
            "state": article.state,
            "ci_classes": article.ci_classes,
            "checks": article.checks,
            "keywords": article.keywords,
            "source": article.source,
            "body": article.body,
            "version": article.version,
        }
    if args.json:
        _print_json(data)
        return 0
    print(f"{data['number']}  {_plain(data['title'])}")
    print(
        f"classes: {', '.join(article.ci_classes) or 'any'}; checks: "
        f"{', '.join(article.checks) or '-'}\n"
    )
    print("\n".join(_plain(line) for line in article.body.splitlines()))
    return 0


def _register_kb(commands: Any) -> None:
    parser = commands.add_parser("kb", help="knowledge articles")
    sub = parser.add_subparsers(dest="kb_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("sync", help="load data/kb and configured directories into the store")
    p.set_defaults(handler=kb_sync)
    p = sub.add_parser("search", help="articles matching every word")
    p.add_argument("words", nargs="*")
    p.add_argument("--check", help="only articles for this check (e.g. fs.percent)")
    p.add_argument("--ci-class", help="only articles for this CI class")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=kb_search)
    p = sub.add_parser("show")
    p.add_argument("article", help="number (KB0001001) or name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=kb_show)


def register(commands: Any) -> None:
    _register_incident(commands)
    _register_change(commands)
    _register_problem(commands)
    _register_request(commands)
    _register_kb(commands)
