"""Host state from poll outcomes and the CMDB topology (UP, DOWN, UNREACHABLE, UNKNOWN).

A failed poll is a soft failure until `down_after` polls in a row have failed; only then does
the host leave its state. A host that fails while every parent it needs is DOWN or UNREACHABLE
is UNREACHABLE (via that parent), not DOWN: the parent's outage is the one root alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opsconsole.store.models import HostStatus

BLOCKING = frozenset({HostStatus.DOWN, HostStatus.UNREACHABLE})


@dataclass(frozen=True)
class Outcome:
    state: HostStatus
    failures: int
    unreachable_via: str | None = None


def after_poll(
    state: HostStatus,
    failures: int,
    ok: bool,
    down_after: int,
    blocked_by: str | None,
    parent_suspect: bool = False,
) -> Outcome:
    """`parent_suspect`: a parent is failing but not yet DOWN. The verdict waits for it (as
    Nagios checks the parents before calling a child DOWN), so a core outage does not first
    raise a DOWN for every host behind it."""
    if ok:
        return Outcome(HostStatus.UP, 0)
    failures += 1
    soft = failures < down_after or (parent_suspect and blocked_by is None)
    if soft and state not in BLOCKING:
        return Outcome(state, failures)  # soft failure: keep the state, re-poll sooner
    if blocked_by is not None:
        return Outcome(HostStatus.UNREACHABLE, failures, blocked_by)
    return Outcome(HostStatus.DOWN, failures)


def blocking_parent(parents: Sequence[str], states: Mapping[str, HostStatus]) -> str | None:
    """The parent to blame when every monitored parent is DOWN or UNREACHABLE, else None.

    Parents without a known state (unmonitored, or not polled yet) do not block: with
    redundant uplinks, one live path is enough.
    """
    known = [p for p in parents if p in states]
    if not known or any(states[p] not in BLOCKING for p in known):
        return None
    down = [p for p in known if states[p] is HostStatus.DOWN]
    return (down or known)[0]


def reclassify(
    states: Mapping[str, HostStatus], parents: Mapping[str, Sequence[str]]
) -> dict[str, tuple[HostStatus, str | None]]:
    """DOWN vs UNREACHABLE (and via whom) for every failed host, after a batch of polls.

    Iterates to a fixed point, bounded by the number of hosts, so a chain core -> access ->
    host settles whatever order the polls finished in. The caller applies the differences.
    """
    current = dict(states)
    verdicts: dict[str, tuple[HostStatus, str | None]] = {}
    for _ in range(len(current) + 1):
        moved = False
        for host, state in current.items():
            if state not in BLOCKING:
                continue
            via = blocking_parent(parents.get(host, ()), current)
            wanted = HostStatus.UNREACHABLE if via else HostStatus.DOWN
            verdicts[host] = (wanted, via)
            if wanted is not state:
                current[host] = wanted
                moved = True
        if not moved:
            break
    return verdicts
