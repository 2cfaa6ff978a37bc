"""The APIs this broker serves and their version ranges (what ApiVersions advertises).

Every advertised version must work; widen a range only with the handler and a test."""

from __future__ import annotations

from collections.abc import Mapping

PRODUCE_KEY = 0
FETCH_KEY = 1
LIST_OFFSETS_KEY = 2
METADATA_KEY = 3
API_VERSIONS_KEY = 18
CREATE_TOPICS_KEY = 19
DELETE_TOPICS_KEY = 20
INIT_PRODUCER_ID_KEY = 22

SUPPORTED_APIS: Mapping[int, tuple[int, int]] = {
    PRODUCE_KEY: (3, 11),
    FETCH_KEY: (4, 17),
    LIST_OFFSETS_KEY: (1, 9),
    METADATA_KEY: (0, 12),
    API_VERSIONS_KEY: (0, 4),
    CREATE_TOPICS_KEY: (2, 7),
    DELETE_TOPICS_KEY: (1, 6),
    INIT_PRODUCER_ID_KEY: (0, 5),
}
