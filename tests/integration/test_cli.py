"""The command line as a script sees it: exit codes, one-line errors, nothing half written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsconsole.store.migrate import head_revision

ROOT = Path(__file__).parents[2]
ESTATE = ROOT / "data" / "estate.yaml"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsconsole", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'cli.db'}"


def test_db_upgrade_then_current(db: str) -> None:
    first = run("--db", db, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty to revision" in first.stdout
    again = run("--db", db, "db", "upgrade")
    assert "already at revision" in again.stdout
    assert f"revision {head_revision()}" in run("--db", db, "db", "current").stdout


def test_import_impact_and_export_round_trip(db: str, tmp_path: Path) -> None:
    imported = run("--db", db, "cmdb", "import", str(ESTATE))
    assert imported.returncode == 0, imported.stderr
    assert "29 created" in imported.stdout

    impact = run("--db", db, "cmdb", "impact", "core-sw-02", "--json")
    services = {row["service"] for row in json.loads(impact.stdout)}
    assert services == {"online-shop", "payments", "intranet-wiki"}

    plain = run("--db", db, "cmdb", "impact", "web-01").stdout
    assert "online-shop\thigh\tweb-01 -> shop-frontend -> online-shop" in plain

    for suffix in ("yaml", "csv"):
        out = tmp_path / f"export.{suffix}"
        assert run("--db", db, "cmdb", "export", "-o", str(out)).returncode == 0
        other = f"sqlite+pysqlite:///{tmp_path / f'other-{suffix}.db'}"
        assert run("--db", other, "cmdb", "import", str(out)).returncode == 0
        again = tmp_path / f"again.{suffix}"
        assert run("--db", other, "cmdb", "export", "-o", str(again)).returncode == 0
        assert again.read_text() == out.read_text()


def test_bad_import_exits_non_zero_and_writes_nothing(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,class,depends_on\nsvc,service,ghost\nh,toaster,\n")
    result = run("--db", db, "cmdb", "import", str(bad))
    assert result.returncode == 1
    assert f"{bad}:2: depends_on: no CI named 'ghost'" in result.stderr
    assert f"{bad}:3: class:" in result.stderr
    assert "Traceback" not in result.stderr
    export = run("--db", db, "cmdb", "export", "--format", "csv")
    assert export.stdout.count("\n") == 1  # the header alone


def test_unknown_ci_is_a_one_line_error(db: str) -> None:
    result = run("--db", db, "cmdb", "impact", "nope")
    assert (result.returncode, result.stderr) == (1, "opsconsole: no CI named 'nope'\n")


def test_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ui:\n  themes: dark\n")
    result = run("--config", str(cfg), "config", "check")
    assert result.returncode == 1
    assert result.stderr == f"opsconsole: {cfg}:2: ui.themes: unknown setting\n"


def test_config_from_environment_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("operator: night-shift\n")
    result = run("config", "check", env={"OPSCONSOLE_CONFIG": str(cfg)})
    assert result.returncode == 0
    assert "operator: night-shift" in result.stdout


def test_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none"
    result = run("--db", url, "db", "current")
    assert result.returncode == 1
    assert result.stderr.startswith("opsconsole: database error: ")
    assert "secret" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_export_to_unwritable_place_leaves_nothing(db: str, tmp_path: Path) -> None:
    assert run("--db", db, "cmdb", "import", str(ESTATE)).returncode == 0
    target = tmp_path / "missing-dir" / "out.yaml"
    result = run("--db", db, "cmdb", "export", "-o", str(target))
    assert result.returncode == 1
    assert "cannot write" in result.stderr
    assert not target.parent.exists()


def test_console_refuses_without_a_terminal(db: str) -> None:
    result = run("--db", db)
    assert result.returncode == 1
    assert "needs a terminal" in result.stderr
