"""Kafka's topic name rules (Kafka's Topic.validate)."""

from __future__ import annotations

import re

from odradek.common.errors import InvalidTopicError

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"[a-zA-Z0-9._-]+")


def validate_topic_name(name: str | None) -> str:
    if not name:
        raise InvalidTopicError("Topic name is illegal, it can't be empty")
    if name in (".", ".."):
        raise InvalidTopicError('Topic name cannot be "." or ".."')
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidTopicError(
            f"Topic name is illegal, it can't be longer than "
            f"{MAX_NAME_LENGTH} characters, topic name: {name}"
        )
    if not _LEGAL.fullmatch(name):
        raise InvalidTopicError(
            f"Topic name {name} is illegal, it contains a character other "
            "than ASCII alphanumerics, '.', '_' and '-'"
        )
    return name


def collision_key(name: str) -> str:
    """Topics whose names differ only in '.' versus '_' collide in metric names."""
    return name.replace(".", "_")
