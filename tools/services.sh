#!/usr/bin/env bash
# Start the local PostgreSQL 15 and Redis 7 when they are not running (the machine notes'
# commands); used by `make run-cluster` and .ci/run. A remote TONGBAN_DATABASE_URL or
# TONGBAN_REDIS_URL is left alone.
set -uo pipefail
db=${TONGBAN_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tongban}
redis=${TONGBAN_REDIS_URL:-redis://127.0.0.1:6379/0}
case "$db" in *@127.0.0.1*|*@localhost*|*//127.0.0.1*|*//localhost*)
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "starting PostgreSQL ..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi ;;
esac
case "$redis" in *127.0.0.1*|*localhost*)
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "starting Redis ..."
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  fi ;;
esac
pg_isready -q -h 127.0.0.1 -p 5432 || echo "warning: PostgreSQL is not answering on 127.0.0.1:5432"
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || echo "warning: Redis is not answering on 127.0.0.1:6379"
