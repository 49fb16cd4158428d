"""Threshold levels with hysteresis: the one place that decides if a metric is a problem.

A metric enters warning at `warning` and critical at `critical`, but leaves a level only when
it falls `clear_margin` below that level's threshold, so a value hovering at the line does not
flap between states on every poll.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from opsconsole.config import ThresholdRule, ThresholdSettings


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


def next_level(previous: Level, value: float, rule: ThresholdRule) -> Level:
    warning, critical, margin = rule.warning, rule.critical, rule.clear_margin
    if critical is not None and value >= critical:
        return Level.CRITICAL
    if previous is Level.CRITICAL and critical is not None and value > critical - margin:
        return Level.CRITICAL
    if warning is not None and value >= warning:
        return Level.WARNING
    was_raised = previous in (Level.WARNING, Level.CRITICAL)
    if was_raised and warning is not None and value > warning - margin:
        return Level.WARNING
    return Level.OK


def rule_for(
    settings: ThresholdSettings, metric: str, ci_name: str, ci_class: str
) -> ThresholdRule | None:
    """Most specific wins: the CI's own rules, then its class's, then the defaults; within a
    layer an exact metric name beats a glob."""
    for layer in (settings.cis.get(ci_name), settings.classes.get(ci_class), settings.defaults):
        if layer and (rule := _match(layer, metric)) is not None:
            return rule
    return None


def _match(rules: Mapping[str, ThresholdRule], metric: str) -> ThresholdRule | None:
    if metric in rules:
        return rules[metric]
    for pattern in sorted(rules, key=len, reverse=True):
        if fnmatch.fnmatchcase(metric, pattern):
            return rules[pattern]
    return None


@dataclass(frozen=True)
class Crossing:
    metric: str
    old: Level
    new: Level
    value: float
    rule: ThresholdRule

    @property
    def threshold(self) -> float | None:
        if self.new is Level.CRITICAL:
            return self.rule.critical
        if self.new is Level.WARNING:
            return self.rule.warning
        return None


def evaluate(
    settings: ThresholdSettings,
    ci_name: str,
    ci_class: str,
    metrics: Mapping[str, float],
    levels: Mapping[str, str],
) -> tuple[dict[str, str], list[Crossing]]:
    """New levels for every metric with a rule, and the crossings that changed a level."""
    new_levels: dict[str, str] = {}
    crossings: list[Crossing] = []
    for metric, value in metrics.items():
        rule = rule_for(settings, metric, ci_name, ci_class)
        if rule is None:
            continue
        old = Level(levels.get(metric, Level.OK.value))
        new = next_level(old, value, rule)
        new_levels[metric] = new.value
        if new is not old:
            crossings.append(Crossing(metric, old, new, value, rule))
    return new_levels, crossings
