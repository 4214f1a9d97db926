#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser), only when it is missing, plus a
# small Chinese font so that pages and screenshots show Chinese text instead of empty boxes.
# Playwright drives /usr/bin/chromium; it never downloads a browser (never run `playwright install`).
set -euo pipefail
if [ -x /usr/bin/chromium ] && fc-list :lang=zh 2>/dev/null | grep -q .; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "错误 / error: Chromium or a Chinese font is missing; as root run:" >&2
  echo "  apt-get update && apt-get install -y chromium fonts-wqy-zenhei" >&2
  exit 1
fi
echo "正在安装 Chromium / installing Debian's chromium and a Chinese font ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium fonts-wqy-zenhei
/usr/bin/chromium --version
