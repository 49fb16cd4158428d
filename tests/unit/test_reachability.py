from __future__ import annotations

from opsconsole.monitoring.reachability import after_poll, blocking_parent, reclassify
from opsconsole.store.models import HostStatus

UP, DOWN, UNREACH, UNKNOWN = (
    HostStatus.UP, HostStatus.DOWN, HostStatus.UNREACHABLE, HostStatus.UNKNOWN,
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
