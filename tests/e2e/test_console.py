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
