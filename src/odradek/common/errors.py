"""One exception hierarchy, each class mapped to a Kafka error code.

Mirrors Kafka's ``Errors.forException``: :func:`error_code_for` walks the class hierarchy of an
exception and returns the first mapped code, falling back to ``UNKNOWN_SERVER_ERROR``.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode


class KafkaError(Exception):
    """Base of every error that maps to a Kafka error code."""

    error_code: ErrorCode = ErrorCode.unknown_server_error


class CorruptRecordError(KafkaError):
    error_code = ErrorCode.corrupt_message


class UnsupportedForMessageFormatError(KafkaError):
    error_code = ErrorCode.unsupported_for_message_format


class InvalidRecordError(KafkaError):
    error_code = ErrorCode.invalid_record


class RecordTooLargeError(KafkaError):
    error_code = ErrorCode.message_too_large


class RecordBatchTooLargeError(KafkaError):
    error_code = ErrorCode.record_list_too_large


class OffsetOutOfRangeError(KafkaError):
    error_code = ErrorCode.offset_out_of_range


class UnknownTopicOrPartitionError(KafkaError):
    error_code = ErrorCode.unknown_topic_or_partition


class UnknownTopicIdError(KafkaError):
    error_code = ErrorCode.unknown_topic_id


class TopicAlreadyExistsError(KafkaError):
    error_code = ErrorCode.topic_already_exists


class InvalidTopicError(KafkaError):
    error_code = ErrorCode.invalid_topic_exception


class InvalidPartitionsError(KafkaError):
    error_code = ErrorCode.invalid_partitions


class InvalidReplicationFactorError(KafkaError):
    error_code = ErrorCode.invalid_replication_factor


class InvalidReplicaAssignmentError(KafkaError):
    error_code = ErrorCode.invalid_replica_assignment


class UnsupportedCompressionTypeError(KafkaError):
    error_code = ErrorCode.unsupported_compression_type


class InvalidConfigError(KafkaError):
    error_code = ErrorCode.invalid_config


class InvalidRequestError(KafkaError):
    error_code = ErrorCode.invalid_request


class InvalidTimestampError(KafkaError):
    error_code = ErrorCode.invalid_timestamp


class KafkaStorageError(KafkaError):
    error_code = ErrorCode.kafka_storage_error


class UnsupportedVersionError(KafkaError):
    error_code = ErrorCode.unsupported_version


class ConfigError(ValueError):
    """A broker configuration problem found at startup; stops the broker with its message."""


def error_code_for(exc: BaseException) -> ErrorCode:
    """The Kafka error code for ``exc``, found by walking its class hierarchy."""
    for cls in type(exc).__mro__:
        code = getattr(cls, "error_code", None)
        if isinstance(code, ErrorCode):
            return code
    return ErrorCode.unknown_server_error


class OutOfOrderSequenceError(KafkaError):
    error_code = ErrorCode.out_of_order_sequence_number


class InvalidProducerEpochError(KafkaError):
    error_code = ErrorCode.invalid_producer_epoch


class ProducerFencedError(KafkaError):
    error_code = ErrorCode.producer_fenced


class UnknownProducerIdError(KafkaError):
    error_code = ErrorCode.unknown_producer_id


class CoordinatorNotAvailableError(KafkaError):
    error_code = ErrorCode.coordinator_not_available


class FencedLeaderEpochError(KafkaError):
    error_code = ErrorCode.fenced_leader_epoch


class UnknownLeaderEpochError(KafkaError):
    error_code = ErrorCode.unknown_leader_epoch


class TopicDeletionDisabledError(KafkaError):
    error_code = ErrorCode.topic_deletion_disabled


class NotLeaderOrFollowerError(KafkaError):
    error_code = ErrorCode.not_leader_or_follower


class LeaderNotAvailableError(KafkaError):
    error_code = ErrorCode.leader_not_available


class NotEnoughReplicasError(KafkaError):
    error_code = ErrorCode.not_enough_replicas


class NotEnoughReplicasAfterAppendError(KafkaError):
    error_code = ErrorCode.not_enough_replicas_after_append


class RequestTimedOutError(KafkaError):
    error_code = ErrorCode.request_timed_out


class NotControllerError(KafkaError):
    error_code = ErrorCode.not_controller


class NotCoordinatorError(KafkaError):
    error_code = ErrorCode.not_coordinator


class NoReassignmentInProgressError(KafkaError):
    error_code = ErrorCode.no_reassignment_in_progress


class ElectionNotNeededError(KafkaError):
    error_code = ErrorCode.election_not_needed


class PreferredLeaderNotAvailableError(KafkaError):
    error_code = ErrorCode.preferred_leader_not_available


class EligibleLeadersNotAvailableError(KafkaError):
    error_code = ErrorCode.eligible_leaders_not_available
