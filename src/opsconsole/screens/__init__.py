"""Screens, and the behaviour they share: follow the change feed (and, for screens showing host
health, the poller), report failures as notifications (never a traceback).

Screens read through `store.read()` sessions and domain functions, always inside a worker
thread; what they hand to widgets is plain data, never ORM objects bound to a closed session.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Header
from textual.worker import Worker, WorkerState

from opsconsole.widgets.keybar import KeyBar
from opsconsole.widgets.text import safe_str

if TYPE_CHECKING:
    from opsconsole.store.engine import Store

ERROR_MAX_CHARS = 300


def describe_error(error: BaseException | None) -> str:
    """One line an operator can read: SQLAlchemy puts the SQL and a URL on later lines."""
    if error is None:
        return "unknown error"
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else type(error).__name__
    return safe_str(first)[:ERROR_MAX_CHARS]


class OpsScreen(Screen[None]):
    """A screen that shows store data: reloads when the change feed moves past what it loaded.

    Subclasses implement `reload()`, start their loads from it, and set `loaded_change_id`
    from the same session that read the data. Textual calls `on_mount` and `on_screen_resume`
    of every class in the MRO (subclass first), so subclasses define their own without
    calling super().

    Screens that show host health set `FOLLOWS_POLLS`: they also reload when the embedded
    poller wrote a batch (`app.batches_written`) or, in a console that does not poll, when the
    store's last-poll marker moved past what they loaded (`app.poll_marker` vs
    `loaded_marker`).
    """

    FOLLOWS_POLLS: ClassVar[bool] = False

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.loaded_change_id = -1
        self.loaded_marker: datetime | None = None
        self._stale = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_body()
        yield KeyBar()

    @abstractmethod
    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the header and the key bar."""

    def on_mount(self) -> None:
        self.watch(self.app, "change_id", self._change_feed_moved, init=False)
        if self.FOLLOWS_POLLS:
            self.watch(self.app, "batches_written", self._polled, init=False)
            self.watch(self.app, "poll_marker", self._poll_marker_moved, init=False)
        self.reload()

    @abstractmethod
    def reload(self) -> None:
        """Start loading what the screen shows (in a worker); set `loaded_change_id`."""

    def _change_feed_moved(self, change_id: int) -> None:
        if change_id > self.loaded_change_id:
            self.reload_when_visible()

    def _polled(self, _batches: int) -> None:
        self.reload_when_visible()

    def _poll_marker_moved(self, marker: datetime | None) -> None:
        if marker != self.loaded_marker:
            self.reload_when_visible()

    def reload_when_visible(self) -> None:
        if self.is_current:
            self.reload()
        else:
            # Hidden screens load nothing; catch up when shown again.
            self._stale = True

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(
                describe_error(event.worker.error),
                title=f"{event.worker.name or 'background task'} failed",
                severity="error",
                markup=False,
            )


__all__ = ["OpsScreen", "describe_error"]
