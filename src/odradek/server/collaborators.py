"""What handlers and services read from the broker, written down as Protocols.

A handler is called with the ``BrokerServer`` (the dispatcher's table holds them all), but
it is typed with a Protocol of only the collaborators it reads, declared beside it (e.g.
``handlers.produce.ProduceCollaborators``); mypy proves ``BrokerServer`` satisfies each one
where it is wired (``dispatcher.HANDLERS``, ``BrokerServer.__init__``). The Protocols here
are the ones several modules share, most of them those of the helpers handlers call with
the broker they were given (the ACL check, KIP-951 leader discovery, the group and
transaction coordinators' availability). Members are read-only properties: a handler reads
its collaborators and never replaces them. The import-linter contract ``handlers-are-narrow``
in ``pyproject.toml`` keeps these modules off ``server.broker``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from odradek.cluster.admin_manager import AdminManager
    from odradek.cluster.configs import ConfigManager
    from odradek.cluster.metadata import MetadataStore
    from odradek.cluster.replica_manager import ReplicaManager
    from odradek.common.clock import Clock
    from odradek.config.broker import BrokerConfig
    from odradek.security.authorizer import AclAuthorizer
    from odradek.server.cluster_membership import BrokerEndpoint, ClusterMembership
    from odradek.server.group_service import GroupService
    from odradek.server.quotas import ClientQuotas
    from odradek.server.txn_service import TxnService
    from odradek.storage.log_manager import LogManager


class Authorizing(Protocol):
    """What the ACL checks of ``server.authorization`` read: the authorizer (None when
    ``authorizer.class.name`` is not set and every request is allowed)."""

    @property
    def authorizer(self) -> AclAuthorizer | None: ...


class LeaderDiscovery(Protocol):
    """What KIP-951 leader discovery (``server.leader_discovery``) reads: the cluster's
    known leaders and the live brokers' endpoints."""

    @property
    def cluster(self) -> ClusterMembership: ...

    def broker_endpoints(self, listener_name: str) -> list[BrokerEndpoint]: ...


class GroupCoordination(Authorizing, Protocol):
    """The group coordinator's side of the broker (``GroupService``), with the ACL checks
    group requests make."""

    @property
    def groups(self) -> GroupService: ...


class TxnCoordination(Authorizing, Protocol):
    """The transaction coordinator's side of the broker (``TxnService``), with the ACL
    checks transactional requests make."""

    @property
    def txns(self) -> TxnService: ...


class HasConfig(Protocol):
    @property
    def config(self) -> BrokerConfig: ...


class HasClock(Protocol):
    @property
    def clock(self) -> Clock: ...


class HasMetadataStore(Protocol):
    @property
    def metadata_store(self) -> MetadataStore: ...


class HasReplicaManager(Protocol):
    @property
    def replica_manager(self) -> ReplicaManager: ...


class HasLogManager(Protocol):
    @property
    def log_manager(self) -> LogManager: ...


class HasAdminManager(Protocol):
    @property
    def admin_manager(self) -> AdminManager: ...


class HasConfigManager(Protocol):
    @property
    def configs(self) -> ConfigManager: ...


class HasCluster(Protocol):
    @property
    def cluster(self) -> ClusterMembership: ...


class InternalTopicServiceCollaborators(
    HasAdminManager,
    HasClock,
    HasCluster,
    HasConfig,
    HasLogManager,
    HasMetadataStore,
    HasReplicaManager,
    Protocol,
):
    """What a coordinator's service (``GroupService``, ``TxnService``) reads from the broker:
    the config, the clock, the cluster membership (which says when to load), the metadata,
    the logs of its internal topic, the replica manager that appends to it and the admin
    manager that creates it."""


class HasNodeId(Protocol):
    @property
    def node_id(self) -> int: ...


class HasQuotas(Protocol):
    @property
    def quotas(self) -> ClientQuotas: ...
