"""Shared pieces of the client tools: errors and exit codes, Java properties files, client
configs, an AdminClient wrapper with timeouts, and table / JSON output.

Only confluent-kafka, the standard library and the project's Java ``.properties`` parser
(``odradek.config.properties``, no broker code): the tools talk to any Kafka cluster.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from odradek.common import reachability
from odradek.common.client_logs import log_settings, verbose
from odradek.common.internal_topics import INTERNAL_TOPICS as INTERNAL_TOPICS  # re-exported
from odradek.config.properties import parse_properties as parse_properties  # re-exported
from odradek.config.properties import read_properties
from odradek.protocol.client import WireError
from odradek.security.client_properties import ClientConfigError, librdkafka_config

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
# Kafka's tools exit 1 for bad flags too (CommandLineUtils.printUsageAndExit, joptsimple's
# "x is not a recognized option"): scripts written for them test for 1.
EXIT_USAGE = 1

DEFAULT_API_TIMEOUT_MS = 60_000
MISSING = "-"


class ToolError(Exception):
    """A failure to report as ``Error: <message>`` with exit code 1."""


class UsageError(Exception):
    """Bad flags: reported like argparse does (``odradek TOOL: error: ...``), exit code 1 as
    Kafka's tools."""


# -- running a tool ----------------------------------------------------------------------------


def run_tool(name: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """Run ``body`` and turn every expected failure into a message and an exit code."""
    try:
        return body(args)
    except UsageError as exc:
        print(f"odradek {name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (reachability.Unreachable, reachability.BadBootstrap) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (ToolError, WireError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KafkaException as exc:
        print(f"Error: {kafka_message(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # confluent-kafka's checks of a request
        print(f"Error: invalid request: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return _quiet_broken_pipe()
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, the traceback with --verbose
        if verbose():
            traceback.print_exc()
        print(
            f"Error: unexpected {type(exc).__name__}: {exc} (run with --verbose for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _quiet_broken_pipe() -> int:
    """stdout was closed by a reader (``| head``): not an error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


def kafka_error(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


CONNECTION_CODES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._RESOLVE,
    }
)


def error_name(code: int) -> str:
    """A Kafka error code's name as confluent-kafka spells it (``GROUP_ID_NOT_FOUND``)."""
    return str(KafkaError(code).name())


def error_text(code: int) -> str:
    """A Kafka error code's message as confluent-kafka words it."""
    return str(KafkaError(code).str()).removeprefix("Broker: ")


def kafka_message(exc: BaseException) -> str:
    """A readable message for a client exception, with a hint for connection problems."""
    error = kafka_error(exc)
    if error is None:
        return str(exc)
    text = str(error.str())
    if error.code() in CONNECTION_CODES:
        text += f" ({connection_hint()})"
    return text


def connection_hint() -> str:
    """Why a request may have failed, given whether the bootstrap address answered."""
    address = reachability.answered()
    if address is None:
        return "is a broker reachable at the bootstrap servers?"
    return (
        f"the broker at {address} answered, but the request did not complete in time: "
        "a broker it needs, such as the controller or a partition leader, may be down"
    )


def error_code(exc: BaseException) -> int | None:
    error = kafka_error(exc)
    return None if error is None else int(error.code())


# -- properties and client configs -------------------------------------------------------------


def load_properties(path: str | None) -> dict[str, str]:
    """The properties of a ``--command-config`` style file (none for None), parsed by the
    project's one Java ``.properties`` parser."""
    if path is None:
        return {}
    try:
        return read_properties(path)
    except OSError as exc:
        raise ToolError(f"cannot read properties file {path}: {exc.strerror}") from exc


def parse_key_values(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    """``k=v`` items of a repeatable flag (``--config``, ``--property``, ...)."""
    result: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        result[key.strip()] = value
    return result


def client_config(
    bootstrap: str, file_props: Mapping[str, str], props: Mapping[str, str]
) -> dict[str, str]:
    """File properties, then flag properties, then the bootstrap servers (highest), with Java
    client names translated to librdkafka's (``security.client_properties``)."""
    try:
        config = librdkafka_config({**file_props, **props})
    except ClientConfigError as exc:
        raise ToolError(str(exc)) from exc
    return {**config, "bootstrap.servers": bootstrap}


def api_timeout(props: Mapping[str, str], default_ms: int = DEFAULT_API_TIMEOUT_MS) -> float:
    """Seconds to wait for an admin operation: ``default.api.timeout.ms`` as Kafka's tools."""
    raw = props.get("default.api.timeout.ms")
    if raw is None:
        return default_ms / 1000
    try:
        return max(int(raw), 1) / 1000
    except ValueError as exc:
        raise ToolError(f"default.api.timeout.ms must be an integer, got {raw!r}") from exc


def check_reachable(config: Mapping[str, Any], answer_default: float) -> str:
    """Fail fast (one line, exit 1) when nothing answers at ``bootstrap.servers``; the
    address that answered."""
    return reachability.check(str(config.get("bootstrap.servers", "")), config, answer_default)


def require_bootstrap(args: argparse.Namespace) -> str:
    bootstrap: str | None = getattr(args, "bootstrap_server", None)
    if not bootstrap:
        raise UsageError("--bootstrap-server is required")
    return bootstrap


# -- admin client ------------------------------------------------------------------------------


# librdkafka learns a new controller only from a metadata refresh, and an admin client with no
# topics refreshes every 5 minutes: a request sent right after the controller died waited for
# the dead one until it timed out. Kafka's own admin client refreshes on such failures; a
# short refresh interval gives the tools the same recovery (the user's value wins).
ADMIN_DEFAULTS = {"topic.metadata.refresh.interval.ms": "1000"}


class Admin:
    """An AdminClient whose every call waits at most ``timeout`` seconds."""

    def __init__(self, config: dict[str, str], timeout: float) -> None:
        self.timeout = timeout
        self.plaintext = reachability.uses_plaintext(config)
        check_reachable(config, timeout)
        try:
            settings: dict[str, Any] = {**ADMIN_DEFAULTS, **config, **log_settings(config)}
            self.client = AdminClient(settings)
        except KafkaException as exc:
            raise ToolError(f"invalid client configuration: {kafka_message(exc)}") from exc

    @classmethod
    def from_args(cls, args: argparse.Namespace, timeout: float | None = None) -> Admin:
        props = load_properties(getattr(args, "command_config", None))
        seconds = api_timeout(props) if timeout is None else timeout
        return cls(client_config(require_bootstrap(args), props, {}), seconds)

    def wait(self, future: concurrent.futures.Future[T]) -> T:
        try:
            return future.result(self.timeout + 5)
        except concurrent.futures.TimeoutError as exc:
            raise ToolError(
                f"timed out after {self.timeout:g}s waiting for the cluster ({connection_hint()})"
            ) from exc

    def metadata(self, topic: str | None = None) -> Any:
        return self.client.list_topics(topic=topic, timeout=self.timeout)


# -- output ------------------------------------------------------------------------------------


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "output", "table") == "json"


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False, default=str))


def cell(value: object) -> str:
    return MISSING if value is None else str(value)


def format_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], min_width: int = 0
) -> list[str]:
    """Left-aligned columns separated by two spaces (the last one unpadded)."""
    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [max(min_width, len(h)) for h in headers]
    for row in text_rows:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    lines = []
    for row in [list(headers), *text_rows]:
        padded = [v.ljust(w) for v, w in zip(row, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return lines


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], min_width: int = 0
) -> None:
    for line in format_table(headers, rows, min_width):
        print(line)


def topic_matcher(pattern: str | None) -> Callable[[str], bool]:
    """``--topic`` of kafka-topics: a name or a regular expression matching whole names."""
    if pattern is None:
        return lambda _name: True
    try:
        compiled = re.compile(pattern)
    except re.error:
        return lambda name: name == pattern
    return lambda name: name == pattern or compiled.fullmatch(name) is not None


def kafka_uuid(value: object) -> str:
    """librdkafka prints Uuids in standard base64; Kafka's tools use the URL-safe alphabet."""
    text = str(value)
    return text.replace("+", "-").replace("/", "_").rstrip("=")


def parse_int(text: str, what: str, minimum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise UsageError(f"{what} must be an integer, got {text!r}") from exc
    if minimum is not None and value < minimum:
        raise UsageError(f"{what} must be at least {minimum}, got {value}")
    return value


GROUP_STATES = {
    "UNKNOWN": "Unknown",
    "UNKOWN": "Unknown",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "PREPARING_REBALANCE": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "COMPLETING_REBALANCE": "CompletingRebalance",
    "STABLE": "Stable",
    "DEAD": "Dead",
    "EMPTY": "Empty",
    "ASSIGNING": "Assigning",
    "RECONCILING": "Reconciling",
}


def state_name(state: object) -> str:
    """A group state as Kafka's tools print it (``Stable``, ``Empty``, ...)."""
    name = str(getattr(state, "name", state))
    return GROUP_STATES.get(name.upper(), name)
