#!/bin/sh
# Writes this Pod's sentinel.conf (Sentinel rewrites it: it must be writable, hence /data) on the
# first start only, then runs redis-sentinel. Names, not IPs: a rescheduled Pod keeps its DNS name.
set -eu
conf=/data/sentinel.conf
if [ ! -s "$conf" ]; then
  cat > "$conf" <<CONF
port 26379
bind * -::*
protected-mode no
dir /data
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $(hostname).reaper-flow-redis-headless.reaper-system.svc
sentinel monitor reaper reaper-flow-redis-0.reaper-flow-redis-headless.reaper-system.svc 6379 2
sentinel down-after-milliseconds reaper 5000
sentinel failover-timeout reaper 60000
sentinel parallel-syncs reaper 1
CONF
fi
exec redis-sentinel "$conf"
