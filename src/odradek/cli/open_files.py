"""The open-file limit a broker runs with: at start, the soft RLIMIT_NOFILE is raised to the
hard limit, and one log line says how many partition segments that leaves room for (each
segment keeps its ``.log``, ``.index`` and ``.timeindex`` open)."""

from __future__ import annotations

import errno
import logging
import resource

log = logging.getLogger(__name__)

FILES_PER_SEGMENT = 3
# The share of the descriptors kept for client and inter-broker connections, listeners,
# ZooKeeper and short-lived files (checkpoints, snapshots, the cleaner's workers).
CONNECTION_SHARE = 4
# Below this many segments the line is a warning: a broker with more partitions fails to
# open its logs (or to accept connections) until the limit is raised.
FEW_SEGMENTS = 1000


def connection_margin(limit: int) -> int:
    """The descriptors of ``limit`` kept for connections and other files."""
    return limit // CONNECTION_SHARE


def segment_capacity(limit: int) -> int:
    """Roughly how many partition segments ``limit`` open files hold beside the margin for
    connections: the number of partitions, if each has a single segment."""
    return max(0, limit - connection_margin(limit)) // FILES_PER_SEGMENT


def raise_open_file_limit() -> tuple[int, int]:
    """Raise the soft open-file limit to the hard one; returns the (soft, hard) limits now in
    effect. A limit that cannot be raised is kept as it is: the broker starts regardless."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard or hard == resource.RLIM_INFINITY:
        return soft, hard  # infinity: some systems refuse it as a soft limit; keep theirs
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        log.warning("cannot raise the open file limit from %d to %d: %s", soft, hard, exc)
        return soft, hard
    return hard, hard


def log_open_file_limit() -> None:
    """Raise the limit and log one line with it and the partition segments it has room for."""
    before, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = raise_open_file_limit()
    if soft == resource.RLIM_INFINITY:
        log.info("no open file limit")
        return
    raised = f" (raised from {before})" if soft != before else ""
    capacity = segment_capacity(soft)
    few = capacity < FEW_SEGMENTS
    log.log(
        logging.WARNING if few else logging.INFO,
        "open file limit %d%s, hard limit %s: room for about %d partition segments "
        "(%d files each) with %d descriptors kept for connections%s",
        soft,
        raised,
        "unlimited" if hard == resource.RLIM_INFINITY else hard,
        capacity,
        FILES_PER_SEGMENT,
        connection_margin(soft),
        "; raise the hard limit (ulimit -Hn, systemd's LimitNOFILE)" if few else "",
    )


def exhaustion_hint(exc: BaseException) -> str:
    """For "Too many open files": the limit in effect and how to raise it; else nothing."""
    if not isinstance(exc, OSError) or exc.errno not in (errno.EMFILE, errno.ENFILE):
        return ""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return (
        f" (open file limit {soft}, each partition segment keeps {FILES_PER_SEGMENT} files "
        "open: raise the hard limit, ulimit -Hn or systemd's LimitNOFILE)"
    )
