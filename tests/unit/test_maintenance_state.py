"""MAINTENANCE host state: the recorder and the batch lookup, against a real store, with a
scripted collector (no network) and the injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import add_ci, relate
from opsconsole.itsm import changes
from opsconsole.monitoring import recorder
from opsconsole.monitoring.maintenance import maintenance_windows
from opsconsole.store import Store
from opsconsole.store.alert_models import Alert
from opsconsole.store.models import CI, CIClass, HostStateChange, RelationType
from tests.unit.test_poller import events, make_poller, states

T0 = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
POLL = timedelta(seconds=60)  # > the pipeline's timer_interval: its timers run every batch


@pytest.fixture
def manual_clock() -> Iterator[ManualClock]:
    manual = ManualClock(T0)
    previous = clock.use(manual)
    yield manual
    clock.use(previous)


@pytest.fixture
def estate(store: Store) -> Store:
    """access <- web-01 and db-01 (connected_to), all monitored over SNMP."""
    with store.write("test") as s:
        access = add_ci(s, "access", CIClass.NETWORK_DEVICE, monitored=True, collector="snmp",
                        address="127.0.1.2", credential_profile="lab")  # fmt: skip
        for name in ("web-01", "db-01"):
            host = add_ci(s, name, CIClass.HOST, monitored=True, collector="snmp",
                          address="127.0.1.3", credential_profile="lab")  # fmt: skip
            relate(s, host, RelationType.CONNECTED_TO, access)
    return store


def implementing_change(
    store: Store, *names: str, start: timedelta = -POLL, length: timedelta = timedelta(hours=1)
) -> str:
    """A change in Implement on these CIs, its window from now + start for `length`."""
    now = clock.now()
    with store.write("carol") as s:
        change = changes.create_change(
            s, "carol", change_type="normal", short_description="replace disks",
            ci_ids=list(ci_ids(s, *names).values()), planned_start=now + start,
            planned_end=now + start + length,
        )  # fmt: skip
        # Walking the approval flow is the ITSM tests' business: only state and window matter.
        change.state = changes.ChangeState.IMPLEMENT.value
        return change.number


def ci_ids(session: Session, *names: str) -> dict[str, int]:
    return {n: session.scalars(select(CI.id).where(CI.name == n)).one() for n in names}


def leave_implement(store: Store, number: str) -> None:
    with store.write("carol") as s:
        changes.transition_change(s, "carol", number, None, "review", review_notes="done")


def alerts(store: Store) -> dict[tuple[str, str], tuple[str, str | None, str | None]]:
    """(CI, check) -> (state, suppression, reason) of every alert."""
    with store.read() as s:
        return {
            (a.ci_name, a.check): (a.state, a.suppression, a.suppressed_reason)
            for a in s.scalars(select(Alert).order_by(Alert.id))
        }


def alert_count(store: Store) -> int:
    with store.read() as s:
        return len(s.scalars(select(Alert.id)).all())


async def poll(poller: Any, manual_clock: ManualClock, times: int = 1) -> None:
    for _ in range(times):
        manual_clock.advance(POLL)
        await poller.poll_once()


async def test_a_failing_host_in_an_implementing_change_is_maintenance_not_down(
    estate: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(estate, down_after=3)
    await poller.poll_once()
    number = implementing_change(estate, "web-01")
    collectors.disk["web-01"] = collectors.disk["db-01"] = None
    await poll(poller, manual_clock, 2)
    assert states(estate)["web-01"] == ("UP", None)  # soft failures, as without a change
    await poll(poller, manual_clock)
    assert states(estate)["web-01"] == ("MAINTENANCE", None)
    assert states(estate)["db-01"] == ("DOWN", None)  # no change on it: the control
    with estate.read() as s:
        reason = s.scalars(
            select(HostStateChange.reason).order_by(HostStateChange.id.desc()).limit(2)
        ).all()
    assert f"maintenance {number}: timeout" in reason
    # its event flowed, and the pipeline marked the alert maintenance
    assert ("web-01", "host.reachability", "critical", False) in events(estate)
    assert alerts(estate)[("web-01", "host.reachability")] == (
        "suppressed", "maintenance", f"maintenance {number}"
    )  # fmt: skip
    assert alerts(estate)[("db-01", "host.reachability")] == ("open", None, None)
    # still failing, still in the window: no more state changes, no new alert
    count = alert_count(estate)
    await poll(poller, manual_clock, 2)
    assert states(estate)["web-01"] == ("MAINTENANCE", None)
    assert alert_count(estate) == count


async def test_a_healthy_host_in_maintenance_stays_up(
    estate: Store, manual_clock: ManualClock
) -> None:
    poller, _ = make_poller(estate, down_after=1)
    implementing_change(estate, "web-01", "db-01", "access")
    await poll(poller, manual_clock, 3)
    assert {state for state, _ in states(estate).values()} == {"UP"}
    assert not [e for e in events(estate) if e[1].startswith("host.")]


async def test_change_leaving_implement_makes_the_host_down_at_the_next_poll(
    estate: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(estate, down_after=2)
    await poller.poll_once()
    number = implementing_change(estate, "db-01")
    collectors.disk["db-01"] = None
    await poll(poller, manual_clock, 2)
    assert states(estate)["db-01"] == ("MAINTENANCE", None)
    leave_implement(estate, number)
    await poll(poller, manual_clock)
    assert states(estate)["db-01"] == ("DOWN", None)
    # the same alert all along (no clear in between), no longer marked maintenance
    reach = [e for e in events(estate) if e[0] == "db-01" and e[1] == "host.reachability"]
    assert reach == [("db-01", "host.reachability", "critical", False)] * 2
    assert alerts(estate)[("db-01", "host.reachability")] == ("open", None, None)
    # back: UP, and the alarm clears
    collectors.disk["db-01"] = 50.0
    await poll(poller, manual_clock)
    assert states(estate)["db-01"] == ("UP", None)
    assert alerts(estate)[("db-01", "host.reachability")][0] == "resolved"


async def test_the_window_ending_ends_maintenance_too(
    estate: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(estate, down_after=1)
    await poller.poll_once()
    implementing_change(estate, "web-01", length=POLL * 3)  # from a poll ago to two ahead
    collectors.disk["web-01"] = None
    await poll(poller, manual_clock)
    assert states(estate)["web-01"] == ("MAINTENANCE", None)
    await poll(poller, manual_clock)  # at planned_end: the window is [start, end)
    assert states(estate)["web-01"] == ("DOWN", None)


async def test_a_down_host_whose_change_starts_goes_to_maintenance(
    estate: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(estate, down_after=1)
    await poller.poll_once()
    collectors.disk["web-01"] = None
    await poll(poller, manual_clock)
    assert states(estate)["web-01"] == ("DOWN", None)
    number = implementing_change(estate, "web-01")
    await poll(poller, manual_clock)
    assert states(estate)["web-01"] == ("MAINTENANCE", None)
    # one alert, kept (not cleared and raised again), now marked maintenance by the timers
    assert not [e for e in events(estate) if e[0] == "web-01" and e[3]]
    assert alerts(estate)[("web-01", "host.reachability")] == (
        "suppressed", "maintenance", f"maintenance {number}"
    )  # fmt: skip


async def test_children_of_a_parent_in_maintenance_are_unreachable_not_down(
    estate: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(estate, down_after=2)
    await poller.poll_once()
    number = implementing_change(estate, "access")
    for name in ("access", "web-01", "db-01"):
        collectors.disk[name] = None
    await poll(poller, manual_clock, 2)
    assert states(estate) == {
        "access": ("MAINTENANCE", None),
        "web-01": ("UNREACHABLE", "access"),
        "db-01": ("UNREACHABLE", "access"),
    }
    raised = [e for e in events(estate) if not e[3]]
    assert [e for e in raised if e[2] == "critical"] == [
        ("access", "host.reachability", "critical", False)
    ]
    found = alerts(estate)
    assert found[("access", "host.reachability")][1:] == ("maintenance", f"maintenance {number}")
    assert found[("web-01", "host.unreachable")][:2] == ("suppressed", "topology")
    # the change is over, the switch still out: it is the root alarm, the hosts stay behind it
    leave_implement(estate, number)
    await poll(poller, manual_clock)
    assert states(estate) == {
        "access": ("DOWN", None),
        "web-01": ("UNREACHABLE", "access"),
        "db-01": ("UNREACHABLE", "access"),
    }


async def test_maintenance_behind_a_down_parent_then_unreachable_when_it_ends(
    estate: Store, manual_clock: ManualClock
) -> None:
    poller, collectors = make_poller(estate, down_after=1)
    await poller.poll_once()
    number = implementing_change(estate, "web-01")
    for name in ("access", "web-01"):
        collectors.disk[name] = None
    await poll(poller, manual_clock)
    assert states(estate)["access"] == ("DOWN", None)
    assert states(estate)["web-01"] == ("MAINTENANCE", None)
    leave_implement(estate, number)
    await poll(poller, manual_clock)
    assert states(estate)["web-01"] == ("UNREACHABLE", "access")
    web = [e for e in events(estate) if e[0] == "web-01"]
    assert web == [
        ("web-01", "host.reachability", "critical", False),
        ("web-01", "host.reachability", "info", True),
        ("web-01", "host.unreachable", "warning", False),
    ]


# --- one lookup per batch ----------------------------------------------------------------------


class Lookups:
    """Wraps the recorder's batch lookup: how often it ran and the SQL statements it sent."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.engine = store.engine
        self.statements = 0
        self.calls: list[int] = []  # statements sent by each call
        event.listen(self.engine, "before_cursor_execute", self._count)
        monkeypatch.setattr(recorder, "maintenance_windows", self._lookup)

    def _count(self, *_: Any) -> None:
        self.statements += 1

    def _lookup(self, session: Session, ci_ids: Any, start: datetime, end: datetime) -> Any:
        before = self.statements
        found = maintenance_windows(session, ci_ids, start, end)
        self.calls.append(self.statements - before)
        return found

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def lookups(estate: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lookups]:
    counter = Lookups(estate, monkeypatch)
    yield counter
    counter.close()


async def test_maintenance_is_one_query_per_batch_and_none_when_all_answer(
    estate: Store, manual_clock: ManualClock, lookups: Lookups
) -> None:
    poller, collectors = make_poller(estate, down_after=1)
    implementing_change(estate, "web-01", "db-01", "access")
    await poll(poller, manual_clock)
    assert lookups.calls == []  # every host answered: nothing to ask
    for name in ("access", "web-01", "db-01"):
        collectors.disk[name] = None
    await poll(poller, manual_clock)
    assert {state for state, _ in states(estate).values()} == {"MAINTENANCE"}
    assert lookups.calls == [1]  # three failing hosts, one batch: one query
    await poll(poller, manual_clock, 2)
    assert lookups.calls == [1, 1, 1]


# --- the same answer as the pipeline's question ------------------------------------------------


def test_batch_lookup_answers_as_maintenance_change(
    estate: Store, manual_clock: ManualClock
) -> None:
    """Every change state, overlapping windows, and moments at and around the window edges:
    `maintenance_windows(...).change_at` must name the change `maintenance_change` names."""
    now = clock.now()
    hour = timedelta(hours=1)
    with estate.write("carol") as s:
        ids = ci_ids(s, "web-01", "db-01")
        plans = [  # (CIs, start offset, length, state)
            (["web-01"], -hour, 2 * hour, "implement"),
            (["web-01"], -2 * hour, 4 * hour, "implement"),  # overlaps, started first
            (["web-01", "db-01"], 2 * hour, hour, "implement"),
            *((["db-01"], -hour, 2 * hour, state.value) for state in changes.ChangeState
              if state is not changes.ChangeState.IMPLEMENT),
        ]  # fmt: skip
        for names, start, length, state in plans:
            change = changes.create_change(
                s, "carol", change_type="normal", short_description=f"{state} change",
                ci_ids=[ids[n] for n in names], planned_start=now + start,
                planned_end=now + start + length,
            )  # fmt: skip
            change.state = state
    moments = [now + timedelta(minutes=m) for m in range(-180, 240, 30)]
    moments += [now - 2 * hour, now + 2 * hour, now + 3 * hour, now + 2 * hour - timedelta(
        microseconds=1)]  # fmt: skip
    with estate.read() as s:
        windows = maintenance_windows(s, ids.values(), min(moments), max(moments))
        compared = 0
        for ci_id in ids.values():
            for at in moments:
                expected = changes.maintenance_change(s, ci_id, at)
                assert windows.change_at(ci_id, at) == (expected.number if expected else None)
                compared += expected is not None
    assert compared >= 8  # the comparison covered moments inside windows, not only outside
    with estate.read() as s:
        assert not maintenance_windows(s, [], now, now)
