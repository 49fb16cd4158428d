"""Several processes on one store (SQLite file or PostgreSQL): saves of the same ticket,
ticket numbers, and auto-incident rules racing each other."""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.context
import multiprocessing.queues
import multiprocessing.synchronize
from collections.abc import Callable

from sqlalchemy import func, select

from opsconsole.itsm import incidents as inc
from opsconsole.itsm.journal import RecordRef, write_or_record_refusal
from opsconsole.itsm.rules import apply_alert_rules
from opsconsole.store import VersionConflict, open_store
from opsconsole.store.alert_models import Alert
from opsconsole.store.itsm_models import Incident, RuleFiring
from tests.itsm_support import add_alert, load_estate

Queue = multiprocessing.queues.Queue


def _run_together(
    ctx: mp.context.SpawnContext,
    start: mp.synchronize.Event,
    jobs: list[tuple[Callable[..., None], tuple[object, ...]]],
) -> None:
    procs = [ctx.Process(target=target, args=args) for target, args in jobs]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * len(procs)


def _save_assignee(
    url: str, actor: str, number: str, version: int, start: mp.synchronize.Event, out: Queue
) -> None:
    """An operator who opened the incident at `version` and saves "assign to me"."""
    store = open_store(url)
    with store.read() as session:
        ref = RecordRef("incident", inc.get_incident(session, number).id)
    start.wait(timeout=60)
    try:
        write_or_record_refusal(
            store,
            actor,
            ref,
            {"assignee": actor},
            lambda s: inc.update_incident(s, actor, number, version, assignee=actor),
        )
        out.put((actor, "saved"))
    except VersionConflict as exc:
        out.put((actor, f"conflict: {exc}"))
    store.dispose()


def test_two_processes_save_the_same_incident(db_url: str) -> None:
    store = open_store(db_url)
    with store.write("setup") as s:
        number = inc.create_incident(s, "setup", short_description="db-01 slow").number
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    jobs: list[tuple[Callable[..., None], tuple[object, ...]]] = [
        (_save_assignee, (db_url, actor, number, 1, start, out)) for actor in ("ana", "bob")
    ]
    _run_together(ctx, start, jobs)
    results = dict(out.get(timeout=10) for _ in range(2))
    winners = [a for a, r in results.items() if r == "saved"]
    losers = [a for a, r in results.items() if r.startswith("conflict")]
    assert len(winners) == 1 and len(losers) == 1, results
    winner, loser = winners[0], losers[0]
    assert "you edited version 1, it is now at version 2" in results[loser]

    with store.read() as s:
        incident = inc.get_incident(s, number)
        assert (incident.assignee, incident.version) == (winner, 2)
        journal = inc.history(s, incident)
    changed = [(e.actor, e.new_value) for e in journal if e.field == "assignee"]
    refused = [(e.actor, e.data["attempted"]) for e in journal if e.kind == "refused"]
    assert changed == [(winner, winner)]
    assert refused == [(loser, {"assignee": loser})]
    # The winner's change comes before the record of the refusal, as it happened.
    kinds = [e.kind for e in journal if e.actor in (winner, loser)]
    assert kinds == ["field", "refused"]
    store.dispose()


def _create_many(url: str, worker: int, count: int, start: mp.synchronize.Event) -> None:
    store = open_store(url)
    start.wait(timeout=60)
    for i in range(count):
        with store.write(f"w{worker}") as s:
            inc.create_incident(s, f"w{worker}", short_description=f"w{worker} #{i}")
    store.dispose()


def test_numbers_stay_unique_and_gapless_across_processes(db_url: str) -> None:
    open_store(db_url).dispose()
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    _run_together(ctx, start, [(_create_many, (db_url, w, 10, start)) for w in range(4)])
    store = open_store(db_url)
    with store.read() as s:
        numbers = sorted(s.scalars(select(Incident.number)))
    assert numbers == [f"INC{n:07d}" for n in range(1001, 1041)]
    store.dispose()


def _fire(url: str, alert_id: int, start: mp.synchronize.Event, out: Queue) -> None:
    store = open_store(url)
    start.wait(timeout=60)
    with store.write("rules") as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None
        out.put(len(apply_alert_rules(s, [alert])))
    store.dispose()


def test_two_pipelines_fire_a_rule_once(db_url: str) -> None:
    store = open_store(db_url)
    load_estate(store)
    with store.write("pipeline") as s:
        alert_id = add_alert(s, "db-01", severity="critical").id
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    _run_together(ctx, start, [(_fire, (db_url, alert_id, start, out)) for _ in range(3)])
    assert sorted(out.get(timeout=10) for _ in range(3)) == [0, 0, 1]
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        assert s.scalar(select(func.count()).select_from(RuleFiring)) == 1
    store.dispose()
