"""Settings of the events pipeline and the alert queue (the `events:` section of the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EventSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
