"""Kafka's JAAS configuration values (``sasl.jaas.config``, also with the
``listener.name.<l>.<mechanism>.`` prefix): login modules with a control flag and options.

The grammar is the one Kafka's JaasConfig tokenizes::

    <LoginModuleClass> <flag> (<name>=<value>)* ;   (repeated)

Names and values are bare words or quoted with ``"`` or ``'`` (backslash escapes as in Java's
StreamTokenizer: ``\\n``, ``\\t``, octal ``\\123``, any other character stands for itself);
``//``, ``/`` and ``/* */`` start comments; the flag is matched case-insensitively."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, NamedTuple

PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
CONTROL_FLAGS = ("required", "requisite", "sufficient", "optional")
USER_OPTION_PREFIX = "user_"  # PlainLoginModule: user_<name>="<password>"

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_OCTAL = "01234567"


class JaasConfigError(ValueError):
    """A JAAS configuration value that does not parse."""


@dataclass(frozen=True)
class JaasLoginModule:
    """One login module entry: its class, control flag (lower case) and options."""

    class_name: str
    flag: str
    options: Mapping[str, str]


class _Token(NamedTuple):
    kind: Literal["word", "quoted", ";", "="]
    text: str
    position: int

    @property
    def is_string(self) -> bool:
        return self.kind in ("word", "quoted")


def parse_jaas_config(text: str) -> list[JaasLoginModule]:
    """The login modules of a JAAS configuration value, in order."""
    tokens = list(_tokenize(text))
    modules: list[JaasLoginModule] = []
    index = 0
    while index < len(tokens):
        module, index = _parse_module(tokens, index)
        modules.append(module)
    if not modules:
        raise JaasConfigError("no login module in the JAAS configuration")
    return modules


def plain_users(module: JaasLoginModule) -> dict[str, str]:
    """The users and passwords a PlainLoginModule entry declares (its ``user_<name>`` options)."""
    if module.class_name != PLAIN_LOGIN_MODULE:
        raise JaasConfigError(
            f"users are declared by {PLAIN_LOGIN_MODULE}, not {module.class_name}"
        )
    prefix = len(USER_OPTION_PREFIX)
    return {
        key[prefix:]: value
        for key, value in module.options.items()
        if key.startswith(USER_OPTION_PREFIX)
    }


# -- parsing ---------------------------------------------------------------------------------


def _parse_module(tokens: list[_Token], index: int) -> tuple[JaasLoginModule, int]:
    head = tokens[index]
    if not head.is_string:
        raise JaasConfigError(f"expected a login module class at position {head.position}")
    if index + 1 >= len(tokens) or not tokens[index + 1].is_string:
        raise JaasConfigError(f"no control flag after login module {head.text}")
    flag = tokens[index + 1].text.lower()
    if flag not in CONTROL_FLAGS:
        raise JaasConfigError(
            f"invalid control flag {tokens[index + 1].text!r} for login module {head.text}: "
            f"expected one of {', '.join(CONTROL_FLAGS)}"
        )
    options: dict[str, str] = {}
    index += 2
    while index < len(tokens) and tokens[index].kind != ";":
        key, value = _option(tokens, index)
        options[key] = value  # a repeated option: the last one counts, as in Kafka
        index += 3
    if index >= len(tokens):
        raise JaasConfigError(f"the entry of login module {head.text} does not end with ';'")
    return JaasLoginModule(head.text, flag, MappingProxyType(options)), index + 1


def _option(tokens: list[_Token], index: int) -> tuple[str, str]:
    key = tokens[index]
    if not key.is_string:
        raise JaasConfigError(f"expected an option name at position {key.position}")
    rest = tokens[index + 1 : index + 3]
    if len(rest) < 2 or rest[0].kind != "=" or not rest[1].is_string:
        raise JaasConfigError(f"no value for option {key.text!r} (expected {key.text}=<value>)")
    return key.text, rest[1].text


# -- tokenizing ------------------------------------------------------------------------------


def _tokenize(text: str) -> Iterator[_Token]:
    index = 0
    while index < len(text):
        char = text[index]
        if char <= " ":
            index += 1
        elif char == "/":
            index = _skip_comment(text, index)
        elif char in ";=":
            yield _Token(";" if char == ";" else "=", char, index)
            index += 1
        elif char in "\"'":
            value, end = _read_quoted(text, index)
            yield _Token("quoted", value, index)
            index = end
        elif _is_word_char(char):
            end = index + 1
            while end < len(text) and _is_word_char(text[end]):
                end += 1
            yield _Token("word", text[index:end], index)
            index = end
        else:
            raise JaasConfigError(f"unexpected character {char!r} at position {index}")


def _is_word_char(char: str) -> bool:
    code = ord(char)
    return code > 0x20 and char not in ";=\"'/" and not 0x81 <= code <= 0x9F


def _skip_comment(text: str, index: int) -> int:
    """The index after the comment at ``index``: ``/* ... */``, else to the end of the line."""
    if text.startswith("/*", index):
        end = text.find("*/", index + 2)
        return len(text) if end < 0 else end + 2
    while index < len(text) and text[index] not in "\r\n":
        index += 1
    return index


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The value of the quoted string at ``start`` and the index after its closing quote."""
    quote = text[start]
    chars: list[str] = []
    index = start + 1
    while index < len(text) and text[index] not in "\r\n":
        char = text[index]
        if char == quote:
            return "".join(chars), index + 1
        if char == "\\" and index + 1 < len(text):
            char, index = _escape(text, index + 1)
        else:
            index += 1
        chars.append(char)
    raise JaasConfigError(f"quoted value at position {start} is not closed on its line")


def _escape(text: str, index: int) -> tuple[str, int]:
    """The character a backslash escape stands for (``index``: after the backslash)."""
    char = text[index]
    if char not in _OCTAL:
        return _ESCAPES.get(char, char), index + 1
    digits = 3 if char <= "3" else 2  # \377 is the largest three-digit escape
    end = index + 1
    while end < len(text) and end - index < digits and text[end] in _OCTAL:
        end += 1
    return chr(int(text[index:end], 8)), end
