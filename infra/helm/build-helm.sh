#!/usr/bin/env bash
# Builds the pinned helm CLI from its Go module (helm.sh/helm/v4, the module's own go.mod and
# go.sum, checked against the Go checksum database) into the per-machine cache beside the
# control-plane binaries, keyed by version. No download from anywhere but the Go module proxy.
# A finished build is reused; an interrupted one is redone (written to a temp name, then renamed).
#
# Usage: build-helm.sh            -> prints the path of the helm binary on stdout
# Env:   REAPER_FLOW_CACHE (default ~/.cache/reaper-flow)
set -euo pipefail

helm_module=helm.sh/helm/v4
helm_version=v4.3.1
cache_root="${REAPER_FLOW_CACHE:-$HOME/.cache/reaper-flow}"
out="$cache_root/helm-$helm_version/bin"
bin="$out/helm"

log() { printf '[build-helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

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
  log "another build of helm $helm_version is running; waiting for it"
  flock 9
  if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi
fi

log "building helm $helm_version ($helm_module) into $out"
log "the first build takes a few minutes on 2 cores (module download + compile); later runs reuse the cache"
start=$SECONDS
( while sleep 30; do log "  still building helm ($((SECONDS - start))s)"; done ) &
beat=$!
trap 'kill "$beat" 2>/dev/null || true' EXIT

# `go install module@version` builds with the module's own go.mod/go.sum (it has no replace
# directives); GOBIN points at a temp dir so a half-written binary is never taken for a build.
tmp="$out/.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
GOBIN="$tmp" go install -trimpath \
  -ldflags "-s -w -X $helm_module/internal/version.version=$helm_version -X $helm_module/internal/version.gitTreeState=clean" \
  "$helm_module/cmd/helm@$helm_version"
mv "$tmp/helm" "$bin"
rm -rf "$tmp"
log "helm $helm_version done in $((SECONDS - start))s"
echo "$bin"
