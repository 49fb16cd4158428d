"""Settings of service management (the `itsm:` section of the config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ItsmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
