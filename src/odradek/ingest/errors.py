"""What can stop ingestion, each with the message an operator acts on."""

from __future__ import annotations


class IngestError(Exception):
    """Base of ingest's errors: the message is printed as is, and ingest exits non-zero."""


class SettingsError(IngestError):
    """A flag, config file line or column list that cannot be used."""


class TableMismatch(IngestError):
    """The target table is missing, or its columns cannot hold what ingest writes."""


class TooManyBrokenMessages(IngestError):
    """A block held more unparsable records than ``kafka_skip_broken_messages`` allows."""


class OffsetConflict(IngestError):
    """The offsets stored in the target moved under this consumer (another consumer wrote the
    partition since it was assigned here): the batch was rolled back and must not be retried
    from this consumer's positions."""


class BrokenMessage(ValueError):
    """One record that its format cannot parse, or whose values do not fit the columns."""


class TargetUnavailable(IngestError):
    """The target's server cannot be reached or dropped the connection: the block is
    dropped and read again from the stored offsets once a new connection is made."""
