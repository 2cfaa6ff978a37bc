"""ssl.principal.mapping.rules (KIP-371): parsing the rules and mapping subject names."""

from __future__ import annotations

import pytest

from odradek.common.principal import USER_TYPE, KafkaPrincipal
from odradek.security.principal_mapping import (
    DEFAULT_SSL_PRINCIPAL_MAPPING_RULES,
    NoMatchingRuleError,
    SslPrincipalMapper,
)

# The example rules of Kafka's documentation (security, "Customizing SSL User Name").
DOCUMENTED_RULES = (
    "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
    "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
    "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,"
    "DEFAULT"
)


def rule_texts(rules: str) -> list[str]:
    return [rule.text for rule in SslPrincipalMapper.from_rules(rules).rules]


def test_documented_examples() -> None:
    mapper = SslPrincipalMapper.from_rules(DOCUMENTED_RULES)
    service = "CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
    admin = "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
    assert mapper.name(service) == "serviceuser"
    assert mapper.name(admin) == "adminuser@admin"
    assert KafkaPrincipal(USER_TYPE, mapper.name(admin)) == KafkaPrincipal(
        "User", "adminuser@admin"
    )


def test_upper_case_suffix() -> None:
    mapper = SslPrincipalMapper.from_rules(
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U"
    )
    admin = "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
    assert mapper.name(admin) == "ADMINUSER@ADMIN"


def test_lower_case_suffix_and_first_matching_rule_wins() -> None:
    mapper = SslPrincipalMapper.from_rules(
        "RULE:^CN=([^,]+),OU=Robots.*$/bot-$1/L, RULE:^CN=([^,]+).*$/$1/, DEFAULT"
    )
    assert mapper.name("CN=R2D2,OU=Robots,O=Rebels") == "bot-r2d2"
    assert mapper.name("CN=Leia,OU=Royals,O=Rebels") == "Leia"


def test_default_falls_back_to_the_whole_name() -> None:
    mapper = SslPrincipalMapper.from_rules(DOCUMENTED_RULES)
    assert mapper.name("OU=NoCommonName,O=Example,C=US") == "OU=NoCommonName,O=Example,C=US"
    default = SslPrincipalMapper.from_rules(DEFAULT_SSL_PRINCIPAL_MAPPING_RULES)
    assert default.name("CN=alice,OU=eng,O=Example,C=US") == "CN=alice,OU=eng,O=Example,C=US"


def test_no_matching_rule() -> None:
    mapper = SslPrincipalMapper.from_rules("RULE:^CN=([^,]+),OU=Robots.*$/$1/")
    with pytest.raises(NoMatchingRuleError, match="CN=alice"):
        mapper.name("CN=alice,OU=People")
    with pytest.raises(NoMatchingRuleError):
        SslPrincipalMapper.from_rules("").name("CN=alice")
    assert issubclass(NoMatchingRuleError, ValueError)


def test_a_rule_applies_only_when_its_pattern_matches_the_whole_name() -> None:
    mapper = SslPrincipalMapper.from_rules("RULE:CN=([^,]+)/$1/,DEFAULT")
    assert mapper.name("CN=alice") == "alice"
    assert mapper.name("CN=alice,O=Example") == "CN=alice,O=Example"


def test_every_match_is_replaced_as_javas_replace_all_does() -> None:
    # ".*" matches "CN=a" and then the empty string at its end: String.replaceAll gives "XX".
    assert SslPrincipalMapper.from_rules("RULE:.*/X/").name("CN=a") == "XX"
    mapper = SslPrincipalMapper.from_rules(r"RULE:(?:[A-Z]+=([^,]*),?)+/$1/")
    assert mapper.name("CN=alice,O=Example") == "Example"


def test_splitting_spaces_and_empty_entries() -> None:
    assert rule_texts("") == []
    assert rule_texts(" , ,, ") == []
    assert rule_texts("  RULE:a/b/ ,  DEFAULT  ") == ["RULE:a/b/", "DEFAULT"]
    assert rule_texts(",,RULE://,,DEFAULT,,") == ["RULE://", "DEFAULT"]
    # Spaces inside a pattern or replacement are theirs.
    assert rule_texts("RULE:  x /  y  /U , DEFAULT") == ["RULE:  x /  y  /U", "DEFAULT"]


def test_commas_and_keywords_inside_a_rule_do_not_split_it() -> None:
    rules = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, RULE:, DEFAULT,/DEFAULT/,DEFAULT"
    assert rule_texts(rules) == [
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
        "RULE:, DEFAULT,/DEFAULT/",
        "DEFAULT",
    ]


def test_escaped_slashes_and_backslashes() -> None:
    mapper = SslPrincipalMapper.from_rules(r"RULE:^CN=([^\/]*)\/(.*)$/$1\/$2/")
    assert mapper.name("CN=team/alice") == "team/alice"
    # An escaped comma inside a name, as Java writes it: "Doe\, Jane".
    mapper = SslPrincipalMapper.from_rules(r"RULE:^CN=((?:\\,|[^,])+)(,.*|$)/$1/,DEFAULT")
    assert mapper.name(r"CN=Doe\, Jane,OU=eng") == r"Doe\, Jane"


def test_replacement_syntax() -> None:
    three_groups = r"RULE:^CN=(\w+),OU=(\w+),O=(\w+)$"
    dn = "CN=alice,OU=eng,O=Example"
    assert (
        SslPrincipalMapper.from_rules(three_groups + "/$3-$2-$1/").name(dn) == "Example-eng-alice"
    )
    # Past the last group, $n is text (Kafka escapes it).
    assert SslPrincipalMapper.from_rules(three_groups + "/$1@$4/").name(dn) == "alice@$4"
    # $12 with three groups is group 1 and a "2", as in Java.
    assert SslPrincipalMapper.from_rules(three_groups + "/$12/").name(dn) == "alice2"
    assert SslPrincipalMapper.from_rules(three_groups + r"/\$1 $0/").name(dn) == f"$1 {dn}"
    assert SslPrincipalMapper.from_rules("RULE:CN=.*/$0!/").name("CN=x") == "CN=x!"


@pytest.mark.parametrize(
    "rules",
    [
        "default",
        "DEFAUL",
        "DEFAULT/L",
        "DEFAULT/U",
        "rule:^CN=(.*?)$/$1/",
        "RULE:^CN=(.*?)$/$1",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
        "RULE:^CN=(.*?)$/$1/L/U",
        "RULE:^CN=(.*?)$/$1/LU",
        "RULE:^CN=(.*?)$/$1/X",
        "DEFAULT, RULE:x/y",
    ],
)
def test_invalid_rules(rules: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid ssl\.principal\.mapping\.rules at"):
        SslPrincipalMapper.from_rules(rules)


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ("RULE:^CN=(.*$/$1/", "not a valid regular expression"),
        ("RULE:^CN=(.*)$/$/", "not followed by a group number"),
        ("RULE:^CN=(.*)$/${name}/", "not followed by a group number"),
        ("RULE:^CN=.*$/$1/", "refers to group 1, but the pattern has no groups"),
    ],
)
def test_invalid_patterns_and_replacements(rules: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SslPrincipalMapper.from_rules(rules)
