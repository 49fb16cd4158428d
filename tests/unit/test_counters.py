"""Counter arithmetic: wraps, restarts, first readings, elapsed time, rates and CPU percent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsconsole.monitoring.counters import (
    CPU_TOTAL_FIELDS,
    RESTART_SLACK_SECONDS,
    CounterState,
    OctetCounters,
    agent_restarted,
    counter_delta,
    counter_rate,
    cpu_percent,
    elapsed_seconds,
    interface_rates,
)

MAX32 = 2**32 - 1
MAX64 = 2**64 - 1


def reading(
    monotonic: float,
    uptime: int | None = None,
    *,
    boots: int | None = None,
    interfaces: dict[str, OctetCounters] | None = None,
) -> CounterState:
    return CounterState(
        monotonic=monotonic,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        uptime_ticks=uptime,
        engine_boots=boots,
        interfaces=interfaces or {},
    )


# -- counter_delta ---------------------------------------------------------------------------
class TestCounterDelta:
    def test_plain_increase(self) -> None:
        assert counter_delta(100, 250, 32) == 150
        assert counter_delta(100, 250, 64) == 150

    def test_unchanged_is_zero(self) -> None:
        assert counter_delta(7, 7, 32) == 0
        assert counter_delta(MAX64, MAX64, 64) == 0

    def test_first_reading_has_no_delta(self) -> None:
        assert counter_delta(None, 5, 32) is None

    def test_missing_current_value_has_no_delta(self) -> None:
        assert counter_delta(5, None, 32) is None

    def test_restart_has_no_delta(self) -> None:
        assert counter_delta(100, 250, 32, restarted=True) is None
        assert counter_delta(250, 100, 32, restarted=True) is None

    def test_32_bit_wrap(self) -> None:
        assert counter_delta(MAX32, 0, 32) == 1
        assert counter_delta(MAX32 - 9, 10, 32) == 20
        assert counter_delta(4_000_000_000, 100_000_000, 32) == 2**32 - 4_000_000_000 + 100_000_000

    def test_64_bit_wrap(self) -> None:
        assert counter_delta(MAX64, 0, 64) == 1
        assert counter_delta(MAX64 - 999, 1000, 64) == 2000

    def test_wrap_at_the_limit_of_half_the_range(self) -> None:
        # A wrapped delta just under half the range is a wrap; at half or more, a reset.
        assert counter_delta(2**31 + 1, 0, 32) == 2**31 - 1
        assert counter_delta(2**31, 0, 32) is None

    def test_32_bit_reset_is_not_a_wrap(self) -> None:
        # The counter went from 1e9 back to near zero: an interface reset, not 3.3e9 bytes.
        assert counter_delta(1_000_000_000, 1_000, 32) is None

    def test_64_bit_reset_is_not_a_wrap(self) -> None:
        assert counter_delta(10**12, 5, 64) is None

    def test_values_out_of_range_are_refused(self) -> None:
        with pytest.raises(ValueError, match="out of range"):
            counter_delta(0, 2**32, 32)
        with pytest.raises(ValueError, match="out of range"):
            counter_delta(-1, 3, 32)

    def test_width_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="width"):
            counter_delta(0, 1, 0)

    @given(
        bits=st.sampled_from([32, 64]),
        data=st.data(),
    )
    def test_any_advance_below_half_the_range_is_recovered(
        self, bits: int, data: st.DataObject
    ) -> None:
        modulus = 2**bits
        prev = data.draw(st.integers(0, modulus - 1), label="prev")
        advance = data.draw(st.integers(0, modulus // 2 - 1), label="advance")
        assert counter_delta(prev, (prev + advance) % modulus, bits) == advance

    @given(
        bits=st.sampled_from([32, 64]),
        data=st.data(),
    )
    def test_result_is_none_or_less_than_half_the_range(
        self, bits: int, data: st.DataObject
    ) -> None:
        modulus = 2**bits
        prev = data.draw(st.integers(0, modulus - 1))
        cur = data.draw(st.integers(0, modulus - 1))
        delta = counter_delta(prev, cur, bits)
        if cur >= prev:
            assert delta == cur - prev
        else:
            assert delta is None or 0 < delta < modulus // 2
            assert delta is None or (prev + delta) % modulus == cur

    @given(st.integers(0, MAX32), st.integers(0, MAX32))
    def test_restart_always_wins(self, prev: int, cur: int) -> None:
        assert counter_delta(prev, cur, 32, restarted=True) is None


# -- restarts and elapsed time ---------------------------------------------------------------
class TestRestart:
    def test_uptime_going_backwards_is_a_restart(self) -> None:
        assert agent_restarted(reading(100.0, 50_000), reading(160.0, 300))

    def test_uptime_advancing_with_the_clock_is_not(self) -> None:
        assert not agent_restarted(reading(100.0, 50_000), reading(160.0, 56_000))

    def test_uptime_advancing_far_less_than_the_clock_is_a_restart(self) -> None:
        # Polled at uptime 10 s; the agent restarted and was up 30 s at the next poll, 60 s
        # later: sysUpTime did not go backwards, yet it is a restart.
        assert agent_restarted(reading(100.0, 1_000), reading(160.0, 3_000))

    def test_small_lag_of_uptime_behind_the_clock_is_tolerated(self) -> None:
        # A slow answer or a retry puts the two timestamps a few seconds apart.
        lag = RESTART_SLACK_SECONDS - 1
        uptime = 1_000 + round((60 - lag) * 100)
        assert not agent_restarted(reading(100.0, 1_000), reading(160.0, uptime))

    def test_engine_boots_change_is_a_restart(self) -> None:
        assert agent_restarted(reading(100.0, 1_000, boots=3), reading(160.0, 7_000, boots=4))

    def test_same_engine_boots_defers_to_uptime(self) -> None:
        assert not agent_restarted(reading(100.0, 1_000, boots=3), reading(160.0, 7_000, boots=3))
        assert agent_restarted(reading(100.0, 7_000, boots=3), reading(160.0, 1_000, boots=3))

    def test_no_uptime_is_no_evidence(self) -> None:
        assert not agent_restarted(reading(100.0), reading(160.0))
        assert not agent_restarted(reading(100.0, 5_000), reading(160.0))


class TestElapsed:
    def test_uses_the_agents_uptime_when_both_readings_have_it(self) -> None:
        # Our clock says 61.5 s (scheduling jitter); the agent stamped 60.00 s.
        assert elapsed_seconds(reading(100.0, 10_000), reading(161.5, 16_000)) == 60.0

    def test_falls_back_to_the_monotonic_clock(self) -> None:
        assert elapsed_seconds(reading(100.0), reading(130.0)) == 30.0
        assert elapsed_seconds(reading(100.0, 10_000), reading(130.0)) == 30.0

    def test_zero_elapsed_is_none(self) -> None:
        assert elapsed_seconds(reading(100.0, 500), reading(100.0, 500)) is None
        assert elapsed_seconds(reading(100.0), reading(100.0)) is None

    def test_restart_is_none(self) -> None:
        assert elapsed_seconds(reading(100.0, 50_000), reading(160.0, 100)) is None


# -- rates -----------------------------------------------------------------------------------
class TestRates:
    def test_rate(self) -> None:
        assert counter_rate(1_000, 31_000, 64, 30.0) == 1_000.0

    def test_rate_across_a_32_bit_wrap(self) -> None:
        assert counter_rate(MAX32 - 99, 900, 32, 10.0) == 100.0

    def test_no_rate_without_elapsed_time(self) -> None:
        assert counter_rate(1, 2, 32, None) is None
        assert counter_rate(1, 2, 32, 0.0) is None
        assert counter_rate(1, 2, 32, -1.0) is None

    def test_no_rate_on_first_reading(self) -> None:
        assert counter_rate(None, 2, 32, 10.0) is None

    def test_interface_rates_first_poll_are_none(self) -> None:
        cur = reading(10.0, 1_000, interfaces={"eth0": OctetCounters(5, 6, 64)})
        assert interface_rates(None, cur) == {"eth0": (None, None)}

    def test_interface_rates_second_poll(self) -> None:
        prev = reading(10.0, 1_000, interfaces={"eth0": OctetCounters(1_000, 2_000, 64)})
        cur = reading(20.0, 2_000, interfaces={"eth0": OctetCounters(6_000, 2_500, 64)})
        assert interface_rates(prev, cur) == {"eth0": (500.0, 50.0)}

    def test_interface_rates_new_interface_and_width_change(self) -> None:
        prev = reading(10.0, 1_000, interfaces={"eth0": OctetCounters(1, 1, 32)})
        cur = reading(
            20.0,
            2_000,
            interfaces={"eth0": OctetCounters(11, 11, 64), "eth1": OctetCounters(0, 0, 64)},
        )
        assert interface_rates(prev, cur) == {"eth0": (None, None), "eth1": (None, None)}

    def test_interface_rates_after_restart_are_none(self) -> None:
        prev = reading(10.0, 90_000, interfaces={"eth0": OctetCounters(1, 1, 64)})
        cur = reading(20.0, 1_000, interfaces={"eth0": OctetCounters(11, 11, 64)})
        assert interface_rates(prev, cur) == {"eth0": (None, None)}

    def test_interface_rates_missing_counter(self) -> None:
        prev = reading(10.0, 1_000, interfaces={"eth0": OctetCounters(None, 100, 64)})
        cur = reading(20.0, 2_000, interfaces={"eth0": OctetCounters(50, 200, 64)})
        assert interface_rates(prev, cur) == {"eth0": (None, 10.0)}

    def test_state_keeps_its_own_copy(self) -> None:
        counters = {"eth0": OctetCounters(1, 1, 64)}
        state = reading(1.0, interfaces=counters)
        counters["eth1"] = OctetCounters(2, 2, 64)
        assert set(state.interfaces) == {"eth0"}


# -- CPU -------------------------------------------------------------------------------------
def ticks(**fields: int) -> dict[str, int]:
    return dict(fields)


class TestCpuPercent:
    def test_busy_share_of_all_ticks(self) -> None:
        prev = ticks(user=100, nice=0, system=50, idle=800, wait=50, steal=0)
        cur = ticks(user=160, nice=0, system=70, idle=900, wait=70, steal=0)
        # busy 60 + 20 = 80 of 80 + 100 idle + 20 wait = 200
        assert cpu_percent(prev, cur) == 40.0

    def test_first_reading(self) -> None:
        assert cpu_percent({}, ticks(user=1, idle=1)) is None

    def test_restart(self) -> None:
        assert cpu_percent(ticks(user=1, idle=1), ticks(user=2, idle=2), restarted=True) is None

    def test_no_ticks_counted_in_between(self) -> None:
        same = ticks(user=5, system=5, idle=5)
        assert cpu_percent(same, dict(same)) is None

    def test_fields_missing_on_one_side_are_left_out(self) -> None:
        prev = ticks(user=0, system=0, idle=0)
        cur = ticks(user=10, system=10, idle=20, steal=1_000)
        assert cpu_percent(prev, cur) == 50.0

    def test_without_idle_there_is_no_percent(self) -> None:
        assert cpu_percent(ticks(user=0), ticks(user=10)) is None

    def test_32_bit_wrap_of_a_tick_counter(self) -> None:
        prev = ticks(user=MAX32 - 9, idle=0)
        cur = ticks(user=10, idle=20)
        assert cpu_percent(prev, cur) == 50.0

    def test_counter_discontinuity(self) -> None:
        prev = ticks(user=1_000_000_000, idle=10)
        cur = ticks(user=5, idle=20)
        assert cpu_percent(prev, cur) is None

    @given(
        st.lists(st.integers(0, MAX32), min_size=6, max_size=6),
        st.lists(st.integers(0, 10**6), min_size=6, max_size=6),
    )
    def test_always_between_0_and_100(self, start: list[int], advance: list[int]) -> None:
        prev = dict(zip(CPU_TOTAL_FIELDS, start, strict=True))
        cur = {
            name: (prev[name] + step) % 2**32
            for name, step in zip(CPU_TOTAL_FIELDS, advance, strict=True)
        }
        result = cpu_percent(prev, cur)
        if sum(advance) == 0:
            assert result is None
        else:
            assert result is not None
            assert 0.0 <= result <= 100.0
