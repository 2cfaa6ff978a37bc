"""Kafka's znode layout in ZooKeeper mode (its ZkData): the paths and the JSON shapes.


* ``/cluster/id`` — ``{"version": "1", "id": ...}``
* ``/brokers/ids/<id>`` (ephemeral) — endpoints, host, port, rack, timestamp
* ``/controller`` (ephemeral) — ``{"version": 2, "brokerid": N, "timestamp": ...}``;
  ``/controller_epoch`` — the epoch, bumped by every new controller
* ``/brokers/topics/<t>`` — ``{"version": 3, "topic_id": ..., "partitions": {"0": [1, 2]}}``
* ``/brokers/topics/<t>/partitions/<p>/state`` — ``{"controller_epoch", "leader",
  "leader_epoch", "isr", "version"}``, updated conditionally on its znode version
* ``/config/topics/<t>``, ``/config/brokers/<id|<default>>`` — ``{"version": 1, "config": {...}}``
* ``/config/users/<u>``, ``/config/clients/<c>``, ``/config/users/<u>/clients/<c>`` — the same
  shape: quotas and SCRAM credentials; ``/config/client-metrics/<name>``, KIP-714's client
  metrics resources, and ``/config/groups/<group id>``, KIP-848's group configs (the id
  sanitized as a user's), the same shape; each change is announced by a sequential
  ``/config/changes/config_change_<n>`` — ``{"version": 2, "entity_path": "users/<u>"}`` —
  which every broker follows to re-read the entity
* ``/kafka-acl/<Type>/<name>`` (literal), ``/kafka-acl-extended/prefixed/<Type>/<name>``
  (prefixed) — ``{"version": 1, "acls": [...]}``, updated conditionally on the znode version
  and deleted when empty; each change is announced under ``/kafka-acl-changes`` or
  ``/kafka-acl-extended-changes`` (the codec is :mod:`odradek.security.acl`)
* ``/admin/delete_topics/<t>`` — topics being deleted
* ``/latest_producer_id_block`` — producer id blocks, reserved with a conditional update
"""

from __future__ import annotations

import json
import uuid

from odradek.cluster.metadata import (
    DEFAULT_ENTITY,
    PartitionState,
    TopicMetadata,
)
from odradek.storage.topic_id import parse_topic_id

BROKERS = "/brokers/ids"
TOPICS = "/brokers/topics"
CONTROLLER = "/controller"
CONTROLLER_EPOCH = "/controller_epoch"
CLUSTER_ID = "/cluster/id"
TOPIC_CONFIGS = "/config/topics"
BROKER_CONFIGS = "/config/brokers"
DELETE_TOPICS = "/admin/delete_topics"
PRODUCER_ID_BLOCK = "/latest_producer_id_block"
CONTROLLED_SHUTDOWN = "/admin/controlled_shutdown"
DEFAULT_BROKER = DEFAULT_ENTITY
CONFIG = "/config"
USER_CONFIGS = "/config/users"
CLIENT_CONFIGS = "/config/clients"
CLIENT_METRICS_CONFIGS = "/config/client-metrics"
GROUP_CONFIGS = "/config/groups"
CONFIG_CHANGES = "/config/changes"
CONFIG_CHANGE_PREFIX = "config_change_"
STALE_REGISTRATION_WAIT_FACTOR = 1.5
"""How long a broker waits for another session's ``/brokers/ids/<id>`` to go, in session
timeouts (ZooKeeper expires a session restored on its restart one timeout after it)."""
CHANGE_EXPIRATION_MS = 15 * 60 * 1000  # notifications older than this are deleted


def json_bytes(value: object) -> bytes:
    """A znode's JSON body, compact as Kafka writes it."""
    return json.dumps(value, separators=(",", ":")).encode()


def parse_topic_body(name: str, data: bytes, configs: dict[str, str]) -> TopicMetadata:
    body = json.loads(data)
    assignment = {
        int(p): [int(r) for r in replicas] for p, replicas in body.get("partitions", {}).items()
    }
    topic_id = parse_topic_id(body["topic_id"]) if body.get("topic_id") else uuid.uuid4()
    rf = len(next(iter(assignment.values()), []))
    return TopicMetadata(
        name,
        topic_id,
        len(assignment),
        rf,
        configs,
        internal=name.startswith("__"),
        assignment=assignment,
    )


def parse_state(data: bytes, version: int) -> PartitionState:
    body = json.loads(data)
    return PartitionState(
        int(body["leader"]),
        int(body["leader_epoch"]),
        tuple(int(r) for r in body["isr"]),
        int(body["controller_epoch"]),
        version,
    )


def state_body(state: PartitionState) -> bytes:
    return json_bytes(
        {
            "controller_epoch": state.controller_epoch,
            "leader": state.leader,
            "version": 1,
            "leader_epoch": state.leader_epoch,
            "isr": list(state.isr),
        }
    )
