"""`opsconsole event|alerts|silence` as a script sees them: exit codes, one-line errors naming the
line and field, good events landing beside bad ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsconsole.cmdb.io import import_file
from opsconsole.store import open_store

ROOT = Path(__file__).parents[2]
ESTATE = ROOT / "data" / "estate.yaml"


def run(db: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        env={**os.environ, "OPSCONSOLE_CONFIG": "", "USER": "tester"},
    )


def listed(db: str, *args: str) -> list[dict[str, Any]]:
    result = run(db, "alerts", "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A store holding the sample estate (imported in-process: one subprocess less per test)."""
    url = f"sqlite+pysqlite:///{tmp_path / 'events.db'}"
    store = open_store(url)
    with store.write("tester") as session:
        import_file(session, ESTATE, set())
    store.dispose()
    return url


def test_send_dedup_ack_and_close(db: str) -> None:
    first = run(db, "event", "send", "--ci", "web-01", "--check", "http.status",
                "--severity", "major", "--message", "500s on /cart")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "new alert #1" in first.stdout
    again = run(db, "event", "send", "--ci", "web-01", "--check", "http.status",
                "--severity", "critical", "--message", "all 500")  # fmt: skip
    assert again.returncode == 0
    (row,) = listed(db)
    assert (row["count"], row["severity"], row["message"]) == (2, "critical", "all 500")
    assert "online-shop" in row["services"]

    ack = run(db, "alerts", "ack", "1", "--note", "on it", "--sticky")
    assert ack.returncode == 0 and "acknowledged: 1" in ack.stdout
    assert listed(db)[0]["acked_by"] == "tester"
    assert listed(db, "--state", "acknowledged")[0]["id"] == 1
    assert run(db, "alerts", "close", "1").returncode == 0
    assert listed(db) == []
    assert listed(db, "--state", "closed")[0]["id"] == 1

    plain = run(db, "alerts", "list", "--state", "all")
    assert plain.returncode == 0 and "web-01" in plain.stdout and "closed" in plain.stdout


def test_send_clear_resolves(db: str) -> None:
    run(db, "event", "send", "--ci", "db-01", "--check", "disk", "--severity", "warning",
        "--message", "80 %", "--resource", "/var")  # fmt: skip
    cleared = run(db, "event", "send", "--ci", "db-01", "--check", "disk", "--severity",
                  "info", "--message", "fine", "--resource", "/var", "--clear")  # fmt: skip
    assert cleared.returncode == 0 and "resolved #1" in cleared.stdout
    assert listed(db, "--state", "resolved")[0]["resolved_at"]


def test_unknown_alert_and_bad_arguments_fail_in_one_line(db: str) -> None:
    missing = run(db, "alerts", "ack", "42")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "opsconsole: no alert #42"
    bad = run(db, "event", "send", "--ci", "x", "--check", "y", "--severity", "huge",
              "--message", "m")  # fmt: skip
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_ingest_names_bad_lines_and_fields_and_keeps_the_good(db: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        '{"ci": "web-01", "check": "http", "severity": "major", "message": "slow"}',
        '{"ci": "web-01", "check": "http", "severity": "loud", "message": "x"}',
        "not json at all",
        '{"ci": "web-02", "check": "http", "message": "no severity"}',
        '{"ci": "db-01", "check": "disk", "severity": "minor", "message": "75 %",'
        ' "at": "2026-11-23T10:00:00Z"}',
    ]) + "\n")  # fmt: skip
    result = run(db, "event", "ingest", str(path))
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"opsconsole: {path}: line 2: severity: 'loud' is not one of critical, major, minor, "
        "warning, info",
        f"opsconsole: {path}: line 3: not JSON: Expecting value (column 1)",
        f"opsconsole: {path}: line 4: severity: missing",
    ]
    assert "2 event(s) accepted, 3 rejected" in result.stdout
    assert sorted(r["ci"] for r in listed(db)) == ["db-01", "web-01"]


def test_ingest_an_alertmanager_payload_from_stdin(db: str) -> None:
    payload = {
        "version": "4", "status": "firing", "receiver": "opsconsole",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "NodeDown", "instance": "web-02:9100", "severity": "critical"},
            "annotations": {"summary": "web-02 is down"},
            "startsAt": "2026-11-23T10:00:00Z", "fingerprint": "f00d",
        }],
    }  # fmt: skip
    fired = run(db, "event", "ingest", "-", stdin=json.dumps(payload, indent=2))
    assert fired.returncode == 0, fired.stderr
    (row,) = listed(db)
    assert (row["ci"], row["check"], row["severity"]) == ("web-02", "NodeDown", "critical")
    payload["status"] = "resolved"
    alert: Any = payload["alerts"]
    alert[0]["status"] = "resolved"
    alert[0]["endsAt"] = "2026-11-23T10:09:00Z"
    resolved = run(db, "event", "ingest", "-", stdin=json.dumps(payload))
    assert resolved.returncode == 0 and "resolved #1" in resolved.stdout
    assert listed(db) == []


def test_silence_add_list_and_expire(db: str) -> None:
    run(db, "event", "send", "--ci", "web-01", "--check", "cpu", "--severity", "major",
        "--message", "hot")  # fmt: skip
    added = run(db, "silence", "add", "--match", "ci=web-01", "--match", "check=~c.*",
                "--comment", "kernel upgrade", "--duration", "2h")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "silence #1 (active" in added.stdout and "matches 1 active alert" in added.stdout
    row = listed(db)[0]
    assert row["state"] == "suppressed"
    assert row["suppressed_reason"] == "silenced by tester: kernel upgrade"
    silences = json.loads(run(db, "silence", "list", "--json").stdout)
    assert [(s["id"], s["state"], s["matching"], s["ends_soon"]) for s in silences] == [
        (1, "active", 1, True)
    ]
    assert run(db, "silence", "expire", "1").returncode == 0
    assert listed(db)[0]["state"] == "open"
    assert run(db, "silence", "list").stdout.strip() == "no silences"


def test_silence_needs_a_comment_and_a_sane_matcher(db: str) -> None:
    no_comment = run(db, "silence", "add", "--match", "ci=a", "--comment", " ",
                     "--duration", "1h")  # fmt: skip
    assert no_comment.returncode == 1 and "comment" in no_comment.stderr
    bad = run(db, "silence", "add", "--match", "ci=~(", "--comment", "x", "--duration", "1h")
    assert bad.returncode == 1 and "regular expression" in bad.stderr
    bad_duration = run(db, "silence", "add", "--match", "ci=a", "--comment", "x",
                       "--duration", "soon")  # fmt: skip
    assert bad_duration.returncode == 2 and "not a duration" in bad_duration.stderr
    recovery = run(db, "silence", "add", "--match", "ci=a", "--comment", "x",
                   "--until-recovery")  # fmt: skip
    assert recovery.returncode == 1 and "--alert" in recovery.stderr


def test_silence_from_an_alert_until_it_recovers(db: str) -> None:
    run(db, "event", "send", "--ci", "db-01", "--check", "disk", "--severity", "major",
        "--message", "full", "--resource", "/var")  # fmt: skip
    added = run(db, "silence", "add", "--alert", "1", "--until-recovery", "--comment", "cleanup")
    assert added.returncode == 0, added.stderr
    assert "until alert #1 recovers" in added.stdout
    assert "ci=db-01, check=disk, resource=/var" in added.stdout
    run(db, "event", "send", "--ci", "db-01", "--check", "disk", "--severity", "info",
        "--message", "ok", "--resource", "/var", "--clear")  # fmt: skip
    assert json.loads(run(db, "silence", "list", "--all", "--json").stdout)[0]["state"] == (
        "expired"
    )


def test_snooze_and_show(db: str) -> None:
    run(db, "event", "send", "--ci", "web-01", "--check", "cpu", "--severity", "major",
        "--message", "hot")  # fmt: skip
    snoozed = run(db, "alerts", "snooze", "1", "--duration", "30m", "--note", "after lunch")
    assert snoozed.returncode == 0 and "snoozed: 1" in snoozed.stdout
    shown = json.loads(run(db, "alerts", "show", "1", "--json").stdout)
    assert shown["state"] == "acknowledged" and shown["snoozed_until"]
    assert [h["action"] for h in shown["history"]] == ["created", "snoozed"]
    assert shown["impacted_services"][0]["service"] == "online-shop"
    plain = run(db, "alerts", "show", "1")
    assert plain.returncode == 0 and "snoozed" in plain.stdout
    assert run(db, "alerts", "show", "7").returncode == 1
