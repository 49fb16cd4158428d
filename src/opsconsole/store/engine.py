"""Engine and session factory for SQLite (the embedded default) and PostgreSQL.

SQLAlchemy is imported when a store is opened, not when this module is: the console imports
`Store` to paint its first screen and opens the store behind it (`OpeningStore`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000
_WRITE_OPTION = "opsconsole_write"


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def _configure_sqlite(engine: Engine) -> None:
    from sqlalchemy import event

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
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

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
        from sqlalchemy.orm import sessionmaker

        # Every model registered, and the change-log listener with them, before any session.
        import opsconsole.store.alert_models
        import opsconsole.store.changelog
        import opsconsole.store.itsm_models  # noqa: F401

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
        from sqlalchemy.engine import make_url

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


class StoreAbandoned(Exception):
    """The store was still opening when the console closed."""


class OpeningStore(Store):
    """A store opened in a background thread, so the console paints before SQLAlchemy is even
    imported. `read()` and `write()` wait until it is open (screens call them from worker
    threads) and raise what opening raised; `opened()` says how it went without waiting."""

    def __init__(self, url: str, open_fn: Callable[[], Store]) -> None:
        # No engine yet: Store.__init__ is what the background thread runs, through open_fn.
        self.url = url
        self._open_fn = open_fn
        self._done = threading.Event()
        self._store: Store | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def ready(cls, store: Store) -> OpeningStore:
        """An already open store behind the same interface."""
        opening = cls(store.url, lambda: store)
        opening._store = store
        opening._done.set()
        return opening

    def start(self) -> None:
        if self._thread is None and not self._done.is_set():
            self._thread = threading.Thread(
                target=self._open, name="opening the store", daemon=True
            )
            self._thread.start()

    def _open(self) -> None:
        store: Store | None = None
        error: BaseException | None = None
        try:
            store = self._open_fn()
        except BaseException as exc:  # handed to whoever waits: nothing may die silently here
            error = exc
        with self._lock:
            if self._done.is_set():  # abandoned meanwhile: nobody will use it
                if store is not None:
                    store.dispose()
                return
            self._store, self._error = store, error
            self._done.set()

    def abandon(self) -> None:
        """The console is closing: whoever still waits for the store gets an error now
        instead of holding the process open until a slow database answers. The opening
        thread is a daemon; if it finishes later, what it opened is disposed."""
        with self._lock:
            if not self._done.is_set():
                self._error = StoreAbandoned("the console closed before the store was open")
                self._done.set()

    def wait(self, timeout: float | None = None) -> Store:
        """The open store; raises what opening raised, TimeoutError if not open in time."""
        self.start()
        if not self._done.wait(timeout):
            raise TimeoutError("the store is still opening")
        if self._error is not None:
            raise self._error
        assert self._store is not None
        return self._store

    @property
    def is_open(self) -> bool:
        return self._done.is_set() and self._error is None

    @property
    def engine(self) -> Engine:  # type: ignore[override]
        return self.wait().engine

    @property
    def backend(self) -> str:
        if self._store is not None:
            return self._store.backend
        return self.url.partition(":")[0].partition("+")[0] or "store"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.wait().read() as session:
            yield session

    @contextmanager
    def write(self, actor: str) -> Iterator[Session]:
        with self.wait().write(actor) as session:
            yield session

    def dispose(self) -> None:
        if self._store is not None:
            self._store.dispose()
