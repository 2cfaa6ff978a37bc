#!/usr/bin/env bash
# The one test command (README "Quick start", and what .ci/run calls): install what the tests
# need, then run lint, types and the whole suite. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh || { echo "installing test dependencies failed"; exit 1; }
export ODRADEK_REQUIRE_JAVA=1

status=0
python3 -m ruff check src tests benchmarks || status=1
python3 -m ruff format --check src tests benchmarks || status=1
python3 -m mypy || status=1
python3 -c 'from importlinter.cli import lint_imports_command; lint_imports_command()' || status=1  # lint-imports
python3 scripts/check_module_size.py || status=1  # no module over 500 lines (allow-list: scripts/module_size_allowlist.txt)

python3 -m pytest tests -q -p no:cacheprovider --durations=40 "$@"
code=$?
if [ $code -eq 5 ]; then
  echo "pytest collected no tests"
  code=1
fi
[ $code -ne 0 ] && status=$code
exit $status
