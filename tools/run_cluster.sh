#!/usr/bin/env bash
# `make run-cluster`: two (TONGBAN_CLUSTER_SIZE) Rasa servers, each with its own action server, on
# PostgreSQL and Redis, behind nginx on TONGBAN_CLUSTER_PORT (8080). Installs Debian's nginx when
# it is missing; starts the local PostgreSQL and Redis when they are down. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_nginx.sh
tools/services.sh
exec .venv/bin/python -m tongban.cluster
