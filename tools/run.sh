#!/usr/bin/env bash
# Start the action server and the Rasa server, wait until both answer, print the URLs, and stop
# both on Ctrl-C. Called by `make run` after install and training.
# The browser tests (tests/browser) run it too, on their own ports, with their own credentials and
# endpoints files (TONGBAN_CREDENTIALS, TONGBAN_ENDPOINTS) and log folder (TONGBAN_LOG_DIR).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
CREDENTIALS=${TONGBAN_CREDENTIALS:-credentials.yml}
ENDPOINTS=${TONGBAN_ENDPOINTS:-endpoints.yml}
LOGS=${TONGBAN_LOG_DIR:-var}
# Loading the model takes one to two minutes on a 2-core machine, longer when it is busy.
START_TIMEOUT=${TONGBAN_START_TIMEOUT:-300}
mkdir -p var "$LOGS"
# Servers listen on loopback unless TONGBAN_HOST says otherwise (e.g. 0.0.0.0 behind a proxy).
HOST=${TONGBAN_HOST:-127.0.0.1}
# Secrets: the environment's, or ones generated once into var/secrets.env (kept across restarts,
# so sealed conversation data and signed message ids stay valid).
# shellcheck source=/dev/null
. tools/secrets.sh
# CORS: only the origins configured (space-separated); by default none, so only same-origin pages.
cors_args=()
if [ -n "${TONGBAN_CORS_ORIGINS:-}" ]; then read -ra cors_args <<<"--cors $TONGBAN_CORS_ORIGINS"; fi
# endpoints.yml names the action server on port 5055; another ACTIONS_PORT needs its own copy.
if [ "$ACTIONS_PORT" != 5055 ] && grep -q 'localhost:5055' "$ENDPOINTS"; then
  sed "s#localhost:5055#localhost:$ACTIONS_PORT#" "$ENDPOINTS" >"$LOGS/endpoints.$ACTIONS_PORT.yml"
  ENDPOINTS="$LOGS/endpoints.$ACTIONS_PORT.yml"
fi

"$BIN/python" -m tongban.actionserver --port "$ACTIONS_PORT" >"$LOGS/actions.log" 2>&1 &
actions_pid=$!
"$BIN/rasa" run --interface "$HOST" --port "$RASA_PORT" --model models/tongban.tar.gz \
  --endpoints "$ENDPOINTS" --credentials "$CREDENTIALS" "${cors_args[@]}" >"$LOGS/rasa.log" 2>&1 &
rasa_pid=$!

stop() {
  trap - INT TERM EXIT
  echo; echo "正在停止通办助手 / stopping ..."
  kill "$actions_pid" "$rasa_pid" 2>/dev/null
  wait "$actions_pid" "$rasa_pid" 2>/dev/null
  exit 0
}
trap stop INT TERM EXIT

wait_for() {  # url pid name
  for _ in $(seq 1 $((START_TIMEOUT * 2))); do
    if curl -fs "$1" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$3 未能启动 / failed to start; see $LOGS/$3.log:"; tail -n 20 "$LOGS/$3.log"; return 1
    fi
    sleep 0.5
  done
  echo "$3 启动超时 / timed out; see $LOGS/$3.log"; return 1
}

echo "正在启动通办助手 / starting Tongban ..."
wait_for "http://localhost:$ACTIONS_PORT/health" "$actions_pid" actions || stop
wait_for "http://localhost:$RASA_PORT/" "$rasa_pid" rasa || stop
cat <<MSG

通办助手已启动 / Tongban is running:
  网页聊天 / web chat: http://localhost:$RASA_PORT/webhooks/webchat/
  嵌入示例 / widget example: http://localhost:$RASA_PORT/webhooks/webchat/static/example-host.html
  REST 接口 / REST:        http://localhost:$RASA_PORT/webhooks/rest/webhook
  socket.io（网页聊天）:    http://localhost:$RASA_PORT/socket.io
  微信公众号 / WeChat:      http://localhost:$RASA_PORT/webhooks/wechat/webhook（安全模式，演示设置；
                            没有公众号可用 .venv/bin/tongban wechat-sim 对话）
  热线工作台 / console:     http://localhost:$RASA_PORT/console/（账号：.venv/bin/tongban staff add 名字 --role agent）
  动作服务器 / actions:     http://localhost:$ACTIONS_PORT/health
  试一试 / try:
    curl -s localhost:$RASA_PORT/webhooks/rest/webhook -H 'Content-Type: application/json' \\
      -d '{"sender":"demo","message":"我是江西人，在深圳打工，能领结婚证吗？要带什么？"}'
  日志 / logs: $LOGS/rasa.log $LOGS/actions.log      按 Ctrl-C 停止 / Ctrl-C to stop
MSG
wait -n "$actions_pid" "$rasa_pid"
echo "有一个服务已退出 / a server exited; see $LOGS/*.log"
stop
