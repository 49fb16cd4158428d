"""Command line: the console by default, and scriptable twins of what the screens do.

Every failure an operator can cause (bad config, bad import file, unknown CI, unreachable
database) ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsconsole import __version__
from opsconsole import config as config_module
from opsconsole.config import ConfigError, Settings

# The console's start imports only what its first screen needs (it paints, then opens the
# store); the commands import the domains they use when they run.
if TYPE_CHECKING:
    from opsconsole.cmdb import io as cmdb_io
    from opsconsole.store.engine import Store

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A failure already worded for the operator."""


def _parser(with_commands: bool = True) -> argparse.ArgumentParser:
    """The whole command line; `with_commands=False`: only the global options, enough to open
    the console without importing every command's domain."""
    parser = argparse.ArgumentParser(
        add_help=with_commands,
        exit_on_error=with_commands,
        prog="opsconsole",
        description="A keyboard-driven NOC console: host health, alerts and tickets, joined "
        "by a CMDB. With no command, opens the console.",
    )
    parser.add_argument("--version", action="version", version=f"opsconsole {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help=f"config file (env {config_module.CONFIG_ENV})"
    )
    parser.add_argument("--db", metavar="URL", help=f"database URL (env {config_module.DB_ENV})")
    parser.add_argument(
        "--no-poll", action="store_true", help="console only: read what a poller writes"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start a local snmpd for each sample device (127.0.1.x) and monitor them",
    )
    if not with_commands:
        parser.set_defaults(command=None)
        return parser
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command")
    db.required = True
    db.add_parser("upgrade", help="apply migrations up to the newest schema")
    db.add_parser("current", help="print the schema revision of the database")

    cmdb = commands.add_parser("cmdb", help="configuration items").add_subparsers(
        dest="cmdb_command"
    )
    cmdb.required = True
    imp = cmdb.add_parser("import", help="import CIs from YAML or CSV (all or nothing)")
    imp.add_argument("file", type=Path)
    exp = cmdb.add_parser("export", help="export the CMDB as YAML or CSV")
    exp.add_argument("--format", choices=("yaml", "csv"), default=None)
    exp.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    impact = cmdb.add_parser("impact", help="business services a CI hurts")
    impact.add_argument("name")
    impact.add_argument("--json", action="store_true")
    deps = cmdb.add_parser("deps", help="every CI a CI (or service) depends on")
    deps.add_argument("name")
    deps.add_argument("--json", action="store_true")

    poll = commands.add_parser("poll", help="run the poller and trap receiver headless")
    poll.add_argument("--once", action="store_true", help="poll every host once, then exit")
    poll.add_argument("--shard", default="1/1", metavar="K/N", help="poll shard K of N")
    poll.add_argument("--no-traps", action="store_true", help="do not receive SNMP traps")
    poll.add_argument("--trap-port", type=int, metavar="PORT", help="UDP port for traps")
    poll.add_argument("--name", help="poller name in logs and the audit trail")
    poll.add_argument("-v", "--verbose", action="store_true", help="log every state change")
    poll.add_argument("--demo", action="store_true", help="as the global --demo")

    hosts = commands.add_parser("hosts", help="every monitored host: state, last poll, metrics")
    hosts.add_argument("--json", action="store_true")

    for module in _domain_command_modules():
        module.register(commands)

    cfg = commands.add_parser("config", help="configuration").add_subparsers(dest="config_command")
    cfg.required = True
    cfg.add_parser("check", help="validate the config file and print where it was read from")
    return parser


def _domain_command_modules() -> list[Any]:
    import importlib

    from opsconsole.commands import MODULES

    found = []
    for name in MODULES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a domain still to come
                raise
    return found


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Opening the console (no command) parses the global options alone; anything else, or
    anything the short parser does not take (a command, --help, a mistake), goes to the
    full parser, which imports the command modules and words the errors."""
    try:
        args, rest = _parser(with_commands=False).parse_known_args(argv)
    except argparse.ArgumentError:
        rest = ["(worded by the full parser)"]
    if not rest:
        return args
    return _parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = config_module.load(args.config)
        if args.command is not None:
            _configure_domains(settings)  # the console does it behind its first paint
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = operator_message(exc)
        if message is None:
            raise
        print(f"opsconsole: {message}", file=sys.stderr)
        return EXIT_FAILURE


def operator_message(error: BaseException) -> str | None:
    """The one line an operator gets for a failure they can cause; None for a bug."""
    if isinstance(error, ConfigError | CommandError):
        return str(error)
    # Imported only now that something failed: the console's start does not pay for them.
    from sqlalchemy.exc import SQLAlchemyError

    from opsconsole.cmdb.io import CMDBImportError
    from opsconsole.cmdb.service import CMDBError
    from opsconsole.itsm.journal import ItsmError

    if isinstance(error, CMDBError | CMDBImportError | ItsmError):
        return str(error)
    if isinstance(error, SQLAlchemyError):
        return f"database error: {_first_line(error)}"
    return None


def _configure_domains(settings: Settings) -> None:
    """Hand the config to the domains whose hooks run without a settings argument (the
    events pipeline called by the poller, the ITSM rules called by the pipeline)."""
    from opsconsole.events import pipeline
    from opsconsole.itsm import rules

    pipeline.configure(settings.events)
    rules.configure(settings.itsm)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:
        result: int = handler(args, settings)
        return result
    handlers: dict[str | None, Callable[[argparse.Namespace, Settings], int]] = {
        None: _run_console,
        "db": _db,
        "cmdb": _cmdb,
        "config": _config,
        "poll": _poll,
        "hosts": _hosts,
    }
    return handlers[args.command](args, settings)


def _store(args: argparse.Namespace, settings: Settings) -> Store:
    from opsconsole.store import open_store

    return open_store(settings.database_url(args.db))


# --- console ---------------------------------------------------------------------------------


def _run_console(args: argparse.Namespace, settings: Settings) -> int:
    # Textual draws on stderr and reads stdin: both must be a terminal.
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise CommandError("the console needs a terminal; see `opsconsole --help` for commands")
    from opsconsole.app import OpsConsoleApp
    from opsconsole.store.engine import OpeningStore

    if args.demo:  # the demo agents need the CMDB before the console starts
        prepared = open_for_console(settings, args.db)
        store, local = OpeningStore.ready(prepared.store), prepared.local_host
    else:
        store = OpeningStore(
            settings.database_url(args.db), lambda: open_for_console(settings, args.db).store
        )
        local = console_host_name(settings)
    try:
        with demo_estate(args.demo, store, settings) as settings:
            app = OpsConsoleApp(store, settings, local, poll=not args.no_poll)
            app.run()
    finally:
        store.dispose()
    if app.startup_failure is not None:
        raise app.startup_failure  # worded by main(), as if it had failed before the console
    return app.return_code or EXIT_OK


def open_for_console(settings: Settings, db_url: str | None) -> Any:
    """What the console needs behind its first screen: the domains configured, the store
    open and migrated, the first-run estate, this host as a CI (`bootstrap.Prepared`)."""
    from opsconsole.bootstrap import prepare

    _configure_domains(settings)
    return prepare(settings, db_url)


def console_host_name(settings: Settings) -> str | None:
    """This host's CI name, known before the store is open (prepare() makes sure it exists)."""
    if not settings.monitoring.local_host:
        return None
    from opsconsole.monitoring.collectors import local_host_name

    return local_host_name()


@contextmanager
def demo_estate(enabled: bool, store: Store, settings: Settings) -> Iterator[Settings]:
    """With --demo: real snmpd agents for the sample devices, monitored while they run."""
    if not enabled:
        yield settings
        return
    from opsconsole.monitoring import demo

    with store.read() as session:
        specs = demo.demo_specs(session)
    if not specs:
        raise CommandError("--demo: no SNMP device on a loopback address with a port in the CMDB")
    names = [spec.name for spec in specs]
    try:
        agents = demo.DemoAgents(specs)
        agents.start()
    except demo.DemoError as exc:
        raise CommandError(f"--demo: {exc}") from None
    try:
        with store.write(settings.actor) as session:
            demo.set_monitoring(session, names, True)
        print(f"demo: {len(specs)} snmpd agents on 127.0.1.x", file=sys.stderr)
        yield demo.with_demo_profile(settings)
    finally:
        with store.write(settings.actor) as session:
            demo.set_monitoring(session, names, False)
        agents.stop()


# --- db --------------------------------------------------------------------------------------


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from opsconsole.store import open_store
    from opsconsole.store.migrate import current_revision, head_revision, upgrade_to_head

    store = open_store(settings.database_url(args.db), upgrade=False)
    if args.db_command == "upgrade":
        before = current_revision(store.engine)
        upgrade_to_head(store.engine)
        after = current_revision(store.engine)
        state = "already at" if before == after else f"upgraded from {before or 'empty'} to"
        print(f"{store.display_url}: {state} revision {after}")
    else:
        revision = current_revision(store.engine)
        head = head_revision()
        note = "" if revision == head else f" (newest is {head}: run `opsconsole db upgrade`)"
        print(f"{store.display_url}: revision {revision or 'none'}{note}")
    return EXIT_OK


# --- cmdb ------------------------------------------------------------------------------------


def _cmdb(args: argparse.Namespace, settings: Settings) -> int:
    from opsconsole.cmdb import io as cmdb_io
    from opsconsole.cmdb.impact import dependencies, impacted_services
    from opsconsole.cmdb.service import get_ci

    store = _store(args, settings)
    if args.cmdb_command == "import":
        with store.write(settings.actor) as session:
            result = cmdb_io.import_file(session, args.file, set(settings.credentials))
        print(f"{args.file}: {result}")
    elif args.cmdb_command == "export":
        fmt = args.format or _format_from_name(args.output)
        with store.read() as session:
            text = cmdb_io.export_text(session, fmt)
        _write_output(text, args.output)
    elif args.cmdb_command == "impact":
        with store.read() as session:
            ci = get_ci(session, args.name)
            paths = impacted_services(session, ci)
            rows = [
                {"service": p.ci.name, "criticality": p.ci.criticality, "path": list(p.path)}
                for p in paths
            ]
        if not args.json:
            print(f"# services hurt if {args.name} fails (path: how the failure travels)")
        _print_paths(args, rows, f"{args.name} impacts no business service")
    else:
        with store.read() as session:
            ci = get_ci(session, args.name)
            rows = [
                {"ci": p.ci.name, "class": p.ci.ci_class, "path": list(p.path)}
                for p in dependencies(session, ci)
            ]
        if not args.json:
            print(f"# what {args.name} needs (path: who needs whom)")
        _print_paths(args, rows, f"{args.name} depends on nothing in the CMDB")
    return EXIT_OK


def _print_paths(
    args: argparse.Namespace, rows: Sequence[Mapping[str, object]], empty: str
) -> None:
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print(empty)
    for row in rows:
        name = row.get("service") or row.get("ci")
        label = row.get("criticality") or row.get("class") or "-"
        path = row["path"]
        assert isinstance(path, list)
        print(f"{name}\t{label}\t{' -> '.join(map(str, path))}")


def _format_from_name(output: Path | None) -> cmdb_io.Format:
    from opsconsole.cmdb import io as cmdb_io

    if output is None:
        return "yaml"
    return cmdb_io.format_of(output)


def _write_output(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    # Write beside the target and rename, so a failure never leaves half a file behind.
    output = output.expanduser()
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=output.parent, prefix=f".{output.name}.", delete=False
        ) as tmp:
            tmp.write(text)
        os.replace(tmp.name, output)
    except OSError as exc:
        raise CommandError(f"{output}: cannot write: {exc.strerror or exc}") from None


# --- monitoring ------------------------------------------------------------------------------


def _poll(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import socket

    from opsconsole.bootstrap import prepare
    from opsconsole.monitoring.daemon import DaemonOptions, run_daemon
    from opsconsole.monitoring.targets import Shard

    try:
        shard = Shard.parse(args.shard)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    logging.getLogger().handlers.clear()
    logging.basicConfig(
        level=logging.INFO if args.verbose or not args.once else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    prepared = prepare(settings, args.db)
    name = args.name or f"poller@{socket.gethostname()}"
    traps = settings.traps.enabled and not args.no_traps
    options = DaemonOptions(shard, args.once, traps, args.trap_port, name)
    try:
        with demo_estate(args.demo, prepared.store, settings) as settings:
            summary = asyncio.run(run_daemon(prepared.store, settings, options))
    except OSError as exc:  # e.g. the trap port is taken
        raise CommandError(f"poller: {exc.strerror or exc}") from None
    if args.once:
        print(f"polled {summary.polls} hosts: {summary.samples} samples, {summary.events} events")
        for host, old, new in summary.state_changes:
            print(f"{host}: {old} -> {new}")
    return EXIT_OK


def _hosts(args: argparse.Namespace, settings: Settings) -> int:
    from opsconsole.monitoring.hosts import host_views

    store = _store(args, settings)
    with store.read() as session:
        views = host_views(session)
    if args.json:
        print(json.dumps([v.to_json() for v in views], indent=2))
        return EXIT_OK
    print(
        f"{'HOST':<24} {'STATE':<12} {'LAST POLL':<20} {'CPU%':>6} {'LOAD1':>6} {'MEM%':>6}  NOTE"
    )
    for view in views:
        m = view.metrics
        when = (
            view.last_poll_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            if view.last_poll_at
            else "never"
        )
        note = (view.unreachable_via and f"via {view.unreachable_via}") or view.last_error or ""
        print(
            f"{_plain(view.name):<24} {view.state:<12} {when:<20} {_num(m.get('cpu.percent')):>6} "
            f"{_num(m.get('load.1')):>6} {_num(m.get('mem.percent')):>6}  {_plain(note)}"
        )
    return EXIT_OK


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _plain(text: str) -> str:
    """Names and errors come from outside: never let them write terminal escapes."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


# --- config ----------------------------------------------------------------------------------


def _config(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.source or config_module.config_path(args.config)[0]
    where = str(path) if settings.source else f"{path} (absent: defaults in use)"
    print(f"config: {where}")
    from opsconsole.store.engine import Store

    print(f"database: {Store.redact(settings.database_url(args.db))}")
    print(f"operator: {settings.actor}")
    print(f"credential profiles: {', '.join(sorted(settings.credentials)) or 'none'}")
    return EXIT_OK
