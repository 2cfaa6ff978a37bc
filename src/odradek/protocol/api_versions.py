"""The APIs this broker serves and their version ranges (what ApiVersions advertises).

Every advertised version must work; widen a range only with the handler and a test."""

from __future__ import annotations

from collections.abc import Mapping

PRODUCE_KEY = 0
FETCH_KEY = 1
LIST_OFFSETS_KEY = 2
METADATA_KEY = 3
OFFSET_COMMIT_KEY = 8
OFFSET_FETCH_KEY = 9
FIND_COORDINATOR_KEY = 10
JOIN_GROUP_KEY = 11
HEARTBEAT_KEY = 12
LEAVE_GROUP_KEY = 13
SYNC_GROUP_KEY = 14
DESCRIBE_GROUPS_KEY = 15
LIST_GROUPS_KEY = 16
API_VERSIONS_KEY = 18
CREATE_TOPICS_KEY = 19
DELETE_TOPICS_KEY = 20
INIT_PRODUCER_ID_KEY = 22
DELETE_GROUPS_KEY = 42
OFFSET_DELETE_KEY = 47

SUPPORTED_APIS: Mapping[int, tuple[int, int]] = {
    PRODUCE_KEY: (3, 11),
    FETCH_KEY: (4, 17),
    LIST_OFFSETS_KEY: (1, 9),
    METADATA_KEY: (0, 12),
    OFFSET_COMMIT_KEY: (2, 9),
    OFFSET_FETCH_KEY: (1, 9),
    FIND_COORDINATOR_KEY: (0, 5),
    JOIN_GROUP_KEY: (0, 9),
    HEARTBEAT_KEY: (0, 4),
    LEAVE_GROUP_KEY: (0, 5),
    SYNC_GROUP_KEY: (0, 5),
    DESCRIBE_GROUPS_KEY: (0, 5),
    LIST_GROUPS_KEY: (0, 5),
    API_VERSIONS_KEY: (0, 4),
    CREATE_TOPICS_KEY: (2, 7),
    DELETE_TOPICS_KEY: (1, 6),
    INIT_PRODUCER_ID_KEY: (0, 5),
    DELETE_GROUPS_KEY: (0, 2),
    OFFSET_DELETE_KEY: (0, 0),
}
