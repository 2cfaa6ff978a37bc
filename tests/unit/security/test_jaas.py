"""JAAS configuration values: Kafka's grammar, escapes, several modules, errors."""

from __future__ import annotations

import re

import pytest

from odradek.security.jaas import (
    PLAIN_LOGIN_MODULE,
    SCRAM_LOGIN_MODULE,
    JaasConfigError,
    JaasLoginModule,
    parse_jaas_config,
    plain_users,
)

BROKER_PLAIN = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" '
    'user_admin="admin-secret" user_alice="alice-secret";'
)


def test_broker_plain_config() -> None:
    [module] = parse_jaas_config(BROKER_PLAIN)
    assert module.class_name == PLAIN_LOGIN_MODULE
    assert module.flag == "required"
    assert dict(module.options) == {
        "username": "admin",
        "password": "admin-secret",
        "user_admin": "admin-secret",
        "user_alice": "alice-secret",
    }
    assert plain_users(module) == {"admin": "admin-secret", "alice": "alice-secret"}


def test_scram_config_has_no_plain_users() -> None:
    [module] = parse_jaas_config(f'{SCRAM_LOGIN_MODULE} required username="a" password="b";')
    assert module.class_name == SCRAM_LOGIN_MODULE
    with pytest.raises(JaasConfigError, match="PlainLoginModule"):
        plain_users(module)


def test_several_modules_in_order() -> None:
    modules = parse_jaas_config(
        'com.example.First requisite a="1";\n'
        "com.example.Second sufficient;\n"
        "com.example.Third optional b=2 c='3';"
    )
    assert modules == [
        JaasLoginModule("com.example.First", "requisite", {"a": "1"}),
        JaasLoginModule("com.example.Second", "sufficient", {}),
        JaasLoginModule("com.example.Third", "optional", {"b": "2", "c": "3"}),
    ]


@pytest.mark.parametrize(
    ("quoted", "value"),
    [
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\there"', "tab\there"),
        (r'"line\nbreak"', "line\nbreak"),
        (r'"\a\b\f\r\v"', "\a\b\f\r\v"),
        (r'"\q"', "q"),  # any other escaped character stands for itself
        (r'"\101\60\0"', "A0\0"),  # octal: up to three digits
        (r'"\3770"', "\xff0"),  # three digits when the first is 0-3...
        (r'"\400"', " 0"),  # ...else two
        (r"'single \' quote'", "single ' quote"),
        ("'with \"double\" inside'", 'with "double" inside'),
        ('"a;b=c /d"', "a;b=c /d"),  # separators and comment starts are plain in quotes
        ('""', ""),
        ('"ünïcödé"', "ünïcödé"),
    ],
)
def test_quoted_values_and_escapes(quoted: str, value: str) -> None:
    [module] = parse_jaas_config(f"M required key={quoted};")
    assert module.options == {"key": value}


def test_bare_words_and_no_whitespace_between_tokens() -> None:
    [module] = parse_jaas_config('M required a=1 b=x.y-z:9 c="2"d="3"  ;')
    assert module.options == {"a": "1", "b": "x.y-z:9", "c": "2", "d": "3"}


def test_flag_is_case_insensitive() -> None:
    [module] = parse_jaas_config("M REQUIRED;")
    assert module.flag == "required"


def test_comments_and_whitespace() -> None:
    text = (
        "// leading comment\n"
        "M /* inline */ required\n"
        '\tuser_a="1" // trailing comment; user_b="2"\n'
        "  user_c='3'\r\n"
        ";"
    )
    [module] = parse_jaas_config(text)
    assert module.options == {"user_a": "1", "user_c": "3"}


def test_repeated_option_last_wins() -> None:
    [module] = parse_jaas_config(f'{PLAIN_LOGIN_MODULE} required user_a="old" user_a="new";')
    assert plain_users(module) == {"a": "new"}


def test_options_are_read_only() -> None:
    [module] = parse_jaas_config("M required a=1;")
    with pytest.raises(TypeError):
        module.options["a"] = "2"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no login module"),
        ("  // only a comment\n", "no login module"),
        ("M", "no control flag after login module M"),
        ("M;", "no control flag after login module M"),
        ("M mandatory;", "invalid control flag 'mandatory'"),
        ("M required a=1", "does not end with ';'"),
        ('M required a="1"; N optional', "login module N does not end with ';'"),
        ("M required a;", "no value for option 'a'"),
        ("M required a=;", "no value for option 'a'"),
        ("M required a==1;", "no value for option 'a'"),
        ("M required a", "no value for option 'a'"),
        ("M required =1;", "expected an option name at position 11"),
        ("; M required;", "expected a login module class at position 0"),
        ('M required a="open;', "quoted value at position 13 is not closed"),
        ('M required a="line\nbreak";', "not closed on its line"),
        ('M required a="trailing backslash\\', "not closed"),
        ("M required a=\x85;", "unexpected character '\\x85' at position 13"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(JaasConfigError, match=re.escape(message)):
        parse_jaas_config(text)


def test_error_is_a_value_error() -> None:
    assert issubclass(JaasConfigError, ValueError)
