#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine with Python 3.11+:
# the package with its test extras, Debian's kcat (librdkafka CLI), a JDK, and the Apache
# Kafka Java client jars. Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

need_apt=()
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need_apt+=(zookeeper)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)  # promtool: alert rule tests
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)  # ingest targets
command -v clickhouse-server >/dev/null 2>&1 || need_apt+=(clickhouse-server)  # ingest targets
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the console's browser tests
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -f scripts/install-java-client.sh ]; then
  bash scripts/install-java-client.sh
fi
