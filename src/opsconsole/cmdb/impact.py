"""Impact analysis over the CMDB graph.

Every relationship reads "source needs target". The services a CI hurts are the services among
everything that needs it, directly or through any path (walk edges backwards); the CIs a service
relies on are everything it needs (walk forwards). Both walks are breadth-first over an
adjacency map loaded in one query each, with a visited set, so cycles end and a deep estate
costs two queries, not one per hop.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.store.models import CI, CIClass, Relationship


@dataclass(frozen=True)
class ImpactPath:
    """A CI reached by the walk and the chain of CI names that led to it (start first)."""

    ci: CI
    path: tuple[str, ...]

    @property
    def hops(self) -> int:
        return len(self.path) - 1


def _adjacency(session: Session, *, reverse: bool) -> dict[int, list[int]]:
    graph: dict[int, list[int]] = defaultdict(list)
    for source_id, target_id in session.execute(
        select(Relationship.source_id, Relationship.target_id)
    ):
        if reverse:
            graph[target_id].append(source_id)
        else:
            graph[source_id].append(target_id)
    return graph


def _walk(session: Session, start: CI, *, reverse: bool) -> list[tuple[int, tuple[int, ...]]]:
    """(ci id, id path) for every CI reachable from `start`, shortest path first."""
    graph = _adjacency(session, reverse=reverse)
    seen = {start.id}
    queue: deque[tuple[int, tuple[int, ...]]] = deque([(start.id, (start.id,))])
    reached: list[tuple[int, tuple[int, ...]]] = []
    while queue:
        node, path = queue.popleft()
        for neighbour in sorted(graph.get(node, ())):
            if neighbour in seen:
                continue
            seen.add(neighbour)
            reached.append((neighbour, (*path, neighbour)))
            queue.append((neighbour, (*path, neighbour)))
    return reached


def _load(session: Session, walked: Iterable[tuple[int, tuple[int, ...]]]) -> list[ImpactPath]:
    walked = list(walked)
    ids = {i for _, path in walked for i in path}
    by_id = {ci.id: ci for ci in session.scalars(select(CI).where(CI.id.in_(ids)))} if ids else {}
    return [ImpactPath(by_id[ci_id], tuple(by_id[i].name for i in path)) for ci_id, path in walked]


def impacted_services(session: Session, ci: CI) -> list[ImpactPath]:
    """Business services that depend on `ci` through any path (including itself if a service)."""
    found = [
        p
        for p in _load(session, _walk(session, ci, reverse=True))
        if p.ci.ci_class == CIClass.SERVICE
    ]
    if ci.ci_class == CIClass.SERVICE:
        found.insert(0, ImpactPath(ci, (ci.name,)))
    return sorted(found, key=lambda p: (_criticality_rank(p.ci), p.ci.name))


def dependents(session: Session, ci: CI) -> list[ImpactPath]:
    """Every CI that needs `ci`, directly or not."""
    return _load(session, _walk(session, ci, reverse=True))


def dependencies(session: Session, ci: CI) -> list[ImpactPath]:
    """Every CI that `ci` needs, directly or not (for a service: what it is built on)."""
    return _load(session, _walk(session, ci, reverse=False))


def _criticality_rank(ci: CI) -> int:
    return {"high": 0, "medium": 1, "low": 2}.get(ci.criticality or "", 3)
