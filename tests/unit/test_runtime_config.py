"""Unit tests for runtime.config: typed settings from an explicit environment mapping."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from runtime.config import ConfigError, describe, env_name, load, setting

pytestmark = pytest.mark.unit


@dataclasses.dataclass(frozen=True)
class Demo:
    name: str = setting("demo", "Service name.")
    port: int = setting(8080, "Listen port.")
    ratio: float = setting(0.5, "A ratio.")
    debug: bool = setting(False, "Debug mode.")
    hosts: tuple[str, ...] = setting(("a", "b"), "Comma-separated hosts.")
    database_url: str = setting("sqlite://", "Database URL.", env="DATABASE_URL")


@dataclasses.dataclass(frozen=True)
class NeedsToken:
    token: str
    port: int = setting(1, "Port.")


@dataclasses.dataclass(frozen=True)
class Unsupported:
    mapping: dict[str, str] | None = None


def test_defaults_with_empty_environment() -> None:
    assert load(Demo, {}) == Demo("demo", 8080, 0.5, False, ("a", "b"), "sqlite://")


def test_unrelated_variables_are_ignored() -> None:
    assert load(Demo, {"PORT": "1", "es_port": "2", "ES_PORTS": "3", "NAME": "x"}) == Demo()


@pytest.mark.parametrize(
    ("environ", "field", "expected"),
    [
        ({"ES_NAME": "router"}, "name", "router"),
        ({"ES_NAME": ""}, "name", ""),
        ({"ES_NAME": " spaced "}, "name", " spaced "),
        ({"ES_PORT": "9090"}, "port", 9090),
        ({"ES_PORT": " 42 "}, "port", 42),
        ({"ES_PORT": "-1"}, "port", -1),
        ({"ES_RATIO": "0.25"}, "ratio", 0.25),
        ({"ES_RATIO": "3"}, "ratio", 3.0),
        ({"ES_RATIO": "1e-3"}, "ratio", 0.001),
        ({"ES_DEBUG": "1"}, "debug", True),
        ({"ES_DEBUG": "true"}, "debug", True),
        ({"ES_DEBUG": "TRUE"}, "debug", True),
        ({"ES_DEBUG": "Yes"}, "debug", True),
        ({"ES_DEBUG": " on "}, "debug", True),
        ({"ES_DEBUG": "0"}, "debug", False),
        ({"ES_DEBUG": "false"}, "debug", False),
        ({"ES_DEBUG": "no"}, "debug", False),
        ({"ES_DEBUG": "off"}, "debug", False),
        ({"ES_DEBUG": ""}, "debug", False),
        ({"ES_HOSTS": "x,y,z"}, "hosts", ("x", "y", "z")),
        ({"ES_HOSTS": " x , y ,, z , "}, "hosts", ("x", "y", "z")),
        ({"ES_HOSTS": ""}, "hosts", ()),
        ({"ES_HOSTS": "single"}, "hosts", ("single",)),
        ({"DATABASE_URL": "postgresql://db/es"}, "database_url", "postgresql://db/es"),
        ({"ES_DATABASE_URL": "postgresql://ignored"}, "database_url", "sqlite://"),
    ],
)
def test_environment_conversion(environ: dict[str, str], field: str, expected: Any) -> None:
    settings = load(Demo, environ)
    value = getattr(settings, field)
    assert value == expected
    assert type(value) is type(expected)


def test_all_fields_at_once() -> None:
    environ = {
        "ES_NAME": "n",
        "ES_PORT": "1",
        "ES_RATIO": "2.5",
        "ES_DEBUG": "yes",
        "ES_HOSTS": "h1,h2",
        "DATABASE_URL": "db",
    }
    assert load(Demo, environ) == Demo("n", 1, 2.5, True, ("h1", "h2"), "db")


def test_overrides_win_over_environment() -> None:
    settings = load(Demo, {"ES_PORT": "9090", "ES_NAME": "env"}, port=7, hosts=("o",))
    assert settings.port == 7
    assert settings.hosts == ("o",)
    assert settings.name == "env"


def test_override_skips_conversion_of_bad_environment_value() -> None:
    assert load(Demo, {"ES_PORT": "not-a-number"}, port=1).port == 1


def test_result_is_frozen() -> None:
    settings = load(Demo, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "fragments"),
    [
        ({"ES_PORT": "eighty"}, ["ES_PORT"]),
        ({"ES_PORT": "1.5"}, ["ES_PORT"]),
        ({"ES_RATIO": "half"}, ["ES_RATIO"]),
        ({"ES_DEBUG": "maybe"}, ["ES_DEBUG", "not a boolean: 'maybe'"]),
        ({"ES_DEBUG": "2"}, ["ES_DEBUG"]),
        ({"ES_PORT": "x", "ES_DEBUG": "y", "ES_RATIO": "z"}, ["ES_PORT", "ES_DEBUG", "ES_RATIO"]),
    ],
)
def test_bad_values_raise_config_error_listing_all(environ: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load(Demo, environ)
    message = str(info.value)
    assert message.startswith("invalid settings: ")
    for fragment in fragments:
        assert fragment in message
    assert message.count(";") == len(environ) - 1


def test_config_error_is_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_missing_required_setting() -> None:
    with pytest.raises(ConfigError, match="missing settings for NeedsToken"):
        load(NeedsToken, {"ES_PORT": "2"})
    assert load(NeedsToken, {"ES_TOKEN": "t"}) == NeedsToken("t", 1)
    assert load(NeedsToken, {}, token="o") == NeedsToken("o", 1)


def test_unsupported_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ES_MAPPING: unsupported setting type"):
        load(Unsupported, {"ES_MAPPING": "a=b"})
    assert load(Unsupported, {}).mapping is None


def test_env_name() -> None:
    names = {f.name: env_name(f) for f in dataclasses.fields(Demo)}
    assert names == {
        "name": "ES_NAME",
        "port": "ES_PORT",
        "ratio": "ES_RATIO",
        "debug": "ES_DEBUG",
        "hosts": "ES_HOSTS",
        "database_url": "DATABASE_URL",
    }


def test_describe_rows() -> None:
    assert describe(Demo) == [
        ("ES_NAME", "'demo'", "Service name."),
        ("ES_PORT", "8080", "Listen port."),
        ("ES_RATIO", "0.5", "A ratio."),
        ("ES_DEBUG", "False", "Debug mode."),
        ("ES_HOSTS", "('a', 'b')", "Comma-separated hosts."),
        ("DATABASE_URL", "'sqlite://'", "Database URL."),
    ]


def test_describe_required_and_factory_defaults() -> None:
    @dataclasses.dataclass(frozen=True)
    class Mixed:
        token: str
        tags: list[str] = dataclasses.field(default_factory=lambda: ["x"])

    assert describe(Mixed) == [("ES_TOKEN", "(required)", ""), ("ES_TAGS", "['x']", "")]


def test_setting_metadata() -> None:
    plain, named = dataclasses.fields(Demo)[0], dataclasses.fields(Demo)[-1]
    assert dict(plain.metadata) == {"help": "Service name."}
    assert dict(named.metadata) == {"help": "Database URL.", "env": "DATABASE_URL"}
    assert plain.default == "demo"


def test_json_log_lines_carry_the_event_and_sink_a_record_names() -> None:
    import json
    import logging

    from runtime.logs import formatter

    record = logging.LogRecord("services.delivery.settle", logging.INFO, __file__, 1, "dead %s", ("x",), None)
    record.event_id, record.sink_sid = "EZ1", "DG1"
    line = json.loads(formatter("delivery", "json").format(record))
    assert line["message"] == "dead x" and line["service"] == "delivery" and line["level"] == "INFO"
    assert line["event_id"] == "EZ1" and line["sink_sid"] == "DG1"
    assert "account_sid" not in line  # only what the record has
    plain = formatter("delivery", "text").format(record)
    assert "delivery INFO services.delivery.settle: dead x" in plain
    with pytest.raises(ValueError):
        formatter("delivery", "yaml")
