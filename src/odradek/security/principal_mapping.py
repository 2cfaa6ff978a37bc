"""Kafka's ``ssl.principal.mapping.rules`` (KIP-371): the name a TLS client's principal gets
from the subject distinguished name of its certificate.

The rules are comma separated and tried in order; the first that applies names the principal:

* ``DEFAULT``: the distinguished name itself.
* ``RULE:pattern/replacement/`` with an optional ``L`` or ``U`` after the last slash (lower or
  upper case the result): applies when ``pattern`` matches the whole name; the result is the name
  with every match of ``pattern`` replaced by ``replacement`` (Java's ``String.replaceAll``).
  A ``/`` or ``\\`` inside pattern or replacement is written with a backslash before it.

Patterns are Python regular expressions, which read the usual rules (groups, classes, anchors,
lazy quantifiers) as Java does; a pattern Python cannot compile is an invalid rule. In a
replacement, ``$n`` is group ``n`` and ``\\x`` a literal ``x``, as in Java; as in Kafka, ``$n``
past the pattern's last group is literal text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SSL_PRINCIPAL_MAPPING_RULES_CONFIG = "ssl.principal.mapping.rules"
DEFAULT_SSL_PRINCIPAL_MAPPING_RULES = "DEFAULT"

_RULE = re.compile(r"RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?)")
_END_OF_RULE = re.compile(r"\s*(?:,|\Z)")

ReplacementPart = str | int
"""Literal text, or the number of the group whose text goes there."""


class NoMatchingRuleError(ValueError):
    """No rule applies to a distinguished name (Kafka's ``NoMatchingRule``): the client cannot
    be given a principal, so its authentication fails."""


@dataclass(frozen=True, slots=True)
class SslPrincipalMappingRule:
    """One parsed rule; ``pattern`` is None for ``DEFAULT``."""

    text: str
    pattern: re.Pattern[str] | None = None
    replacement: tuple[ReplacementPart, ...] = ()
    case: str = ""  # "", "L" (lower case the result) or "U" (upper case it)

    def apply(self, distinguished_name: str) -> str | None:
        """The mapped name, or None when this rule does not apply."""
        if self.pattern is None:
            return distinguished_name
        if self.pattern.fullmatch(distinguished_name) is None:
            return None
        result = self.pattern.sub(self._expand, distinguished_name)
        if self.case == "L":
            return result.lower()
        if self.case == "U":
            return result.upper()
        return result

    def _expand(self, match: re.Match[str]) -> str:
        return "".join(
            part if isinstance(part, str) else (match.group(part) or "")
            for part in self.replacement
        )


class SslPrincipalMapper:
    """Maps subject distinguished names to principal names with a list of rules."""

    def __init__(self, rules: tuple[SslPrincipalMappingRule, ...]) -> None:
        self.rules = rules

    @classmethod
    def from_rules(cls, rules: str) -> SslPrincipalMapper:
        """Parses ``ssl.principal.mapping.rules``; an invalid rule raises ValueError. Empty
        entries are skipped, so ``""`` gives a mapper with no rules, which maps nothing."""
        return cls(tuple(_parse_rules(rules)))

    def name(self, distinguished_name: str) -> str:
        """The principal name for ``distinguished_name``; NoMatchingRuleError if no rule
        applies."""
        for rule in self.rules:
            mapped = rule.apply(distinguished_name)
            if mapped is not None:
                return mapped
        raise NoMatchingRuleError(
            f"No ssl.principal.mapping.rules rule applies to {distinguished_name!r} "
            f"(rules: {', '.join(rule.text for rule in self.rules) or 'none'})"
        )

    def __repr__(self) -> str:
        return f"SslPrincipalMapper(rules=[{', '.join(rule.text for rule in self.rules)}])"


def _parse_rules(rules: str) -> list[SslPrincipalMappingRule]:
    text = rules.strip()
    parsed: list[SslPrincipalMappingRule] = []
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith(",", pos):
            pos += 1  # an empty rule
            continue
        if text.startswith("DEFAULT", pos):
            end = _END_OF_RULE.match(text, pos + len("DEFAULT"))
            if end is not None:
                parsed.append(SslPrincipalMappingRule("DEFAULT"))
                pos = end.end()
                continue
        rule = _RULE.match(text, pos)
        end = _END_OF_RULE.match(text, rule.end()) if rule is not None else None
        if rule is None or end is None:
            raise ValueError(
                f"Invalid {SSL_PRINCIPAL_MAPPING_RULES_CONFIG} at {text[pos:]!r}: expected "
                "DEFAULT or RULE:pattern/replacement/ with an optional L or U after the last "
                "slash, rules separated by commas"
            )
        parsed.append(_rule(rule))
        pos = end.end()
    return parsed


def _rule(match: re.Match[str]) -> SslPrincipalMappingRule:
    text = match.group(0)
    pattern_text, replacement_text, case = match.group(1, 2, 3)
    try:
        pattern = re.compile(pattern_text)
    except re.error as exc:
        raise ValueError(
            f"Invalid rule {text!r} in {SSL_PRINCIPAL_MAPPING_RULES_CONFIG}: "
            f"{pattern_text!r} is not a valid regular expression ({exc})"
        ) from None
    try:
        replacement = _replacement(replacement_text, pattern.groups)
    except ValueError as exc:
        raise ValueError(
            f"Invalid rule {text!r} in {SSL_PRINCIPAL_MAPPING_RULES_CONFIG}: replacement "
            f"{replacement_text!r} {exc}"
        ) from None
    return SslPrincipalMappingRule(text, pattern, replacement, case)


def _replacement(text: str, groups: int) -> tuple[ReplacementPart, ...]:
    """A replacement in Java's syntax, as parts; ``groups`` is the pattern's group count."""
    parts: list[ReplacementPart] = []
    literal: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\":  # the rule grammar pairs each backslash with the next character
            literal.append(text[pos + 1])
            pos += 2
        elif char == "$":
            group, pos = _group_reference(text, pos + 1, groups)
            if group is None:
                literal.append("$")
            else:
                parts.extend(("".join(literal), group))
                literal.clear()
        else:
            literal.append(char)
            pos += 1
    parts.append("".join(literal))
    return tuple(part for part in parts if part != "")


def _group_reference(text: str, pos: int, groups: int) -> tuple[int | None, int]:
    """The group a ``$`` before ``text[pos]`` refers to and where the reference ends; None
    (a literal ``$``) when Kafka treats it as text: a group past the pattern's last one."""
    end = pos
    while end < len(text) and text[end] in "0123456789":
        end += 1
    number = text[pos:end]
    if not number:
        raise ValueError(r"has a $ not followed by a group number (write \$ for a literal $)")
    first = int(number[0])
    if groups > 0 and first > groups:
        return None, pos  # Kafka escapes the $; the digits follow as text
    if first > groups:
        raise ValueError(f"refers to group {first}, but the pattern has no groups")
    # As Java does: the longest run of digits that still names a group.
    group, used = first, 1
    while used < len(number) and group * 10 + int(number[used]) <= groups:
        group = group * 10 + int(number[used])
        used += 1
    return group, pos + used
