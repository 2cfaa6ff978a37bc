"""Which internal partition coordinates a key: Kafka's ``Utils.abs(key.hashCode) % n``."""

from odradek.coordinator.group.records import java_string_hash, partition_for


def test_java_string_hash() -> None:
    assert java_string_hash("") == 0
    assert java_string_hash("my-group") == -1906497762
    assert java_string_hash("polygenelubricants") == -(2**31)


def test_negative_hash_uses_math_abs_not_the_sign_mask() -> None:
    # Utils.abs(-1906497762) = 1906497762; the partitioner's mask would give 240985886 (36).
    assert partition_for("my-group", 50) == 1906497762 % 50 == 12


def test_min_value_hash_maps_to_partition_zero() -> None:
    assert partition_for("polygenelubricants", 50) == 0


def test_positive_hash() -> None:
    assert partition_for("console-consumer-12345", 50) == 158455506 % 50
