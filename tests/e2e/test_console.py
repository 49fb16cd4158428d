"""A newcomer's path, in a real terminal: open the console, look around, quit."""

from __future__ import annotations

from collections.abc import Iterator
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
