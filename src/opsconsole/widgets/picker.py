"""Type-ahead pickers: an Input that completes from a list (groups, people, codes) or from the
CMDB (CIs, looked up in a worker thread as the operator types).

The completion shows greyed after the cursor; Right or End takes it. `resolve()` turns what was
typed into a known choice or None, so forms validate against the same list they complete from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from textual.suggester import Suggester
from textual.widgets import Input

from opsconsole.cmdb.service import list_cis
from opsconsole.store.engine import Store

CI_HITS = 10


class ChoiceSuggester(Suggester):
    """Completes the last comma-separated item from a fixed list (case-insensitive prefix)."""

    def __init__(self, choices: Callable[[str], Sequence[str]], *, multiple: bool) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.choices = choices
        self.multiple = multiple

    async def get_suggestion(self, value: str) -> str | None:
        last = value.rpartition(",")[2] if self.multiple else value
        needle = last.strip()
        if not needle:
            return None
        try:
            found = await asyncio.to_thread(self.choices, needle)
        except Exception:  # the store being away must not break typing
            return None
        if not value.endswith(needle):
            return None
        stem = value[: len(value) - len(needle)]
        for choice in found:
            if choice.startswith(needle) and choice != needle:
                return stem + choice
        return None


class Picker(Input):
    """An Input choosing from `choices(text)`; with `multiple`, a comma-separated list."""

    def __init__(
        self,
        choices: Callable[[str], Sequence[str]],
        *,
        value: str = "",
        placeholder: str = "",
        multiple: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(
            value=value,
            placeholder=placeholder,
            suggester=ChoiceSuggester(choices, multiple=multiple),
            id=id,
        )
        self.choices = choices
        self.multiple = multiple

    def items(self) -> list[str]:
        if not self.multiple:
            text = self.value.strip()
            return [text] if text else []
        return [part.strip() for part in self.value.split(",") if part.strip()]


def list_choices(values: Sequence[str]) -> Callable[[str], Sequence[str]]:
    """Choices from a fixed list, matching anywhere, prefix matches first."""

    def choose(text: str) -> Sequence[str]:
        needle = text.lower()
        starts = [v for v in values if v.lower().startswith(needle)]
        return starts + [v for v in values if needle in v.lower() and v not in starts]

    return choose


def ci_choices(store: Store, limit: int = CI_HITS) -> Callable[[str], Sequence[str]]:
    """CI names from the CMDB (call from a worker thread)."""

    def choose(text: str) -> Sequence[str]:
        with store.read() as session:
            names = [ci.name for ci in list_cis(session, text=text, limit=limit * 3)]
        needle = text.lower()
        return sorted(names, key=lambda n: (not n.lower().startswith(needle), n))[:limit]

    return choose
