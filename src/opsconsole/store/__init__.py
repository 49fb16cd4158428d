"""The store: engine and session factory, ORM models, migrations and the change log."""

from opsconsole.store.engine import Store, VersionConflict, open_store
from opsconsole.store.models import CI, Base, ChangeLog, Relationship

__all__ = ["CI", "Base", "ChangeLog", "Relationship", "Store", "VersionConflict", "open_store"]
