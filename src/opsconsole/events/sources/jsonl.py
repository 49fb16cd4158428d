"""JSON lines of events, the shape `opsconsole event send` takes on its command line:

    {"ci": "web-01", "check": "http", "severity": "major", "message": "500s on /cart",
     "key": "optional-dedup-key", "resource": "/cart", "clear": false,
     "at": "2026-11-23T10:00:00Z", "source": "cli", "payload": {...}}

ci, check, severity and message are required. A line holding an Alertmanager webhook payload
(an object with "alerts") is read as one. Every bad line is reported with its number and field;
the good lines still count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from opsconsole import clock
from opsconsole.events.pipeline import Event
from opsconsole.events.sources import alertmanager
from opsconsole.events.sources.common import FieldError, Problem, parse_time
from opsconsole.store.models import Severity

DEFAULT_SOURCE = "cli"
REQUIRED = ("ci", "check", "severity", "message")
OPTIONAL = ("key", "resource", "clear", "at", "source", "payload")
MAX_FIELD = {"ci": 200, "check": 120, "resource": 200, "key": 300, "source": 64}


def _string(obj: dict[str, Any], name: str, required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise FieldError(name, "missing")
        return None
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise FieldError(name, "empty")
    limit = MAX_FIELD.get(name)
    if limit is not None and len(value) > limit:
        raise FieldError(name, f"longer than {limit} characters")
    return value


def parse_severity(value: Any, name: str = "severity") -> Severity:
    if not isinstance(value, str):
        raise FieldError(name, "must be a string")
    try:
        return Severity(value.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise FieldError(name, f"{value!r} is not one of {names}") from None


def event_from_object(obj: Any, default_source: str = DEFAULT_SOURCE) -> Event:
    """One event object -> Event; raises FieldError naming the field."""
    if not isinstance(obj, dict):
        raise FieldError(None, f"an event must be a JSON object, not {type(obj).__name__}")
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise FieldError(unknown[0], f"unknown field (known: {', '.join(REQUIRED + OPTIONAL)})")
    ci = _string(obj, "ci", True)
    check = _string(obj, "check", True)
    severity = parse_severity(obj.get("severity")) if "severity" in obj else None
    if severity is None:
        raise FieldError("severity", "missing")
    message = obj.get("message")
    if not isinstance(message, str):
        raise FieldError("message", "missing" if message is None else "must be a string")
    clear = obj.get("clear", False)
    if not isinstance(clear, bool):
        raise FieldError("clear", "must be true or false")
    payload = obj.get("payload", {})
    if not isinstance(payload, dict):
        raise FieldError("payload", "must be a JSON object")
    at = parse_time(obj["at"]) if obj.get("at") is not None else clock.now()
    assert ci is not None and check is not None
    return Event(
        source=_string(obj, "source", False) or default_source, check=check, severity=severity,
        message=message, at=at, ci=ci, resource=_string(obj, "resource", False) or "",
        clear=clear, key=_string(obj, "key", False) or None, payload=payload,
    )  # fmt: skip


def parse_text(
    text: str, default_source: str = DEFAULT_SOURCE
) -> tuple[list[Event], list[Problem]]:
    """A whole input: one Alertmanager document, or JSON lines (events or Alertmanager
    payloads, one per line). Returns the good events and the problems, by line."""
    stripped = text.strip()
    if stripped.startswith("{") and "\n" in stripped:
        try:
            document = json.loads(stripped)
        except json.JSONDecodeError:
            document = None
        if isinstance(document, dict) and alertmanager.is_payload(document):
            return alertmanager.parse_payload(document, line=_first_line(text))
        if isinstance(document, dict):
            try:
                return [event_from_object(document, default_source)], []
            except FieldError as exc:
                return [], [Problem(_first_line(text), exc.field, exc.message)]
    return parse_lines(text.splitlines(), default_source)


def _first_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            return number
    return 1


def parse_lines(
    lines: Iterable[str], default_source: str = DEFAULT_SOURCE
) -> tuple[list[Event], list[Problem]]:
    events: list[Event] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, None, f"not JSON: {exc.msg} (column {exc.colno})"))
            continue
        if isinstance(obj, dict) and alertmanager.is_payload(obj):
            good, bad = alertmanager.parse_payload(obj, line=number)
            events += good
            problems += bad
            continue
        try:
            events.append(event_from_object(obj, default_source))
        except FieldError as exc:
            problems.append(Problem(number, exc.field, exc.message))
    return events, problems
