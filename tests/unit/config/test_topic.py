"""Topic config overrides: names, values, list values."""

from __future__ import annotations

import pytest

from odradek.common.errors import InvalidConfigError
from odradek.config.topic import TOPIC_CONFIG_DEFS, effective_log_config, validate_topic_configs


def test_valid_overrides_are_parsed() -> None:
    parsed = validate_topic_configs(
        {
            "retention.ms": "1000",
            "segment.bytes": "1048576",
            "cleanup.policy": "compact",
            "message.timestamp.type": "LogAppendTime",
            "min.cleanable.dirty.ratio": "0.25",
            "preallocate": "true",
        }
    )
    assert parsed == {
        "retention.ms": 1000,
        "segment.bytes": 1_048_576,
        "cleanup.policy": ["compact"],
        "message.timestamp.type": "LogAppendTime",
        "min.cleanable.dirty.ratio": 0.25,
        "preallocate": True,
    }


def test_unknown_name_is_rejected() -> None:
    with pytest.raises(InvalidConfigError, match=r"retention\.msx"):
        validate_topic_configs({"retention.msx": "1"})


def test_broker_only_name_is_not_a_topic_config() -> None:
    with pytest.raises(InvalidConfigError):
        validate_topic_configs({"log.retention.ms": "1"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("retention.ms", "forever"),
        ("retention.ms", "-2"),
        ("segment.bytes", "10"),
        ("segment.bytes", str(2**31)),
        ("cleanup.policy", "bogus"),
        ("cleanup.policy", "compact,bogus"),
        ("compression.type", "brotli"),
        ("message.timestamp.type", "logappendtime"),
        ("min.cleanable.dirty.ratio", "1.5"),
        ("preallocate", "maybe"),
    ],
)
def test_bad_value_is_rejected(name: str, value: str) -> None:
    with pytest.raises(InvalidConfigError, match=name.replace(".", r"\.")):
        validate_topic_configs({name: value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("delete", ["delete"]),
        ("compact,delete", ["compact", "delete"]),
        ("compact, delete", ["compact", "delete"]),
        ("delete,compact", ["delete", "compact"]),
    ],
)
def test_cleanup_policy_list(value: str, expected: list[str]) -> None:
    assert validate_topic_configs({"cleanup.policy": value}) == {"cleanup.policy": expected}


def test_compact_property_of_log_config() -> None:
    defaults = {name: d.default for name, d in TOPIC_CONFIG_DEFS.items()}
    config = effective_log_config(
        defaults, validate_topic_configs({"cleanup.policy": "compact,delete"})
    )
    assert config.compact
    assert not effective_log_config(defaults, {}).compact


@pytest.mark.parametrize("codec", ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"])
def test_compression_types(codec: str) -> None:
    assert validate_topic_configs({"compression.type": codec}) == {"compression.type": codec}


@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "retention.ms",
            "abc",
            "Invalid value abc for configuration retention.ms: Not a number of type LONG",
        ),
        (
            "segment.bytes",
            "1_048_576",
            "Invalid value 1_048_576 for configuration segment.bytes: Not a number of type INT",
        ),
        (
            "segment.bytes",
            "4294967296",
            "Invalid value 4294967296 for configuration segment.bytes: Not a number of type INT",
        ),
        (
            "min.cleanable.dirty.ratio",
            "half",
            "Invalid value half for configuration "
            "min.cleanable.dirty.ratio: Not a number of type "
            "DOUBLE",
        ),
        ("min.cleanable.dirty.ratio", "inf", "Not a number of type DOUBLE"),
        (
            "min.cleanable.dirty.ratio",
            "2",
            "Invalid value 2.0 for configuration "
            "min.cleanable.dirty.ratio: Value must be no more than 1",
        ),
        ("min.cleanable.dirty.ratio", "-1", "Value must be at least 0"),
        (
            "preallocate",
            "yes",
            "Invalid value yes for configuration preallocate: Expected value to "
            "be either true or false",
        ),
        (
            "retention.ms",
            "-2",
            "Invalid value -2 for configuration retention.ms: Value must be at least -1",
        ),
        (
            "cleanup.policy",
            "bogus",
            "Invalid value bogus for configuration cleanup.policy: String "
            "must be one of: delete, compact",
        ),
    ],
)
def test_bad_values_are_reported_in_kafkas_words(name: str, value: str, message: str) -> None:
    """ConfigDef's messages, not Python's (``invalid literal for int() with base 10``)."""
    with pytest.raises(InvalidConfigError) as raised:
        validate_topic_configs({name: value})
    assert message in str(raised.value)
    assert "invalid literal" not in str(raised.value)
    assert "could not convert" not in str(raised.value)


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("retention.ms", " +42 ", 42),
        ("min.cleanable.dirty.ratio", "1e-1", 0.1),
        ("min.cleanable.dirty.ratio", ".5", 0.5),
        ("preallocate", "TRUE", True),
    ],
)
def test_values_java_accepts_are_accepted(name: str, value: str, expected: object) -> None:
    assert validate_topic_configs({name: value})[name] == expected
