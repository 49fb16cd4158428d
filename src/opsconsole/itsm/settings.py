"""Settings of service management (the `itsm:` section of the config).

Every field has a default: the defaults are the domain rules of DESIGN.md (priority matrix,
SLA targets, 24x7 clocks). Durations are written as `15m`, `4h`, `3d`, `1d 4h` or seconds.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24x7"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def parse_duration(value: Any) -> Any:
    """`15m`, `4h`, `3d`, `1d 4h`, `90s`, a number of seconds, or a timedelta."""
    if isinstance(value, timedelta) or value is None:
        return value
    if isinstance(value, bool):
        raise ValueError("a duration, like 15m, 4h or 3d")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text.startswith("p"):  # ISO 8601, as model_dump(mode="json") writes it
            return text.upper()
        parts = _DURATION_PART.findall(text)
        if parts and _DURATION_PART.sub("", text).strip() == "":
            return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
        try:
            return timedelta(seconds=float(text))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a duration: write it like 15m, 4h, 3d or 1d 4h")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


# --- SLA and calendars ---------------------------------------------------------------------


class SlaTarget(Strict):
    """Response and resolution targets of one priority, counted on one calendar."""

    response: Duration
    resolution: Duration
    calendar: str = Field(default=ALWAYS, description="24x7, or the name of a calendar below")

    @field_validator("response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        return _positive(value)


def _default_targets() -> dict[str, SlaTarget]:
    hours = {"P1": (0.25, 4), "P2": (0.5, 8), "P3": (4, 72), "P4": (24, 120), "P5": (48, 240)}
    return {
        p: SlaTarget(response=timedelta(hours=r), resolution=timedelta(hours=s))
        for p, (r, s) in hours.items()
    }


class SlaSettings(Strict):
    targets: dict[str, SlaTarget] = Field(default_factory=_default_targets)
    warning_percent: float = Field(default=75.0, gt=0, lt=100)
    breach_percent: float = Field(default=100.0, gt=0, le=1000)
    # The resolution clock stands still in these incident states (the response clock has
    # stopped by then: any move out of New is the response).
    pause_states: list[str] = Field(default_factory=lambda: ["on_hold"])

    @field_validator("targets")
    @classmethod
    def _every_priority(cls, value: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        unknown = set(value) - set(PRIORITIES)
        if unknown:
            raise ValueError(f"unknown priority {sorted(unknown)[0]!r} (P1 .. P5)")
        missing = [p for p in PRIORITIES if p not in value]
        if missing:
            raise ValueError(f"no target for {', '.join(missing)}")
        return value

    @field_validator("pause_states")
    @classmethod
    def _known_states(cls, value: list[str]) -> list[str]:
        allowed = {"new", "in_progress", "on_hold"}
        for state in value:
            if state not in allowed:
                raise ValueError(f"{state!r}: only open states can pause (on_hold, ...)")
        return value

    @model_validator(mode="after")
    def _warning_before_breach(self) -> SlaSettings:
        if self.warning_percent >= self.breach_percent:
            raise ValueError("warning_percent must be below breach_percent")
        return self


def _parse_hours(text: str) -> list[tuple[time, time]]:
    ranges: list[tuple[time, time]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = _HOURS.match(part)
        if match is None:
            raise ValueError(f"{part!r}: write working hours like 08:00-18:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{part!r}: not a time of day")
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"{part!r}: the end must be after the start")
        if ranges and start < ranges[-1][1]:
            raise ValueError(f"{part!r}: ranges must be in order and must not overlap")
        ranges.append((start, end))
    return ranges


class CalendarSettings(Strict):
    """Working hours per weekday in a time zone, minus holidays (dates in that zone)."""

    timezone: str = "UTC"
    hours: dict[str, str] = Field(
        default_factory=lambda: {day: "08:00-18:00" for day in WEEKDAYS[:5]},
        description="weekday (mon .. sun) -> '08:00-12:00, 13:00-17:00'; a missing day is off",
    )
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Berlin, UTC)") from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, text in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r} (mon .. sun)")
            _parse_hours(text)
        if not any(_parse_hours(text) for text in value.values()):
            raise ValueError("a calendar needs some working hours")
        return value

    def ranges(self) -> dict[int, list[tuple[time, time]]]:
        """weekday number (Monday 0) -> working ranges."""
        return {WEEKDAYS.index(day): _parse_hours(text) for day, text in self.hours.items()}


def _default_calendars() -> dict[str, CalendarSettings]:
    return {"business-hours": CalendarSettings()}


# --- changes -------------------------------------------------------------------------------


class BlackoutWindow(Strict):
    """No change may be planned into this window on the CIs it covers (all CIs when no filter)."""

    name: str = Field(min_length=1)
    start: datetime
    end: datetime
    reason: str = ""
    cis: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list, description="CIs these services need")
    environments: list[str] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-12-20T00:00:00Z or +01:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> BlackoutWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ChangeTemplate(Strict):
    """A pre-approved standard change: the plans are fixed, the operator picks CIs and a time."""

    short_description: str = Field(min_length=1)
    description: str = ""
    risk: str = "low"
    implementation_plan: str = ""
    backout_plan: str = ""
    test_plan: str = ""
    duration: Duration = timedelta(hours=1)
    assignment_group: str | None = None


def _default_templates() -> dict[str, ChangeTemplate]:
    return {
        "reboot-host": ChangeTemplate(
            short_description="Reboot a host",
            implementation_plan="Drain the host from its load balancer pool, reboot, wait for "
            "host.reachability to clear, return it to the pool.",
            backout_plan="If the host does not come back, leave it out of the pool and raise "
            "an incident for the owning group.",
            test_plan="Host UP in opsconsole; service health check green.",
            duration=timedelta(minutes=30),
        ),
        "extend-filesystem": ChangeTemplate(
            short_description="Extend a filesystem online",
            implementation_plan="lvextend -r -L +SIZE on the logical volume; no downtime.",
            backout_plan="None needed: the extension is online and additive.",
            test_plan="fs.percent below the warning threshold; df shows the new size.",
            duration=timedelta(minutes=30),
        ),
        "os-patching": ChangeTemplate(
            short_description="Monthly OS security patches",
            implementation_plan="apt-get update && apt-get upgrade on the host; reboot if "
            "needed, one host of a pool at a time.",
            backout_plan="Boot the previous kernel; downgrade the packages named in the log.",
            test_plan="Host UP; services of the host pass their health checks.",
            duration=timedelta(hours=2),
        ),
    }


def _default_approvers() -> dict[str, list[str]]:
    return {
        "low": ["change-manager"],
        "moderate": ["change-manager"],
        "high": ["change-manager", "cab"],
    }


class ChangeSettings(Strict):
    risks: list[str] = Field(default_factory=lambda: ["low", "moderate", "high"], min_length=1)
    # Who must approve a normal change of each risk; emergency changes ask emergency_approvers.
    approvers: dict[str, list[str]] = Field(default_factory=_default_approvers)
    emergency_approvers: list[str] = Field(default_factory=lambda: ["change-manager"])
    templates: dict[str, ChangeTemplate] = Field(default_factory=_default_templates)
    close_codes: list[str] = Field(
        default_factory=lambda: [
            "successful",
            "successful with issues",
            "unsuccessful",
            "backed out",
        ],
        min_length=1,
    )
    # Normal and emergency changes need post-implementation review notes to close.
    review_required: bool = True
    blackouts: list[BlackoutWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_risks(self) -> ChangeSettings:
        for risk in self.approvers:
            if risk not in self.risks:
                raise ValueError(f"approvers: unknown risk {risk!r}")
        for name, template in self.templates.items():
            if template.risk not in self.risks:
                raise ValueError(f"templates.{name}.risk: unknown risk {template.risk!r}")
        return self


# --- service requests ------------------------------------------------------------------------


class CatalogField(Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = ""
    kind: Literal["text", "choice", "number", "flag"] = "text"
    required: bool = False
    choices: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _choices(self) -> CatalogField:
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"{self.name}: a choice field needs choices")
        return self


class CatalogTask(Strict):
    short_description: str = Field(min_length=1)
    assignment_group: str | None = None


class CatalogItem(Strict):
    title: str = Field(min_length=1)
    description: str = ""
    assignment_group: str | None = None
    fulfillment: Duration = timedelta(days=3)
    fields: list[CatalogField] = Field(default_factory=list)
    tasks: list[CatalogTask] = Field(default_factory=list)


def _default_catalog() -> dict[str, CatalogItem]:
    return {
        "server-access": CatalogItem(
            title="Access to a server",
            description="A login on a host for a named person, for a limited time.",
            assignment_group="app-team",
            fulfillment=timedelta(days=2),
            fields=[
                CatalogField(name="host", label="Host (CI name)", required=True),
                CatalogField(name="person", label="For whom", required=True),
                CatalogField(
                    name="access", kind="choice", choices=["read-only", "sudo"], required=True
                ),
                CatalogField(name="days", label="For how many days", kind="number"),
            ],
            tasks=[
                CatalogTask(short_description="Approve access with the CI owner"),
                CatalogTask(short_description="Create the account and keys"),
            ],
        ),
        "disk-space": CatalogItem(
            title="More disk space",
            assignment_group="storage-team",
            fulfillment=timedelta(days=3),
            fields=[
                CatalogField(name="host", label="Host (CI name)", required=True),
                CatalogField(name="mount", label="Mount point", required=True),
                CatalogField(name="gigabytes", kind="number", required=True),
            ],
            tasks=[
                CatalogTask(
                    short_description="Allocate the volume", assignment_group="storage-team"
                ),
                CatalogTask(short_description="Extend the filesystem", assignment_group="app-team"),
            ],
        ),
        "monitoring-onboarding": CatalogItem(
            title="Monitor a new host",
            assignment_group="noc",
            fulfillment=timedelta(days=1),
            fields=[
                CatalogField(name="host", label="Host (CI name)", required=True),
                CatalogField(name="snmp", label="Poll by SNMP", kind="flag"),
            ],
            tasks=[CatalogTask(short_description="Add the CI and its credential profile")],
        ),
    }


# --- problems --------------------------------------------------------------------------------


class ProblemCascadeSettings(Strict):
    """What a problem that is resolved (its fix applied) or closed does to the incidents
    linked to it that wait On Hold for it (on-hold reason `hold_reason`)."""

    hold_reason: str = "awaiting problem"
    # in_progress: they go back to In Progress, to be checked and resolved by their owners;
    # resolved: they are resolved with `resolution_code` and the problem's fix notes (a
    # problem closed without a fix, e.g. from Assess, always sends them back to In Progress).
    action: Literal["in_progress", "resolved"] = "in_progress"
    resolution_code: str = "solved (permanently)"


# --- alert -> incident rules -------------------------------------------------------------------

SEVERITIES = ("critical", "major", "minor", "warning", "info")


class AlertRule(Strict):
    """Open an incident for an alert that matches, once per correlated group of alerts."""

    name: str = Field(min_length=1)
    enabled: bool = True
    min_severity: Literal["critical", "major", "minor", "warning", "info"] = "critical"
    checks: list[str] = Field(default_factory=lambda: ["*"], description="glob patterns")
    ci_classes: list[str] = Field(default_factory=list, description="empty: any class")
    environments: list[str] = Field(default_factory=lambda: ["production"])
    # Criticality of at least one service the CI supports; empty: any CI, even one of no service.
    service_criticality: list[str] = Field(default_factory=lambda: ["high"])
    impact: int | None = Field(default=None, ge=1, le=3, description="default: from the CMDB")
    urgency: int | None = Field(default=None, ge=1, le=3, description="default: from severity")
    assignment_group: str | None = Field(default=None, description="default: the CI's group")
    assign_to: str | None = None


def _default_rules() -> list[AlertRule]:
    return [AlertRule(name="critical-on-production-of-high-service")]


# --- knowledge -----------------------------------------------------------------------------


class KnowledgeSettings(Strict):
    load_packaged: bool = Field(default=True, description="the articles shipped in data/kb")
    directories: list[Path] = Field(default_factory=list)


# --- the section ----------------------------------------------------------------------------


def _default_matrix() -> list[list[int]]:
    return [[1, 2, 3], [2, 3, 4], [3, 4, 5]]


class ItsmSettings(Strict):
    # Rows: impact 1 .. 3; columns: urgency 1 .. 3; cells: priority 1 .. 5 (P1 .. P5).
    priority_matrix: list[list[int]] = Field(default_factory=_default_matrix)
    # Urgency of an incident raised from an alert, by the alert's severity.
    urgency_by_severity: dict[str, int] = Field(
        default_factory=lambda: {"critical": 1, "major": 2, "minor": 2, "warning": 3, "info": 3}
    )
    # Impact when the CI supports no business service with a criticality.
    default_impact: int = Field(default=3, ge=1, le=3)
    sla: SlaSettings = SlaSettings()
    calendars: dict[str, CalendarSettings] = Field(default_factory=_default_calendars)
    categories: list[str] = Field(
        default_factory=lambda: [
            "hardware", "software", "network", "database", "storage", "security", "inquiry",
        ]
    )  # fmt: skip
    on_hold_reasons: list[str] = Field(
        default_factory=lambda: [
            "awaiting caller", "awaiting change", "awaiting problem", "awaiting vendor",
        ],
        min_length=1,
    )  # fmt: skip
    resolution_codes: list[str] = Field(
        default_factory=lambda: [
            "solved (permanently)", "solved (workaround)", "not reproducible", "duplicate",
            "resolved by change", "no fault found", "canceled by caller",
        ],
        min_length=1,
    )  # fmt: skip
    # Resolving (or closing) an incident resolves the alerts linked to it.
    resolve_linked_alerts: bool = True
    # Resolved incidents close on their own after this long (0: never).
    auto_close_after: Duration = timedelta(days=3)
    # Assignment groups and their members: pickers, and the "my group" views.
    groups: dict[str, list[str]] = Field(default_factory=dict)
    changes: ChangeSettings = ChangeSettings()
    problem_cascade: ProblemCascadeSettings = ProblemCascadeSettings()
    catalog: dict[str, CatalogItem] = Field(default_factory=_default_catalog)
    rules: list[AlertRule] = Field(default_factory=_default_rules)
    knowledge: KnowledgeSettings = KnowledgeSettings()

    @field_validator("priority_matrix")
    @classmethod
    def _matrix(cls, value: list[list[int]]) -> list[list[int]]:
        if len(value) != 3 or any(len(row) != 3 for row in value):
            raise ValueError("3 rows (impact 1 .. 3) of 3 priorities (urgency 1 .. 3)")
        if any(not 1 <= cell <= 5 for row in value for cell in row):
            raise ValueError("priorities are 1 .. 5")
        return value

    @field_validator("urgency_by_severity")
    @classmethod
    def _severities(cls, value: dict[str, int]) -> dict[str, int]:
        for severity, urgency in value.items():
            if severity not in SEVERITIES:
                raise ValueError(f"unknown severity {severity!r}")
            if not 1 <= urgency <= 3:
                raise ValueError(f"{severity}: urgency is 1 .. 3")
        return value

    @model_validator(mode="after")
    def _calendars_exist(self) -> ItsmSettings:
        if ALWAYS in self.calendars:
            raise ValueError(f"calendars: {ALWAYS!r} is built in; choose another name")
        for priority, target in self.sla.targets.items():
            if target.calendar != ALWAYS and target.calendar not in self.calendars:
                raise ValueError(
                    f"sla.targets.{priority}.calendar: no calendar {target.calendar!r}"
                )
        for rule in self.rules:
            if [r.name for r in self.rules].count(rule.name) > 1:
                raise ValueError(f"rules: two rules named {rule.name!r}")
        return self

    @model_validator(mode="after")
    def _problem_cascade(self) -> ItsmSettings:
        cascade = self.problem_cascade
        if "hold_reason" in cascade.model_fields_set and (
            cascade.hold_reason not in self.on_hold_reasons
        ):
            raise ValueError(
                f"problem_cascade.hold_reason: {cascade.hold_reason!r} is not an on-hold reason"
            )
        if cascade.action == "resolved" and cascade.resolution_code not in self.resolution_codes:
            raise ValueError(
                f"problem_cascade.resolution_code: {cascade.resolution_code!r} is not a "
                "resolution code"
            )
        return self

    def groups_of(self, person: str) -> list[str]:
        return sorted(group for group, members in self.groups.items() if person in members)
