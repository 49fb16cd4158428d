"""What the pipeline needs from the CMDB, looked up once and cached across batches.

CI names and ids both ways (and addresses, for senders that know only those), and each CI's
impacted business services (CMDB impact analysis, `cmdb.impact.impacted_services`, asked once
per CI). The cache belongs to one engine and is
thrown away as soon as the CMDB changes: a cheap fingerprint of the ci and ci_relationship
tables (row counts, summed versions, highest edge id) is compared at the start of each batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Engine, cast, func, select
from sqlalchemy.orm import Session

from opsconsole.cmdb.impact import impacted_services
from opsconsole.store.models import CI, Relationship

MAX_SERVICES_TEXT = 1000
_SPREAD = 1_000_003  # (source, target) -> source * _SPREAD + target, modulo _MOD
_MOD = 2_147_483_647  # a prime


@dataclass
class CmdbView:
    token: tuple[int, ...]
    names: dict[int, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    addresses: dict[str, int] = field(default_factory=dict)
    services: dict[int, tuple[str, ...]] = field(default_factory=dict)
    criticality: dict[str, str | None] = field(default_factory=dict)  # service -> criticality


_views: weakref.WeakKeyDictionary[Engine, CmdbView] = weakref.WeakKeyDictionary()


def _token(session: Session) -> tuple[int, ...]:
    """Changes with any CI edit (versions), CI added or removed (count and ids) and edge
    added, removed or rewired (count, highest id and the sum of its ends, so replacing one
    edge by another, even under a reused id, shows)."""
    cis = session.execute(
        select(
            func.count(CI.id),
            func.coalesce(func.sum(CI.version), 0),
            func.coalesce(func.sum(cast(CI.id, BigInteger)), 0),
        )
    ).one()
    # Each edge as one number below 2**31 (so a sum over millions of them cannot overflow).
    ends = (cast(Relationship.source_id, BigInteger) * _SPREAD + Relationship.target_id) % _MOD
    edges = session.execute(
        select(
            func.count(Relationship.id),
            func.coalesce(func.max(Relationship.id), 0),
            func.coalesce(func.sum(ends), 0),
        )
    ).one()
    return (*(int(v) for v in cis), *(int(v) for v in edges))


def cmdb_view(session: Session) -> CmdbView:
    """The cached view for this session's database, reloaded when the CMDB changed."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    token = _token(session)
    view = _views.get(engine)
    if view is None or view.token != token:
        view = CmdbView(token)
        for ci_id, name, address in session.execute(
            select(CI.id, CI.name, CI.address).order_by(CI.name)
        ):
            view.names[ci_id] = name
            view.ids[name] = ci_id
            if address:
                view.addresses.setdefault(address, ci_id)
        _views[engine] = view
    return view


def services_of(session: Session, view: CmdbView, ci_ids: Iterable[int]) -> None:
    """Fill `view.services` for these CIs (one impact analysis per CI not yet known)."""
    for ci_id in ci_ids:
        if ci_id in view.services:
            continue
        ci = session.get(CI, ci_id)
        paths = impacted_services(session, ci) if ci is not None else []
        view.services[ci_id] = tuple(p.ci.name for p in paths)
        for path in paths:
            view.criticality[path.ci.name] = path.ci.criticality


def services_text(names: Iterable[str]) -> str:
    return ", ".join(names)[:MAX_SERVICES_TEXT]


def forget(engine: Engine) -> None:
    """Drop the cached view (tests that rebuild a database under the same engine)."""
    _views.pop(engine, None)
