"""ACL znodes: the resource patterns' ACLs, updated conditionally and announced."""

from __future__ import annotations

import asyncio
import logging

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from odradek.cluster.zk_session import ZkSession
from odradek.security.acl import (
    LITERAL_ACL_PATH,
    PREFIXED_ACL_PATH,
    AccessControlEntry,
    ResourcePattern,
    acl_znode_path,
    change_notification,
    decode_acls,
    encode_acls,
)

log = logging.getLogger(__name__)


class AclZnodes(ZkSession):
    """The store's ACLs, written and re-read under the notified-metadata lock."""

    def _acl_znode_paths(self) -> list[str]:
        """The znode of every resource pattern with ACLs."""
        paths: list[str] = []
        for root in (LITERAL_ACL_PATH, PREFIXED_ACL_PATH):
            for type_name in self.client.get_children(root):
                names = self.client.get_children(f"{root}/{type_name}")
                paths.extend(f"{root}/{type_name}/{name}" for name in names)
        return paths

    def read_acls(self, path: str) -> frozenset[AccessControlEntry]:
        """The entries in a resource pattern's ACL znode (none when it has no znode)."""
        try:
            data, _ = self.client.get(path)
        except NoNodeError:
            return frozenset()
        return frozenset(decode_acls(data))

    async def set_acls_async(
        self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]
    ) -> None:
        path = acl_znode_path(pattern)  # ValueError unless LITERAL or PREFIXED
        cached = self.acls.get(pattern, frozenset())
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(
            self._write_acls, pattern, path, entries - cached, cached - entries, loop
        )

    def _write_acls(
        self,
        pattern: ResourcePattern,
        path: str,
        added: frozenset[AccessControlEntry],
        removed: frozenset[AccessControlEntry],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Apply the change to the pattern's znode, announce it if anything changed, and post
        the pattern's entries now to ``loop``."""
        with self._notified:
            entries, changed = self._update_acl_znode(path, added, removed)
            if changed:
                prefix, payload = change_notification(pattern)
                self.client.create(prefix, payload, sequence=True)
            loop.call_soon_threadsafe(self._cache_acls, pattern, entries)

    def _update_acl_znode(
        self,
        path: str,
        added: frozenset[AccessControlEntry],
        removed: frozenset[AccessControlEntry],
    ) -> tuple[frozenset[AccessControlEntry], bool]:
        """Kafka's conditional update: read the znode and its version, write the changed
        entries only if that version is still current (create it if absent, delete it once
        empty), else read again. The entries written, and whether anything changed."""
        while True:
            try:
                data, stat = self.client.get(path)
                current, version = frozenset(decode_acls(data)), int(stat.version)
            except NoNodeError:
                current, version = frozenset(), -1
            entries = (current - removed) | added
            if entries == current:
                return entries, False
            try:
                if not entries:
                    self.client.delete(path, version=version)
                elif version < 0:
                    self.client.create(path, encode_acls(entries), makepath=True)
                else:
                    self.client.set(path, encode_acls(entries), version=version)
                return entries, True
            except (BadVersionError, NoNodeError, NodeExistsError):
                # Another broker changed the pattern first: apply the change to theirs.
                log.debug("the ACLs in %s changed meanwhile; updating them again", path)

    def refresh_acls(self, pattern: ResourcePattern) -> None:
        """Re-read a pattern whose change was announced and post it to the cache."""
        with self._notified:
            entries = self.read_acls(acl_znode_path(pattern))
            self._on_loop(lambda: self._cache_acls(pattern, entries))

    def _cache_acls(self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]) -> None:
        if self.acls.get(pattern, frozenset()) == entries:
            return
        if entries:
            self.acls[pattern] = entries
        else:
            self.acls.pop(pattern, None)
        if self.on_acls_changed is not None:
            self.on_acls_changed(pattern, entries)
