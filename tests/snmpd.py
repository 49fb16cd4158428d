"""A real net-snmp snmpd on a free loopback port: the SNMP peer of the integration tests.

Each `Snmpd` runs in the foreground with its own config, log, pid file and persistent
directory (nothing under /etc/snmp or /var/lib/snmp is read or written) and listens on
127.0.0.1 only:

    snmpd -f -Lf LOG -C -c CONF,DIR/snmpd.conf -I -smux -p PIDFILE --persistentDir=DIR

`start()` returns once the agent answers a real request (bounded by a timeout), `stop()`
returns once the process is gone and its UDP port is free again (so requests to it time out),
and `restart()` brings it back on the same port. `SnmpdFactory` starts any number of them
and stops them all at the end; `tests/integration/conftest.py` turns it into a fixture.

Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.peers import require_binary

LOOPBACK = "127.0.0.1"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"

# Text snmpd writes to its log when it cannot bind its agentAddress.
_BIND_FAILURES = ("Error opening specified endpoint", "Address already in use")


def free_udp_port(host: str = LOOPBACK) -> int:
    """A UDP port nobody is bound to right now (bind to port 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def udp_port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class V3User:
    """An SNMPv3 USM user, in net-snmp's spelling (auth: MD5 SHA SHA-224 SHA-256 SHA-384
    SHA-512; priv: DES AES AES-192 AES-256). No auth_protocol means noAuthNoPriv."""

    name: str
    auth_protocol: str | None = "SHA"
    auth_pass: str | None = "authpass-opsconsole"
    priv_protocol: str | None = "AES"
    priv_pass: str | None = "privpass-opsconsole"

    @property
    def level(self) -> str:
        """The minimum level for `rouser`: noauth, auth or priv."""
        if self.priv_protocol:
            return "priv"
        return "auth" if self.auth_protocol else "noauth"

    def create_line(self) -> str:
        words = ["createUser", self.name]
        if self.auth_protocol:
            words += [self.auth_protocol, _quote(self.auth_pass or "")]
            if self.priv_protocol:
                words += [self.priv_protocol, _quote(self.priv_pass or "")]
        return " ".join(words)

    def snmpget_args(self) -> list[str]:
        """The `-v3 ...` arguments the net-snmp tools need to speak as this user."""
        args = ["-v3", "-u", self.name]
        if self.priv_protocol:
            args += ["-l", "authPriv", "-a", self.auth_protocol or "", "-A", self.auth_pass or ""]
            args += ["-x", self.priv_protocol, "-X", self.priv_pass or ""]
        elif self.auth_protocol:
            args += ["-l", "authNoPriv", "-a", self.auth_protocol, "-A", self.auth_pass or ""]
        else:
            args += ["-l", "noAuthNoPriv"]
        return args


@dataclass(frozen=True)
class Override:
    """`override OID TYPE VALUE`: pin a value so tests can assert exact numbers.
    TYPE is one of snmpd's: integer, unsigned, counter, counter64, octet_str, object_id, ..."""

    oid: str
    type: str
    value: str | int

    def line(self) -> str:
        value = _quote(self.value) if self.type == "octet_str" else str(self.value)
        return f"override {self.oid} {self.type} {value}"


# Values the integration tests assert on. hrProcessorLoad answers "No Such Instance" for
# the first 60 s after snmpd starts unless pinned.
LOAD_1 = Override(".1.3.6.1.4.1.2021.10.1.3.1", "octet_str", "7.77")
PROCESSOR_LOAD = Override(".1.3.6.1.2.1.25.3.3.1.2.196608", "integer", 97)
DEFAULT_OVERRIDES: tuple[Override, ...] = (LOAD_1, PROCESSOR_LOAD)


@dataclass(frozen=True)
class SnmpdConfig:
    """What the agent serves and to whom.

    `view`: when given, only these subtrees are visible (to the community and to every v3
    user), e.g. `(".1.3.6.1.2.1",)` hides UCD-SNMP-MIB: a device that lacks a MIB;
    `view_excluded` then cuts subtrees out of it, e.g. `(".1.3.6.1.2.1.31",)` (no ifXTable:
    a device with 32-bit interface counters only).
    """

    community: str | None = "public"
    users: tuple[V3User, ...] = ()
    overrides: tuple[Override, ...] = DEFAULT_OVERRIDES
    view: tuple[str, ...] | None = None
    view_excluded: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    def render_persistent(self) -> str:
        """The agent's persistent file before its first start: the `createUser` lines, where
        net-snmp wants them. snmpd rewrites the file when it stops (usmUser with localized
        keys, engineBoots, oldEngineID), so a restart keeps its engine ID and users and
        counts one more boot, as a real agent does."""
        return "".join(user.create_line() + "\n" for user in self.users)

    def render(self, port: int) -> str:
        if self.view_excluded and self.view is None:
            raise ValueError("view_excluded needs a view to cut the subtrees out of")
        lines = [
            "[snmp] mibs :",
            f"agentAddress udp:{LOOPBACK}:{port}",
            "dontLogTCPWrappersConnects yes",
            "disk /",
            "load 12 10 5",
        ]
        view_option = ""
        if self.view is not None:
            lines += [f"view limited included {subtree}" for subtree in self.view]
            lines += [f"view limited excluded {subtree}" for subtree in self.view_excluded]
            view_option = " -V limited"
        if self.community is not None:
            lines.append(f"rocommunity {_quote(self.community)} {LOOPBACK}{view_option}")
        for user in self.users:
            lines.append(f"rouser {user.name} {user.level}{view_option}")
        lines += [override.line() for override in self.overrides]
        lines += list(self.extra)
        return "\n".join(lines) + "\n"


@dataclass(eq=False)  # a process handle: compared and hashed by identity
class Snmpd:
    """One snmpd process on 127.0.0.1:`port`, with everything it writes under `workdir`."""

    workdir: Path
    config: SnmpdConfig = field(default_factory=SnmpdConfig)
    port: int = 0  # 0: choose a free port at the first start, then keep it
    start_timeout: float = 10.0
    host: str = LOOPBACK
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.snmpd_binary = require_binary("snmpd", "snmpd")

    # -- files ------------------------------------------------------------------------------
    @property
    def conf_path(self) -> Path:
        return self.workdir / "snmpd.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "snmpd.log"

    @property
    def pid_path(self) -> Path:
        return self.workdir / "snmpd.pid"

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    @property
    def persistent_path(self) -> Path:
        return self.state_dir / "snmpd.conf"

    def log_text(self) -> str:
        """What snmpd logged since it last started (earlier runs: snmpd.log.1, .2, ...)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _rotate_log(self) -> None:
        # snmpd truncates its log file when it starts: keep each run's log.
        if self.log_path.exists():
            runs = len(list(self.workdir.glob("snmpd.log.*")))
            self.log_path.rename(self.workdir / f"snmpd.log.{runs + 1}")

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> None:
        """Start and wait until it answers; on the first start an auto-chosen port that turns
        out to be taken (a race with another process) is replaced by another free one."""
        if self.running:
            return
        chosen_here = self.port == 0
        attempts = 3 if chosen_here else 1
        for attempt in range(attempts):
            if self.port == 0:
                self.port = free_udp_port(self.host)
            try:
                self._start_once()
                return
            except _PortTaken:
                if attempt + 1 == attempts:
                    raise RuntimeError(
                        f"snmpd could not bind udp:{self.host}:{self.port}"
                    ) from None
                self.port = 0

    def _start_once(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.config.render(self.port))
        if not self.persistent_path.exists():
            self.persistent_path.write_text(self.config.render_persistent())
        self._rotate_log()
        command = [
            self.snmpd_binary,
            "-f",
            "-Lf",
            str(self.log_path),
            "-C",  # no /etc/snmp, and so no persistent file either unless named in -c:
            "-c",
            f"{self.conf_path},{self.persistent_path}",
            "-I",
            "-smux",  # SMUX listens on tcp 127.0.0.1:199: one agent at a time could have it
            "-p",
            str(self.pid_path),
            f"--persistentDir={self.state_dir}",
        ]
        _running.add(self)
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self._tool_env(),
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self.log_text()
                self._proc = None
                if any(text in log for text in _BIND_FAILURES):
                    raise _PortTaken
                raise RuntimeError(f"snmpd exited at start; its log:\n{log}")
            if self._answers():
                return
            time.sleep(0.05)
        log = self.log_text()
        self.stop()
        raise RuntimeError(f"snmpd did not answer within {self.start_timeout} s; its log:\n{log}")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process and wait until its port is free: afterwards requests time out."""
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while not udp_port_is_free(self.port, self.host):
            if time.monotonic() > deadline:
                raise RuntimeError(f"udp:{self.host}:{self.port} still bound after snmpd stopped")
            time.sleep(0.02)

    def restart(self, *, new_engine: bool = False) -> None:
        """Stop, then start again on the same port with the same config. The agent keeps its
        SNMPv3 engine ID and counts one more snmpEngineBoots, as a rebooted device does;
        `new_engine` forgets its persistent state instead (a new engine ID, boots back to 1:
        a replaced device, or one whose state was lost)."""
        self.stop()
        if new_engine:
            shutil.rmtree(self.state_dir)
        self.start()

    def __enter__(self) -> Snmpd:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- talking to it with the net-snmp tools (an independent second opinion) ---------------
    def credentials_args(self) -> list[str]:
        if self.config.community is not None:
            return ["-v2c", "-c", self.config.community]
        if self.config.users:
            return self.config.users[0].snmpget_args()
        raise RuntimeError("snmpd has neither a community nor a v3 user: nothing can ask it")

    def _tool_env(self) -> dict[str, str]:
        """Keep the tools (and snmpd) away from /etc/snmp, ~/.snmp and /var/lib/snmp."""
        tool_conf = self.workdir / "tool-conf"
        tool_conf.mkdir(exist_ok=True)
        env = dict(os.environ)
        env["SNMPCONFPATH"] = str(tool_conf)
        env["SNMP_PERSISTENT_DIR"] = str(self.workdir / "tool-state")
        env["MIBS"] = ""
        return env

    def snmpget(self, *oids: str, timeout: float = 1.0, retries: int = 1) -> dict[str, str | None]:
        """OID -> value as `snmpget` prints it (numeric OIDs, bare values, strings unquoted);
        None for noSuchObject/noSuchInstance. Raises RuntimeError when it gets no answer."""
        values = self._snmpget_lines(oids, timeout=timeout, retries=retries)
        return dict(zip(oids, values, strict=True))

    def _snmpget_lines(
        self, oids: Sequence[str], *, timeout: float, retries: int
    ) -> list[str | None]:
        binary = shutil.which("snmpget") or require_binary("snmpget", "snmp")
        command = [
            binary,
            *self.credentials_args(),
            "-m",
            "",
            "-On",
            "-Oqte",  # "OID value", timeticks as a number, enums as numbers
            "-t",
            str(timeout),
            "-r",
            str(retries),
            f"udp:{self.host}:{self.port}",
            *oids,
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout * (retries + 1) + 5,
            env=self._tool_env(),
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"snmpget failed ({result.returncode}): {result.stderr.strip()}")
        # One "OID value" line per OID; long values (hex strings) continue on lines that do
        # not start with a dot.
        values: list[str] = []
        for line in result.stdout.splitlines():
            if line.startswith("."):
                values.append(line.partition(" ")[2])
            elif values:
                values[-1] += " " + line.strip()
        if len(values) != len(oids):
            raise RuntimeError(f"snmpget printed {len(values)} values for {len(oids)} OIDs")
        return [_tool_value(value.strip()) for value in values]

    def _answers(self) -> bool:
        try:
            self._snmpget_lines([SYS_UPTIME], timeout=0.2, retries=0)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True


class SnmpdFactory:
    """Start snmpd instances for one test; `close()` stops every one of them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.instances: list[Snmpd] = []

    def __call__(self, config: SnmpdConfig | None = None, *, start: bool = True) -> Snmpd:
        agent = Snmpd(self.base / f"snmpd-{len(self.instances)}", config or SnmpdConfig())
        self.instances.append(agent)
        if start:
            agent.start()
        return agent

    def close(self) -> None:
        errors: list[BaseException] = []
        for agent in self.instances:
            try:
                agent.stop()
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                errors.append(exc)
        self.instances.clear()
        if errors:
            raise errors[0]


@contextlib.contextmanager
def snmpd_factory(base: Path) -> Iterator[SnmpdFactory]:
    """The body of the pytest fixture: skips (or fails under OPSCONSOLE_REQUIRE_PEERS=1) when
    snmpd or the snmp tools are not installed, and stops every agent afterwards."""
    require_binary("snmpd", "snmpd")
    require_binary("snmpget", "snmp")
    factory = SnmpdFactory(base)
    try:
        yield factory
    finally:
        factory.close()


class _PortTaken(Exception):
    pass


# Agents still running when the interpreter exits (a test run interrupted before its
# fixtures' teardown) are stopped then rather than left holding their ports.
_running: weakref.WeakSet[Snmpd] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for agent in list(_running):
        with contextlib.suppress(Exception):
            agent.stop(timeout=2.0)


def _quote(value: object) -> str:
    text = str(value)
    if '"' in text or "\n" in text:
        raise ValueError(f"cannot put {text!r} into snmpd.conf")
    return f'"{text}"'


def _tool_value(line: str) -> str | None:
    if line.startswith(("No Such Object", "No Such Instance", "No more variables")):
        return None
    if len(line) >= 2 and line.startswith('"') and line.endswith('"'):
        return line[1:-1]
    return line
