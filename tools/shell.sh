#!/usr/bin/env bash
# A terminal chat with Tongban: the action server in the background, `rasa shell` in front.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
# shellcheck source=/dev/null
. tools/secrets.sh
.venv/bin/python -m tongban.actionserver --port "${ACTIONS_PORT:-5055}" >var/actions.log 2>&1 &
actions_pid=$!
trap 'kill $actions_pid 2>/dev/null; wait $actions_pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 120); do curl -fs "localhost:${ACTIONS_PORT:-5055}/health" >/dev/null && break; sleep 0.5; done
.venv/bin/rasa shell --model models/tongban.tar.gz --endpoints endpoints.yml --quiet
