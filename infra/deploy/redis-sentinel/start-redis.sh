#!/bin/sh
# Starts this Pod's redis-server as a replica of the current primary. The sentinels are asked first
# (after a failover the primary is whichever replica they promoted, not Pod 0); only when no sentinel
# answers (the very first start) does Pod 0 start as the primary and the others as its replicas.
set -eu
self="$(hostname).reaper-flow-redis-headless.reaper-system.svc"
primary=""
for i in 0 1 2; do
  answer=$(redis-cli -h "reaper-flow-redis-$i.reaper-flow-redis-headless.reaper-system.svc" -p 26379 \
    --raw SENTINEL get-master-addr-by-name reaper 2>/dev/null | head -n 1 || true)
  if [ -n "$answer" ]; then primary="$answer"; break; fi
done
if [ -z "$primary" ]; then primary="reaper-flow-redis-0.reaper-flow-redis-headless.reaper-system.svc"; fi
set -- --appendonly yes --appendfsync everysec --maxmemory 768mb --maxmemory-policy noeviction \
  --dir /data --protected-mode no --bind "* -::*" \
  --replica-announce-ip "$self" --min-replicas-to-write 1 --min-replicas-max-lag 10
if [ "$primary" != "$self" ]; then set -- "$@" --replicaof "$primary" 6379; fi
exec redis-server "$@"
