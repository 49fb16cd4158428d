from __future__ import annotations

from opsconsole.monitoring.reachability import after_poll, blocking_parent, reclassify
from opsconsole.store.models import HostStatus

UP, DOWN, UNREACH, UNKNOWN, MAINT = (
    HostStatus.UP, HostStatus.DOWN, HostStatus.UNREACHABLE, HostStatus.UNKNOWN,
    HostStatus.MAINTENANCE,
)  # fmt: skip


def test_one_lost_poll_is_not_an_outage() -> None:
    state, failures = UP, 0
    seen = []
    for _ in range(3):
        outcome = after_poll(state, failures, ok=False, down_after=3, blocked_by=None)
        state, failures = outcome.state, outcome.failures
        seen.append(state)
    assert seen == [UP, UP, DOWN]
    assert after_poll(DOWN, 3, ok=True, down_after=3, blocked_by=None).state is UP


def test_unknown_stays_unknown_while_soft_failing() -> None:
    assert after_poll(UNKNOWN, 0, False, 3, None).state is UNKNOWN


def test_failing_behind_a_down_parent_is_unreachable() -> None:
    outcome = after_poll(UP, 2, False, 3, blocked_by="core-sw-01")
    assert (outcome.state, outcome.unreachable_via) == (UNREACH, "core-sw-01")


def test_redundant_parents_block_only_when_all_are_out() -> None:
    assert blocking_parent(["core-a", "core-b"], {"core-a": DOWN, "core-b": UP}) is None
    assert blocking_parent(["core-a", "core-b"], {"core-a": DOWN, "core-b": UNREACH}) == "core-a"
    assert blocking_parent(["core-a"], {}) is None  # unmonitored parent never blocks


def test_reclassify_settles_a_chain_in_any_order() -> None:
    parents = {"web-01": ["access"], "access": ["core"], "core": []}
    # polls finished child first: everything looked DOWN
    verdicts = reclassify({"web-01": DOWN, "access": DOWN, "core": DOWN}, parents)
    assert verdicts == {
        "core": (DOWN, None),
        "access": (UNREACH, "core"),
        "web-01": (UNREACH, "access"),
    }
    # the core came back while the others still fail: they are their own root again
    verdicts = reclassify({"web-01": UNREACH, "access": UNREACH, "core": UP}, parents)
    assert verdicts == {"access": (DOWN, None), "web-01": (UNREACH, "access")}


def test_reclassify_terminates_on_a_cycle() -> None:
    verdicts = reclassify({"a": DOWN, "b": DOWN}, {"a": ["b"], "b": ["a"]})
    assert set(verdicts) == {"a", "b"}


# --- maintenance ---------------------------------------------------------------------------


def run(
    state: HostStatus, failures: int, polls: list[bool], in_maintenance: bool
) -> list[HostStatus]:
    """The states after each poll (True: it answered), down_after=3, no parent."""
    seen = []
    for ok in polls:
        outcome = after_poll(state, failures, ok, 3, None, in_maintenance=in_maintenance)
        state, failures = outcome.state, outcome.failures
        seen.append(state)
    return seen


def test_a_hard_failure_in_maintenance_is_maintenance_not_down() -> None:
    assert run(UP, 0, [False] * 4, in_maintenance=True) == [UP, UP, MAINT, MAINT]
    assert run(UNKNOWN, 0, [False] * 3, in_maintenance=True) == [UNKNOWN, UNKNOWN, MAINT]
    # behind a DOWN parent it is MAINTENANCE too: the window says why it fails
    outcome = after_poll(UP, 2, False, 3, blocked_by="core", in_maintenance=True)
    assert (outcome.state, outcome.unreachable_via) == (MAINT, None)
    # a DOWN host whose change started: MAINTENANCE at its next failed poll
    assert after_poll(DOWN, 7, False, 3, None, in_maintenance=True).state is MAINT


def test_a_healthy_host_in_maintenance_stays_up() -> None:
    assert run(UP, 0, [True, True], in_maintenance=True) == [UP, UP]
    assert after_poll(MAINT, 5, True, 3, None, in_maintenance=True) == after_poll(
        MAINT, 5, True, 3, None
    )
    assert after_poll(MAINT, 5, True, 3, None).state is UP


def test_leaving_maintenance_while_failing_is_down_or_unreachable_at_once() -> None:
    # the change left Implement: the next failed poll decides afresh, no new soft phase
    assert after_poll(MAINT, 5, False, 3, None).state is DOWN
    outcome = after_poll(MAINT, 5, False, 3, blocked_by="core")
    assert (outcome.state, outcome.unreachable_via) == (UNREACH, "core")
    # and a soft failure never keeps MAINTENANCE once the window is gone
    assert after_poll(MAINT, 1, False, 3, None).state is DOWN


def test_a_parent_in_maintenance_blocks_its_children() -> None:
    assert blocking_parent(["sw"], {"sw": MAINT}) == "sw"
    assert blocking_parent(["a", "b"], {"a": MAINT, "b": UP}) is None  # one live path
    # whom to blame: DOWN first, then MAINTENANCE, then UNREACHABLE
    assert blocking_parent(["u", "m", "d"], {"u": UNREACH, "m": MAINT, "d": DOWN}) == "d"
    assert blocking_parent(["u", "m"], {"u": UNREACH, "m": MAINT}) == "m"


def test_reclassify_keeps_maintenance_and_blames_it() -> None:
    parents = {"web-01": ["access"], "access": ["core"], "core": []}
    verdicts = reclassify({"web-01": DOWN, "access": MAINT, "core": UP}, parents)
    assert verdicts == {"web-01": (UNREACH, "access")}  # MAINTENANCE itself is not re-derived
    verdicts = reclassify({"web-01": MAINT, "access": DOWN, "core": DOWN}, parents)
    assert verdicts == {"core": (DOWN, None), "access": (UNREACH, "core")}
