"""Severity as the operator reads it: a short word and a colour, and the counts the header
shows on every screen. The colour only repeats the word (nothing is told by colour alone)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.content import Content

from opsconsole.store.vocabulary import Severity
from opsconsole.widgets.text import safe_str

SEVERITY_WORDS = {
    "critical": ("CRIT", "bold white on red"),
    "major": ("MAJOR", "bold red"),
    "minor": ("MINOR", "bold yellow"),
    "warning": ("WARN", "yellow"),
    "info": ("INFO", "cyan"),
}


def severity_cell(severity: str) -> Text:
    word, style = SEVERITY_WORDS.get(severity, (safe_str(severity).upper()[:5], ""))
    return Text(word, style=style, no_wrap=True, end="")


def severity_counts_text(counts: Mapping[Severity, int]) -> Text:
    """CRIT 2 MAJOR 1 … (word and number; a zero is dim)."""
    text = Text(no_wrap=True, end="")
    for severity in Severity:
        word, style = SEVERITY_WORDS[severity.value]
        if text:
            text.append(" ")
        count = counts.get(severity, 0)
        text.append(f"{word} {count}", style=style if count else "dim")
    return text


def severity_counts_plain(counts: Mapping[Severity, int]) -> str:
    return severity_counts_text(counts).plain


def severity_counts_content(counts: Mapping[Severity, int]) -> Content:
    return Content.from_rich_text(severity_counts_text(counts))


__all__ = [
    "SEVERITY_WORDS",
    "severity_cell",
    "severity_counts_content",
    "severity_counts_plain",
    "severity_counts_text",
]
