"""`opsconsole event ...`, `alerts ...` and `silence ...`: the scriptable twins of the alert queue,
through the same domain functions as the screen."""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsconsole import clock
from opsconsole.cli import CommandError
from opsconsole.config import Settings
from opsconsole.events import actions, queries, silences
from opsconsole.events.matchers import MatcherError
from opsconsole.events.pipeline import BatchOutcome, Event, process
from opsconsole.events.sources import jsonl
from opsconsole.events.sources.common import FieldError
from opsconsole.events.timers import run_timers
from opsconsole.store import open_store
from opsconsole.store.alert_models import AlertState
from opsconsole.store.engine import Store
from opsconsole.store.models import Severity

EXIT_OK = 0
EXIT_FAILURE = 1
Handler = Callable[[argparse.Namespace, Settings], int]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
STATE_CHOICES = ("active", *(s.value for s in AlertState), "all")


def register(commands: Any) -> None:
    event = commands.add_parser("event", help="send events into the pipeline")
    event_cmds = event.add_subparsers(dest="event_command", metavar="COMMAND")
    event_cmds.required = True
    send = event_cmds.add_parser("send", help="send one event")
    send.add_argument("--ci", required=True, help="CI name (or address) in the CMDB")
    send.add_argument("--check", required=True, help="what is checked, e.g. http.status")
    send.add_argument(
        "--severity", required=True, type=str.lower, choices=[s.value for s in Severity]
    )
    send.add_argument("--message", required=True)
    send.add_argument("--key", help="dedup key: events with the same key are one alert")
    send.add_argument("--resource", default="", help="e.g. a mount point or interface")
    send.add_argument("--clear", action="store_true", help="the condition is over: resolve")
    send.add_argument("--source", default=jsonl.DEFAULT_SOURCE, help=argparse.SUPPRESS)
    send.set_defaults(handler=_guard(_event_send))
    ingest = event_cmds.add_parser(
        "ingest", help="JSON lines of events, or Alertmanager webhook payloads"
    )
    ingest.add_argument("file", help="a file, or - for standard input")
    ingest.set_defaults(handler=_guard(_event_ingest))

    alerts = commands.add_parser("alerts", help="the alert queue")
    alert_cmds = alerts.add_subparsers(dest="alerts_command", metavar="COMMAND")
    alert_cmds.required = True
    listing = alert_cmds.add_parser("list", help="alerts, worst and newest first")
    listing.add_argument("--state", choices=STATE_CHOICES, default="active")
    listing.add_argument("--filter", default="", help="text and field:value terms, as / does")
    listing.add_argument("--limit", type=_positive_int, default=200)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_guard(_alerts_list))
    ack = alert_cmds.add_parser("ack", help="acknowledge alerts")
    ack.add_argument("ids", nargs="+", type=_alert_id, metavar="ID")
    ack.add_argument("--note")
    ack.add_argument("--ticket")
    ack.add_argument("--sticky", action="store_true", help="keep the ack until recovery")
    ack.set_defaults(handler=_guard(_alerts_ack))
    unack = alert_cmds.add_parser("unack", help="withdraw acknowledgements")
    unack.add_argument("ids", nargs="+", type=_alert_id, metavar="ID")
    unack.set_defaults(handler=_guard(_alerts_unack))
    snooze = alert_cmds.add_parser("snooze", help="acknowledge for a while")
    snooze.add_argument("ids", nargs="+", type=_alert_id, metavar="ID")
    snooze.add_argument("--duration", type=_duration, help="e.g. 30m, 2h (default: config)")
    snooze.add_argument("--note")
    snooze.set_defaults(handler=_guard(_alerts_snooze))
    show = alert_cmds.add_parser("show", help="one alert: fields, history, group, services")
    show.add_argument("id", type=_alert_id, metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_guard(_alerts_show))
    close = alert_cmds.add_parser("close", help="close alerts")
    close.add_argument("ids", nargs="+", type=_alert_id, metavar="ID")
    close.add_argument("--note")
    close.set_defaults(handler=_guard(_alerts_close))

    silence = commands.add_parser("silence", help="silences: keep matching alerts quiet")
    silence_cmds = silence.add_subparsers(dest="silence_command", metavar="COMMAND")
    silence_cmds.required = True
    add = silence_cmds.add_parser("add", help="add a silence")
    add.add_argument(
        "--match", action="append", default=[], metavar="MATCHER",
        help="FIELD OP VALUE, e.g. ci=web-01, check=~fs.*, service!=shop (repeat: all hold)",
    )  # fmt: skip
    add.add_argument("--alert", type=_alert_id, help="pre-fill matchers from this alert")
    add.add_argument("--comment", required=True)
    ends = add.add_mutually_exclusive_group(required=True)
    ends.add_argument("--duration", type=_duration, help="e.g. 30m, 2h, 1d")
    ends.add_argument("--until", type=_when, help="end time, ISO 8601")
    ends.add_argument(
        "--until-recovery", action="store_true", help="until the alert (--alert) recovers"
    )
    add.add_argument("--start", type=_when, help="start time, ISO 8601 (default: now)")
    add.set_defaults(handler=_guard(_silence_add))
    slist = silence_cmds.add_parser("list", help="silences and what they match now")
    slist.add_argument("--all", action="store_true", help="expired ones too")
    slist.add_argument("--json", action="store_true")
    slist.set_defaults(handler=_guard(_silence_list))
    expire = silence_cmds.add_parser("expire", help="end silences now")
    expire.add_argument("ids", nargs="+", type=_alert_id, metavar="ID")
    expire.set_defaults(handler=_guard(_silence_expire))


# --- argument types --------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _alert_id(text: str) -> int:
    return _positive_int(text.lstrip("#"))


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d`, `1h30m`."""
    compact = text.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise ValueError(f"not a duration: {text!r} (e.g. 30m, 2h, 1d, 1h30m)")
    seconds = sum(float(n) * _UNITS[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _when(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # a time typed at the console is local time
    return parsed.astimezone(UTC)


# --- plumbing --------------------------------------------------------------------------------


def _guard(handler: Handler) -> Handler:
    """Domain errors become one line on stderr and exit 1 (through cli's CommandError)."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except (
            actions.AlertError, silences.SilenceError, queries.FilterError, MatcherError,
        ) as exc:  # fmt: skip
            raise CommandError(str(exc)) from None

    return run


def _store(args: argparse.Namespace, settings: Settings) -> Store:
    return open_store(settings.database_url(args.db))


def _plain(text: str) -> str:
    """Text from outside (messages, names): never let it write terminal escapes."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _report(outcome: BatchOutcome) -> str:
    parts = [f"{outcome.accepted} event(s) processed"]
    if outcome.created:
        parts.append("new alert " + ", ".join(f"#{i}" for i in outcome.created))
    if outcome.resolved:
        parts.append("resolved " + ", ".join(f"#{i}" for i in outcome.resolved))
    if outcome.reopened:
        parts.append("reopened " + ", ".join(f"#{i}" for i in outcome.reopened))
    updated = outcome.updated - len(outcome.resolved) - len(outcome.reopened)
    if updated > 0:
        parts.append(f"{updated} alert(s) updated")
    return "; ".join(parts)


# --- event -----------------------------------------------------------------------------------


def _event_send(args: argparse.Namespace, settings: Settings) -> int:
    if not args.ci.strip() or not args.check.strip():
        raise CommandError("--ci and --check must not be empty")
    event = Event(
        source=args.source, check=args.check.strip(), severity=Severity(args.severity),
        message=args.message, at=clock.now(), ci=args.ci.strip(), resource=args.resource,
        clear=args.clear, key=args.key or None,
    )  # fmt: skip
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        outcome = process(session, [event], settings.events)
    print(_report(outcome))
    return EXIT_OK


def _event_ingest(args: argparse.Namespace, settings: Settings) -> int:
    name = "<stdin>" if args.file == "-" else args.file
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            text = Path(args.file).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(
            f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    try:
        events, problems = jsonl.parse_text(text)
    except FieldError as exc:  # pragma: no cover - parse_text reports by line
        raise CommandError(f"{name}: {exc}") from None
    for problem in problems:
        print(f"opsconsole: {name}: {_plain(str(problem))}", file=sys.stderr)
    outcome = BatchOutcome()
    if events:
        store = _store(args, settings)
        with store.write(settings.actor) as session:
            outcome = process(session, events, settings.events)
    rejected = f", {len(problems)} rejected" if problems else ""
    print(f"{name}: {len(events)} event(s) accepted{rejected}; {_report(outcome)}")
    return EXIT_FAILURE if problems else EXIT_OK


# --- alerts ----------------------------------------------------------------------------------


def _alerts_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        run_timers(session, settings.events)
    view, text = queries.View.ALL, args.filter
    if args.state == "active":
        view = queries.View.ACTIVE
    elif args.state != "all":
        text = f"state:{args.state} {text}"
    with store.read() as session:
        page = queries.alert_page(
            session, view, actor=settings.actor, text=text, limit=args.limit, roots_only=False
        )
    if args.json:
        print(json.dumps([_row_json(r) for r in page.rows], indent=2))
        return EXIT_OK
    if not page.rows:
        print("no alerts")
        return EXIT_OK
    print(f"{'ID':>7} {'SEVERITY':<9} {'STATE':<12} {'CI':<20} {'CHECK':<20} {'COUNT':>5}  "
          "LAST SEEN (local)    MESSAGE")  # fmt: skip
    for row in page.rows:
        seen = clock.to_local(row.last_seen).strftime("%Y-%m-%d %H:%M:%S")
        note = f" [{row.suppressed_reason}]" if row.suppressed_reason else ""
        print(
            f"{row.id:>7} {row.severity:<9} {row.state:<12} {_plain(row.ci_name)[:20]:<20} "
            f"{_plain(row.check)[:20]:<20} {row.count:>5}  {seen}  "
            f"{_plain(row.message)[:80]}{_plain(note)}"
        )
    if page.has_more:
        print(f"... more than {args.limit}: narrow with --state/--filter or raise --limit")
    return EXIT_OK


def _row_json(row: queries.AlertRow) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id, "severity": row.severity, "state": row.state, "ci": row.ci_name,
        "check": row.check, "resource": row.resource, "message": row.message,
        "count": row.count, "first_seen": when(row.first_seen), "last_seen": when(row.last_seen),
        "resolved_at": when(row.resolved_at), "services": row.services,
        "assignee": row.assignee, "acked_by": row.acked_by,
        "snoozed_until": when(row.snoozed_until), "suppressed_reason": row.suppressed_reason,
        "flapping": row.flapping, "parent_id": row.parent_id, "group_reason": row.group_reason,
    }  # fmt: skip


def _act(args: argparse.Namespace, settings: Settings, action: Callable[..., Any]) -> int:
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        result: actions.ActionResult = action(session)
    print(result.summary())
    return EXIT_OK if result.changed or not result.skipped else EXIT_FAILURE


def _alerts_ack(args: argparse.Namespace, settings: Settings) -> int:
    def ack(session: Any) -> actions.ActionResult:
        return actions.acknowledge(
            session, settings.actor, args.ids, note=args.note, ticket=args.ticket,
            sticky=args.sticky,
        )  # fmt: skip

    return _act(args, settings, ack)


def _alerts_unack(args: argparse.Namespace, settings: Settings) -> int:
    return _act(args, settings, lambda s: actions.unacknowledge(s, settings.actor, args.ids))


def _alerts_snooze(args: argparse.Namespace, settings: Settings) -> int:
    duration = args.duration or timedelta(seconds=settings.events.snooze_default)
    return _act(
        args, settings,
        lambda s: actions.snooze(s, settings.actor, args.ids, duration, note=args.note),
    )  # fmt: skip


def _alerts_show(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        detail = queries.alert_detail(session, args.id)
        row = queries.alert_row(session, args.id)
        assert row is not None
        document = {
            **_row_json(row),
            "first_seen": row.first_seen.isoformat(), "source": detail.alert.source,
            "key": detail.alert.key, "reopen_count": detail.alert.reopen_count,
            "ack_note": detail.alert.ack_note, "ack_ticket": detail.alert.ack_ticket,
            "history": [
                {"at": h.at.isoformat(), "actor": h.actor, "action": h.action,
                 "old_state": h.old_state, "new_state": h.new_state, "detail": h.detail}
                for h in detail.history
            ],
            "children": [c.id for c in detail.children],
            "impacted_services": [
                {"service": p.ci.name, "criticality": p.ci.criticality, "path": list(p.path)}
                for p in detail.services
            ],
            "recent_changes": [
                str(getattr(c, "number", c)) for c in detail.recent_changes
            ],
        }  # fmt: skip
    if args.json:
        print(json.dumps(document, indent=2))
        return EXIT_OK
    for name in ("id", "severity", "state", "ci", "check", "resource", "message", "count",
                 "first_seen", "last_seen", "services", "assignee", "acked_by",
                 "suppressed_reason", "parent_id", "group_reason"):  # fmt: skip
        value = document.get(name)
        if value not in (None, ""):
            print(f"{name + ':':<19}{_plain(str(value))}")
    if document["children"]:
        print(f"{'children:':<19}{', '.join(f'#{i}' for i in document['children'])}")
    if document["recent_changes"]:
        print(f"{'recent changes:':<19}{', '.join(document['recent_changes'])}")
    print("history:")
    for h in document["history"]:
        print(f"  {h['at'][:19]}  {_plain(h['actor'])}: {h['action']}  {_plain(h['detail'])}")
    return EXIT_OK


def _alerts_close(args: argparse.Namespace, settings: Settings) -> int:
    return _act(
        args, settings, lambda s: actions.close(s, settings.actor, args.ids, note=args.note)
    )


# --- silence ---------------------------------------------------------------------------------


def _silence_add(args: argparse.Namespace, settings: Settings) -> int:
    if args.until_recovery and args.alert is None:
        raise CommandError("--until-recovery needs --alert ID: the alert whose recovery ends it")
    if not args.match and args.alert is None:
        raise CommandError("say what to silence: --match FIELD=VALUE (repeatable) or --alert ID")
    store = _store(args, settings)
    with store.write(settings.actor) as session:
        matchers: list[Any] = []
        if args.alert is not None:
            matchers += silences.prefill(actions.get_alert(session, args.alert))
        matchers += args.match
        silence = silences.create_silence(
            session, settings.actor, matchers, args.comment, starts_at=args.start,
            ends_at=args.until, duration=args.duration,
            until_alert_id=args.alert if args.until_recovery else None,
        )  # fmt: skip
        view = silences.SilenceView(silence, silences.state_of(silence), 0, False)
        matching = len(silences.matching_alerts(session, silences.matchers_of(silence), 10_000))
    print(f"silence #{silence.id} ({view.state.value}, {view.end_text}): {view.matchers_text}; "
          f"matches {matching} active alert(s) now")  # fmt: skip
    return EXIT_OK


def _silence_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    with store.read() as session:
        views = silences.list_silences(
            session, include_expired=args.all, warn_hours=settings.events.silence_warn_hours
        )
        rows = [_silence_json(v) for v in views]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no silences")
        return EXIT_OK
    for row in rows:
        warn = "  ENDS SOON" if row["ends_soon"] else ""
        print(f"#{row['id']:<5} {row['state']:<8} {_plain(row['end'])[:25]:<25} "
              f"{row['matching']:>4} match  {_plain(row['matchers'])}  "
              f"-- {_plain(row['author'])}: {_plain(row['comment'])}{warn}")  # fmt: skip
    return EXIT_OK


def _silence_json(view: silences.SilenceView) -> dict[str, Any]:
    s = view.silence
    return {
        "id": s.id, "state": view.state.value, "matchers": view.matchers_text,
        "starts_at": s.starts_at.isoformat(), "end": view.end_text,
        "ends_at": s.ends_at.isoformat() if s.ends_at else None,
        "until_alert_id": s.until_alert_id, "author": s.author, "comment": s.comment,
        "matching": view.matching, "ends_soon": view.ends_soon,
    }  # fmt: skip


def _silence_expire(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args, settings)
    done: list[int] = []
    with store.write(settings.actor) as session:
        for silence_id in args.ids:
            silences.expire_silence(session, settings.actor, silence_id)
            done.append(silence_id)
    print("expired " + ", ".join(f"#{i}" for i in done))
    return EXIT_OK
