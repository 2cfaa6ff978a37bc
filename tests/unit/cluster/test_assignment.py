"""assign_replicas against Kafka's AdminUtils.assignReplicasToBrokers: the expected layouts are
those of Kafka's AdminUtilsTest / AdminRackAwareTest (fixed start index 0, which Kafka also
uses as the first replica shift)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from odradek.cluster.assignment import assign_replicas
from odradek.common.errors import InvalidReplicationFactorError


def no_racks(*ids: int) -> dict[int, str | None]:
    return dict.fromkeys(ids)


def check_valid(
    assignment: dict[int, list[int]],
    brokers: dict[int, str | None],
    partitions: int,
    replication: int,
    first_partition: int = 0,
) -> None:
    assert sorted(assignment) == list(range(first_partition, first_partition + partitions))
    for replicas in assignment.values():
        assert len(replicas) == replication
        assert len(set(replicas)) == replication
        assert set(replicas) <= set(brokers)


def check_leaders_even(assignment: dict[int, list[int]], brokers: dict[int, str | None]) -> None:
    leaders = Counter(replicas[0] for replicas in assignment.values())
    per_broker = len(assignment) // len(brokers)
    for broker in brokers:
        assert leaders[broker] in (per_broker, per_broker + 1), (broker, leaders)


def test_replication_factor_larger_than_brokers() -> None:
    with pytest.raises(
        InvalidReplicationFactorError,
        match="Replication factor: 4 larger than available brokers: 3",
    ):
        assign_replicas(no_racks(1, 2, 3), 6, 4)


def test_round_robin_matches_kafka() -> None:
    # AdminUtilsTest.testReplicaAssignment: brokers 0-4, 10 partitions, 3 replicas, start 0
    assert assign_replicas(no_racks(0, 1, 2, 3, 4), 10, 3, start_index=0, shift=0) == {
        0: [0, 1, 2],
        1: [1, 2, 3],
        2: [2, 3, 4],
        3: [3, 4, 0],
        4: [4, 0, 1],
        5: [0, 2, 3],
        6: [1, 3, 4],
        7: [2, 4, 0],
        8: [3, 0, 1],
        9: [4, 1, 2],
    }


def test_rack_aware_matches_kafka() -> None:
    # AdminRackAwareTest.testGetRackAlternatedBrokerListAndAssignReplicasToBrokers
    racks: dict[int, str | None] = {
        0: "rack1",
        1: "rack3",
        2: "rack3",
        3: "rack2",
        4: "rack2",
        5: "rack1",
    }
    assignment = assign_replicas(racks, 7, 3, start_index=0, shift=0)
    assert assignment == {
        0: [0, 3, 1],
        1: [3, 1, 5],
        2: [1, 5, 4],
        3: [5, 4, 2],
        4: [4, 2, 0],
        5: [2, 0, 3],
        6: [0, 4, 2],
    }


def test_broker_ids_are_placed_in_id_order() -> None:
    shuffled = {3: None, 1: None, 2: None}
    assert assign_replicas(shuffled, 6, 2, start_index=1, shift=1) == assign_replicas(
        no_racks(1, 2, 3), 6, 2, start_index=1, shift=1
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_layouts_are_valid_with_even_leaders(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(1, 7)
    brokers = no_racks(*rng.sample(range(100), count))
    partitions = rng.randint(1, 25)
    replication = rng.randint(1, count)
    assignment = assign_replicas(brokers, partitions, replication)
    check_valid(assignment, brokers, partitions, replication)
    check_leaders_even(assignment, brokers)


@pytest.mark.parametrize("seed", range(40))
def test_rack_aware_layouts_span_as_many_racks_as_possible(seed: int) -> None:
    rng = random.Random(1000 + seed)
    count = rng.randint(2, 9)
    rack_names = [f"rack{r}" for r in range(rng.randint(1, count))]
    ids = rng.sample(range(100), count)
    # every rack gets a broker, the rest are spread at random (uneven racks)
    brokers: dict[int, str | None] = {
        broker: rack_names[i] if i < len(rack_names) else rng.choice(rack_names)
        for i, broker in enumerate(ids)
    }
    partitions = rng.randint(1, 25)
    replication = rng.randint(1, count)
    assignment = assign_replicas(brokers, partitions, replication)
    check_valid(assignment, brokers, partitions, replication)
    check_leaders_even(assignment, brokers)
    for replicas in assignment.values():
        assert len({brokers[b] for b in replicas}) == min(replication, len(rack_names))


def test_replicas_spread_evenly_when_racks_are_even() -> None:
    """AdminRackAwareTest.testAssignmentWithRackAware: 6 brokers on 3 racks, 6 partitions of 3
    replicas: every broker holds 3 replicas and leads one partition."""
    racks: dict[int, str | None] = {
        0: "rack1",
        1: "rack2",
        2: "rack2",
        3: "rack3",
        4: "rack3",
        5: "rack1",
    }
    assignment = assign_replicas(racks, 6, 3, start_index=2, shift=0)
    check_valid(assignment, racks, 6, 3)
    assert Counter(b for replicas in assignment.values() for b in replicas) == dict.fromkeys(
        racks, 3
    )
    assert Counter(replicas[0] for replicas in assignment.values()) == dict.fromkeys(racks, 1)
    for replicas in assignment.values():
        assert len({racks[b] for b in replicas}) == 3


def test_partial_rack_information_falls_back_to_round_robin() -> None:
    brokers: dict[int, str | None] = {1: "a", 2: None, 3: "b"}
    assert assign_replicas(brokers, 5, 2, start_index=0, shift=0) == assign_replicas(
        no_racks(1, 2, 3), 5, 2, start_index=0, shift=0
    )


def test_deterministic_with_start_index_and_shift() -> None:
    racks: dict[int, str | None] = {1: "a", 2: "b", 3: "a", 4: "c"}
    for brokers in (racks, no_racks(1, 2, 3, 4)):
        for start in range(4):
            for shift in range(4):
                first = assign_replicas(brokers, 9, 3, start_index=start, shift=shift)
                assert first == assign_replicas(brokers, 9, 3, start_index=start, shift=shift)


def test_start_index_picks_the_first_leader() -> None:
    assignment = assign_replicas(no_racks(10, 20, 30), 4, 1, start_index=2, shift=0)
    assert [assignment[p][0] for p in range(4)] == [30, 10, 20, 30]


def test_first_partition_offsets_the_keys() -> None:
    brokers = no_racks(1, 2, 3, 4)
    base = assign_replicas(brokers, 5, 2, start_index=1, shift=2)
    moved = assign_replicas(brokers, 5, 2, first_partition=7, start_index=1, shift=2)
    assert moved == {p + 7: replicas for p, replicas in base.items()}
    check_valid(moved, brokers, 5, 2, first_partition=7)


def test_single_broker_and_no_partitions() -> None:
    assert assign_replicas(no_racks(5), 3, 1) == {0: [5], 1: [5], 2: [5]}
    assert assign_replicas({5: "r"}, 2, 1) == {0: [5], 1: [5]}
    assert assign_replicas(no_racks(1, 2), 0, 2) == {}
