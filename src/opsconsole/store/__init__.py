"""The store: engine and session factory, ORM models, migrations and the change log.

The names below are loaded on first use (PEP 562), so that importing a light part of the
package (`opsconsole.store.vocabulary`, `Store` for the console's first paint) does not import
SQLAlchemy and every model. Opening a store registers every model (see `Store.__init__`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsconsole.store import alert_models as alert_models
    from opsconsole.store import itsm_models as itsm_models
    from opsconsole.store.engine import Store, VersionConflict, open_store
    from opsconsole.store.models import CI, Base, ChangeLog, Relationship

_HOMES = {
    "Store": "opsconsole.store.engine",
    "VersionConflict": "opsconsole.store.engine",
    "open_store": "opsconsole.store.engine",
    "CI": "opsconsole.store.models",
    "Base": "opsconsole.store.models",
    "ChangeLog": "opsconsole.store.models",
    "Relationship": "opsconsole.store.models",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if home == "opsconsole.store.models":
        # Whoever reaches for the models gets all of them registered in Base.metadata.
        importlib.import_module("opsconsole.store.alert_models")
        importlib.import_module("opsconsole.store.itsm_models")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = ["CI", "Base", "ChangeLog", "Relationship", "Store", "VersionConflict", "open_store"]
