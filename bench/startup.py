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
- console: what `opsconsole` does: import `opsconsole.cli`, build its argument parser (which
           imports the command modules), load the config, `bootstrap.prepare`
           (open the store, check migrations, make sure this host is a CI), then
           `OpsConsoleApp(store, settings, local_host, poll=True)`; its first screen is the
           dashboard (the HOME mode). The store is a temporary SQLite file prepared once
           before the runs (first-run estate loaded then, not timed: that happens once per
           installation), config and data directories point into it (XDG_*), so nothing of
           the user's is read or written.

Runs alternate bare/console; figures are medians. Target: console <= 2.0x bare.
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
        import opsconsole.cli

        # What `opsconsole` (cli.main) does before it opens the console: its argument parser
        # (which imports the command modules) and the config.
        parser = getattr(opsconsole.cli, "_parser", None)
        if parser is not None:
            parser().parse_args([])
        from opsconsole import config as config_module
        from opsconsole.app import HOME, OpsConsoleApp
        from opsconsole.bootstrap import prepare

        imported = time.time()
        settings = config_module.load(None)
        marks["config"] = time.time()
        prepared = prepare(settings, db_url)
        marks["prepare"] = time.time()

        class Console(Probe, OpsConsoleApp):
            # Textual reads CSS_PATH relative to the file defining the class: keep the app's.
            CSS_PATH = _css_paths(OpsConsoleApp)

            def _first_screen(self, screen: Screen[object]) -> bool:
                return self.current_mode == HOME and screen.id != "_default"

        app = Console(prepared.store, settings, prepared.local_host, poll=True)
    marks["run"] = time.time()
    app.run(headless=True, size=size)
    if "at" not in painted:
        print(json.dumps({"error": "the app exited before its first paint"}))
        return 1
    print(json.dumps({"painted": painted["at"], "started": started, "imported": imported, **marks}))
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
                ("prepare (store, migrations check, local CI)", "prepare_ms"),
                ("app run to first paint", "run_ms"),
            )
        )
    )  # fmt: skip
    ratio = medians["console"] / medians["bare"]
    ok = ratio <= TARGET_RATIO
    print(f"  ratio console/bare {ratio:.2f}x   target <= {TARGET_RATIO:.1f}x: "
          f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    print(f"  ({time.monotonic() - started:.0f} s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
