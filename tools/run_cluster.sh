#!/usr/bin/env bash
# `make run-cluster`: two (TONGBAN_CLUSTER_SIZE) Rasa servers, each with its own action server, on
# PostgreSQL and Redis, behind nginx on TONGBAN_CLUSTER_PORT (8080). Installs Debian's nginx when
# it is missing; starts the local PostgreSQL and Redis when they are down. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "安装 nginx / installing Debian's nginx ..."
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
  # Debian's package starts a system nginx on port 80; the cluster runs its own.
  $SUDO service nginx stop >/dev/null 2>&1 || true
fi
tools/services.sh
exec .venv/bin/python -m tongban.cluster
