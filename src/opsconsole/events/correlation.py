"""Correlation: related alerts grouped under one parent, so the queue shows one row per problem.

A new (or reopened) alert joins the group of an active root alert:
- topology first: an alert "unreachable via P" goes under P's DOWN alert;
- then the same CI: any active root alert on that CI;
- then the same business service: an active root on a CI impacting a service this alert's CI
  impacts too, first seen within the correlation window.
The earliest such root wins (then the lowest fingerprint, so the choice is stable). Groups are
one level deep: a root is never a child, and a child never has children.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsconsole.events.fingerprint import ci_token
from opsconsole.events.matchers import split_services


@dataclass(slots=True)
class RootCandidate:
    """An active alert without a parent: something others may be grouped under."""

    id: int | None  # None while it is being created in this batch
    ci: str  # ci_token()
    services: frozenset[str]
    first_seen: datetime
    fingerprint: str

    @classmethod
    def of(
        cls, alert_id: int | None, ci_id: int | None, ci_name: str, services: str,
        first_seen: datetime, fingerprint: str,
    ) -> RootCandidate:  # fmt: skip
        return cls(alert_id, ci_token(ci_id, ci_name), frozenset(split_services(services)),
                   first_seen, fingerprint)  # fmt: skip


def choose_root(
    ci: str,
    services: frozenset[str],
    first_seen: datetime,
    fingerprint: str,
    candidates: Iterable[RootCandidate],
    window: timedelta,
    by_service: bool,
) -> tuple[RootCandidate, str] | None:
    """The root this alert joins and why ("same CI", "same service shop"), or None."""
    same_ci: list[RootCandidate] = []
    same_service: list[tuple[RootCandidate, str]] = []
    for candidate in candidates:
        if candidate.fingerprint == fingerprint:
            continue
        if candidate.ci == ci:
            same_ci.append(candidate)
        elif by_service and services and abs(candidate.first_seen - first_seen) <= window:
            shared = services & candidate.services
            if shared:
                same_service.append((candidate, min(shared)))
    if same_ci:
        return min(same_ci, key=lambda c: (c.first_seen, c.fingerprint)), "same CI"
    if same_service:
        best, service = min(same_service, key=lambda p: (p[0].first_seen, p[0].fingerprint))
        return best, f"same service {service}"
    return None
