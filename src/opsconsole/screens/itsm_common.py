"""What the ticket screens share: SLA and priority cells, pickers' choices, worker outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message

from opsconsole.config import Settings
from opsconsole.itsm.priority import label as priority_label
from opsconsole.itsm.sla import Level, SlaBadge
from opsconsole.store.engine import VersionConflict
from opsconsole.widgets.text import safe_str

SLA_STYLES = {Level.OK: "green", Level.WARNING: "bold yellow", Level.BREACHED: "bold red"}
SLA_WORDS = {Level.OK: "OK", Level.WARNING: "WARN", Level.BREACHED: "BREACH"}
PRIORITY_STYLES = {1: "bold red", 2: "bold yellow", 3: "yellow", 4: "", 5: "dim"}

FORM_CSS = """
.form-row { height: 1; margin: 0 1; }
.form-label { width: 14; color: $text-muted; }
.form-row > Input, .form-row > Select { width: 1fr; }
.field-error { color: $error; height: auto; margin: 0 0 0 15; display: none; }
.field-error.-shown { display: block; }
.form-error { color: $error; height: auto; margin: 0 1; }
#incident-summary, #change-summary { height: 1; padding: 0 1; background: $boost; }
#incident-history { margin: 1 1 0 1; height: auto; }
#change-body { height: 1fr; }
#change-form { width: 1fr; }
#change-side { width: 1fr; height: 1fr; border-left: solid $primary; padding: 0 1; }
.side-title { text-style: bold; margin-top: 1; }
#change-conflicts, #change-calendar { height: auto; }
"""


@dataclass(frozen=True)
class SlaCell:
    level: str
    text: str

    @classmethod
    def of(cls, badge: SlaBadge) -> SlaCell:
        return cls(badge.level.value, badge.text)

    def render(self) -> Text:
        """Colour and a word: never colour alone."""
        level = Level(self.level)
        if not self.text:
            return Text("")
        return Text(f"{SLA_WORDS[level]} {self.text}", style=SLA_STYLES[level], end="")


def priority_text(priority: int | None) -> Text:
    if priority is None:
        return Text("")
    return Text(priority_label(priority), style=PRIORITY_STYLES.get(priority, ""), end="")


def people(settings: Settings) -> list[str]:
    found = {person for members in settings.itsm.groups.values() for person in members}
    found.add(settings.actor)
    return sorted(found)


def groups(settings: Settings) -> list[str]:
    return sorted(settings.itsm.groups)


def explain(error: BaseException) -> str:
    """A refused save or move, for the operator (the edit stays in the form)."""
    if isinstance(error, VersionConflict):
        return f"{safe_str(error)}. Your edit is kept in the form."
    return safe_str(str(error).splitlines()[0] if str(error) else type(error).__name__)


class Outcome(Message):
    """A worker finished: `what` says which job, `value` its result or `error` its failure."""

    def __init__(self, what: str, value: Any = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.what = what
        self.value = value
        self.error = error
