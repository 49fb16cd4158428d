"""Demo agents: real net-snmp snmpd processes that stand in for the sample estate's devices.

Each device CI with an SNMP port gets its own snmpd on its loopback address (127.0.1.x) and
port, answering as that device (sysName, a load that differs per device), so the estate comes
alive without a packet leaving the machine. Used by `opsconsole demo` and handy in tests.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.config import Settings, SnmpV2cProfile
from opsconsole.store.models import CI, Collector

DEMO_PROFILE = "lab-v2c"
DEMO_COMMUNITY = "public"
START_TIMEOUT = 10.0


class DemoError(Exception):
    pass


@dataclass(frozen=True)
class AgentSpec:
    name: str
    address: str
    port: int


def snmpd_binary() -> str | None:
    return shutil.which("snmpd") or (
        "/usr/sbin/snmpd" if Path("/usr/sbin/snmpd").exists() else None
    )


def agent_config(spec: AgentSpec, persistent_dir: Path) -> str:
    """snmpd.conf for one simulated device; values derived from the name so each differs."""
    seed = zlib.crc32(spec.name.encode())
    load1 = 0.2 + (seed % 300) / 100
    return "\n".join(
        [
            "[snmp] mibs :",
            f"[snmp] persistentDir {persistent_dir}",
            f"agentAddress udp:{spec.address}:{spec.port}",
            f"rocommunity {DEMO_COMMUNITY} 127.0.0.0/8",
            "dontLogTCPWrappersConnects yes",
            "disk / 10%",
            "load 12 10 5",
            f"override .1.3.6.1.2.1.1.5.0 octet_str {spec.name}",
            f"override .1.3.6.1.4.1.2021.10.1.3.1 octet_str {load1:.2f}",
            f"override .1.3.6.1.4.1.2021.10.1.3.2 octet_str {load1 * 0.8:.2f}",
            f"override .1.3.6.1.4.1.2021.10.1.3.3 octet_str {load1 * 0.6:.2f}",
            f"override .1.3.6.1.2.1.25.3.3.1.2.196608 integer {5 + seed % 60}",
            "",
        ]
    )


class DemoAgents:
    """Starts one snmpd per spec; `stop()` ends them all. A context manager too."""

    def __init__(self, specs: list[AgentSpec]) -> None:
        for spec in specs:
            if not ipaddress.ip_address(spec.address).is_loopback:
                raise DemoError(
                    f"{spec.name}: demo agents only run on loopback, not {spec.address}"
                )
        self.specs = specs
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        binary = snmpd_binary()
        if binary is None:
            raise DemoError("snmpd is not installed (Debian: apt-get install snmpd)")
        self._dir = tempfile.TemporaryDirectory(prefix="opsconsole-demo-")
        root = Path(self._dir.name)
        for spec in self.specs:
            work = root / spec.name
            work.mkdir()
            (work / "snmpd.conf").write_text(agent_config(spec, work))
            self._procs.append(
                subprocess.Popen(
                    # -I -smux: several agents would fight over tcp/199 for smux
                    [binary, "-f", "-Lf", str(work / "log"), "-C", "-c", str(work / "snmpd.conf"),
                     "-p", str(work / "pid"), "-I", "-smux"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        self._wait_until_listening(root)

    def _wait_until_listening(self, root: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        pending = {spec.name for spec in self.specs}
        while pending and time.monotonic() < deadline:
            for spec, proc in zip(self.specs, self._procs, strict=True):
                if proc.poll() is not None:
                    log = (root / spec.name / "log").read_text(errors="replace")[-400:]
                    self.stop()
                    raise DemoError(f"snmpd for {spec.name} exited: {log.strip()}")
                if spec.name in pending and (root / spec.name / "pid").exists():
                    pending.discard(spec.name)
            time.sleep(0.05)
        if pending:
            self.stop()
            raise DemoError(f"snmpd did not start for {', '.join(sorted(pending))}")

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._procs.clear()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> DemoAgents:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def demo_specs(session: Session) -> list[AgentSpec]:
    """Every SNMP device of the CMDB on a loopback address with a port of its own."""
    specs = []
    for ci in session.scalars(
        select(CI).where(CI.collector == Collector.SNMP.value, CI.snmp_port.is_not(None))
    ):
        if ci.address and ci.snmp_port and _is_loopback(ci.address):
            specs.append(AgentSpec(ci.name, ci.address, ci.snmp_port))
    return sorted(specs, key=lambda s: s.name)


def set_monitoring(session: Session, names: list[str], on: bool) -> int:
    """Turn monitoring of the demo devices on (or back off); audited like any CMDB edit."""
    changed = 0
    for ci in session.scalars(select(CI).where(CI.name.in_(names))):
        if ci.monitored != on:
            ci.monitored = on
            changed += 1
    return changed


def with_demo_profile(settings: Settings) -> Settings:
    """The sample estate names the profile lab-v2c; supply it when the config does not."""
    if DEMO_PROFILE in settings.credentials:
        return settings
    profile = SnmpV2cProfile(version="2c", community=DEMO_COMMUNITY, timeout=1.0, retries=1)
    return settings.model_copy(
        update={"credentials": {**settings.credentials, DEMO_PROFILE: profile}}
    )


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
