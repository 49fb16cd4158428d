"""Priority = impact x urgency, and the settings that configure it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsconsole import config
from opsconsole.itsm.priority import (
    PriorityError,
    impact_from_criticalities,
    label,
    parse_priority,
    priority_of,
    urgency_from_severity,
)
from opsconsole.itsm.settings import ItsmSettings, parse_duration

# DESIGN: (1,1)=P1; (1,2),(2,1)=P2; (1,3),(2,2),(3,1)=P3; (2,3),(3,2)=P4; (3,3)=P5.
MATRIX = {
    (1, 1): 1,
    (1, 2): 2, (2, 1): 2,
    (1, 3): 3, (2, 2): 3, (3, 1): 3,
    (2, 3): 4, (3, 2): 4,
    (3, 3): 5,
}  # fmt: skip


@pytest.mark.parametrize(("impact", "urgency"), sorted(MATRIX))
def test_default_matrix_is_the_design(impact: int, urgency: int) -> None:
    assert priority_of(impact, urgency) == MATRIX[impact, urgency]


def test_matrix_is_configurable() -> None:
    settings = ItsmSettings(priority_matrix=[[1, 1, 2], [2, 3, 4], [3, 4, 5]])
    assert priority_of(1, 2, settings) == 1
    assert priority_of(1, 3, settings) == 2


@pytest.mark.parametrize(("impact", "urgency"), [(0, 1), (4, 1), (1, 0), (1, 4), (True, 1)])
def test_impact_and_urgency_outside_1_to_3_are_refused(impact: int, urgency: int) -> None:
    with pytest.raises(PriorityError):
        priority_of(impact, urgency)


def test_labels_and_parsing() -> None:
    assert label(3) == "P3"
    assert parse_priority("p2") == 2
    assert parse_priority(" P5 ") == 5
    assert parse_priority(1) == 1
    for bad in ("P0", "P6", "high", ""):
        with pytest.raises(PriorityError):
            parse_priority(bad)


def test_urgency_from_severity_and_impact_from_services() -> None:
    settings = ItsmSettings()
    assert urgency_from_severity("critical", settings) == 1
    assert urgency_from_severity("major", settings) == 2
    assert urgency_from_severity("info", settings) == 3
    with pytest.raises(PriorityError):
        urgency_from_severity("apocalyptic", settings)
    assert impact_from_criticalities(["low", "high", None], settings) == 1
    assert impact_from_criticalities(["medium", "low"], settings) == 2
    assert impact_from_criticalities([], settings) == 3
    assert impact_from_criticalities([], ItsmSettings(default_impact=2)) == 2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("4h", 14400), ("3d", 259200), ("1d 4h", 100800), ("90", 90), (30, 30),
     ("1h30m", 5400), ("PT15M", 900)],
)  # fmt: skip
def test_durations(text: str | int, seconds: int) -> None:
    settings = ItsmSettings.model_validate({"auto_close_after": text})
    assert settings.auto_close_after == timedelta(seconds=seconds)


def test_bad_duration_is_explained() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"priority_matrix": [[1, 2], [2, 3]]}, "3 rows"),
        ({"priority_matrix": [[1, 2, 3], [2, 3, 4], [3, 4, 6]]}, "1 .. 5"),
        ({"urgency_by_severity": {"fatal": 1}}, "unknown severity"),
        ({"sla": {"targets": {"P1": {"response": "1h", "resolution": "2h"}}}}, "no target"),
        ({"sla": {"warning_percent": 100}}, "less than 100"),
        ({"sla": {"pause_states": ["resolved"]}}, "only open states"),
        ({"calendars": {"office": {"timezone": "Mars/Olympus"}}}, "unknown time zone"),
        ({"calendars": {"office": {"hours": {"mon": "18:00-08:00"}}}}, "end must be after"),
        ({"calendars": {"office": {"hours": {"funday": "08:00-12:00"}}}}, "unknown weekday"),
        ({"calendars": {"24x7": {}}}, "built in"),
        ({"changes": {"blackouts": [{"name": "x", "start": "2026-12-20T00:00",
                                     "end": "2026-12-21T00:00Z"}]}}, "time zone"),
        ({"changes": {"approvers": {"extreme": ["cab"]}}}, "unknown risk"),
        ({"rules": [{"name": "a"}, {"name": "a"}]}, "two rules"),
        ({"catalog": {"x": {"title": "X", "fields": [{"name": "c", "kind": "choice"}]}}},
         "needs choices"),
    ],
)  # fmt: skip
def test_settings_validation(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ItsmSettings.model_validate(data)


def test_sla_target_needs_a_known_calendar() -> None:
    targets = {f"P{i}": {"response": "1h", "resolution": "1d"} for i in range(1, 6)}
    targets["P3"]["calendar"] = "office"
    with pytest.raises(ValidationError, match="no calendar 'office'"):
        ItsmSettings.model_validate({"sla": {"targets": targets}})
    ok = ItsmSettings.model_validate({"sla": {"targets": targets}, "calendars": {"office": {}}})
    assert ok.sla.targets["P3"].calendar == "office"


def test_config_error_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("itsm:\n  sla:\n    warning_percent: 120\n")
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    assert str(caught.value).startswith(f"{path}:3: itsm.sla.warning_percent:")


def test_settings_round_trip_through_json() -> None:
    settings = ItsmSettings()
    assert ItsmSettings.model_validate(settings.model_dump(mode="json")) == settings
