"""What counts as a fenced controller in an epoch-checked ZooKeeper transaction (results as
kazoo returns them, measured against ZooKeeper 3.8): only a failed epoch check."""

from __future__ import annotations

from kazoo.exceptions import BadVersionError, RolledBackError, RuntimeInconsistency

from odradek.cluster.zk_controller_client import _fenced


def test_a_failed_epoch_check_is_fenced() -> None:
    assert _fenced([BadVersionError(), RuntimeInconsistency()])


def test_a_stale_partition_state_is_not_fenced() -> None:
    # The epoch check held; the state znode changed meanwhile (the leader wrote its ISR).
    assert not _fenced([RolledBackError(), BadVersionError()])


def test_a_committed_transaction_is_not_fenced() -> None:
    assert not _fenced([True, object()])
