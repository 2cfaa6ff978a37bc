"""argparse as the client tools need it: a flag the tool does not know is named (argparse would
first complain that an action such as ``--list`` is missing when ``--lst`` was typed), every
error is one line on stderr, and the client tools exit 1 on bad flags, as Kafka's do (joptsimple's
``lst is not a recognized option`` and ``CommandLineUtils.printUsageAndExit`` both exit 1).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

ARGPARSE_EXIT = 2
KAFKA_USAGE_EXIT = 1


class _Lenient(Exception):
    """Raised by ``error`` while re-parsing without required flags."""


class OdradekParser(argparse.ArgumentParser):
    """``usage_exit`` is 2 (argparse's) unless set to 1 with ``kafka_exit_codes``."""

    usage_exit = ARGPARSE_EXIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_args: list[str] | None = None
        self._lenient = False

    def parse_known_args(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        self._last_args = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and not self._lenient:
            self.error(self._unrecognized(extras))
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        if self._lenient:
            raise _Lenient(message)
        unknown = self._unknown_flags()
        if unknown:
            message = self._unrecognized(unknown)
        self.exit(self.usage_exit, f"{self.prog}: error: {message}\n")

    def _unknown_flags(self) -> list[str]:
        """The arguments nothing accepts, found by parsing again with nothing required (so
        that ``--lst`` is reported rather than the missing ``--list``)."""
        if self._last_args is None:
            return []
        saved = [(item, item.required) for item in _requirables(self)]
        for item, _ in saved:
            item.required = False
        parsers = list(_parsers(self))
        for parser in parsers:
            parser._lenient = True
        try:
            _, extras = super().parse_known_args(self._last_args, None)
        except _Lenient:
            return []
        finally:
            for item, required in saved:
                item.required = required
            for parser in parsers:
                parser._lenient = False
        return extras

    def _unrecognized(self, extras: list[str]) -> str:
        first = extras[0]
        if not first.startswith("-"):
            return f"unexpected argument {first!r}" + (
                f" (and {len(extras) - 1} more)" if len(extras) > 1 else ""
            )
        flag = first.split("=", 1)[0]
        known = [s for s in self._option_string_actions if s.startswith("--")]
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"see {self.prog} --help"
        return f"{flag} is not a recognized option ({hint})"


def _subparser_actions(parser: argparse.ArgumentParser) -> Iterator[Any]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield action


def _parsers(parser: argparse.ArgumentParser) -> Iterator[OdradekParser]:
    """The parser and its sub-command parsers, recursively."""
    if isinstance(parser, OdradekParser):
        yield parser
    for action in _subparser_actions(parser):
        for child in dict.fromkeys(action.choices.values()):
            yield from _parsers(child)


def _requirables(parser: argparse.ArgumentParser) -> Iterator[Any]:
    """Actions and mutually exclusive groups with a ``required`` flag, recursively."""
    yield from parser._actions
    yield from parser._mutually_exclusive_groups
    for action in _subparser_actions(parser):
        for child in dict.fromkeys(action.choices.values()):
            yield from _requirables(child)


def kafka_exit_codes(parser: argparse.ArgumentParser) -> None:
    """Bad flags of ``parser`` and its sub-commands exit 1, as Kafka's tools."""
    for each in _parsers(parser):
        each.usage_exit = KAFKA_USAGE_EXIT
