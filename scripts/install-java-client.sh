#!/usr/bin/env bash
# Install the Apache Kafka Java client jars (kafka-clients 3.9.1 and its compression/logging
# dependencies) used by tests/integration/test_java_client.py.
#
# The jars come from a PyPI wheel that bundles them (shigawire-apache-flink-libraries), so only
# pip is needed. Idempotent: does nothing when the jars are already present.
#
# Target directory: ${ODRADEK_JAVA_LIBS:-$HOME/.cache/odradek/java-libs}
set -euo pipefail

WHEEL_SPEC="shigawire-apache-flink-libraries==2.0.0.post1"
JARS=(kafka-clients slf4j-api lz4-java snappy-java zstd-jni)
DEST="${ODRADEK_JAVA_LIBS:-$HOME/.cache/odradek/java-libs}"

# A Python that has pip: $PYTHON if given, else the first of python3/python that does.
if [[ -z "${PYTHON:-}" ]]; then
    for candidate in python3 python; do
        if "$candidate" -m pip --version >/dev/null 2>&1; then
            PYTHON="$candidate"
            break
        fi
    done
fi
if [[ -z "${PYTHON:-}" ]]; then
    echo "install-java-client: no python with pip found (set PYTHON=...)" >&2
    exit 1
fi

have_all() {
    local name
    for name in "${JARS[@]}"; do
        compgen -G "$DEST/${name}*.jar" >/dev/null || return 1
    done
}

if have_all; then
    echo "install-java-client: jars already present in $DEST"
    exit 0
fi

mkdir -p "$DEST"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "install-java-client: downloading $WHEEL_SPEC"
"$PYTHON" -m pip download --quiet --no-deps --disable-pip-version-check \
    "$WHEEL_SPEC" -d "$TMP"
WHEEL="$(ls "$TMP"/*.whl | head -n 1)"

# Extract with Python's zipfile so `unzip` need not be installed. Jars are written under a
# temporary name and renamed, so an interrupted run never leaves a truncated jar behind.
"$PYTHON" - "$WHEEL" "$DEST" "${JARS[@]}" <<'PY'
import os
import re
import shutil
import sys
import zipfile

wheel, dest, *wanted = sys.argv[1:]
found: dict[str, str] = {}
with zipfile.ZipFile(wheel) as zf:
    for member in zf.namelist():
        base = os.path.basename(member)
        if not member.startswith("pyflink/lib/") or not base.endswith(".jar"):
            continue
        for name in wanted:
            if re.fullmatch(re.escape(name) + r"(-[0-9][^/]*)?\.jar", base):
                tmp = os.path.join(dest, base + ".part")
                with zf.open(member) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
                os.replace(tmp, os.path.join(dest, base))
                found[name] = base
missing = [name for name in wanted if name not in found]
if missing:
    sys.exit(f"install-java-client: jars not found in {wheel}: {missing}")
for name in wanted:
    print(f"install-java-client: {found[name]}")
PY

have_all
echo "install-java-client: installed into $DEST"
