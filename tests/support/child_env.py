"""The environment of the odradek processes the tests start (brokers, ``odradek <tool>``).

kio's phantom types register Hypothesis strategies at import when Hypothesis is importable,
and importing it (with trio and parts of pytest it pulls in) costs about 0.3 s of every such
process's start-up. The test environment has Hypothesis for the property tests; a broker or a
tool never uses it, and a production install has none. So these processes see a
``hypothesis`` package that fails to import, as if it were not installed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_STUB = 'raise ImportError("hidden from odradek processes started by the tests")\n'


def _stub_dir() -> Path:
    root = Path(tempfile.gettempdir()) / f"odradek-tests-no-hypothesis-{os.getuid()}"
    init = root / "hypothesis" / "__init__.py"
    if not init.exists() or init.read_text() != _STUB:
        init.parent.mkdir(parents=True, exist_ok=True)
        scratch = init.with_name(f"__init__.py.{os.getpid()}")
        scratch.write_text(_STUB)
        os.replace(scratch, init)  # atomic: concurrent sessions see a whole file
    return root


def odradek_env(**extra: str) -> dict[str, str]:
    """The session's environment, unbuffered, without Hypothesis, plus ``extra``."""
    path = [str(_stub_dir())]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(path), **extra)
