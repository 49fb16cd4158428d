"""The console's first paint beside a bare Textual app's, each in a fresh process.

    .venv/bin/python bench/startup.py [--quick] [--runs N] [--size 120x40]

First paint = from just before the process is spawned until the app's first screen has been
composed, laid out and refreshed. Each measured process runs the app headless (no terminal
needed) and, once Textual has sent `events.Ready` (the DOM is laid out and the first frame
shown) *and* the app's first screen is the current one, asks that screen for
`call_after_refresh`; the callback notes `time.time()` and exits the app. The parent takes
that time minus the time it noted before `Popen`: interpreter start, imports, everything the
app does before it can paint, the first refresh. Exiting is not counted.

- bare:    `textual.app.App` with one Static, its default screen.
- console: what `opsconsole` does (cli._run_console): parse the global options, load the
           config, then `OpsConsoleApp` on an `OpeningStore`, which opens the store
           (`bootstrap.prepare`: configure the domains, open, check migrations, make sure this
           host is a CI) in a background thread once the first screen is on the terminal; its
           first screen is the dashboard (the HOME mode). The store is a temporary SQLite file
           prepared once before the runs (first-run estate loaded then, not timed: that
           happens once per installation), config and data directories point into it
           (XDG_*), so nothing of the user's is read or written.

First paint is the console's frame: header with keys, the dashboard's bar and its empty grid.
The bench also reports when the hosts are shown (the store open, the first index bound to the
panels), which has no bare counterpart: it is printed, not judged.

Runs alternate bare/console; figures are medians. Target: console first paint <= 2.0x bare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_RATIO = 2.0
CHILD_TIMEOUT_S = 60.0
ROOT = Path(__file__).resolve().parent.parent


# -- the measured processes ---------------------------------------------------------------------
def child(kind: str, size: tuple[int, int], db_url: str) -> int:
    """Runs in the measured process: start the app, note when its first screen painted."""
    started = time.time()
    from textual.app import App
    from textual.screen import Screen

    painted: dict[str, float] = {}
    marks: dict[str, float] = {}

    class Probe:
        """Mixed into the app class: calls `_first_paint` once, after the first screen's
        first refresh."""

        _probe_ready = False
        _probe_armed = False

        def _first_screen(self, screen: Screen[object]) -> bool:
            return True

        def on_ready(self) -> None:  # events.Ready, found by name along the MRO
            self._probe_ready = True
            app: App[object] = self  # type: ignore[assignment]
            app.screen_change_signal.subscribe(app, self._probe_check)
            self._probe_check(app.screen)

        def _probe_check(self, screen: Screen[object]) -> None:
            app: App[object] = self  # type: ignore[assignment]
            if self._probe_armed or not self._probe_ready or screen is not app.screen:
                return
            if not self._first_screen(screen):
                return
            self._probe_armed = True
            screen.call_after_refresh(self._probe_painted)

        def _probe_painted(self) -> None:
            painted["at"] = time.time()
            app: App[object] = self  # type: ignore[assignment]
            if self._probe_data_shown(app.screen):
                app.exit()
            else:
                app.set_interval(0.005, lambda: self._probe_wait_for_data(app))

        def _probe_data_shown(self, screen: Screen[object]) -> bool:
            return True

        def _probe_wait_for_data(self, app: App[object]) -> None:
            if "data" not in painted and self._probe_data_shown(app.screen):
                painted["data"] = 0.0  # noted after the refresh that shows it
                app.screen.call_after_refresh(lambda: self._probe_data_painted(app))

        def _probe_data_painted(self, app: App[object]) -> None:
            painted["data"] = time.time()
            app.exit()

    imported = 0.0
    if kind == "bare":
        from textual.widgets import Static

        class Bare(Probe, App[None]):
            def compose(self):  # type: ignore[no-untyped-def]
                yield Static("bare Textual app")

        imported = time.time()
        app: App[None] = Bare()
    else:
        from opsconsole import cli
        from opsconsole import config as config_module

        # What `opsconsole` (cli.main, cli._run_console) does before it runs the console.
        cli.parse_arguments(["--db", db_url])
        from opsconsole.app import HOME, OpsConsoleApp
        from opsconsole.screens.dashboard import DashboardScreen
        from opsconsole.store.engine import OpeningStore

        imported = time.time()
        settings = config_module.load(None)
        marks["config"] = time.time()
        store = OpeningStore(db_url, lambda: cli.open_for_console(settings, db_url).store)
        local = cli.console_host_name(settings)
        marks["prepare"] = time.time()

        class Console(Probe, OpsConsoleApp):
            # Textual reads CSS_PATH relative to the file defining the class: keep the app's.
            CSS_PATH = _css_paths(OpsConsoleApp)

            def _first_screen(self, screen: Screen[object]) -> bool:
                return self.current_mode == HOME and screen.id != "_default"

            def _probe_data_shown(self, screen: Screen[object]) -> bool:
                return (
                    isinstance(screen, DashboardScreen)
                    and screen.index is not None
                    and any(panel.host is not None for panel in screen.panels)
                )

        app = Console(store, settings, local, poll=True)
    marks["run"] = time.time()
    app.run(headless=True, size=size)
    if "at" not in painted:
        print(json.dumps({"error": "the app exited before its first paint"}))
        return 1
    figures = {"painted": painted["at"], "started": started, "imported": imported, **marks}
    if painted.get("data"):
        figures["data"] = painted["data"]
    print(json.dumps(figures))
    return 0


def _css_paths(app_class: type) -> list[str]:
    import inspect

    paths = app_class.CSS_PATH or []  # type: ignore[attr-defined]
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    here = Path(inspect.getfile(app_class)).parent
    return [str(path if Path(path).is_absolute() else here / path) for path in paths]


# -- the parent -----------------------------------------------------------------------------------
def prepare_store(workdir: Path) -> tuple[str, dict[str, str]]:
    """A migrated store with the sample estate and this host, made once; the environment
    the measured processes get (their own XDG directories, no OPSCONSOLE_* from outside)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCONSOLE_")}
    env["XDG_CONFIG_HOME"] = str(workdir / "config")
    env["XDG_DATA_HOME"] = str(workdir / "data")
    env["PYTHONDONTWRITEBYTECODE"] = env.get("PYTHONDONTWRITEBYTECODE", "1")
    db_url = f"sqlite+pysqlite:///{workdir / 'store.db'}"
    script = (
        "import sys; from opsconsole import config; from opsconsole.bootstrap import prepare;"
        "p = prepare(config.load(None), sys.argv[1]); p.store.dispose()"
    )
    subprocess.run(
        [sys.executable, "-c", script, db_url], env=env, check=True, timeout=CHILD_TIMEOUT_S
    )
    return db_url, env


def measure(kind: str, size: str, db_url: str, env: dict[str, str]) -> dict[str, float]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--size", size]
    command += ["--db", db_url]
    spawned = time.time()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    figures = json.loads(lines[-1])
    steps = {
        "paint_ms": 1000.0 * (figures["painted"] - spawned),
        "start_ms": 1000.0 * (figures["started"] - spawned),
        "import_ms": 1000.0 * (figures["imported"] - figures["started"]),
        "run_ms": 1000.0 * (figures["painted"] - figures.get("run", figures["imported"])),
    }
    if "config" in figures:
        steps["config_ms"] = 1000.0 * (figures["config"] - figures["imported"])
        steps["prepare_ms"] = 1000.0 * (figures["prepare"] - figures["config"])
    if "data" in figures:
        steps["data_ms"] = 1000.0 * (figures["data"] - spawned)
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer runs (well under 60 s)")
    parser.add_argument("--runs", type=int, help="runs of each app (default 7, quick 3)")
    parser.add_argument("--size", default="120x40", help="headless terminal size, WxH")
    parser.add_argument("--child", choices=["bare", "console"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    width, _, height = args.size.partition("x")
    size = (int(width), int(height))
    if args.child:
        return child(args.child, size, args.db or "")
    runs = args.runs or (3 if args.quick else 7)
    if not 1 <= runs <= 50:
        parser.error("--runs: 1..50")
    results: dict[str, list[dict[str, float]]] = {"bare": [], "console": []}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-startup-") as tmp:
        db_url, env = prepare_store(Path(tmp))
        measure("console", args.size, db_url, env)  # warm the OS file cache, not counted
        measure("bare", args.size, db_url, env)
        for _ in range(runs):
            for kind in ("bare", "console"):
                results[kind].append(measure(kind, args.size, db_url, env))
    print(f"first paint, {runs} runs each (alternating), headless {args.size}, median:")
    medians: dict[str, float] = {}
    for kind, runs_of in results.items():
        paint = [r["paint_ms"] for r in runs_of]
        medians[kind] = statistics.median(paint)
        print(
            f"  {kind:<8} {medians[kind]:7.0f} ms   (min {min(paint):.0f}, max {max(paint):.0f}; "
            f"interpreter up {statistics.median(r['start_ms'] for r in runs_of):.0f} ms, "
            f"imports {statistics.median(r['import_ms'] for r in runs_of):.0f} ms)"
        )
    console = results["console"]
    print(
        "  console steps (median ms): "
        + ", ".join(
            f"{label} {statistics.median(r[key] for r in console):.0f}"
            for label, key in (
                ("interpreter", "start_ms"), ("imports", "import_ms"), ("config", "config_ms"),
                ("store handle", "prepare_ms"),
                ("app run to first paint", "run_ms"),
            )
        )
    )  # fmt: skip
    print(
        "  console hosts shown (store opened behind the first paint, index bound to panels): "
        f"{statistics.median(r['data_ms'] for r in console):.0f} ms median"
    )
    ratio = medians["console"] / medians["bare"]
    ok = ratio <= TARGET_RATIO
    print(f"  ratio console/bare {ratio:.2f}x   target <= {TARGET_RATIO:.1f}x: "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    print(f"  ({time.monotonic() - started:.0f} s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
