"""The dashboard's list of hosts as plain data: one lean summary per host, and how the
operator sorts and filters them (in memory: 500 hosts in a few milliseconds).

No SQLAlchemy here: the dashboard is the console's first screen and paints before the store is
open. `dashboard_queries` reads these summaries from the store.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from opsconsole.store.vocabulary import HostStatus

# --- the index: every monitored host, lean -------------------------------------------------


@dataclass(frozen=True)
class HostSummary:
    """One host as a dashboard panel shows it (and as sorting and filtering need it)."""

    ci_id: int
    name: str
    address: str | None
    ci_class: str
    collector: str | None
    state: str
    since: datetime | None
    last_poll_at: datetime | None
    last_ok_at: datetime | None
    last_error: str | None
    unreachable_via: str | None
    interval: float
    cpu: float | None = None
    load1: float | None = None
    mem: float | None = None
    worst_disk: tuple[str, float] | None = None  # (mount, percent used)
    rx_bps: float | None = None
    tx_bps: float | None = None

    @property
    def has_data(self) -> bool:
        return self.last_ok_at is not None

    @property
    def disk_percent(self) -> float | None:
        return self.worst_disk[1] if self.worst_disk else None


@dataclass(frozen=True)
class HostIndex:
    hosts: tuple[HostSummary, ...]
    change_id: int  # change feed position read in the same session
    marker: datetime | None  # last_poll_marker read in the same session


# --- ordering and filtering ---------------------------------------------------------------


class SortKey(enum.StrEnum):
    PROBLEMS = "problems"
    NAME = "name"
    CPU = "cpu"
    DISK = "disk"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]


# Problems first: the root alarms, then their consequences, then what we know nothing about.
STATE_RANK = {
    HostStatus.DOWN.value: 0,
    HostStatus.UNREACHABLE.value: 1,
    HostStatus.UNKNOWN.value: 2,
    HostStatus.MAINTENANCE.value: 3,
    HostStatus.UP.value: 4,
}


def _descending(value: float | None) -> tuple[int, float]:
    """Biggest first, hosts without the figure last."""
    return (1, 0.0) if value is None else (0, -value)


def sort_hosts(hosts: Iterable[HostSummary], key: SortKey) -> list[HostSummary]:
    if key is SortKey.NAME:
        return sorted(hosts, key=lambda h: h.name)
    if key is SortKey.CPU:
        return sorted(hosts, key=lambda h: (_descending(h.cpu), h.name))
    if key is SortKey.DISK:
        return sorted(hosts, key=lambda h: (_descending(h.disk_percent), h.name))
    return sorted(hosts, key=lambda h: (STATE_RANK.get(h.state, 2), h.name))


@dataclass(frozen=True)
class HostFilter:
    """What the operator typed after `/`: words that must all match the name or address,
    and `key:value` terms: `state:down` (any prefix of a state; `state:down,unr` for
    several), `class:host`, `via:core`. An unknown key is searched for as plain text."""

    text: str = ""
    words: tuple[str, ...] = ()
    states: tuple[frozenset[str], ...] = ()
    classes: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, text: str) -> HostFilter:
        words: list[str] = []
        states: list[frozenset[str]] = []
        classes: list[str] = []
        via: list[str] = []
        errors: list[str] = []
        for term in text.lower().split():
            key, colon, value = term.partition(":")
            if not colon or not value:
                words.append(term)
            elif key == "state":
                chosen = frozenset(
                    s.value
                    for wanted in value.split(",")
                    if wanted
                    for s in HostStatus
                    if s.value.lower().startswith(wanted)
                )
                if not chosen:
                    errors.append(f"no state starts with {value!r}")
                states.append(chosen)
            elif key == "class":
                classes.append(value)
            elif key == "via":
                via.append(value)
            else:
                words.append(term)
        return cls(text.strip(), tuple(words), tuple(states), tuple(classes), tuple(via),
                   tuple(errors))  # fmt: skip

    def __bool__(self) -> bool:
        return bool(self.words or self.states or self.classes or self.via)

    def matches(self, host: HostSummary) -> bool:
        name = host.name.lower()
        address = (host.address or "").lower()
        if not all(w in name or w in address for w in self.words):
            return False
        if not all(host.state in chosen for chosen in self.states):
            return False
        ci_class = host.ci_class.lower()
        if not all(ci_class.startswith(c) or c in ci_class for c in self.classes):
            return False
        via = (host.unreachable_via or "").lower()
        return all(v in via for v in self.via)


def arrange(hosts: Sequence[HostSummary], host_filter: HostFilter, key: SortKey
            ) -> list[HostSummary]:  # fmt: skip
    """The hosts the dashboard lists, in the order it lists them."""
    chosen = [h for h in hosts if host_filter.matches(h)] if host_filter else list(hosts)
    return sort_hosts(chosen, key)


def state_counts(hosts: Iterable[HostSummary]) -> dict[str, int]:
    """Hosts per state, in problem order (states with no host left out)."""
    counts = Counter(h.state for h in hosts)
    return {s: counts[s] for s in sorted(counts, key=lambda s: STATE_RANK.get(s, 2))}
