"""confluent-kafka's admin classes. Its type stubs do not re-export them from
``confluent_kafka.admin`` (and older releases have no stubs), so they are looked up here once
and typed loosely."""

from __future__ import annotations

import importlib
from typing import Any

_admin: Any = importlib.import_module("confluent_kafka.admin")

AlterConfigOpType: Any = _admin.AlterConfigOpType
ConfigEntry: Any = _admin.ConfigEntry
ConfigResource: Any = _admin.ConfigResource
ConfigSource: Any = _admin.ConfigSource
NewPartitions: Any = _admin.NewPartitions
NewTopic: Any = _admin.NewTopic
OffsetSpec: Any = _admin.OffsetSpec
ResourceType: Any = _admin.ResourceType
