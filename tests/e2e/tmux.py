"""Drive the real console in tmux, as a person in a terminal would."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.peers import require_binary


class TmuxConsole:
    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        size: tuple[int, int] = (80, 24),
        *,
        linger: bool = False,
    ):
        self.tmux = require_binary("tmux", "tmux")
        self.name = f"opsconsole-test-{uuid.uuid4().hex[:8]}"
        self.args = args
        self.env = env
        self.size = size
        self.status_file: Path | None = None
        self.linger = linger

    def start(self, workdir: Path) -> TmuxConsole:
        self.status_file = workdir / f"{self.name}.status"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "opsconsole", *self.args])
        # the exit status lands in a file: the test can tell a clean quit from a crash
        script = f"env {exports} {command} ; echo $? > {self.status_file}"
        if self.linger:  # keep the pane, so what was printed after the console is readable
            script += " ; sleep 30"
        width, height = self.size
        subprocess.run(
            [self.tmux, "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
             "bash", "-c", script],
            check=True, timeout=10, env={**os.environ, "TMUX": ""},
        )  # fmt: skip
        return self

    def screen(self) -> str:
        result = subprocess.run(
            [self.tmux, "capture-pane", "-p", "-t", self.name],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        return result.stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear within {timeout}s; screen:\n{screen}")

    def send(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.name, *keys], check=True, timeout=10)

    def exit_status(self, timeout: float = 15.0) -> int:
        assert self.status_file is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status_file.exists() and self.status_file.read_text().strip():
                return int(self.status_file.read_text())
            time.sleep(0.2)
        raise AssertionError(f"the console did not exit within {timeout}s:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(
            [self.tmux, "kill-session", "-t", self.name], capture_output=True, timeout=10
        )
