"""Domain functions over CIs and relationships. Each takes a session (and the writes an actor
through the session the store opened for them); screens and the CLI call these, never SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from opsconsole.store.engine import VersionConflict
from opsconsole.store.models import CI, CIClass, Relationship, RelationType


class CMDBError(Exception):
    """A CMDB request that cannot be honoured, worded for the operator."""


def get_ci(session: Session, name: str) -> CI:
    ci = session.scalar(select(CI).where(CI.name == name))
    if ci is None:
        raise CMDBError(f"no CI named {name!r}")
    return ci


def find_ci(session: Session, name: str) -> CI | None:
    return session.scalar(select(CI).where(CI.name == name))


def get_ci_by_id(session: Session, ci_id: int) -> CI:
    ci = session.get(CI, ci_id)
    if ci is None:
        raise CMDBError(f"no CI with id {ci_id}")
    return ci


def count_by_class(session: Session) -> dict[str, int]:
    rows = session.execute(select(CI.ci_class, func.count()).group_by(CI.ci_class)).all()
    counts = {cls.value: 0 for cls in CIClass}
    counts.update({ci_class: count for ci_class, count in rows})
    return counts


def list_cis(
    session: Session,
    ci_class: str | None = None,
    text: str = "",
    after_name: str | None = None,
    limit: int = 200,
) -> Sequence[CI]:
    """A page of CIs ordered by name (keyset paging: pass the last name seen as after_name)."""
    query = select(CI).order_by(CI.name).limit(limit)
    if ci_class:
        query = query.where(CI.ci_class == ci_class)
    if text:
        # What the operator typed is literal text: % and _ must not act as wildcards.
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            func.lower(CI.name).like(pattern, escape="\\")
            | func.lower(func.coalesce(CI.address, "")).like(pattern, escape="\\")
            | func.lower(func.coalesce(CI.support_group, "")).like(pattern, escape="\\")
        )
    if after_name is not None:
        query = query.where(CI.name > after_name)
    return session.scalars(query).all()


def monitored_hosts(session: Session) -> Sequence[CI]:
    return session.scalars(select(CI).where(CI.monitored.is_(True)).order_by(CI.name)).all()


@dataclass(frozen=True)
class Edge:
    """One relationship as seen from a CI: `direction` is 'out' (this CI needs other) or 'in'."""

    rel_type: RelationType
    direction: str
    other: CI

    @property
    def wording(self) -> str:
        return self.rel_type.label if self.direction == "out" else self.rel_type.inverse_label


def edges_of(session: Session, ci: CI) -> list[Edge]:
    out = session.scalars(
        select(Relationship)
        .where(Relationship.source_id == ci.id)
        .options(selectinload(Relationship.target))
    ).all()
    inc = session.scalars(
        select(Relationship)
        .where(Relationship.target_id == ci.id)
        .options(selectinload(Relationship.source))
    ).all()
    edges = [Edge(RelationType(r.rel_type), "out", r.target) for r in out]
    edges += [Edge(RelationType(r.rel_type), "in", r.source) for r in inc]
    edges.sort(key=lambda e: (e.direction != "out", e.rel_type.value, e.other.name))
    return edges


def add_ci(session: Session, name: str, ci_class: CIClass, **fields: object) -> CI:
    if find_ci(session, name) is not None:
        raise CMDBError(f"a CI named {name!r} already exists")
    ci = CI(name=name, ci_class=ci_class.value, **fields)
    session.add(ci)
    session.flush()
    return ci


EDITABLE_FIELDS = frozenset(
    {
        "address", "environment", "owner", "support_group", "criticality", "description",
        "monitored", "collector", "credential_profile", "snmp_port", "poll_interval", "attributes",
    }
)  # fmt: skip


def update_ci(session: Session, name: str, expected_version: int, **fields: object) -> CI:
    """Apply an operator's edit made on `expected_version`; refuse it if the CI moved on since.

    The check here gives the operator a clear message; the ORM's version column closes the
    window between this read and the UPDATE (a concurrent save then fails at flush).
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise CMDBError(f"not editable: {', '.join(sorted(unknown))}")
    ci = get_ci(session, name)
    if ci.version != expected_version:
        raise VersionConflict("CI", name, expected_version, ci.version)
    for key, value in fields.items():
        setattr(ci, key, value)
    session.flush()
    return ci


def relate(session: Session, source: CI, rel_type: RelationType, target: CI) -> Relationship:
    if source.id == target.id:
        raise CMDBError(f"{source.name} cannot {rel_type.label} itself")
    existing = session.scalar(
        select(Relationship).where(
            Relationship.source_id == source.id,
            Relationship.target_id == target.id,
            Relationship.rel_type == rel_type.value,
        )
    )
    if existing is not None:
        return existing
    edge = Relationship(source=source, target=target, rel_type=rel_type.value)
    session.add(edge)
    session.flush()
    return edge


def unrelate(session: Session, source: CI, rel_type: RelationType, target: CI) -> bool:
    edge = session.scalar(
        select(Relationship).where(
            Relationship.source_id == source.id,
            Relationship.target_id == target.id,
            Relationship.rel_type == rel_type.value,
        )
    )
    if edge is None:
        return False
    session.delete(edge)
    session.flush()
    return True
