#!/usr/bin/env bash
# Builds the pinned CoreDNS (the cluster DNS of `up --real-nodes`) from the wrapper module in
# ./coredns (upstream github.com/coredns/coredns from the Go module proxy, checked against go.sum,
# with the few plugins our Corefile uses) into the per-machine cache beside the control-plane
# binaries, keyed by version. A finished build is reused; an interrupted one is redone.
#
# Usage: build-coredns.sh   -> prints the path of the coredns binary on stdout
# Env:   REAPER_FLOW_CACHE (default ~/.cache/reaper-flow)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$here/coredns"
version="$(awk '$1=="require" && $2=="github.com/coredns/coredns"{print $3; exit}' "$gomod/go.mod")"
[[ -n "$version" ]] || { printf 'build-coredns.sh: no coredns version in %s/go.mod\n' "$gomod" >&2; exit 1; }
cache_root="${REAPER_FLOW_CACHE:-$HOME/.cache/reaper-flow}"
out="$cache_root/coredns-$version/bin"
bin="$out/coredns"

log() { printf '[build-coredns %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { log "Go is required (go 1.26) but 'go' is not on PATH"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$out"

# One build at a time per cache: a second caller waits for the first.
exec 9>"$out/.lock"
if ! flock -n 9; then
  log "another build of coredns $version is running; waiting for it"
  flock 9
  if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi
fi

log "building coredns $version into $out (a few minutes cold on 2 cores; later runs reuse the cache)"
start=$SECONDS
( while sleep 30; do log "  still building coredns ($((SECONDS - start))s)"; done ) &
beat=$!
trap 'kill "$beat" 2>/dev/null || true' EXIT

cd "$gomod"
go build -trimpath -ldflags "-s -w" -o "$out/.coredns.tmp" .
mv "$out/.coredns.tmp" "$bin"
log "coredns $version done in $((SECONDS - start))s"
echo "$bin"
