"""External sources: Alertmanager webhook payloads and JSON lines, mapped and checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from opsconsole.events.sources import alertmanager, jsonl
from opsconsole.store import Store
from opsconsole.store.alert_models import AlertState
from opsconsole.store.models import Severity
from tests.unit.test_events_support import alerts, build_estate, send

FIRING = {
    "version": "4",
    "status": "firing",
    "receiver": "opsconsole",
    "groupKey": "{}:{alertname=\"NodeDiskFull\"}",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "NodeDiskFull", "instance": "db-01:9100",
                       "severity": "critical", "mountpoint": "/var"},
            "annotations": {"summary": "disk /var on db-01 is full", "description": "long"},
            "startsAt": "2026-11-23T09:58:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": "a1b2c3d4e5f60718",
        },
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "host": "web-01", "severity": "page"},
            "annotations": {},
            "startsAt": "2026-11-23T09:59:00Z",
            "fingerprint": "0000000000000001",
        },
    ],
}  # fmt: skip


def resolved_payload() -> dict[str, object]:
    doc = json.loads(json.dumps(FIRING))
    doc["status"] = "resolved"
    doc["alerts"] = [doc["alerts"][0]]
    doc["alerts"][0]["status"] = "resolved"
    doc["alerts"][0]["endsAt"] = "2026-11-23T10:07:00Z"
    return doc


def test_alertmanager_firing_maps_labels_to_ci_check_severity_and_key() -> None:
    events, problems = alertmanager.parse_payload(FIRING)
    assert problems == []
    disk, latency = events
    assert (disk.ci, disk.check, disk.severity, disk.clear) == (
        "db-01", "NodeDiskFull", Severity.CRITICAL, False,
    )  # fmt: skip
    assert disk.source == "alertmanager" and disk.key == "a1b2c3d4e5f60718"
    assert disk.message == "disk /var on db-01 is full"
    assert disk.at == datetime(2026, 11, 23, 9, 58, 0, 123456, tzinfo=UTC)
    assert disk.payload["labels"]["mountpoint"] == "/var"
    assert (latency.ci, latency.severity, latency.message) == (
        "web-01", Severity.CRITICAL, "HighLatency",
    )  # fmt: skip


def test_alertmanager_resolved_is_a_clear_at_ends_at() -> None:
    (event,), problems = alertmanager.parse_payload(resolved_payload())
    assert problems == [] and event.clear
    assert event.at == datetime(2026, 11, 23, 10, 7, tzinfo=UTC)
    assert event.key == "a1b2c3d4e5f60718"


@pytest.mark.parametrize(
    ("label", "expected"),
    [("critical", Severity.CRITICAL), ("error", Severity.MAJOR), ("warning", Severity.WARNING),
     ("info", Severity.INFO), ("minor", Severity.MINOR), ("bogus", Severity.WARNING),
     (None, Severity.WARNING)],
)  # fmt: skip
def test_alertmanager_severity_labels(label: str | None, expected: Severity) -> None:
    labels = {"alertname": "X", "instance": "h"} | ({"severity": label} if label else {})
    assert alertmanager.severity_of(labels) is expected


@pytest.mark.parametrize(
    ("instance", "host"),
    [("web-01:9100", "web-01"), ("[::1]:9100", "::1"), ("127.0.1.11:9100", "127.0.1.11"),
     ("web-01", "web-01"), ("::1", "::1")],
)  # fmt: skip
def test_instance_loses_its_port(instance: str, host: str) -> None:
    assert alertmanager.host_of(instance) == host


def test_without_a_fingerprint_the_labels_make_the_key() -> None:
    doc = json.loads(json.dumps(FIRING))
    del doc["alerts"][0]["fingerprint"]
    first = alertmanager.parse_payload(doc)[0][0].key
    doc["alerts"][0]["labels"]["extra"] = "x"
    assert first and first != alertmanager.parse_payload(doc)[0][0].key


def test_bad_alertmanager_entries_name_the_field_and_the_rest_still_count() -> None:
    doc = json.loads(json.dumps(FIRING))
    doc["alerts"].append({"status": "firing", "labels": {"alertname": "NoHost"}})
    doc["alerts"].append({"status": "weird", "labels": {"alertname": "A", "host": "h"}})
    doc["alerts"].append({"labels": {"alertname": "B", "host": "h"}, "startsAt": "yesterday"})
    events, problems = alertmanager.parse_payload(doc, line=3)
    assert len(events) == 2
    assert [(p.line, p.field) for p in problems] == [
        (3, "alerts[2].labels"), (3, "alerts[3].status"), (3, "alerts[4].startsAt"),
    ]  # fmt: skip


def test_alertmanager_through_the_pipeline_dedups_on_its_fingerprint(store: Store) -> None:
    ids = build_estate(store)
    events, _ = alertmanager.parse_payload(FIRING)
    send(store, events)
    send(store, events)  # Alertmanager repeats a firing group: still one alert each
    disk = next(a for a in alerts(store) if a.check == "NodeDiskFull")
    assert disk.count == 2 and disk.ci_id == ids["db-01"] and disk.key == "a1b2c3d4e5f60718"
    resolved, _ = alertmanager.parse_payload(resolved_payload())
    send(store, resolved)
    disk = next(a for a in alerts(store) if a.check == "NodeDiskFull")
    assert disk.state == AlertState.RESOLVED


# --- JSON lines --------------------------------------------------------------------------------


def test_json_lines_good_and_bad_by_line_and_field() -> None:
    lines = "\n".join([
        '{"ci": "web-01", "check": "http", "severity": "major", "message": "500s"}',
        "",
        "# a comment",
        '{"ci": "web-01", "check": "http", "severity": "huge", "message": "x"}',
        '{"ci": "web-01", "severity": "major", "message": "x"}',
        '{"ci": "web-01", "check": "http", "severity": "major", "message": "x", "at": "noon"}',
        '{"ci": "web-01", "check": "http", "severity": "major", "message": "x", '
        '"at": "2026-11-23T10:00:00"}',
        '{"ci": "web-01", "check": "http", "severity": "major", "message": "x", "colour": 1}',
        "[1, 2]",
        "{oops",
        '{"ci": "db-01", "check": "disk", "severity": "warning", "message": "80 %", '
        '"resource": "/", "key": "k1", "clear": false, "at": "2026-11-23T10:00:00+01:00"}',
        json.dumps(FIRING),
    ])  # fmt: skip
    events, problems = jsonl.parse_text(lines)
    assert [(p.line, p.field) for p in problems] == [
        (4, "severity"), (5, "check"), (6, "at"), (7, "at"), (8, "colour"), (9, None), (10, None),
    ]  # fmt: skip
    assert "has no time zone" in str(problems[3])
    assert str(problems[0]).startswith("line 4: severity: 'huge' is not one of")
    assert [e.ci for e in events] == ["web-01", "db-01", "db-01", "web-01"]
    assert events[1].at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert events[1].key == "k1" and events[1].resource == "/"


def test_a_pretty_printed_alertmanager_document_is_detected() -> None:
    text = json.dumps(FIRING, indent=2)
    events, problems = jsonl.parse_text(text)
    assert problems == [] and [e.check for e in events] == ["NodeDiskFull", "HighLatency"]
