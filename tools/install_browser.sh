#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser) when it is missing, with a small
# Chinese font and an emoji font so that the page and its screenshots show 中文 and 👍/👎 instead of
# empty boxes. Playwright drives /usr/bin/chromium; never run `playwright install` (no browser is
# downloaded). Needs root, as on the developers' machines and CI.
set -euo pipefail
PACKAGES=(chromium fonts-wqy-zenhei fonts-noto-color-emoji)
if [ -x /usr/bin/chromium ] && dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "错误 / error: Chromium or its fonts are missing; as root run:" >&2
  echo "  apt-get update && apt-get install -y ${PACKAGES[*]}" >&2
  exit 1
fi
echo "正在安装 Chromium / installing Debian's ${PACKAGES[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${PACKAGES[@]}"
/usr/bin/chromium --version 2>/dev/null
