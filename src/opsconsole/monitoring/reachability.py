"""Host state from poll outcomes, the CMDB topology and maintenance windows.

States: UP, DOWN, UNREACHABLE, UNKNOWN (no data yet) and MAINTENANCE.

A failed poll is a soft failure until `down_after` polls in a row have failed; only then does
the host leave its state. A host that fails while every parent it needs is DOWN, UNREACHABLE or
MAINTENANCE is UNREACHABLE (via that parent), not DOWN: the parent's outage is the one root
alarm.

MAINTENANCE is what DOWN or UNREACHABLE becomes while the host's CI is inside the window of a
change being implemented (`monitoring.maintenance`): the failure is expected, and says why. It
describes a failing host only: a host that answers is UP, in a window or not. A host in
MAINTENANCE still blocks its children (they are UNREACHABLE via it, not DOWN), and the verdict
is made again at every poll, so when the change leaves Implement the next failed poll makes
the host DOWN or UNREACHABLE (a good one makes it UP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opsconsole.store.models import HostStatus

# Hard failures: a host in one of these failed `down_after` polls in a row. They block the
# children that need the host, and a soft failure does not keep them (the verdict is remade).
BLOCKING = frozenset({HostStatus.DOWN, HostStatus.UNREACHABLE, HostStatus.MAINTENANCE})
# The hard failures that topology alone decides between (MAINTENANCE is decided by a change).
TOPOLOGICAL = frozenset({HostStatus.DOWN, HostStatus.UNREACHABLE})
# Whom to blame first when several parents are out: the ones that failed on their own.
_OWN_FAILURE = (HostStatus.DOWN, HostStatus.MAINTENANCE)


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
    in_maintenance: bool = False,
) -> Outcome:
    """`parent_suspect`: a parent is failing but not yet DOWN. The verdict waits for it (as
    Nagios checks the parents before calling a child DOWN), so a core outage does not first
    raise a DOWN for every host behind it. `in_maintenance`: the CI is inside the window of
    a change being implemented; a hard failure is then MAINTENANCE, not DOWN or UNREACHABLE."""
    if ok:
        return Outcome(HostStatus.UP, 0)
    failures += 1
    soft = failures < down_after or (parent_suspect and blocked_by is None)
    if soft and state not in BLOCKING:
        return Outcome(state, failures)  # soft failure: keep the state, re-poll sooner
    if in_maintenance:
        return Outcome(HostStatus.MAINTENANCE, failures)
    if blocked_by is not None:
        return Outcome(HostStatus.UNREACHABLE, failures, blocked_by)
    return Outcome(HostStatus.DOWN, failures)


def blocking_parent(parents: Sequence[str], states: Mapping[str, HostStatus]) -> str | None:
    """The parent to blame when every monitored parent is DOWN, UNREACHABLE or MAINTENANCE,
    else None (a DOWN or MAINTENANCE parent before an UNREACHABLE one).

    Parents without a known state (unmonitored, or not polled yet) do not block: with
    redundant uplinks, one live path is enough.
    """
    known = [p for p in parents if p in states]
    if not known or any(states[p] not in BLOCKING for p in known):
        return None
    for kind in _OWN_FAILURE:
        for parent in known:
            if states[parent] is kind:
                return parent
    return known[0]


def reclassify(
    states: Mapping[str, HostStatus], parents: Mapping[str, Sequence[str]]
) -> dict[str, tuple[HostStatus, str | None]]:
    """DOWN vs UNREACHABLE (and via whom) for every DOWN or UNREACHABLE host, after a batch
    of polls. A host in MAINTENANCE keeps it (its next poll decides again) but blocks its
    children like a DOWN one.

    Iterates to a fixed point, bounded by the number of hosts, so a chain core -> access ->
    host settles whatever order the polls finished in. The caller applies the differences.
    """
    current = dict(states)
    verdicts: dict[str, tuple[HostStatus, str | None]] = {}
    for _ in range(len(current) + 1):
        moved = False
        for host, state in current.items():
            if state not in TOPOLOGICAL:
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
