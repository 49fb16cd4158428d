"""`opsconsole incident|change|problem|request|kb` as a script sees them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ESTATE = ROOT / "data" / "estate.yaml"


def run(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if config is not None:
        env["OPSCONSOLE_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite+pysqlite:///{tmp_path / 'itsm.db'}"
    assert run("--db", url, "cmdb", "import", str(ESTATE)).returncode == 0
    return url


def ok(*args: str, config: Path | None = None) -> str:
    done = run(*args, config=config)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fails(*args: str) -> str:
    done = run(*args)
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("opsconsole: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def test_incident_lifecycle_from_a_script(db: str) -> None:
    created = json.loads(
        ok(
            "--db",
            db,
            "incident",
            "create",
            "--short",
            "web-01 answers 502",
            "--ci",
            "web-01",
            "--service",
            "online-shop",
            "--impact",
            "1",
            "--urgency",
            "2",
            "--json",
        )
    )
    assert (created["number"], created["priority"], created["version"]) == ("INC0001001", "P2", 1)
    assert created["service"] == "online-shop"

    listed = json.loads(ok("--db", db, "incident", "list", "--json"))
    assert [r["number"] for r in listed["rows"]] == ["INC0001001"]
    assert listed["next"] is None
    assert "INC0001001  P2  new" in ok("--db", db, "incident", "list")

    ok("--db", db, "incident", "note", "INC0001001", "looked at nginx")
    moved = json.loads(
        ok(
            "--db",
            db,
            "incident",
            "transition",
            "INC0001001",
            "in_progress",
            "--expected-version",
            "1",
            "--json",
        )
    )
    assert (moved["state"], moved["version"]) == ("in_progress", 2)

    stale = fails(
        "--db", db, "incident", "update", "INC0001001", "--urgency", "1", "--expected-version", "1"
    )
    assert "changed by someone else (you edited version 1, it is now at version 2)" in stale
    updated = json.loads(
        ok(
            "--db",
            db,
            "incident",
            "update",
            "INC0001001",
            "--urgency",
            "1",
            "--assign",
            "ana",
            "--expected-version",
            "2",
            "--json",
        )
    )
    assert (updated["priority"], updated["assignee"]) == ("P1", "ana")

    assert "Resolved needs a resolution code" in fails(
        "--db", db, "incident", "transition", "INC0001001", "resolved"
    )
    ok(
        "--db",
        db,
        "incident",
        "resolve",
        "INC0001001",
        "--code",
        "solved (permanently)",
        "--notes",
        "restarted nginx",
    )
    shown = json.loads(ok("--db", db, "incident", "show", "INC0001001", "--json"))
    assert shown["state"] == "resolved"
    assert shown["allowed_transitions"] == ["closed", "in_progress"]
    assert shown["clocks"]["resolution"]["stage"] == "stopped"
    kinds = [e["kind"] for e in shown["journal"]]
    assert "work_note" in kinds and "refused" in kinds
    text = ok("--db", db, "incident", "show", "INC0001001")
    assert "sla resolution" in text and "restarted nginx" in text


def test_incident_errors_are_one_line(db: str) -> None:
    assert "no incident INC0009999" in fails("--db", db, "incident", "show", "inc0009999")
    assert "--short is required" in fails("--db", db, "incident", "create")
    assert "no CI named 'nope'" in fails(
        "--db", db, "incident", "create", "--short", "x", "--ci", "nope"
    )
    assert "'P9' is not a priority" in fails("--db", db, "incident", "list", "--priority", "P9")


def test_change_flow_with_conflict_and_approval(db: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("operator: carol\nitsm:\n  groups:\n    change-manager: [carol]\n")
    base = ("--db", db)
    first = json.loads(
        ok(
            *base,
            "change",
            "create",
            "--short",
            "patch db-01",
            "--ci",
            "db-01",
            "--start",
            "2026-12-01T22:00+00:00",
            "--end",
            "2026-12-02T00:00+00:00",
            "--risk",
            "low",
            "--implementation",
            "apt upgrade",
            "--backout",
            "apt downgrade",
            "--test",
            "smoke",
            "--json",
        )
    )
    assert (first["number"], first["state"], first["conflicts"]) == ("CHG0001001", "new", 0)
    second = json.loads(
        ok(
            *base,
            "change",
            "create",
            "--type",
            "standard",
            "--template",
            "reboot-host",
            "--ci",
            "web-01",
            "--start",
            "2026-12-01T23:00+00:00",
            "--json",
        )
    )
    assert second["conflict_list"] == [
        {
            "kind": "same_service",
            "detail": "CHG0001001 changes db-01; with web-01 it serves online-shop",
        },
    ]
    assert "1 conflict(s)" in fails(*base, "change", "transition", "CHG0001002", "scheduled")
    scheduled = json.loads(
        ok(
            *base,
            "change",
            "transition",
            "CHG0001002",
            "scheduled",
            "--override",
            "5 minutes, agreed with DBA",
            "--json",
        )
    )
    assert scheduled["state"] == "scheduled"

    ok(*base, "change", "transition", "CHG0001001", "assess")
    ok(*base, "change", "transition", "CHG0001001", "authorize")
    approved = json.loads(
        ok(*base, "change", "approve", "CHG0001001", "--comment", "ok", "--json", config=config)
    )
    # Conflicts remain (with CHG0001002): approved, but not scheduled without an override.
    assert approved["state"] == "authorize"
    assert approved["approvals"][0]["decision"] == "approved"
    calendar = json.loads(
        ok(
            *base,
            "change",
            "calendar",
            "--ci",
            "web-01",
            "--start",
            "2026-12-01T00:00+00:00",
            "--json",
        )
    )
    assert [(e["number"], e["relation"]) for e in calendar] == [
        ("CHG0001001", "same service"),
        ("CHG0001002", "same CI"),
    ]
    assert "CHG0001002" in ok(*base, "change", "list")
    conflicts = json.loads(ok(*base, "change", "conflicts", "CHG0001001", "--json"))
    assert [c["kind"] for c in conflicts] == ["same_service"]
    shown = ok(*base, "change", "show", "CHG0001001")
    assert "approval           change-manager: approved (ok)" in shown
    assert "next states        scheduled, canceled" in shown


def test_problem_request_and_kb_commands(db: str) -> None:
    base = ("--db", db)
    created = json.loads(
        ok(*base, "problem", "create", "--short", "nightly stalls", "--ci", "db-01", "--json")
    )
    assert created["number"] == "PRB0001001"
    ok(*base, "problem", "transition", "PRB0001001", "assess")
    assert "root_cause_analysis" in ok(*base, "problem", "transition", "PRB0001001", "rca")

    catalog = json.loads(ok(*base, "request", "catalog", "--json"))
    assert "disk-space" in catalog
    submitted = json.loads(
        ok(
            *base,
            "request",
            "submit",
            "disk-space",
            "host=db-01",
            "mount=/var",
            "gigabytes=20",
            "--json",
        )
    )
    assert [t["number"] for t in submitted["tasks"]] == ["TASK0001001", "TASK0001002"]
    assert "gigabytes is required" in fails(
        *base, "request", "submit", "disk-space", "host=db-01", "mount=/"
    )
    ok(*base, "request", "task", "TASK0001001", "--state", "done")
    done = json.loads(ok(*base, "request", "task", "TASK0001002", "--state", "done", "--json"))
    assert done["state"] == "fulfilled"

    assert "created" in ok(*base, "kb", "sync")
    assert "0 created" in ok(*base, "kb", "sync")
    hits = json.loads(ok(*base, "kb", "search", "--check", "fs.percent:/var", "--json"))
    assert hits[0]["title"] == "Filesystem filling up (fs.percent)"
    assert "lvextend" in ok(*base, "kb", "show", hits[0]["number"])
