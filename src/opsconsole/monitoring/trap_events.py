"""SNMP traps -> events on the CI whose address sent them.

Senders the CMDB does not know are not dropped: their events go to one "unknown source" CI
with the sender's address in the payload, so an operator sees them and can add the device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.events.pipeline import Event
from opsconsole.store.models import CI, CIClass, Severity

if TYPE_CHECKING:
    from opsconsole.monitoring.traps import TrapMessage

SOURCE = "snmp-trap"
UNKNOWN_SOURCE_CI = "unknown-trap-source"
MAX_VARBINDS_IN_MESSAGE = 6


def address_map(session: Session) -> dict[str, int]:
    """Address -> CI id; with duplicates the first by name wins (stable)."""
    mapping: dict[str, int] = {}
    for ci_id, address in session.execute(
        select(CI.id, CI.address).where(CI.address.is_not(None)).order_by(CI.name)
    ):
        if address:
            mapping.setdefault(address, ci_id)
    return mapping


def ensure_unknown_source(session: Session) -> int:
    ci = session.scalar(select(CI).where(CI.name == UNKNOWN_SOURCE_CI))
    if ci is None:
        ci = CI(
            name=UNKNOWN_SOURCE_CI,
            ci_class=CIClass.NETWORK_DEVICE.value,
            description="Traps from senders the CMDB does not know land here; the sender's "
            "address is in each event",
        )
        session.add(ci)
        session.flush()
    return ci.id


def trap_event(message: TrapMessage, addresses: Mapping[str, int], unknown_ci: int) -> Event:
    ci_id = addresses.get(message.sender)
    origin = "" if ci_id is not None else f" from unknown sender {message.sender}"
    # Unknown senders share one CI: the sender in the resource keeps them apart in dedup.
    prefix = "" if ci_id is not None else f"{message.sender} "
    payload: dict[str, object] = {
        "sender": message.sender,
        "trap_oid": message.trap_oid,
        "varbinds": [list(v) for v in message.varbinds],
        "inform": message.is_inform,
    }

    def event(check: str, severity: Severity, text: str, resource: str = "", clear: bool = False
              ) -> Event:  # fmt: skip
        return Event(
            source=SOURCE, check=check, severity=severity, message=text + origin,
            at=message.at, ci_id=ci_id if ci_id is not None else unknown_ci,
            resource=(prefix + resource).strip(), clear=clear, payload=payload,
        )  # fmt: skip

    kind = message.kind
    if kind in ("linkDown", "linkUp"):
        interface = message.if_name or (f"ifIndex {message.if_index}" if message.if_index else "")
        down = kind == "linkDown"
        severity = Severity.MAJOR if down else Severity.INFO
        return event("snmp.link", severity, f"{kind} on {interface or 'an interface'}",
                     interface, clear=not down)  # fmt: skip
    if kind in ("coldStart", "warmStart"):
        return event("snmp.restart", Severity.WARNING, f"agent restarted ({kind})")
    if kind == "authenticationFailure":
        return event("snmp.auth", Severity.MINOR, "SNMP authentication failure reported")
    oid = message.trap_oid or "unknown"
    details = ", ".join(f"{name}={value}" for name, value in _content(message))
    return event(
        f"snmp.trap:{oid}", Severity.WARNING, f"trap {oid}" + (f": {details}" if details else "")
    )


def _content(message: TrapMessage) -> list[tuple[str, str]]:
    """Varbinds worth showing: not the sysUpTime/snmpTrapOID header."""
    header = ("1.3.6.1.2.1.1.3.0", "1.3.6.1.6.3.1.1.4.1.0")
    return [v for v in message.varbinds if v[0] not in header][:MAX_VARBINDS_IN_MESSAGE]
