"""Several processes on one SQLite file, as on a shared NOC box: one store, many writers."""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.context
import multiprocessing.synchronize
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from opsconsole.cmdb.service import add_ci, get_ci
from opsconsole.store import CI, open_store
from opsconsole.store.models import ChangeLog, CIClass

WORKERS = 4
WRITES_EACH = 40


def _run_together(
    ctx: mp.context.SpawnContext,
    start: mp.synchronize.Event,
    jobs: list[tuple[Callable[..., None], tuple[object, ...]]],
) -> None:
    """Start every job, release them at once, and require each to finish cleanly in time."""
    procs = [ctx.Process(target=target, args=args) for target, args in jobs]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * len(procs)


def _writer(url: str, worker: int, start: mp.synchronize.Event) -> None:
    store = open_store(url)  # every process migrates "first": exactly one may do the work
    start.wait(timeout=30)
    for i in range(WRITES_EACH):
        with store.write(f"worker-{worker}") as session:
            add_ci(session, f"w{worker}-host-{i:03d}", CIClass.HOST)
        # read-modify-write of a shared row: the transaction must see the latest version
        with store.write(f"worker-{worker}") as session:
            shared = get_ci(session, "shared")
            shared.attributes = {**shared.attributes, "hits": shared.attributes.get("hits", 0) + 1}
    store.dispose()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'shared.db'}"
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    with open_store(url).write("setup") as session:
        add_ci(session, "shared", CIClass.HOST, attributes={"hits": 0})
    _run_together(ctx, start, [(_writer, (url, n, start)) for n in range(WORKERS)])

    store = open_store(url)
    with store.read() as session:
        hosts = session.scalar(select(func.count()).select_from(CI).where(CI.name != "shared"))
        hits = get_ci(session, "shared").attributes["hits"]
        logged = session.scalar(select(func.count()).select_from(ChangeLog))
    assert hosts == WORKERS * WRITES_EACH
    assert hits == WORKERS * WRITES_EACH  # no lost update
    assert logged == 1 + 2 * WORKERS * WRITES_EACH


def _migrate_only(url: str, start: mp.synchronize.Event) -> None:
    start.wait(timeout=30)
    open_store(url).dispose()


def test_simultaneous_first_runs_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite+pysqlite:///{tmp_path / 'fresh.db'}"
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    _run_together(ctx, start, [(_migrate_only, (url, start)) for _ in range(WORKERS)])
