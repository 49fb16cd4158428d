"""The metrics store: raw samples for a short window, rollups (count/avg/min/max per period)
for long-term trends, and retention for both. Portable SQL: one GROUP BY per bucket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from opsconsole.store.models import MetricRollup, MetricSample

MAX_BUCKETS_PER_RUN = 288  # a day of 5-minute buckets: catching up stays bounded per call


def bucket_floor(at: datetime, period_s: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period_s, UTC)


@dataclass
class Maintenance:
    buckets: int = 0
    rollup_rows: int = 0
    raw_deleted: int = 0
    rollups_deleted: int = 0


def roll_up(session: Session, period_s: int, now: datetime) -> tuple[int, int]:
    """Aggregate every finished bucket not yet rolled up; returns (buckets, rows written)."""
    last = session.scalar(
        select(func.max(MetricRollup.bucket_start)).where(MetricRollup.period_s == period_s)
    )
    if last is None:
        first = session.scalar(select(func.min(MetricSample.at)))
        if first is None:
            return 0, 0
        start = bucket_floor(_aware(first), period_s)
    else:
        start = _aware(last) + timedelta(seconds=period_s)
    end = bucket_floor(now, period_s)  # the current bucket is still filling
    buckets = rows = 0
    while start < end and buckets < MAX_BUCKETS_PER_RUN:
        stop = start + timedelta(seconds=period_s)
        aggregates = session.execute(
            select(
                MetricSample.ci_id, MetricSample.metric, func.count(), func.avg(MetricSample.value),
                func.min(MetricSample.value), func.max(MetricSample.value),
            )
            .where(MetricSample.at >= start, MetricSample.at < stop)
            .group_by(MetricSample.ci_id, MetricSample.metric)
        ).all()  # fmt: skip
        if aggregates:
            session.execute(
                insert(MetricRollup),
                [
                    {"ci_id": ci_id, "metric": metric, "period_s": period_s,
                     "bucket_start": start, "count": count, "avg": float(avg),
                     "min": float(low), "max": float(high)}
                    for ci_id, metric, count, avg, low, high in aggregates
                ],
            )  # fmt: skip
            rows += len(aggregates)
        buckets += 1
        start = stop
    return buckets, rows


def enforce_retention(
    session: Session, now: datetime, raw_hours: float, rollup_days: float
) -> tuple[int, int]:
    raw = session.execute(
        delete(MetricSample).where(MetricSample.at < now - timedelta(hours=raw_hours))
    )
    rolled = session.execute(
        delete(MetricRollup).where(MetricRollup.bucket_start < now - timedelta(days=rollup_days))
    )
    return int(getattr(raw, "rowcount", 0) or 0), int(getattr(rolled, "rowcount", 0) or 0)


def maintain(
    session: Session, now: datetime, period_s: int, raw_hours: float, rollup_days: float
) -> Maintenance:
    buckets, rows = roll_up(session, period_s, now)
    raw_deleted, rollups_deleted = enforce_retention(session, now, raw_hours, rollup_days)
    return Maintenance(buckets, rows, raw_deleted, rollups_deleted)


def series(
    session: Session, ci_id: int, metric: str, since: datetime, limit: int = 500
) -> Sequence[tuple[datetime, float]]:
    """Raw points of one metric, oldest first (for sparklines and the host detail view)."""
    rows = session.execute(
        select(MetricSample.at, MetricSample.value)
        .where(MetricSample.ci_id == ci_id, MetricSample.metric == metric,
               MetricSample.at >= since)
        .order_by(MetricSample.at.desc())
        .limit(limit)
    ).all()  # fmt: skip
    return [(at, value) for at, value in reversed(rows)]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
