"""A newcomer's path, in a real terminal: open the console, look around, quit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.tmux import TmuxConsole


@pytest.fixture
def console_env(tmp_path: Path) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }


@pytest.fixture
def console(tmp_path: Path, console_env: dict[str, str]) -> Iterator[TmuxConsole]:
    session = TmuxConsole([], console_env).start(tmp_path)
    yield session
    session.kill()


def test_first_run_shows_this_host_then_the_cmdb_and_quits_cleanly(
    console: TmuxConsole, tmp_path: Path
) -> None:
    screen = console.wait_for("Dashboard")
    assert "UP" in console.wait_for("UP")  # the local host, live from psutil
    assert "Traceback" not in screen
    console.send("2")
    console.wait_for("online-shop")  # the sample estate was loaded on first run
    console.send("?")
    console.wait_for("Esc closes")
    console.send("Escape")
    console.send("C-q")
    assert console.exit_status() == 0
    assert (tmp_path / "data" / "opsconsole" / "opsconsole.db").exists()


def test_a_store_that_cannot_be_opened_ends_the_console_with_its_reason(
    tmp_path: Path, console_env: dict[str, str]
) -> None:
    """The console paints before the store is open; when opening fails, it leaves, and says
    why in one line, with exit status 1 (as any command does), never a traceback."""
    closed_port = _free_tcp_port()  # nothing listens there: the connection is refused
    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{closed_port}/none"
    session = TmuxConsole(["--db", url], console_env, linger=True).start(tmp_path)
    try:
        assert session.exit_status(timeout=30) == 1
        screen = session.wait_for("opsconsole: database error")
        assert "Traceback" not in screen
        assert "secret" not in screen  # the password is never shown
    finally:
        session.kill()


def test_quitting_while_a_silent_database_is_being_opened_does_not_hang(
    tmp_path: Path, console_env: dict[str, str]
) -> None:
    """A database that accepts the connection and never answers: the console is on screen at
    once, waiting for the store; Ctrl+Q still quits promptly, with status 0."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever answers
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{port}/none"
        session = TmuxConsole(["--db", url], console_env).start(tmp_path)
        try:
            screen = session.wait_for("loading hosts")
            assert "Dashboard" in screen
            session.send("C-q")
            assert session.exit_status(timeout=10) == 0
        finally:
            session.kill()


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_no_poll_console_shows_what_a_poll_daemon_writes(
    tmp_path: Path, console_env: dict[str, str]
) -> None:
    """A shared NOC box: one `opsconsole poll` daemon, a `--no-poll` console on the same
    SQLite file. The console shows this host UP from the daemon's writes, and keeps up."""
    url = f"sqlite+pysqlite:///{tmp_path / 'shared.db'}"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "--db", url, "poll", "--no-traps",
         "--name", "noc-poller"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **console_env},
    )  # fmt: skip
    console: TmuxConsole | None = None
    try:
        assert _wait_until(lambda: _local_state(url) == "UP"), "the daemon never polled"
        console = TmuxConsole(["--db", url, "--no-poll"], console_env).start(tmp_path)
        screen = console.wait_for(socket.gethostname()[:40])
        screen = console.wait_for("UP")
        assert "no-poll" in screen and "Traceback" not in screen
        # Still following: after a few of the daemon's polls the age is fresh again.
        time.sleep(5)
        console.wait_for("ok <4s ago", timeout=10)
        console.send("C-q")
        assert console.exit_status() == 0
    finally:
        if console is not None:
            console.kill()
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, stderr


def _local_state(url: str) -> str | None:
    from opsconsole.monitoring.hosts import host_view
    from opsconsole.store import open_store

    try:
        store = open_store(url, upgrade=False)
    except Exception:
        return None
    try:
        with store.read() as session:
            view = host_view(session, socket.gethostname())
            return view.state if view else None
    except Exception:  # not migrated yet
        return None
    finally:
        store.dispose()


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False
