"""Prometheus Alertmanager webhook payloads -> events.

    {"version": "4", "status": "firing", "receiver": "opsconsole", "groupKey": "...",
     "alerts": [{"status": "firing" | "resolved", "labels": {"alertname": "...",
                 "instance": "web-01:9100", "severity": "critical", ...},
                 "annotations": {"summary": "...", "description": "..."},
                 "startsAt": "...", "endsAt": "...", "fingerprint": "c0ffee..."}]}

Mapping: the CI is the label `ci`, `host`, `hostname`, `instance` (without its port) or `node`,
first found; the check is `alertname`; the severity label maps onto ours (page/critical ->
critical, error/major/high -> major, minor/medium -> minor, warning/warn/low -> warning,
info/none/notice -> info; missing or unknown -> warning); the message is the summary (else the
description, else the alert name). Alertmanager's own fingerprint is the dedup key (else a hash
of the labels, as Alertmanager computes one), so one Alertmanager alert is one alert here.
"resolved" is a clearing event at endsAt.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from opsconsole import clock
from opsconsole.events.pipeline import Event
from opsconsole.events.sources.common import FieldError, Problem, parse_time
from opsconsole.store.models import Severity

SOURCE = "alertmanager"
CI_LABELS = ("ci", "host", "hostname", "instance", "node")
SEVERITIES = {
    "critical": Severity.CRITICAL, "page": Severity.CRITICAL, "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "major": Severity.MAJOR, "error": Severity.MAJOR, "high": Severity.MAJOR,
    "minor": Severity.MINOR, "medium": Severity.MINOR,
    "warning": Severity.WARNING, "warn": Severity.WARNING, "low": Severity.WARNING,
    "info": Severity.INFO, "informational": Severity.INFO, "none": Severity.INFO,
    "notice": Severity.INFO,
}  # fmt: skip
DEFAULT_SEVERITY = Severity.WARNING
ZERO_TIME = "0001-01-01T00:00:00Z"


def is_payload(document: dict[str, Any]) -> bool:
    return "alerts" in document and not {"ci", "check"} & set(document)


def host_of(instance: str) -> str:
    """`web-01:9100` -> `web-01`, `[::1]:9100` -> `::1`; anything else as it is."""
    instance = instance.strip()
    if instance.startswith("[") and "]" in instance:
        return instance[1 : instance.index("]")]
    host, sep, port = instance.rpartition(":")
    if sep and port.isdigit() and host and ":" not in host:
        return host
    return instance


def severity_of(labels: dict[str, Any]) -> Severity:
    value = labels.get("severity")
    if not isinstance(value, str):
        return DEFAULT_SEVERITY
    return SEVERITIES.get(value.strip().lower(), DEFAULT_SEVERITY)


def labels_fingerprint(labels: dict[str, Any]) -> str:
    text = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def alert_event(alert: Any, group_status: str | None, receiver: str | None, where: str) -> Event:
    """One entry of "alerts" -> Event; `where` prefixes field names in errors."""
    if not isinstance(alert, dict):
        raise FieldError(where, "must be a JSON object")
    labels = alert.get("labels")
    if not isinstance(labels, dict):
        raise FieldError(f"{where}.labels", "missing" if labels is None else "must be an object")
    annotations = alert.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise FieldError(f"{where}.annotations", "must be an object")
    name = labels.get("alertname")
    if not isinstance(name, str) or not name.strip():
        raise FieldError(f"{where}.labels.alertname", "missing")
    ci = next(
        (
            host_of(value) if label == "instance" else value.strip()
            for label in CI_LABELS
            if isinstance(value := labels.get(label), str) and value.strip()
        ),
        None,
    )
    if ci is None:
        raise FieldError(f"{where}.labels", f"no CI: set one of the labels {', '.join(CI_LABELS)}")
    status = alert.get("status") or group_status
    if status not in ("firing", "resolved"):
        raise FieldError(f"{where}.status", f"must be firing or resolved, not {status!r}")
    resolved = status == "resolved"
    stamp = alert.get("endsAt") if resolved else alert.get("startsAt")
    field_name = f"{where}.{'endsAt' if resolved else 'startsAt'}"
    at = parse_time(stamp, field_name) if stamp and stamp != ZERO_TIME else clock.now()
    fingerprint = alert.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise FieldError(f"{where}.fingerprint", "must be a string")
    message = next(
        (
            v.strip()
            for k in ("summary", "description", "message")
            if isinstance(v := annotations.get(k), str) and v.strip()
        ),
        name,
    )
    resource = labels.get("resource")
    return Event(
        source=SOURCE, check=name.strip()[:120], severity=severity_of(labels), message=message,
        at=at, ci=ci[:200], resource=resource[:200] if isinstance(resource, str) else "",
        clear=resolved, key=fingerprint or labels_fingerprint(labels),
        payload={
            "labels": labels, "annotations": annotations, "receiver": receiver,
            "startsAt": alert.get("startsAt"), "endsAt": alert.get("endsAt"),
            "generatorURL": alert.get("generatorURL"),
        },
    )  # fmt: skip


def parse_payload(document: dict[str, Any], line: int = 1) -> tuple[list[Event], list[Problem]]:
    """A webhook payload -> events; problems name the line and the field (alerts[2].labels)."""
    alerts = document.get("alerts")
    if not isinstance(alerts, list):
        return [], [Problem(line, "alerts", "must be a list")]
    group_status = document.get("status") if isinstance(document.get("status"), str) else None
    receiver = document.get("receiver") if isinstance(document.get("receiver"), str) else None
    events: list[Event] = []
    problems: list[Problem] = []
    for index, alert in enumerate(alerts):
        try:
            events.append(alert_event(alert, group_status, receiver, f"alerts[{index}]"))
        except FieldError as exc:
            problems.append(Problem(line, exc.field, exc.message))
    return events, problems
