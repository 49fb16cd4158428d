"""The `?` screen: every key, grouped by where it works, generated from the BINDINGS themselves.

There is no second list to keep in step: the app passes the classes whose bindings make up each
group (`HelpGroup`), and the keys shown are the ones in force after the keymap is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static


@dataclass(frozen=True)
class HelpGroup:
    """A heading and the classes whose own BINDINGS are listed under it."""

    title: str
    owners: tuple[type[DOMNode], ...]


@dataclass(frozen=True)
class HelpEntry:
    keys: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class HelpSection:
    title: str
    entries: tuple[HelpEntry, ...]


def own_bindings(owner: type[DOMNode]) -> list[Binding]:
    """The bindings a class declares itself (not inherited ones: those have their own group)."""
    declared: Iterable[BindingType] = owner.__dict__.get("BINDINGS", [])
    return list(Binding.make_bindings(declared))


def _describe(binding: Binding) -> str:
    """The longer wording when a binding has one (the footer shows the short description)."""
    if binding.tooltip:
        return binding.tooltip
    if binding.description:
        return binding.description
    return binding.action.split("(")[0].split(".")[-1].replace("_", " ").capitalize()


def build_sections(
    groups: Sequence[HelpGroup], keys_of: Callable[[Binding], list[str]]
) -> list[HelpSection]:
    """One section per group; bindings sharing an action and description share a line."""
    sections = []
    for group in groups:
        merged: dict[tuple[str, str], list[str]] = {}
        shadowed: set[str] = set()
        for owner in group.owners:
            for binding in own_bindings(owner):
                if binding.system or binding.key in shadowed:
                    continue  # a key bound earlier in the group wins, as it does in Textual
                shadowed.add(binding.key)
                keys = merged.setdefault((binding.action, _describe(binding)), [])
                keys.extend(k for k in keys_of(binding) if k not in keys)
        entries = tuple(
            HelpEntry(tuple(keys), description) for (_, description), keys in merged.items()
        )
        if entries:
            sections.append(HelpSection(group.title, entries))
    return sections


def section_text(section: HelpSection) -> Text:
    text = Text(end="")
    text.append(section.title, style="bold underline")
    for entry in section.entries:
        text.append("\n  ")
        text.append(f"{' '.join(entry.keys):<14}", style="bold")
        text.append(entry.description)
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close help", id="help.close"),
    ]

    def __init__(self, sections: Sequence[HelpSection]) -> None:
        super().__init__()
        self.sections = tuple(sections)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "Esc closes"
            for section in self.sections:
                yield Static(section_text(section), markup=False, classes="help-section")

    @property
    def plain(self) -> str:
        """All the help as plain text (what tests and the screen reader see)."""
        return "\n\n".join(section_text(s).plain for s in self.sections)
