from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opsconsole.config import ThresholdRule, ThresholdSettings
from opsconsole.monitoring.thresholds import Level, evaluate, next_level, rule_for

FS = ThresholdRule(warning=80, critical=90, clear_margin=2)


def walk(values: list[float], rule: ThresholdRule = FS) -> list[str]:
    level = Level.OK
    seen = []
    for value in values:
        level = next_level(level, value, rule)
        seen.append(level.value)
    return seen


def test_levels_rise_at_their_thresholds() -> None:
    assert walk([79.9, 80, 89.9, 90]) == ["ok", "warning", "warning", "critical"]


def test_hysteresis_holds_a_level_until_the_clear_margin() -> None:
    # critical at 90 stays critical until below 88; warning at 80 stays until below 78
    assert walk([91, 89, 88.5, 87.9, 79, 78.5, 77.9]) == [
        "critical", "critical", "critical", "warning", "warning", "warning", "ok",
    ]  # fmt: skip


def test_hovering_at_the_line_does_not_flap() -> None:
    values = [80.1, 79.5, 80.2, 79.1, 80.0, 78.2]
    assert walk(values) == ["warning"] * 6


def test_critical_only_rule() -> None:
    rule = ThresholdRule(critical=95, clear_margin=5)
    assert walk([96, 91, 89], rule) == ["critical", "critical", "ok"]


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=50))
def test_level_is_never_below_what_the_value_alone_says(values: list[float]) -> None:
    level = Level.OK
    for value in values:
        level = next_level(level, value, FS)
        floor = Level.CRITICAL if value >= 90 else Level.WARNING if value >= 80 else Level.OK
        order = [Level.OK, Level.WARNING, Level.CRITICAL]
        assert order.index(level) >= order.index(floor)
        if value < 78:
            assert level is Level.OK


def test_rules_resolve_ci_then_class_then_defaults() -> None:
    settings = ThresholdSettings(
        classes={"database": {"fs.percent:*": ThresholdRule(warning=85, critical=95)}},
        cis={"db-01": {"fs.percent:/var": ThresholdRule(warning=70, critical=75)}},
    )
    assert rule_for(settings, "fs.percent:/", "web-01", "host") == settings.defaults["fs.percent:*"]
    assert rule_for(settings, "fs.percent:/", "db-02", "database").warning == 85  # type: ignore[union-attr]
    assert rule_for(settings, "fs.percent:/var", "db-01", "database").warning == 70  # type: ignore[union-attr]
    assert rule_for(settings, "fs.percent:/", "db-01", "database").warning == 85  # type: ignore[union-attr]
    assert rule_for(settings, "net.rx_bps", "web-01", "host") is None


def test_evaluate_reports_crossings_only() -> None:
    settings = ThresholdSettings()
    levels, crossings = evaluate(settings, "h", "host", {"fs.percent:/": 85.0, "load.1": 9.0}, {})
    assert levels == {"fs.percent:/": "warning"}
    assert [(c.metric, c.old, c.new, c.threshold) for c in crossings] == [
        ("fs.percent:/", Level.OK, Level.WARNING, 80)
    ]
    levels, crossings = evaluate(settings, "h", "host", {"fs.percent:/": 79.0}, levels)
    assert (levels, crossings) == ({"fs.percent:/": "warning"}, [])
    levels, crossings = evaluate(settings, "h", "host", {"fs.percent:/": 70.0}, levels)
    assert [c.new for c in crossings] == [Level.OK]
