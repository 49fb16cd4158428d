from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from opsconsole.store.migrate import alembic_config, current_revision, head_revision, upgrade
from opsconsole.store.models import Base


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_history_is_linear_and_starts_at_0001() -> None:
    revs = revisions()
    assert revs[0] == "0001"
    assert revs[-1] == head_revision()


def test_upgrade_empty_database_matches_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    engine.dispose()


def test_upgrade_from_the_first_revision_keeps_data(db_url: str) -> None:
    engine = create_engine(db_url)
    upgrade(engine, revisions()[0])
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ci (name, ci_class, environment, monitored, attributes, created_at,"
                " updated_at, version) VALUES ('old-host', 'host', 'production', false, '{}',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM ci")).scalar_one() == "old-host"
    assert {"ci", "ci_relationship", "change_log"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = create_engine(db_url)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
