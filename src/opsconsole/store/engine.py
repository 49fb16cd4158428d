"""Engine and session factory for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import opsconsole.store.changelog  # noqa: F401  (registers the change-log listener)

SQLITE_BUSY_TIMEOUT_MS = 10_000
_WRITE_OPTION = "opsconsole_write"


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control away from the driver so we can say BEGIN IMMEDIATE for
        # writes: a deferred transaction that upgrades to a writer fails with SQLITE_BUSY at
        # once under WAL, whatever the busy timeout, when another process wrote in between.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        writing = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def create_store_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


class VersionConflict(Exception):
    """Someone saved this record after the operator opened it: their edit must not be lost."""

    def __init__(self, entity: str, key: str, expected: int, actual: int) -> None:
        self.entity, self.key, self.expected, self.actual = entity, key, expected, actual
        super().__init__(
            f"{entity} {key} was changed by someone else (you edited version {expected}, "
            f"it is now at version {actual}); reload it and apply your edit again"
        )


class Store:
    """The one handle to the shared state. Sessions are short: open, do one thing, close."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return self.redact(self.url)

    @staticmethod
    def redact(url: str) -> str:
        return make_url(url).render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; nothing it does is committed.

        Closing (not rolling back) keeps what was loaded usable after the block: screens read
        in a worker and render the objects afterwards.
        """
        session = self._sessions()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def write(self, actor: str) -> Iterator[Session]:
        """A write transaction attributed to `actor`: committed on success, rolled back on error."""
        session = self._sessions()
        session.info["actor"] = actor
        session.connection(execution_options={_WRITE_OPTION: True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, upgrade: bool = True) -> Store:
    """Open the store at `url`, applying migrations first unless told not to."""
    store = Store(url)
    if upgrade:
        from opsconsole.store.migrate import upgrade_to_head

        upgrade_to_head(store.engine)
    return store
