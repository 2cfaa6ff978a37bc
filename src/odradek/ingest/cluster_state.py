"""Whether the cluster answers, as one consumer sees it: one log line when it stops answering
and one when it answers again, instead of librdkafka's line per failed connection attempt.

librdkafka keeps reconnecting by itself (as ClickHouse's Kafka engine keeps trying); this only
reports it. While the cluster is down, the bootstrap address is probed every few seconds
(``odradek.common.reachability``) to notice that it answers again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from confluent_kafka import KafkaError

from odradek.common.reachability import BadBootstrap, Unreachable, check

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 2.0
PROBE_ANSWER_TIMEOUT_S = 5.0

# librdkafka's errors for "no connection to the cluster": a failed connection, every broker
# down, a host that does not resolve.
CONNECTION_ERRORS = frozenset(
    {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
)


class ClusterState:
    """Fed every Kafka error (librdkafka's ``error_cb`` and errors in consumed messages);
    ``report(text)`` gets each state change (the consumer's status keeps them)."""

    def __init__(
        self,
        bootstrap: str,
        config: Mapping[str, object],
        report: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bootstrap = bootstrap
        self.config = config
        self.report = report
        self.clock = clock
        self.down_since: float | None = None
        self.fatal: KafkaError | None = None
        self._probed_at = 0.0
        self._last_error = ""

    def error(self, error: KafkaError) -> None:
        if error.fatal():
            self.fatal = error
            return
        if error.code() in CONNECTION_ERRORS:
            if self.down_since is None:
                self.down_since = self._probed_at = self.clock()
                self._say(
                    f"the cluster at {self.bootstrap} does not answer ({error.str()}); retrying"
                )
            return
        text = f"Kafka: {error.str()}"
        if text != self._last_error:  # the same error again is no news
            self._last_error = text
            self._say(text)

    def follow(self, probe: Callable[[], object] | None = None) -> None:
        """While down, probe the bootstrap address now and then; say when it answers."""
        if self.down_since is None:
            return
        now = self.clock()
        if now - self._probed_at < PROBE_INTERVAL_S:
            return
        self._probed_at = now
        try:
            (probe or self._probe)()
        except (Unreachable, BadBootstrap):
            return
        self._say(
            f"the cluster at {self.bootstrap} answers again after {now - self.down_since:.0f}s"
        )
        self.down_since = None
        self._last_error = ""

    def _probe(self) -> None:
        check(self.bootstrap, self.config, PROBE_ANSWER_TIMEOUT_S)

    def _say(self, text: str) -> None:
        log.warning("%s", text)
        self.report(text)
