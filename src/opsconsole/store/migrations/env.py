"""Alembic environment: always run with a connection handed over by opsconsole.store.migrate."""

from alembic import context

from opsconsole.store import alert_models, itsm_models  # noqa: F401  (their tables)
from opsconsole.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `opsconsole db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
context.run_migrations()
