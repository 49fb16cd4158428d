"""Settings of the events pipeline and the alert queue (the `events:` section of the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EventSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reopen_window: float = Field(
        default=3600.0,
        ge=0,
        le=30 * 86400,
        description="Seconds after a resolution during which a recurrence reopens the same "
        "alert; later, it opens a new one",
    )
    auto_resolve: bool = Field(
        default=True, description="A clearing event resolves its alert (auto-resolve)"
    )
    correlation_window: float = Field(
        default=600.0,
        ge=0,
        le=86400,
        description="Seconds within which alerts on CIs of the same impacted service are "
        "grouped under one parent (alerts on the same CI group while the parent is active)",
    )
    correlate_by_service: bool = Field(
        default=True, description="Group alerts whose CIs impact the same business service"
    )
    flap_high: float = Field(
        default=30.0,
        gt=0,
        le=100,
        description="Flapping starts when the weighted share of state changes among the last "
        "20 results rises above this percentage (Icinga's default)",
    )
    flap_low: float = Field(
        default=25.0,
        ge=0,
        le=100,
        description="Flapping ends when the share falls below this percentage",
    )
    flap_quiet_reset: float = Field(
        default=3600.0,
        gt=0,
        le=7 * 86400,
        description="Seconds without results after which the flap history starts afresh and a "
        "flapping alert stops flapping",
    )
    snooze_default: float = Field(
        default=3600.0, gt=0, le=30 * 86400, description="Seconds a snooze lasts unless told"
    )
    silence_warn_hours: float = Field(
        default=4.0,
        ge=0,
        le=24 * 30,
        description="The silences view warns of silences ending within this many hours",
    )
    batch_size: int = Field(
        default=5000,
        ge=1,
        le=100_000,
        description="Events the pipeline handles per round of queries (bigger is faster)",
    )
    store_raw_events: bool = Field(
        default=True, description="Keep every event as it arrived in the event table"
    )
    max_message: int = Field(
        default=4000, ge=80, le=100_000, description="Characters of an event message kept"
    )
    timer_interval: float = Field(
        default=15.0,
        ge=0,
        le=3600,
        description="Seconds between runs of the timers (snooze and silence ends, maintenance, "
        "flapping) that the pipeline does on its way; 0 runs them with every batch",
    )
    page_size: int = Field(
        default=200, ge=10, le=5000, description="Rows per page of the alert queue"
    )
    mark_new_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="New and just-resolved alerts are marked in the queue for this long",
    )
    bell_on_critical: bool = Field(
        default=False, description="Ring the terminal bell when a new critical alert arrives"
    )

    @model_validator(mode="after")
    def _flap_hysteresis(self) -> EventSettings:
        if self.flap_low > self.flap_high:
            raise ValueError("flap_low must not be above flap_high")
        return self
