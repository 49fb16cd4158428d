"""The one entry point for events from every source.

Monitoring, traps and external senders all call `submit`; the events issue grows this into
normalize -> fingerprint/dedup -> suppress -> correlate -> alerts -> rules behind the same
signature, so no caller needs rewriting. Today it normalises and records the raw event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from opsconsole.store.models import EventRecord, Severity

MAX_MESSAGE = 4000


@dataclass(frozen=True)
class Event:
    source: str  # "monitoring", "snmp-trap", "cli", "alertmanager", ...
    check: str  # e.g. "host.reachability", "fs.percent", "snmp.linkDown"
    severity: Severity
    message: str
    at: datetime
    ci_id: int | None = None
    resource: str = ""  # e.g. the mount point or interface the check is about
    clear: bool = False  # True: the condition is over (drives auto-resolve)
    key: str | None = None  # a source-given dedup key, when it has one
    payload: dict[str, Any] = field(default_factory=dict)


def submit(session: Session, events: Sequence[Event]) -> int:
    """Record events in the caller's transaction; returns how many were accepted."""
    if not events:
        return 0
    rows = [
        {
            "at": e.at,
            "source": e.source,
            "ci_id": e.ci_id,
            "check": e.check,
            "resource": e.resource,
            "severity": Severity(e.severity).value,
            "clear": e.clear,
            "message": e.message[:MAX_MESSAGE],
            "key": e.key,
            "payload": e.payload,
        }
        for e in events
    ]
    session.execute(insert(EventRecord), rows)
    return len(rows)
