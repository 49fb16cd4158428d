"""Where things live: XDG config and data directories (platformdirs honours XDG_* variables)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "opsconsole"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))
