"""YAML configuration -> typed, validated settings.

Every error names the file, the line and the key, in one line, so `opsconsole` can print it and
exit non-zero instead of showing a traceback. `${VAR}` in a string value is taken from the
environment, which is how secrets (SNMP communities, v3 keys) stay out of files and the store.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from opsconsole import paths
from opsconsole.events.settings import EventSettings
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.yamltext import YamlSyntaxError, line_of, load_with_nodes

CONFIG_ENV = "OPSCONSOLE_CONFIG"
DB_ENV = "OPSCONSOLE_DB"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A configuration problem, already worded for the operator (file:line: key: what)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthProtocol(StrEnum):
    MD5 = "MD5"
    SHA = "SHA"
    SHA224 = "SHA224"
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class PrivProtocol(StrEnum):
    DES = "DES"
    AES = "AES"
    AES192 = "AES192"
    AES256 = "AES256"


class SnmpV2cProfile(Strict):
    version: Literal["2c"]
    community: str = Field(min_length=1)
    timeout: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)


class SnmpV3Profile(Strict):
    version: Literal["3"]
    user: str = Field(min_length=1)
    auth_protocol: AuthProtocol | None = None
    auth_key: str | None = Field(default=None, min_length=8)
    priv_protocol: PrivProtocol | None = None
    priv_key: str | None = Field(default=None, min_length=8)
    timeout: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)

    @model_validator(mode="after")
    def _keys_match_levels(self) -> SnmpV3Profile:
        if (self.auth_protocol is None) != (self.auth_key is None):
            raise ValueError("auth_protocol and auth_key go together")
        if (self.priv_protocol is None) != (self.priv_key is None):
            raise ValueError("priv_protocol and priv_key go together")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise ValueError("privacy (priv_protocol) needs authentication (auth_protocol)")
        return self

    @property
    def security_level(self) -> str:
        if self.priv_protocol is not None:
            return "authPriv"
        if self.auth_protocol is not None:
            return "authNoPriv"
        return "noAuthNoPriv"


CredentialProfile = Annotated[SnmpV2cProfile | SnmpV3Profile, Field(discriminator="version")]


class DatabaseSettings(Strict):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file in the user's data directory",
    )


class MonitoringSettings(Strict):
    local_host: bool = Field(default=True, description="Add this machine as a CI, poll psutil")
    local_interval: float = Field(default=2.0, ge=0.5, le=3600)
    history_points: int = Field(default=60, ge=2, le=3600)
    # Seconds between polls of a remote host; per class here, per CI in the CMDB.
    interval: float = Field(default=60.0, ge=5, le=86400)
    class_intervals: dict[str, float] = Field(default_factory=dict)
    # A host is DOWN only after this many failed polls in a row, re-polled meanwhile at
    # retry_interval: one lost UDP packet is not an outage.
    down_after: int = Field(default=3, ge=1, le=20)
    retry_interval: float = Field(default=10.0, ge=1, le=3600)
    # A DOWN host is re-polled at a doubling interval up to this.
    max_backoff: float = Field(default=600.0, ge=5, le=86400)
    concurrency: int = Field(default=64, ge=1, le=1000)
    raw_retention_hours: float = Field(default=48.0, ge=1, le=24 * 365)
    rollup_period: int = Field(default=300, ge=60, le=86400)
    rollup_retention_days: float = Field(default=90.0, ge=1, le=3650)
    write_batch_seconds: float = Field(default=1.0, ge=0.05, le=60)
    # An SNMP host's tables (disks, interfaces, processors) are walked on its first poll and
    # then every this many polls; the polls between are one GET of what changes. 1 walks at
    # every poll; bigger is cheaper, but new disks and interfaces take that many polls to show
    # (a restarted agent or a vanished row is walked again at once, whatever this says).
    snmp_rewalk_every: int = Field(default=10, ge=1, le=1000)

    @field_validator("class_intervals")
    @classmethod
    def _known_classes(cls, value: dict[str, float]) -> dict[str, float]:
        known = {"service", "application", "host", "network_device", "database", "storage"}
        for name, seconds in value.items():
            if name not in known:
                raise ValueError(f"unknown CI class {name!r}")
            if not 5 <= seconds <= 86400:
                raise ValueError(f"{name}: interval must be 5 .. 86400 seconds")
        return value


class ThresholdRule(Strict):
    """Warning and critical levels; the level clears only `clear_margin` below the threshold."""

    warning: float | None = None
    critical: float | None = None
    clear_margin: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRule:
        if self.warning is not None and self.critical is not None and self.warning > self.critical:
            raise ValueError("warning must not be above critical")
        return self


def _default_thresholds() -> dict[str, ThresholdRule]:
    # In the spirit of Checkmk's defaults: filesystems warn at 80 %, critical at 90 %.
    return {
        "fs.percent:*": ThresholdRule(warning=80, critical=90, clear_margin=2),
        "cpu.percent": ThresholdRule(warning=90, critical=98, clear_margin=10),
        "mem.percent": ThresholdRule(warning=90, critical=95, clear_margin=3),
        "swap.percent": ThresholdRule(warning=50, critical=80, clear_margin=5),
    }


class ThresholdSettings(Strict):
    """Metric name (or glob, e.g. fs.percent:*) -> rule; classes and CIs override defaults."""

    defaults: dict[str, ThresholdRule] = Field(default_factory=_default_thresholds)
    classes: dict[str, dict[str, ThresholdRule]] = Field(default_factory=dict)
    cis: dict[str, dict[str, ThresholdRule]] = Field(default_factory=dict)


class TrapSettings(Strict):
    enabled: bool = True
    # Loopback by default; set 0.0.0.0 to hear devices on the network.
    host: str = "127.0.0.1"
    port: int = Field(default=10162, ge=1, le=65535)
    communities: list[str] = Field(default_factory=lambda: ["public"], min_length=1)
    # The console's embedded poller receives traps too, unless another process on this
    # box already does (then the console says so once and polls on).
    in_console: bool = True


class EstateSettings(Strict):
    load_sample_on_first_run: bool = True
    file: Path | None = Field(default=None, description="CMDB file loaded on first run instead")


class UISettings(Strict):
    theme: str = "textual-dark"
    change_feed_interval: float = Field(default=2.0, ge=0.5, le=300)


class Settings(Strict):
    operator: str | None = Field(default=None, description="Actor in the audit trail")
    database: DatabaseSettings = DatabaseSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    thresholds: ThresholdSettings = ThresholdSettings()
    traps: TrapSettings = TrapSettings()
    events: EventSettings = EventSettings()
    itsm: ItsmSettings = ItsmSettings()
    estate: EstateSettings = EstateSettings()
    ui: UISettings = UISettings()
    credentials: dict[str, CredentialProfile] = Field(default_factory=dict)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("credentials", mode="before")
    @classmethod
    def _version_may_be_a_number(cls, value: Any) -> Any:
        # `version: 3` in YAML is an int; the profiles are tagged by the strings "2c" and "3".
        if isinstance(value, dict):
            for profile in value.values():
                if isinstance(profile, dict) and isinstance(profile.get("version"), int):
                    profile["version"] = str(profile["version"])
        return value

    @property
    def actor(self) -> str:
        return self.operator or _login_name()

    def database_url(self, override: str | None = None) -> str:
        """--db beats OPSCONSOLE_DB beats the config file beats the SQLite default."""
        return (
            override
            or os.environ.get(DB_ENV)
            or self.database.url
            or f"sqlite+pysqlite:///{paths.data_dir() / 'opsconsole.db'}"
        )


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


# --- loading -----------------------------------------------------------------------------


def config_path(override: str | os.PathLike[str] | None = None) -> tuple[Path, bool]:
    """The config file to read and whether the user named it (a named file must exist)."""
    if override is not None:
        return Path(override).expanduser(), True
    if env := os.environ.get(CONFIG_ENV):
        return Path(env).expanduser(), True
    return paths.config_dir() / "config.yaml", False


def load(override: str | os.PathLike[str] | None = None) -> Settings:
    path, explicit = config_path(override)
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: no such config file")
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse(text, path)


def parse(text: str, path: Path) -> Settings:
    try:
        data, node = load_with_nodes(text)
    except YamlSyntaxError as exc:
        raise ConfigError(f"{path}:{exc}") from None
    if data is None:
        return Settings(source=path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config must be a mapping of settings")
    data = _expand_env(data, node, path, ())
    try:
        return Settings.model_validate({**data, "source": path})
    except ValidationError as exc:
        raise ConfigError(_describe_validation(exc, node, path)) from None


def _expand_env(value: Any, root: yaml.Node | None, path: Path, loc: tuple[Any, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, root, path, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, root, path, (*loc, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                line = line_of(root, loc)
                raise ConfigError(
                    f"{path}:{line}: {_dotted(loc)}: environment variable {name} is not set"
                )
            return os.environ[name]

        return _ENV_REFERENCE.sub(replace, value)
    return value


def _describe_validation(exc: ValidationError, root: yaml.Node | None, path: Path) -> str:
    first = exc.errors()[0]
    loc = _strip_union_tags(first["loc"])
    line = line_of(root, loc)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
    extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}:{line}: {_dotted(loc) or '(top level)'}: {message}{extra}"


def _strip_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Pydantic puts the discriminator tag ('2c', '3') into the location: drop it."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if i > 0 and loc[i - 1] != "credentials" and part in ("2c", "3") and out:
            continue
        out.append(part)
    return tuple(out)


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def as_plain_dict(settings: Settings) -> Mapping[str, Any]:
    return settings.model_dump(mode="json", exclude={"source"})
