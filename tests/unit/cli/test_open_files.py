"""The open-file limit at broker start: raised to the hard limit, and the partition segments it
has room for. ``resource`` is faked: no test changes a real limit."""

from __future__ import annotations

import errno
import logging
import resource

import pytest

from odradek.cli import open_files
from odradek.cli.open_files import (
    connection_margin,
    exhaustion_hint,
    log_open_file_limit,
    raise_open_file_limit,
    segment_capacity,
)


@pytest.mark.parametrize(
    ("limit", "margin", "segments"),
    [
        (1024, 256, 256),  # a common default soft limit
        (20_000, 5_000, 5_000),
        (65_536, 16_384, 16_384),
        (1_048_576, 262_144, 262_144),  # Linux's default fs.nr_open
        (100, 25, 25),
        (3, 0, 1),
        (0, 0, 0),
    ],
)
def test_segment_capacity(limit: int, margin: int, segments: int) -> None:
    assert connection_margin(limit) == margin
    assert segment_capacity(limit) == segments
    # Three files per segment plus the margin always fit in the limit.
    assert segments * open_files.FILES_PER_SEGMENT + margin <= limit


class FakeLimits:
    def __init__(self, soft: int, hard: int, refuse: Exception | None = None) -> None:
        self.limits = (soft, hard)
        self.refuse = refuse
        self.set_calls: list[tuple[int, int]] = []

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        self.set_calls.append(limits)
        if self.refuse is not None:
            raise self.refuse
        self.limits = limits


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeLimits:
    limits = FakeLimits(1024, 524_288)
    monkeypatch.setattr(resource, "getrlimit", limits.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", limits.setrlimit)
    return limits


def test_the_soft_limit_is_raised_to_the_hard_one(
    fake: FakeLimits, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=open_files.__name__):
        log_open_file_limit()
    assert fake.set_calls == [(524_288, 524_288)]
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.INFO,
            "open file limit 524288 (raised from 1024), hard limit 524288: room for about "
            "131072 partition segments (3 files each) with 131072 descriptors kept for "
            "connections",
        )
    ]


def test_a_limit_already_at_the_hard_one_is_left_alone(
    fake: FakeLimits, caplog: pytest.LogCaptureFixture
) -> None:
    fake.limits = (20_000, 20_000)
    with caplog.at_level(logging.INFO, logger=open_files.__name__):
        log_open_file_limit()
    assert fake.set_calls == []
    assert caplog.records[0].getMessage().startswith("open file limit 20000, hard limit 20000:")


def test_a_refused_raise_and_a_low_limit_warn_but_never_fail(
    fake: FakeLimits, caplog: pytest.LogCaptureFixture
) -> None:
    fake.refuse = ValueError("not allowed")
    assert raise_open_file_limit() == (1024, 524_288)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=open_files.__name__):
        log_open_file_limit()
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    assert caplog.records[0].getMessage() == (
        "cannot raise the open file limit from 1024 to 524288: not allowed"
    )
    low = caplog.records[1].getMessage()
    assert "open file limit 1024, hard limit 524288: room for about 256 partition segments" in low
    assert low.endswith("; raise the hard limit (ulimit -Hn, systemd's LimitNOFILE)")


def test_an_unlimited_hard_limit_is_not_set_as_the_soft_one(fake: FakeLimits) -> None:
    fake.limits = (256, resource.RLIM_INFINITY)
    assert raise_open_file_limit() == (256, resource.RLIM_INFINITY)
    assert fake.set_calls == []


def test_too_many_open_files_gets_a_hint(fake: FakeLimits) -> None:
    hint = exhaustion_hint(OSError(errno.EMFILE, "Too many open files"))
    assert hint == (
        " (open file limit 1024, each partition segment keeps 3 files open: raise the hard "
        "limit, ulimit -Hn or systemd's LimitNOFILE)"
    )
    assert exhaustion_hint(OSError(errno.EADDRINUSE, "Address already in use")) == ""
    assert exhaustion_hint(ValueError("x")) == ""
