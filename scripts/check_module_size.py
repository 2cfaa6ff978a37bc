"""The module-size rule (docs/architecture.md, "small modules with one job each"): no Python
module under src/odradek has more than 500 lines. scripts/test.sh runs it next to ruff, mypy
and lint-imports, so CI fails on a module that grows past the limit, naming it.

A module may be over the limit for a while (a split in progress) only if it is named in
scripts/module_size_allowlist.txt with the reason. An entry for a module that is back under
the limit, or that no longer exists, fails the check too, so the list only shrinks.
Standard library only. Exit status: 0 when the rule holds, 1 otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 500
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "odradek"
ALLOWLIST = ROOT / "scripts" / "module_size_allowlist.txt"


def read_allowlist(path: Path) -> dict[str, str]:
    """``{module path relative to the repository: reason}``: one module a line, the path
    then the reason after whitespace; blank lines and ``#`` comments are ignored."""
    allowed: dict[str, str] = {}
    if not path.exists():
        return allowed
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        module, _, reason = entry.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path.name}:{number}: {module} needs a reason after its path")
        allowed[module] = reason.strip()
    return allowed


def line_counts(package: Path) -> dict[str, int]:
    """Lines of every module under ``package``, by path relative to the repository."""
    return {
        module.relative_to(ROOT).as_posix(): len(module.read_bytes().splitlines())
        for module in sorted(package.rglob("*.py"))
    }


def main() -> int:
    allowed = read_allowlist(ALLOWLIST)
    counts = line_counts(PACKAGE)
    problems = [
        f"{module}: {lines} lines (over {LIMIT}): split it along its seams"
        for module, lines in counts.items()
        if lines > LIMIT and module not in allowed
    ]
    for module, reason in allowed.items():
        lines = counts.get(module)
        if lines is None:
            problems.append(f"{module}: in {ALLOWLIST.name} but not a module: remove the entry")
        elif lines <= LIMIT:
            problems.append(
                f"{module}: {lines} lines, within the limit: remove it from {ALLOWLIST.name}"
            )
        else:
            print(f"module size: {module}: {lines} lines, allowed for now ({reason})")
    for problem in problems:
        print(f"module size: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
