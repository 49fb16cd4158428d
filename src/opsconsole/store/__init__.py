"""The store: engine and session factory, ORM models, migrations and the change log."""

# Importing the model modules registers their tables in Base.metadata.
from opsconsole.store import alert_models as alert_models
from opsconsole.store import itsm_models as itsm_models
from opsconsole.store.engine import Store, VersionConflict, open_store
from opsconsole.store.models import CI, Base, ChangeLog, Relationship

__all__ = ["CI", "Base", "ChangeLog", "Relationship", "Store", "VersionConflict", "open_store"]
