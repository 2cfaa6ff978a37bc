"""The ACL model: Kafka's wire codes, filter matching, CreateAcls/DeleteAcls validation and
the ZooKeeper codec (paths, resource JSON, change notifications)."""

from __future__ import annotations

import json

import pytest
from kio.schema.errors import ErrorCode

from odradek.common.errors import error_code_for
from odradek.security.acl import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    InvalidAclError,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    acl_store_paths,
    acl_znode_path,
    change_notification,
    decode_acls,
    encode_acls,
    parse_change_notification,
    pattern_from_znode_path,
    supported_operations,
    validate_acl_binding,
    validate_acl_filter,
)

RT, PT, OP, PERM = ResourceType, PatternType, AclOperation, AclPermissionType
ALLOW, DENY = PERM.ALLOW, PERM.DENY


def lit(name: str, rt: ResourceType = RT.TOPIC) -> ResourcePattern:
    return ResourcePattern(rt, name, PT.LITERAL)


def pre(name: str, rt: ResourceType = RT.TOPIC) -> ResourcePattern:
    return ResourcePattern(rt, name, PT.PREFIXED)


def ace(
    principal: str = "User:alice",
    host: str = "*",
    op: AclOperation = OP.READ,
    perm: AclPermissionType = ALLOW,
) -> AccessControlEntry:
    return AccessControlEntry(principal, host, op, perm)


# --- wire codes ---


def test_wire_codes_are_kafkas() -> None:
    assert {m.name: int(m) for m in ResourceType} == {
        "UNKNOWN": 0,
        "ANY": 1,
        "TOPIC": 2,
        "GROUP": 3,
        "CLUSTER": 4,
        "TRANSACTIONAL_ID": 5,
        "DELEGATION_TOKEN": 6,
        "USER": 7,
    }
    assert {m.name: int(m) for m in PatternType} == {
        "UNKNOWN": 0,
        "ANY": 1,
        "MATCH": 2,
        "LITERAL": 3,
        "PREFIXED": 4,
    }
    assert [(m.name, int(m)) for m in AclOperation] == [
        ("UNKNOWN", 0),
        ("ANY", 1),
        ("ALL", 2),
        ("READ", 3),
        ("WRITE", 4),
        ("CREATE", 5),
        ("DELETE", 6),
        ("ALTER", 7),
        ("DESCRIBE", 8),
        ("CLUSTER_ACTION", 9),
        ("DESCRIBE_CONFIGS", 10),
        ("ALTER_CONFIGS", 11),
        ("IDEMPOTENT_WRITE", 12),
        ("CREATE_TOKENS", 13),
        ("DESCRIBE_TOKENS", 14),
    ]
    assert {m.name: int(m) for m in AclPermissionType} == {
        "UNKNOWN": 0,
        "ANY": 1,
        "DENY": 2,
        "ALLOW": 3,
    }


def test_supported_operations_per_resource_type() -> None:
    assert supported_operations(RT.TOPIC) == {
        OP.READ,
        OP.WRITE,
        OP.CREATE,
        OP.DESCRIBE,
        OP.DELETE,
        OP.ALTER,
        OP.DESCRIBE_CONFIGS,
        OP.ALTER_CONFIGS,
    }
    assert supported_operations(RT.GROUP) == {OP.READ, OP.DESCRIBE, OP.DELETE}
    assert supported_operations(RT.CLUSTER) == {
        OP.CREATE,
        OP.CLUSTER_ACTION,
        OP.DESCRIBE_CONFIGS,
        OP.ALTER_CONFIGS,
        OP.IDEMPOTENT_WRITE,
        OP.ALTER,
        OP.DESCRIBE,
    }
    assert supported_operations(RT.TRANSACTIONAL_ID) == {OP.DESCRIBE, OP.WRITE}
    assert supported_operations(RT.DELEGATION_TOKEN) == {OP.DESCRIBE}
    assert supported_operations(RT.USER) == {OP.CREATE_TOKENS, OP.DESCRIBE_TOKENS}
    for not_concrete in (RT.ANY, RT.UNKNOWN):
        with pytest.raises(ValueError):
            supported_operations(not_concrete)


# --- filters ---


def test_any_filters_match_everything() -> None:
    for binding in (
        AclBinding(lit("t"), ace()),
        AclBinding(pre("t", RT.GROUP), ace("User:*", "10.0.0.1", OP.ALL, DENY)),
        AclBinding(lit("kafka-cluster", RT.CLUSTER), ace(op=OP.CLUSTER_ACTION)),
    ):
        assert AclBindingFilter.ANY.matches(binding)


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        (lit("foo"), True),
        (lit("*"), True),
        (pre("f"), True),
        (pre("foo"), True),
        (pre("foob"), False),
        (pre("o"), False),
        (lit("fo"), False),
        (lit("foo", RT.GROUP), False),
        (lit("*", RT.GROUP), False),
    ],
)
def test_match_filter_finds_the_patterns_that_apply_to_a_name(
    pattern: ResourcePattern, matched: bool
) -> None:
    assert ResourcePatternFilter(RT.TOPIC, "foo", PT.MATCH).matches(pattern) is matched


def test_match_filter_with_any_resource_type() -> None:
    match_any_type = ResourcePatternFilter(RT.ANY, "foo", PT.MATCH)
    assert match_any_type.matches(lit("*", RT.GROUP))
    assert match_any_type.matches(pre("fo", RT.TRANSACTIONAL_ID))


def test_specific_pattern_type_filter_matches_exactly() -> None:
    literal = ResourcePatternFilter(RT.TOPIC, "foo", PT.LITERAL)
    assert literal.matches(lit("foo"))
    assert not literal.matches(lit("*"))  # the wildcard is just a name here
    assert not literal.matches(pre("foo"))
    prefixed = ResourcePatternFilter(RT.TOPIC, "fo", PT.PREFIXED)
    assert prefixed.matches(pre("fo"))
    assert not prefixed.matches(pre("f"))
    assert not prefixed.matches(lit("fo"))


def test_any_pattern_type_filter_matches_equal_names_of_either_type() -> None:
    by_name = ResourcePatternFilter(RT.TOPIC, "foo", PT.ANY)
    assert by_name.matches(lit("foo"))
    assert by_name.matches(pre("foo"))
    assert not by_name.matches(lit("*"))
    assert not by_name.matches(pre("fo"))


def test_none_name_matches_any_name_of_the_pattern_type() -> None:
    any_literal = ResourcePatternFilter(RT.TOPIC, None, PT.LITERAL)
    assert any_literal.matches(lit("x"))
    assert any_literal.matches(lit("*"))
    assert not any_literal.matches(pre("x"))
    assert ResourcePatternFilter(RT.TOPIC, None, PT.MATCH).matches(pre("x"))


def test_entry_filter() -> None:
    entry = ace("User:alice", "10.0.0.1", OP.WRITE, DENY)
    assert AccessControlEntryFilter(None, None, OP.ANY, PERM.ANY).matches(entry)
    assert AccessControlEntryFilter("User:alice", "10.0.0.1", OP.WRITE, DENY).matches(entry)
    assert not AccessControlEntryFilter("User:bob", None, OP.ANY, PERM.ANY).matches(entry)
    assert not AccessControlEntryFilter(None, "10.0.0.2", OP.ANY, PERM.ANY).matches(entry)
    assert not AccessControlEntryFilter(None, None, OP.READ, PERM.ANY).matches(entry)
    assert not AccessControlEntryFilter(None, None, OP.ANY, ALLOW).matches(entry)
    # Wildcards in an entry are plain values to a filter.
    assert not AccessControlEntryFilter("User:alice", None, OP.ANY, PERM.ANY).matches(ace("User:*"))
    assert not AccessControlEntryFilter(None, None, OP.READ, PERM.ANY).matches(ace(op=OP.ALL))


def test_binding_filter_needs_both_parts_to_match() -> None:
    binding = AclBinding(lit("t"), ace())
    pattern_only = AclBindingFilter(
        ResourcePatternFilter(RT.TOPIC, "t", PT.LITERAL),
        AccessControlEntryFilter("User:bob", None, OP.ANY, PERM.ANY),
    )
    entry_only = AclBindingFilter(
        ResourcePatternFilter(RT.GROUP, None, PT.ANY), AccessControlEntryFilter.ANY
    )
    both = AclBindingFilter(ResourcePatternFilter.ANY, AccessControlEntryFilter.ANY)
    assert not pattern_only.matches(binding)
    assert not entry_only.matches(binding)
    assert both.matches(binding)


def test_find_indefinite_field() -> None:
    exact = AclBindingFilter(
        ResourcePatternFilter(RT.TOPIC, "t", PT.LITERAL),
        AccessControlEntryFilter("User:alice", "*", OP.READ, ALLOW),
    )
    assert exact.find_indefinite_field() is None
    assert AclBindingFilter.ANY.find_indefinite_field() == "Resource type is ANY."
    cases = {
        ResourcePatternFilter(RT.UNKNOWN, "t", PT.LITERAL): "Resource type is UNKNOWN.",
        ResourcePatternFilter(RT.TOPIC, None, PT.LITERAL): "Resource name is NULL.",
        ResourcePatternFilter(RT.TOPIC, "t", PT.MATCH): "Resource pattern type is MATCH.",
        ResourcePatternFilter(RT.TOPIC, "t", PT.UNKNOWN): "Resource pattern type is UNKNOWN.",
    }
    for pattern_filter, why in cases.items():
        assert pattern_filter.find_indefinite_field() == why
    entry_cases = {
        AccessControlEntryFilter(None, "*", OP.READ, ALLOW): "Principal is NULL",
        AccessControlEntryFilter("User:a", None, OP.READ, ALLOW): "Host is NULL",
        AccessControlEntryFilter("User:a", "*", OP.ANY, ALLOW): "Operation is ANY",
        AccessControlEntryFilter("User:a", "*", OP.UNKNOWN, ALLOW): "Operation is UNKNOWN",
        AccessControlEntryFilter("User:a", "*", OP.READ, PERM.ANY): "Permission type is ANY",
        AccessControlEntryFilter("User:a", "*", OP.READ, PERM.UNKNOWN): (
            "Permission type is UNKNOWN"
        ),
    }
    for entry_filter, why in entry_cases.items():
        assert entry_filter.find_indefinite_field() == why
        assert AclBindingFilter(exact.pattern_filter, entry_filter).find_indefinite_field() == why


# --- validation ---


def test_valid_bindings_pass() -> None:
    validate_acl_binding(AclBinding(lit("t"), ace()))
    validate_acl_binding(AclBinding(pre("t-", RT.GROUP), ace("User:*", "*", OP.ALL, DENY)))
    validate_acl_binding(AclBinding(lit("*"), ace()))
    validate_acl_binding(AclBinding(lit("kafka-cluster", RT.CLUSTER), ace(op=OP.ALTER)))
    validate_acl_binding(AclBinding(lit("u", RT.USER), ace("Group:ops", op=OP.CREATE_TOKENS)))


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        (AclBinding(lit("t", RT.ANY), ace()), "Invalid resourceType ANY"),
        (AclBinding(lit("t", RT.UNKNOWN), ace()), "Invalid resourceType UNKNOWN"),
        (AclBinding(ResourcePattern(RT.TOPIC, "t", PT.MATCH), ace()), "Invalid patternType MATCH"),
        (AclBinding(ResourcePattern(RT.TOPIC, "t", PT.ANY), ace()), "Invalid patternType ANY"),
        (
            AclBinding(ResourcePattern(RT.TOPIC, "t", PT.UNKNOWN), ace()),
            "Invalid patternType UNKNOWN",
        ),
        (AclBinding(lit("t"), ace(op=OP.ANY)), "Invalid operation ANY"),
        (AclBinding(lit("t"), ace(op=OP.UNKNOWN)), "Invalid operation UNKNOWN"),
        (AclBinding(lit("t"), ace(perm=PERM.ANY)), "Invalid permissionType ANY"),
        (AclBinding(lit("t"), ace(perm=PERM.UNKNOWN)), "Invalid permissionType UNKNOWN"),
        (AclBinding(lit(""), ace()), "Invalid empty resource name"),
        (
            AclBinding(lit("my-cluster", RT.CLUSTER), ace()),
            "The only valid name for the CLUSTER resource is kafka-cluster",
        ),
        (
            AclBinding(lit("a/b", RT.GROUP), ace()),
            "ACL binding contains invalid resource name: a/b",
        ),
        (AclBinding(lit("t"), ace(principal="alice")), "Could not parse principal from `alice`"),
        (AclBinding(lit("t"), ace(principal="")), "Could not parse principal from ``"),
    ],
)
def test_create_acls_rejects_with_invalid_request(binding: AclBinding, message: str) -> None:
    with pytest.raises(InvalidAclError) as raised:
        validate_acl_binding(binding)
    assert str(raised.value).startswith(message)
    assert error_code_for(raised.value) == ErrorCode.invalid_request


def test_describe_and_delete_filters_reject_unknown_parts() -> None:
    validate_acl_filter(AclBindingFilter.ANY)
    unknown_pattern = AclBindingFilter(
        ResourcePatternFilter(RT.UNKNOWN, None, PT.ANY), AccessControlEntryFilter.ANY
    )
    unknown_pattern_type = AclBindingFilter(
        ResourcePatternFilter(RT.ANY, None, PT.UNKNOWN), AccessControlEntryFilter.ANY
    )
    unknown_operation = AclBindingFilter(
        ResourcePatternFilter.ANY, AccessControlEntryFilter(None, None, OP.UNKNOWN, PERM.ANY)
    )
    unknown_permission = AclBindingFilter(
        ResourcePatternFilter.ANY, AccessControlEntryFilter(None, None, OP.ANY, PERM.UNKNOWN)
    )
    for bad, message in (
        (unknown_pattern, "Unknown patternFilter."),
        (unknown_pattern_type, "Unknown patternFilter."),
        (unknown_operation, "Unknown entryFilter."),
        (unknown_permission, "Unknown entryFilter."),
    ):
        assert bad.is_unknown()
        with pytest.raises(InvalidAclError, match=message) as raised:
            validate_acl_filter(bad)
        assert error_code_for(raised.value) == ErrorCode.invalid_request


def test_binding_is_unknown() -> None:
    assert not AclBinding(lit("t"), ace()).is_unknown()
    assert AclBinding(lit("t", RT.UNKNOWN), ace()).is_unknown()
    assert AclBinding(ResourcePattern(RT.TOPIC, "t", PT.UNKNOWN), ace()).is_unknown()
    assert AclBinding(lit("t"), ace(op=OP.UNKNOWN)).is_unknown()
    assert AclBinding(lit("t"), ace(perm=PERM.UNKNOWN)).is_unknown()


# --- ZooKeeper layout ---


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        (lit("orders"), "/kafka-acl/Topic/orders"),
        (lit("*", RT.GROUP), "/kafka-acl/Group/*"),
        (lit("kafka-cluster", RT.CLUSTER), "/kafka-acl/Cluster/kafka-cluster"),
        (lit("tx-1", RT.TRANSACTIONAL_ID), "/kafka-acl/TransactionalId/tx-1"),
        (lit("token", RT.DELEGATION_TOKEN), "/kafka-acl/DelegationToken/token"),
        (lit("User:bob", RT.USER), "/kafka-acl/User/User:bob"),
        (pre("orders-"), "/kafka-acl-extended/prefixed/Topic/orders-"),
        (pre("app.", RT.TRANSACTIONAL_ID), "/kafka-acl-extended/prefixed/TransactionalId/app."),
    ],
)
def test_znode_paths(pattern: ResourcePattern, path: str) -> None:
    assert acl_znode_path(pattern) == path
    assert pattern_from_znode_path(path) == pattern


def test_znode_path_needs_a_stored_pattern_type() -> None:
    for pattern_type in (PT.ANY, PT.MATCH, PT.UNKNOWN):
        with pytest.raises(ValueError):
            acl_znode_path(ResourcePattern(RT.TOPIC, "t", pattern_type))


@pytest.mark.parametrize(
    "path",
    [
        "/kafka-acl/Topic",
        "/kafka-acl/Topic/",
        "/kafka-acl/Widget/x",
        "/kafka-acl/Any/x",
        "/kafka-acl-extended/literal/Topic/x",
        "/kafka-acl-changes/acl_changes_0000000001",
        "/brokers/topics/x",
    ],
)
def test_pattern_from_a_path_outside_the_store_is_refused(path: str) -> None:
    with pytest.raises(ValueError):
        pattern_from_znode_path(path)


def test_store_type_names_are_read_in_any_case() -> None:
    assert pattern_from_znode_path("/kafka-acl/TOPIC/t") == lit("t")
    assert pattern_from_znode_path("/kafka-acl/transactionalid/x") == lit("x", RT.TRANSACTIONAL_ID)


def test_acl_store_paths() -> None:
    types = ["Topic", "Group", "Cluster", "TransactionalId", "DelegationToken", "User"]
    assert acl_store_paths() == [
        "/kafka-acl",
        *(f"/kafka-acl/{t}" for t in types),
        "/kafka-acl-extended/prefixed",
        *(f"/kafka-acl-extended/prefixed/{t}" for t in types),
        "/kafka-acl-changes",
        "/kafka-acl-extended-changes",
    ]


def test_encode_acls_exact_text() -> None:
    data = encode_acls([ace("User:alice", "*", OP.READ, ALLOW)])
    assert data == (
        b'{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",'
        b'"operation":"Read","host":"*"}]}'
    )


def test_encode_acls_names_and_order() -> None:
    entries = [
        ace("User:bob", "10.0.0.1", OP.IDEMPOTENT_WRITE, DENY),
        ace("User:alice", "*", OP.CLUSTER_ACTION, ALLOW),
        ace("User:alice", "*", OP.DESCRIBE_CONFIGS, ALLOW),
        ace("User:alice", "*", OP.ALL, DENY),
    ]
    document = json.loads(encode_acls(entries))
    assert [(a["principal"], a["operation"], a["permissionType"]) for a in document["acls"]] == [
        ("User:alice", "All", "Deny"),
        ("User:alice", "ClusterAction", "Allow"),
        ("User:alice", "DescribeConfigs", "Allow"),
        ("User:bob", "IdempotentWrite", "Deny"),
    ]
    assert encode_acls(reversed(entries)) == encode_acls(entries)


def test_codec_round_trip_over_every_operation_and_permission() -> None:
    entries = {
        ace(f"User:u{op}", "192.168.0.1", op, perm)
        for op in AclOperation
        if op not in (OP.UNKNOWN, OP.ANY)
        for perm in (ALLOW, DENY)
    }
    entries.add(ace("User:名前", "*", OP.READ, ALLOW))
    assert decode_acls(encode_acls(entries)) == entries
    assert "名前" in encode_acls(entries).decode()  # UTF-8, not \u escapes


def test_decode_acls_reads_kafkas_spelling() -> None:
    data = (
        b'{"version": 1, "acls": [ { "host":"host1", "permissionType": "Deny",'
        b'"operation": "Read","principal": "User:alice"},'
        b'{"host":"*","permissionType":"ALLOW","operation":"IDEMPOTENTWRITE","principal":"User:*"},'
        b'{"host":"*","permissionType":"Allow","operation":"Frobnicate","principal":"User:x"}]}'
    )
    assert decode_acls(data) == {
        ace("User:alice", "host1", OP.READ, DENY),
        ace("User:*", "*", OP.IDEMPOTENT_WRITE, ALLOW),
        ace("User:x", "*", OP.UNKNOWN, ALLOW),  # an operation Kafka does not know, as Kafka
    }


def test_decode_empty_znode_is_no_acls() -> None:
    assert decode_acls(b"") == set()
    assert decode_acls(None) == set()
    assert decode_acls(b'{"version":1,"acls":[]}') == set()


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"version":2,"acls":[]}',
        b'{"acls":[]}',
        b'{"version":1}',
        b'{"version":1,"acls":[1]}',
        b'{"version":1,"acls":[{"principal":"User:a","host":"*","operation":"Read"}]}',
        b'{"version":1,"acls":[{"principal":"alice","host":"*","operation":"Read",'
        b'"permissionType":"Allow"}]}',
    ],
)
def test_decode_malformed_znode_raises(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_acls(data)


def test_literal_change_notification() -> None:
    assert change_notification(lit("orders")) == (
        "/kafka-acl-changes/acl_changes_",
        b"TOPIC:orders",
    )
    assert change_notification(lit("tx:1", RT.TRANSACTIONAL_ID)) == (
        "/kafka-acl-changes/acl_changes_",
        b"TRANSACTIONAL_ID:tx:1",
    )


def test_prefixed_change_notification() -> None:
    assert change_notification(pre("orders-", RT.GROUP)) == (
        "/kafka-acl-extended-changes/acl_changes_",
        b'{"version":1,"resourceType":"GROUP","name":"orders-","patternType":"PREFIXED"}',
    )


def test_change_notification_needs_a_stored_pattern_type() -> None:
    with pytest.raises(ValueError):
        change_notification(ResourcePattern(RT.TOPIC, "t", PT.MATCH))


@pytest.mark.parametrize(
    "pattern",
    [
        lit("orders"),
        lit("*", RT.GROUP),
        lit("tx:1", RT.TRANSACTIONAL_ID),
        lit("kafka-cluster", RT.CLUSTER),
        pre("a", RT.DELEGATION_TOKEN),
        pre("User:", RT.USER),
    ],
)
def test_change_notification_round_trip(pattern: ResourcePattern) -> None:
    prefix, payload = change_notification(pattern)
    assert parse_change_notification(prefix + "0000000042", payload) == pattern
    assert parse_change_notification(prefix.rsplit("/", 1)[0], payload) == pattern


def test_parse_change_notifications_as_kafka_writes_them() -> None:
    assert parse_change_notification("/kafka-acl-changes", b"Topic:t") == lit("t")
    assert parse_change_notification(
        "/kafka-acl-extended-changes/acl_changes_0000000007",
        b'{"patternType":"PREFIXED","name":"p-","resourceType":"Topic","version":1}',
    ) == pre("p-")


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/kafka-acl-changes/acl_changes_1", b"no separator"),
        ("/kafka-acl-changes/acl_changes_1", b"WIDGET:x"),
        ("/kafka-acl-changes/acl_changes_1", b"TransactionalId:x"),  # Kafka reads names
        ("/kafka-acl-changes/acl_changes_1", b"ANY:x"),
        ("/kafka-acl-extended-changes/acl_changes_1", b"TOPIC:x"),
        (
            "/kafka-acl-extended-changes/acl_changes_1",
            b'{"version":2,"resourceType":"TOPIC","name":"x","patternType":"PREFIXED"}',
        ),
        (
            "/kafka-acl-extended-changes/acl_changes_1",
            b'{"version":1,"resourceType":"TOPIC","name":"x","patternType":"MATCH"}',
        ),
        ("/kafka-acl-extended-changes/acl_changes_1", b'{"version":1,"resourceType":"TOPIC"}'),
        ("/config/changes/config_change_1", b"TOPIC:x"),
    ],
)
def test_parse_malformed_change_notification_raises(path: str, data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_change_notification(path, data)
