"""`opsconsole poll` as a daemon: polls, receives real traps, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from opsconsole.monitoring.trap_events import UNKNOWN_SOURCE_CI
from opsconsole.store import CI, open_store
from opsconsole.store.models import EventRecord, HostState
from tests.peers import require_binary


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def trap_events(url: str) -> list[tuple[str, str, str, str]]:
    store = open_store(url)
    with store.read() as s:
        names = dict(s.execute(select(CI.id, CI.name)).all())
        rows = [
            (names.get(e.ci_id, "?"), e.check, e.resource, e.message)
            for e in s.scalars(select(EventRecord).where(EventRecord.source == "snmp-trap"))
        ]
    store.dispose()
    return rows


def test_poll_daemon_polls_receives_traps_and_stops_on_sigterm(tmp_path: Path) -> None:
    snmptrap = require_binary("snmptrap", "snmp")
    url = f"sqlite+pysqlite:///{tmp_path / 'poll.db'}"
    port = free_udp_port()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsconsole", "--db", url, "poll", "--trap-port", str(port),
         "--name", "test-poller"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        store = open_store(url)

        def local_host_polled() -> bool:
            with store.read() as s:
                return s.scalar(select(HostState.state)) == "UP"

        assert wait_until(local_host_polled), "the local host was never polled"
        store.dispose()
        # a linkDown from this host's own address (127.0.0.1: the local host CI) ...
        subprocess.run(
            [snmptrap, "-v2c", "-c", "public", f"127.0.0.1:{port}", "",
             "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2",
             "1.3.6.1.2.1.2.2.1.2.2", "s", "eth9"],
            check=True, timeout=10,
        )  # fmt: skip
        # ... and a coldStart from an address no CI has
        subprocess.run(
            [snmptrap, "-v2c", "-c", "public", "--clientaddr=127.0.0.77", f"127.0.0.1:{port}",
             "", "1.3.6.1.6.3.1.1.5.1"],
            check=True, timeout=10,
        )  # fmt: skip
        assert wait_until(lambda: len(trap_events(url)) >= 2), trap_events(url)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "stopped:" in stderr
    events = trap_events(url)
    link = [e for e in events if e[1] == "snmp.link"]
    assert len(link) == 1 and link[0][2] == "eth9" and link[0][0] != UNKNOWN_SOURCE_CI
    restart = [e for e in events if e[1] == "snmp.restart"]
    assert restart[0][0] == UNKNOWN_SOURCE_CI
    assert "127.0.0.77" in restart[0][3]


def test_poll_once_with_a_bad_shard_is_a_one_line_error(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'poll.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "opsconsole", "--db", url, "poll", "--once", "--shard", "3/2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "opsconsole: --shard 3/2: K must be between 1 and N\n"
