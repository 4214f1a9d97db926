#!/usr/bin/env bash
# Install Debian's nginx (nginx-light) when it is missing; used by `make run-cluster` and the
# cluster tests. Debian's package starts a system nginx on port 80: the cluster runs its own.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
echo "安装 nginx / installing Debian's nginx ..."
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
$SUDO service nginx stop >/dev/null 2>&1 || true
