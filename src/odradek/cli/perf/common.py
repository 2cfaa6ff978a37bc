"""What the perf tools share: client properties (Java names translated to librdkafka's),
Kafka's percentile rule, and importing confluent-kafka with a helpful message."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from odradek.common.client_logs import log_settings
from odradek.common.reachability import BadBootstrap, Unreachable, check
from odradek.config.properties import read_properties
from odradek.security.client_properties import librdkafka_config

EXIT_FAILED = 1  # Kafka's tools exit 1 for bad flags and failed runs alike

# Java client properties as librdkafka settings, translated as every tool's are (a property
# that cannot be honoured is a ValueError naming it).
client_config = librdkafka_config


def parse_props(items: Iterable[str] | None, config_file: Path | None) -> dict[str, str]:
    """``--producer.config FILE`` then ``--producer-props k=v ...`` (which win)."""
    props: dict[str, str] = {}
    if config_file is not None:
        props.update(read_properties(config_file))
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"Invalid property {item!r}: expected PROP-NAME=PROP-VALUE")
        props[key.strip()] = value.strip()
    return props


def percentiles(latencies: list[int], *quantiles: float) -> list[int]:
    """Kafka's rule: sort, then take the element at ``int(q * size)``."""
    values = sorted(latencies)
    if not values:
        return [0 for _ in quantiles]
    return [values[min(int(q * len(values)), len(values) - 1)] for q in quantiles]


def confluent_kafka() -> ModuleType:
    try:
        import confluent_kafka as module
        import confluent_kafka.admin
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "odradek perf needs confluent-kafka, a dependency of odradek: reinstall odradek"
        ) from exc
    return module


def java_date_format(pattern: str) -> str:
    """A SimpleDateFormat pattern without ``SSS`` (``yyyy-MM-dd HH:mm:ss``) as strftime's."""
    replacements = (
        ("yyyy", "%Y"),
        ("yy", "%y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
    )
    result = pattern.replace("%", "%%")
    for java, python in replacements:
        result = result.replace(java, python)
    return result


def format_millis(epoch_ms: float, pattern: str) -> str:
    """``epoch_ms`` in a SimpleDateFormat pattern (``SSS`` is milliseconds)."""
    import datetime

    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000)
    millis = f"{moment.microsecond // 1000:03d}"
    return millis.join(moment.strftime(java_date_format(part)) for part in pattern.split("SSS"))


def with_logs(config: Mapping[str, Any]) -> dict[str, Any]:
    """A librdkafka config with the tools' logging: silent unless --verbose."""
    return {**config, **log_settings(config)}


def reachable(config: Mapping[str, Any], answer_timeout: float = 30.0) -> bool:
    """Fail fast when nothing answers at ``bootstrap.servers`` (one line on stderr)."""
    try:
        check(str(config.get("bootstrap.servers", "")), config, answer_timeout)
    except (Unreachable, BadBootstrap) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return False
    return True


def guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Client errors as one line (``Error: ...``) and exit code 1, not a traceback."""

    def guarded_run(args: argparse.Namespace) -> int:
        kafka = confluent_kafka()
        try:
            return run(args)
        except kafka.KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            text = error.str() if hasattr(error, "str") else str(error)
            print(f"Error: {text}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            return 130

    return guarded_run


def verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose",
        dest="librdkafka_verbose",
        action="store_true",
        help="show librdkafka's log (connection attempts, retries) on stderr",
    )
