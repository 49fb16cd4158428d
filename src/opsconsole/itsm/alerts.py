"""The edge between tickets and the alert queue.

The events domain is the one writer of alert states: resolving the alerts linked to an incident
goes through its operator actions (opsconsole.events.actions), never through SQL of our own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

ACTIONS_MODULE = "opsconsole.events.actions"


def _events_action(name: str) -> Callable[..., Any] | None:
    try:
        module = importlib.import_module(ACTIONS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == ACTIONS_MODULE:
            return None
        raise
    found = getattr(module, name, None)
    return found if callable(found) else None


def resolve_alerts(
    session: Session, actor: str, alert_ids: Sequence[int], reason: str
) -> list[int]:
    """Resolve these alerts (those still active); returns the ids that were resolved."""
    action = _events_action("resolve_alerts")
    if action is None:
        return []
    resolved = action(session, actor, list(alert_ids), reason)
    return [int(i) for i in resolved or []]
