from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole import config
from opsconsole.config import ConfigError, SnmpV2cProfile, SnmpV3Profile


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    return str(caught.value)


def test_missing_default_file_gives_defaults() -> None:
    settings = config.load()
    assert settings.source is None
    assert settings.monitoring.local_host is True
    assert settings.database_url().endswith("/opsconsole/opsconsole.db")


def test_named_file_must_exist(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such config file"


def test_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "operator: carol\n")
    monkeypatch.setenv("OPSCONSOLE_CONFIG", str(path))
    assert config.load().actor == "carol"


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "operator: a\nmonitoring:\n  local_host: true\n  intervall: 5\n")
    assert error_of(path) == f"{path}:4: monitoring.intervall: unknown setting"


def test_wrong_type_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "monitoring:\n  local_interval: fast\n")
    message = error_of(path)
    assert message.startswith(f"{path}:2: monitoring.local_interval: ")
    assert "number" in message


def test_out_of_range_value(tmp_path: Path) -> None:
    path = write(tmp_path, "monitoring:\n  local_interval: 0.01\n")
    assert error_of(path).startswith(f"{path}:2: monitoring.local_interval: ")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "operator: a\nui:\n  theme: [unclosed\nother: 1\n")
    message = error_of(path)
    assert message.startswith(f"{path}:4: YAML syntax error")
    assert "\n" not in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n- b\n")
    assert error_of(path) == f"{path}:1: the config must be a mapping of settings"


def test_empty_file_is_defaults(tmp_path: Path) -> None:
    assert config.load(write(tmp_path, "# nothing yet\n")).ui.theme == "textual-dark"


def test_credentials_v2c_and_v3_with_numeric_version(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "credentials:\n"
        "  lab:\n    version: 2c\n    community: public\n"
        "  core:\n    version: 3\n    user: ops\n    auth_protocol: SHA\n"
        "    auth_key: authpass123\n    priv_protocol: AES\n    priv_key: privpass123\n",
    )
    creds = config.load(path).credentials
    assert isinstance(creds["lab"], SnmpV2cProfile)
    assert isinstance(creds["core"], SnmpV3Profile)
    assert creds["core"].security_level == "authPriv"


def test_v3_priv_without_auth_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "credentials:\n  core:\n    version: 3\n    user: ops\n"
        "    priv_protocol: AES\n    priv_key: privpass123\n",
    )
    message = error_of(path)
    assert message.startswith(f"{path}:2: credentials.core: ")
    assert "authentication" in message


def test_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_COMMUNITY", "s3cret")
    path = write(
        tmp_path, "credentials:\n  lab:\n    version: 2c\n    community: ${LAB_COMMUNITY}\n"
    )
    profile = config.load(path).credentials["lab"]
    assert isinstance(profile, SnmpV2cProfile)
    assert profile.community == "s3cret"


def test_missing_environment_secret_names_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "credentials:\n  lab:\n    version: 2c\n    community: ${NO_SUCH_VAR_X}\n"
    )
    assert error_of(path) == (
        f"{path}:4: credentials.lab.community: environment variable NO_SUCH_VAR_X is not set"
    )


def test_database_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = config.load(write(tmp_path, "database:\n  url: sqlite:///from-file.db\n"))
    assert settings.database_url() == "sqlite:///from-file.db"
    monkeypatch.setenv("OPSCONSOLE_DB", "sqlite:///from-env.db")
    assert settings.database_url() == "sqlite:///from-env.db"
    assert settings.database_url("sqlite:///from-flag.db") == "sqlite:///from-flag.db"


def test_example_config_is_valid_and_documents_every_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example = Path(__file__).parents[2] / "data" / "config.example.yaml"
    monkeypatch.setenv("OPSCONSOLE_SNMP_V3_AUTH", "authpass123")
    monkeypatch.setenv("OPSCONSOLE_SNMP_V3_PRIV", "privpass123")
    settings = config.load(example)
    text = example.read_text()
    for section in config.Settings.model_fields:
        if section == "source":
            continue
        assert f"{section}:" in text, f"{section} is not documented in the example"
        sub = getattr(settings, section)
        for key in getattr(type(sub), "model_fields", {}):
            assert f"{key}:" in text, f"{section}.{key} is not documented in the example"
    for address in ("10.", "192.168.", "172.16."):
        assert address not in text


def test_snmp_rewalk_every_is_validated(tmp_path: Path) -> None:
    from opsconsole.monitoring.collectors.snmp import DEFAULT_REWALK_EVERY

    assert config.Settings().monitoring.snmp_rewalk_every == DEFAULT_REWALK_EVERY
    for good in (1, 25, 1000):
        path = write(tmp_path, f"monitoring:\n  snmp_rewalk_every: {good}\n")
        assert config.load(path).monitoring.snmp_rewalk_every == good
    for bad, why in (("0", "greater than or equal to 1"), ("1001", "less than or equal to 1000"),
                     ("often", "integer"), ("2.5", "integer")):  # fmt: skip
        path = write(tmp_path, f"operator: a\nmonitoring:\n  snmp_rewalk_every: {bad}\n")
        message = error_of(path)
        assert message.startswith(f"{path}:3: monitoring.snmp_rewalk_every: "), message
        assert why in message, message
