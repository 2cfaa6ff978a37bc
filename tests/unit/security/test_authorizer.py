"""The ACL authorizer's decisions, Kafka's AclAuthorizer semantics: super users, DENY over
ALLOW, wildcards, implied operations, literal/prefixed/``*`` patterns, allow-everyone, the
authorized-operations bitfield and authorizeByResourceType; and its indexes kept right as
ACLs come and go."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odradek.common.errors import ConfigError
from odradek.common.principal import KafkaPrincipal
from odradek.security.acl import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from odradek.security.authorizer import AclAuthorizer, parse_super_users

RT, PT, OP, PERM = ResourceType, PatternType, AclOperation, AclPermissionType
ALLOW, DENY = PERM.ALLOW, PERM.DENY
ALICE = KafkaPrincipal("User", "alice")
BOB = KafkaPrincipal("User", "bob")
HOST = "10.0.0.1"


def acl(
    name: str,
    op: AclOperation = OP.READ,
    perm: AclPermissionType = ALLOW,
    principal: str = "User:alice",
    host: str = "*",
    *,
    prefixed: bool = False,
    rt: ResourceType = RT.TOPIC,
) -> AclBinding:
    pattern_type = PT.PREFIXED if prefixed else PT.LITERAL
    return AclBinding(
        ResourcePattern(rt, name, pattern_type), AccessControlEntry(principal, host, op, perm)
    )


def authorizer(
    *bindings: AclBinding, allow_if_none: bool = False, supers: tuple[str, ...] = ()
) -> AclAuthorizer:
    auth = AclAuthorizer(supers, allow_if_none)
    auth.add(bindings)
    return auth


def can(
    auth: AclAuthorizer,
    op: AclOperation,
    name: str,
    who: KafkaPrincipal = ALICE,
    host: str = HOST,
    rt: ResourceType = RT.TOPIC,
) -> bool:
    return auth.authorize(who, host, op, rt, name)


# --- super.users ---


def test_parse_super_users() -> None:
    assert parse_super_users("User:alice;User:bob") == {"User:alice", "User:bob"}
    assert parse_super_users(" User:alice ; User:CN=bob,O=org ;") == {
        "User:alice",
        "User:CN=bob,O=org",
    }
    assert parse_super_users("") == frozenset()
    assert parse_super_users(None) == frozenset()
    assert parse_super_users("User:") == {"User:"}


@pytest.mark.parametrize("text", ["alice", "User:alice;bob", "User:a;;User:b", "User:a; "])
def test_parse_super_users_refuses_what_kafka_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match="principalType:principalName"):
        parse_super_users(text)


def test_super_users_may_do_anything_despite_deny() -> None:
    auth = authorizer(
        acl("*", OP.ALL, DENY, "User:*"),
        supers=tuple(parse_super_users("User:alice")),
    )
    assert can(auth, OP.WRITE, "t")
    assert can(auth, OP.CLUSTER_ACTION, "kafka-cluster", rt=RT.CLUSTER)
    assert not can(auth, OP.WRITE, "t", who=BOB)
    assert not can(auth, OP.READ, "t", who=KafkaPrincipal("Group", "alice"))


# --- no ACLs ---


@pytest.mark.parametrize("allow_if_none", [True, False])
def test_no_acls_means_allow_everyone_if_no_acl_found(allow_if_none: bool) -> None:
    auth = authorizer(allow_if_none=allow_if_none)
    assert can(auth, OP.WRITE, "t") is allow_if_none
    assert can(auth, OP.ALTER, "kafka-cluster", rt=RT.CLUSTER) is allow_if_none


def test_no_acl_found_is_per_resource_across_principals() -> None:
    # An ACL for bob on topic t means t has ACLs: alice is then judged by them (none match),
    # not by allow.everyone.if.no.acl.found. Other topics still have none.
    auth = authorizer(acl("t", OP.READ, ALLOW, "User:bob"), allow_if_none=True)
    assert not can(auth, OP.READ, "t")
    assert can(auth, OP.READ, "t", who=BOB)
    assert can(auth, OP.READ, "u")
    # ACLs of another resource type or on a non-matching prefix do not count.
    assert can(auth, OP.READ, "t", rt=RT.GROUP)
    auth.add([acl("x", prefixed=True)])
    assert can(auth, OP.READ, "u")
    # A prefix pattern that applies does count, whoever it names.
    auth.add([acl("u", OP.WRITE, DENY, "User:carol", prefixed=True)])
    assert not can(auth, OP.READ, "u")


def test_a_deny_alone_still_counts_as_an_acl() -> None:
    auth = authorizer(acl("t", OP.WRITE, DENY, "User:bob"), allow_if_none=True)
    assert not can(auth, OP.READ, "t")


# --- matching ---


def test_allow_matches_principal_host_and_operation() -> None:
    auth = authorizer(acl("t", OP.READ, ALLOW, "User:alice", HOST))
    assert can(auth, OP.READ, "t")
    assert not can(auth, OP.READ, "t", host="10.0.0.2")
    assert not can(auth, OP.READ, "t", who=BOB)
    assert not can(auth, OP.READ, "t", who=KafkaPrincipal("Group", "alice"))
    assert not can(auth, OP.WRITE, "t")


def test_deny_wins_over_allow() -> None:
    auth = authorizer(acl("t", OP.READ, ALLOW), acl("t", OP.READ, DENY, host=HOST))
    assert not can(auth, OP.READ, "t")
    assert can(auth, OP.READ, "t", host="10.0.0.2")


def test_deny_on_wildcard_principal_and_host_beats_a_specific_allow() -> None:
    auth = authorizer(acl("t", OP.WRITE, ALLOW, host=HOST), acl("t", OP.WRITE, DENY, "User:*"))
    assert not can(auth, OP.WRITE, "t")


def test_wildcard_principal_and_host() -> None:
    auth = authorizer(acl("t", OP.READ, ALLOW, "User:*", "*"))
    assert can(auth, OP.READ, "t")
    assert can(auth, OP.READ, "t", who=BOB, host="192.168.1.1")
    # Kafka's wildcard is the string User:*, and it matches principals of every type.
    assert can(auth, OP.READ, "t", who=KafkaPrincipal("Group", "ops"))
    assert not can(auth, OP.READ, "u")


def test_all_matches_every_operation_both_ways() -> None:
    auth = authorizer(acl("t", OP.ALL, ALLOW), acl("u", OP.ALL, ALLOW), acl("u", OP.ALL, DENY))
    for op in (OP.READ, OP.WRITE, OP.DESCRIBE, OP.ALTER_CONFIGS, OP.DELETE):
        assert can(auth, op, "t")
        assert not can(auth, op, "u")


def test_deny_all_beats_allow_of_one_operation() -> None:
    auth = authorizer(acl("t", OP.READ, ALLOW), acl("t", OP.ALL, DENY))
    assert not can(auth, OP.READ, "t")


# --- implied operations ---


@pytest.mark.parametrize("op", [OP.READ, OP.WRITE, OP.DELETE, OP.ALTER, OP.DESCRIBE])
def test_allow_of_these_implies_describe(op: AclOperation) -> None:
    assert can(authorizer(acl("t", op)), OP.DESCRIBE, "t")


@pytest.mark.parametrize(
    "op", [OP.CREATE, OP.ALTER_CONFIGS, OP.DESCRIBE_CONFIGS, OP.IDEMPOTENT_WRITE]
)
def test_other_operations_do_not_imply_describe(op: AclOperation) -> None:
    assert not can(authorizer(acl("t", op)), OP.DESCRIBE, "t")


def test_alter_configs_implies_describe_configs_only() -> None:
    auth = authorizer(acl("t", OP.ALTER_CONFIGS))
    assert can(auth, OP.DESCRIBE_CONFIGS, "t")
    assert not can(auth, OP.DESCRIBE, "t")
    assert not can(authorizer(acl("t", OP.ALTER)), OP.DESCRIBE_CONFIGS, "t")


def test_implication_is_one_way() -> None:
    auth = authorizer(acl("t", OP.DESCRIBE), acl("c", OP.DESCRIBE_CONFIGS))
    assert not can(auth, OP.READ, "t")
    assert not can(auth, OP.ALTER_CONFIGS, "c")
    assert not can(authorizer(acl("t", OP.READ)), OP.WRITE, "t")


def test_deny_does_not_imply() -> None:
    # Only ALLOW implies: DENY READ leaves DESCRIBE to the ALLOWs (Kafka's AclOperation).
    auth = authorizer(acl("t", OP.DESCRIBE), acl("t", OP.READ, DENY))
    assert can(auth, OP.DESCRIBE, "t")
    assert not can(auth, OP.READ, "t")
    configs = authorizer(acl("t", OP.DESCRIBE_CONFIGS), acl("t", OP.ALTER_CONFIGS, DENY))
    assert can(configs, OP.DESCRIBE_CONFIGS, "t")


def test_deny_of_describe_beats_an_implying_allow() -> None:
    auth = authorizer(acl("t", OP.READ), acl("t", OP.DESCRIBE, DENY))
    assert not can(auth, OP.DESCRIBE, "t")
    assert can(auth, OP.READ, "t")


# --- patterns ---


def test_literal_applies_to_its_name_only() -> None:
    auth = authorizer(acl("foo"))
    assert can(auth, OP.READ, "foo")
    assert not can(auth, OP.READ, "foobar")
    assert not can(auth, OP.READ, "fo")
    assert not can(auth, OP.READ, "foo", rt=RT.GROUP)


def test_prefixed_applies_to_names_it_prefixes() -> None:
    auth = authorizer(acl("foo", prefixed=True))
    assert can(auth, OP.READ, "foo")
    assert can(auth, OP.READ, "foobar")
    assert not can(auth, OP.READ, "fo")
    assert not can(auth, OP.READ, "xfoo")
    assert not can(auth, OP.READ, "foobar", rt=RT.GROUP)


def test_wildcard_literal_applies_to_every_resource_of_its_type() -> None:
    auth = authorizer(acl("*"))
    assert can(auth, OP.READ, "anything")
    assert can(auth, OP.READ, "*")
    assert not can(auth, OP.READ, "anything", rt=RT.GROUP)


def test_a_prefixed_star_is_no_wildcard() -> None:
    auth = authorizer(acl("*", prefixed=True))
    assert not can(auth, OP.READ, "t")
    assert can(auth, OP.READ, "*t")


def test_deny_from_any_applicable_pattern_wins() -> None:
    auth = authorizer(
        acl("orders-eu", OP.WRITE),
        acl("orders-", OP.WRITE, DENY, prefixed=True),
        acl("logs", OP.WRITE, prefixed=True),
        acl("*", OP.WRITE, DENY, host="10.9.9.9"),
    )
    assert not can(auth, OP.WRITE, "orders-eu")
    assert can(auth, OP.WRITE, "logs-1")
    assert not can(auth, OP.WRITE, "logs-1", host="10.9.9.9")


def test_several_prefixes_of_a_name_all_apply() -> None:
    auth = authorizer(
        acl("a", OP.READ, prefixed=True),
        acl("ab", OP.WRITE, prefixed=True),
        acl("abc", OP.WRITE, DENY, prefixed=True),
        acl("abcd", OP.ALTER),
    )
    assert can(auth, OP.READ, "abcd")
    assert can(auth, OP.WRITE, "abx")
    assert not can(auth, OP.WRITE, "abcd")
    assert can(auth, OP.ALTER, "abcd")
    assert not can(auth, OP.ALTER, "abcde")


# --- the ACLs coming and going ---


def test_remove_returns_what_it_removed_and_decisions_follow() -> None:
    kept = acl("t", OP.READ, ALLOW, "User:bob")
    auth = authorizer(acl("t", OP.READ), acl("t", OP.WRITE), kept, acl("t-", prefixed=True))
    alice_on_t = AclBindingFilter(
        ResourcePatternFilter(RT.TOPIC, "t", PT.LITERAL),
        AccessControlEntryFilter("User:alice", None, OP.ANY, PERM.ANY),
    )
    assert auth.remove(alice_on_t) == [acl("t", OP.READ), acl("t", OP.WRITE)]
    assert not can(auth, OP.READ, "t")
    assert can(auth, OP.READ, "t", who=BOB)
    assert auth.remove(alice_on_t) == []
    assert auth.bindings(AclBindingFilter.ANY) == [kept, acl("t-", prefixed=True)]


def test_remove_with_a_match_filter_removes_every_applicable_pattern() -> None:
    auth = authorizer(acl("foo"), acl("*"), acl("fo", prefixed=True), acl("foox"), acl("g"))
    removed = auth.remove(
        AclBindingFilter(
            ResourcePatternFilter(RT.TOPIC, "foo", PT.MATCH), AccessControlEntryFilter.ANY
        )
    )
    assert removed == [acl("*"), acl("fo", prefixed=True), acl("foo")]
    assert auth.bindings(AclBindingFilter.ANY) == [acl("foox"), acl("g")]


def test_removing_the_last_prefixed_acl_forgets_the_prefix() -> None:
    auth = authorizer(acl("ab", prefixed=True), allow_if_none=True)
    assert not can(auth, OP.READ, "abc", who=BOB)
    auth.remove(AclBindingFilter.ANY)
    assert can(auth, OP.READ, "abc", who=BOB)
    assert auth.bindings(AclBindingFilter.ANY) == []


def test_adding_twice_is_adding_once() -> None:
    auth = authorizer(acl("t"), acl("t"))
    auth.add([acl("t")])
    assert auth.bindings(AclBindingFilter.ANY) == [acl("t")]
    auth.remove(AclBindingFilter.ANY)
    assert not can(auth, OP.READ, "t")


def test_replace_resource_sets_the_whole_acl_set() -> None:
    auth = authorizer(acl("t", OP.READ), acl("t", OP.WRITE), acl("u"))
    pattern = ResourcePattern(RT.TOPIC, "t", PT.LITERAL)
    auth.replace_resource(pattern, [AccessControlEntry("User:bob", "*", OP.READ, ALLOW)])
    assert not can(auth, OP.READ, "t")
    assert not can(auth, OP.WRITE, "t")
    assert can(auth, OP.READ, "t", who=BOB)
    auth.replace_resource(pattern, [])
    assert auth.bindings(AclBindingFilter.ANY) == [acl("u")]
    prefix = ResourcePattern(RT.GROUP, "g-", PT.PREFIXED)
    auth.replace_resource(prefix, [AccessControlEntry("User:*", "*", OP.READ, ALLOW)])
    assert can(auth, OP.READ, "g-1", rt=RT.GROUP)
    auth.replace_resource(prefix, [])
    assert not can(auth, OP.READ, "g-1", rt=RT.GROUP)


def test_bindings_filters_and_sorts() -> None:
    auth = authorizer(
        acl("b"), acl("a", OP.WRITE), acl("a"), acl("g", rt=RT.GROUP), acl("a", prefixed=True)
    )
    topics = AclBindingFilter(
        ResourcePatternFilter(RT.TOPIC, None, PT.ANY), AccessControlEntryFilter.ANY
    )
    assert auth.bindings(topics) == [
        acl("a"),
        acl("a", OP.WRITE),
        acl("a", prefixed=True),
        acl("b"),
    ]
    writes = AclBindingFilter(
        ResourcePatternFilter.ANY, AccessControlEntryFilter(None, None, OP.WRITE, PERM.ANY)
    )
    assert auth.bindings(writes) == [acl("a", OP.WRITE)]


def test_acls_bind_to_literal_or_prefixed_patterns_only() -> None:
    auth = AclAuthorizer((), False)
    entry = AccessControlEntry("User:alice", "*", OP.READ, ALLOW)
    for pattern_type in (PT.MATCH, PT.ANY, PT.UNKNOWN):
        with pytest.raises(ValueError):
            auth.add([AclBinding(ResourcePattern(RT.TOPIC, "t", pattern_type), entry)])
    assert auth.bindings(AclBindingFilter.ANY) == []


# --- authorized operations ---


def bits(*ops: AclOperation) -> int:
    return sum(1 << op for op in set(ops))


def test_authorized_operations_bitfield() -> None:
    auth = authorizer(acl("t", OP.READ), acl("t", OP.ALTER_CONFIGS))
    assert auth.authorized_operations(ALICE, HOST, RT.TOPIC, "t") == bits(
        OP.READ, OP.DESCRIBE, OP.ALTER_CONFIGS, OP.DESCRIBE_CONFIGS
    )
    assert auth.authorized_operations(ALICE, HOST, RT.TOPIC, "t") == 0b1101_0000_1000
    assert auth.authorized_operations(BOB, HOST, RT.TOPIC, "t") == 0


def test_authorized_operations_cover_only_the_types_operations() -> None:
    everything = authorizer(acl("*", OP.ALL, rt=RT.GROUP))
    assert everything.authorized_operations(ALICE, HOST, RT.GROUP, "g") == bits(
        OP.READ, OP.DESCRIBE, OP.DELETE
    )
    supers = authorizer(supers=("User:alice",))
    assert supers.authorized_operations(ALICE, HOST, RT.CLUSTER, "kafka-cluster") == bits(
        OP.CREATE,
        OP.CLUSTER_ACTION,
        OP.DESCRIBE_CONFIGS,
        OP.ALTER_CONFIGS,
        OP.IDEMPOTENT_WRITE,
        OP.ALTER,
        OP.DESCRIBE,
    )
    open_broker = authorizer(allow_if_none=True)
    assert open_broker.authorized_operations(BOB, HOST, RT.TRANSACTIONAL_ID, "tx") == bits(
        OP.DESCRIBE, OP.WRITE
    )


def test_authorized_operations_with_a_deny() -> None:
    auth = authorizer(acl("t", OP.ALL), acl("t", OP.DELETE, DENY))
    assert auth.authorized_operations(ALICE, HOST, RT.TOPIC, "t") == bits(
        OP.READ,
        OP.WRITE,
        OP.CREATE,
        OP.DESCRIBE,
        OP.ALTER,
        OP.DESCRIBE_CONFIGS,
        OP.ALTER_CONFIGS,
    )


# --- authorize_any (authorizeByResourceType) ---


def any_write(auth: AclAuthorizer, who: KafkaPrincipal = ALICE, host: str = HOST) -> bool:
    return auth.authorize_any(who, host, OP.WRITE, RT.TOPIC)


def test_authorize_any_allowed_by_an_acl_on_some_resource() -> None:
    assert any_write(authorizer(acl("t", OP.WRITE)))
    assert any_write(authorizer(acl("t-", OP.WRITE, prefixed=True)))
    assert any_write(authorizer(acl("t", OP.ALL)))
    assert any_write(authorizer(acl("t", OP.WRITE, ALLOW, "User:*", HOST)))
    assert not any_write(authorizer(acl("t", OP.WRITE, ALLOW, "User:bob")))
    assert not any_write(authorizer(acl("t", OP.WRITE, ALLOW, host="10.0.0.2")))
    assert not any_write(authorizer(acl("t", OP.WRITE, rt=RT.GROUP)))
    assert not any_write(authorizer())


def test_authorize_any_counts_no_implied_operations() -> None:
    auth = authorizer(acl("t", OP.READ))
    assert not auth.authorize_any(ALICE, HOST, OP.DESCRIBE, RT.TOPIC)
    assert auth.authorize_any(ALICE, HOST, OP.READ, RT.TOPIC)


def test_authorize_any_super_user_and_allow_everyone() -> None:
    deny_all = acl("*", OP.WRITE, DENY, "User:*")
    assert any_write(authorizer(deny_all, supers=("User:alice",)))
    assert not any_write(authorizer(deny_all, allow_if_none=True))
    # Past a wildcard DENY, allow.everyone.if.no.acl.found allows whatever ACLs there are.
    assert any_write(authorizer(allow_if_none=True))
    assert any_write(authorizer(acl("t", OP.WRITE, DENY), allow_if_none=True))


def test_authorize_any_denies_allows_that_denies_cover() -> None:
    # An allowed literal denied by name, or under a denied prefix.
    assert not any_write(authorizer(acl("t", OP.WRITE), acl("t", OP.WRITE, DENY)))
    assert not any_write(
        authorizer(acl("foo-1", OP.WRITE), acl("foo", OP.WRITE, DENY, prefixed=True))
    )
    # An allowed prefix under a denied prefix.
    assert not any_write(
        authorizer(acl("foo-", OP.WRITE, prefixed=True), acl("foo", OP.WRITE, DENY, prefixed=True))
    )
    # An allowed prefix wider than the denied one still leaves resources to write.
    assert any_write(
        authorizer(acl("foo", OP.WRITE, prefixed=True), acl("foo-", OP.WRITE, DENY, prefixed=True))
    )
    # A denied literal does not cover an allowed prefix or another literal.
    assert any_write(authorizer(acl("foo", OP.WRITE, prefixed=True), acl("foo", OP.WRITE, DENY)))
    assert any_write(authorizer(acl("a", OP.WRITE), acl("b", OP.WRITE, DENY)))
    # The wildcard literal ALLOW survives denies of single names and prefixes.
    assert any_write(
        authorizer(
            acl("*", OP.WRITE), acl("x", OP.WRITE, DENY), acl("y", OP.WRITE, DENY, prefixed=True)
        )
    )
    # Even a DENY prefix "*" (a prefix of the name "*") leaves the wildcard ALLOW standing.
    assert any_write(authorizer(acl("*", OP.WRITE), acl("*", OP.WRITE, DENY, prefixed=True)))
    # One uncovered allow is enough.
    assert any_write(authorizer(acl("t", OP.WRITE), acl("u", OP.WRITE), acl("t", OP.WRITE, DENY)))


def test_authorize_any_denies_of_others_do_not_count() -> None:
    auth = authorizer(acl("t", OP.WRITE), acl("*", OP.WRITE, DENY, "User:bob"))
    assert any_write(auth)
    assert not any_write(auth, who=BOB)
    deny_all_ops = authorizer(acl("t", OP.WRITE), acl("t", OP.ALL, DENY))
    assert not any_write(deny_all_ops)


@pytest.mark.parametrize(
    ("op", "rt"),
    [(OP.ANY, RT.TOPIC), (OP.UNKNOWN, RT.TOPIC), (OP.WRITE, RT.ANY), (OP.WRITE, RT.UNKNOWN)],
)
def test_authorize_any_needs_concrete_arguments(op: AclOperation, rt: ResourceType) -> None:
    with pytest.raises(ValueError):
        authorizer().authorize_any(ALICE, HOST, op, rt)


# --- properties: the indexes against a plain scan ---

NAMES = ["a", "ab", "abc", "b", "*"]
PRINCIPALS = ["User:alice", "User:bob", "User:*"]
HOSTS = [HOST, "*"]
OPS = [OP.READ, OP.WRITE, OP.DESCRIBE, OP.ALL, OP.ALTER_CONFIGS, OP.DESCRIBE_CONFIGS]
QUERY_OPS = [OP.READ, OP.WRITE, OP.DESCRIBE, OP.DESCRIBE_CONFIGS]
TYPES = [RT.TOPIC, RT.GROUP]

bindings_st = st.builds(
    AclBinding,
    st.builds(
        ResourcePattern,
        st.sampled_from(TYPES),
        st.sampled_from(NAMES),
        st.sampled_from([PT.LITERAL, PT.PREFIXED]),
    ),
    st.builds(
        AccessControlEntry,
        st.sampled_from(PRINCIPALS),
        st.sampled_from(HOSTS),
        st.sampled_from(OPS),
        st.sampled_from([ALLOW, DENY]),
    ),
)


def decisions(auth: AclAuthorizer) -> list[bool]:
    return [
        auth.authorize(who, host, op, rt, name)
        for who in (ALICE, BOB)
        for host in (HOST, "10.0.0.2")
        for op in QUERY_OPS
        for rt in TYPES
        for name in [*NAMES, "abcd", "c"]
    ] + [
        auth.authorize_any(who, HOST, op, rt)
        for who in (ALICE, BOB)
        for op in QUERY_OPS
        for rt in TYPES
    ]


def scan_authorize(
    bindings: list[AclBinding],
    allow_if_none: bool,
    who: KafkaPrincipal,
    host: str,
    op: AclOperation,
    rt: ResourceType,
    name: str,
) -> bool:
    """Kafka's rule, written as a scan over every ACL."""

    def applies(pattern: ResourcePattern) -> bool:
        if pattern.resource_type != rt:
            return False
        if pattern.pattern_type == PT.LITERAL:
            return pattern.name in (name, "*")
        return name.startswith(pattern.name)

    def matches(entry: AccessControlEntry, perm: AclPermissionType, ops: set[AclOperation]) -> bool:
        return (
            entry.permission_type == perm
            and entry.principal in (str(who), "User:*")
            and entry.host in (host, "*")
            and (entry.operation in ops or entry.operation == OP.ALL)
        )

    entries = [b.entry for b in bindings if applies(b.pattern)]
    if not entries:
        return allow_if_none
    if any(matches(e, DENY, {op}) for e in entries):
        return False
    implied = {
        OP.DESCRIBE: {OP.DESCRIBE, OP.READ, OP.WRITE, OP.DELETE, OP.ALTER},
        OP.DESCRIBE_CONFIGS: {OP.DESCRIBE_CONFIGS, OP.ALTER_CONFIGS},
    }.get(op, {op})
    return any(matches(e, ALLOW, implied) for e in entries)


@settings(deadline=None, max_examples=150)
@given(st.lists(bindings_st, max_size=12), st.booleans())
def test_indexed_decisions_equal_a_scan_of_every_acl(
    bindings: list[AclBinding], allow_if_none: bool
) -> None:
    auth = authorizer(*bindings, allow_if_none=allow_if_none)
    for who in (ALICE, BOB):
        for op in QUERY_OPS:
            for rt in TYPES:
                for name in [*NAMES, "abcd", "c"]:
                    expected = scan_authorize(bindings, allow_if_none, who, HOST, op, rt, name)
                    assert auth.authorize(who, HOST, op, rt, name) is expected


@settings(deadline=None, max_examples=150)
@given(st.lists(bindings_st, max_size=10), bindings_st, st.booleans())
def test_adding_then_removing_a_binding_restores_every_decision(
    bindings: list[AclBinding], extra: AclBinding, allow_if_none: bool
) -> None:
    auth = authorizer(*bindings, allow_if_none=allow_if_none)
    before = decisions(auth)
    already_there = extra in auth.bindings(AclBindingFilter.ANY)
    auth.add([extra])
    exactly_extra = AclBindingFilter(
        ResourcePatternFilter(
            extra.pattern.resource_type, extra.pattern.name, extra.pattern.pattern_type
        ),
        AccessControlEntryFilter(
            extra.entry.principal,
            extra.entry.host,
            extra.entry.operation,
            extra.entry.permission_type,
        ),
    )
    assert auth.remove(exactly_extra) == [extra]
    if already_there:
        auth.add([extra])
    assert decisions(auth) == before
    assert auth.bindings(AclBindingFilter.ANY) == sorted(set(bindings))
