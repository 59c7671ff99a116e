#!/usr/bin/env bash
# Builds the pinned upstream control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl) from Go modules into a
# per-machine cache outside the work tree, keyed by version. A finished build is
# reused; a build interrupted half-way is redone (each binary is written to a
# temp name and renamed, and the whole set is marked complete by a stamp file).
# A cache stamped complete by an older version of this script that lacks a
# binary added since gets only that binary built.
#
# Usage: build-binaries.sh            -> prints the bin directory on stdout
#        build-binaries.sh kubelet kube-proxy -> also builds those (only the real-node cluster needs them)
# Env:   REAPER_FLOW_CACHE (default ~/.cache/reaper-flow)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$here/gomod"
k8s_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$gomod/go.mod")"
etcd_version="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$gomod/go.mod")"
cache_root="${REAPER_FLOW_CACHE:-$HOME/.cache/reaper-flow}"
out="$cache_root/k8s-$k8s_version-etcd-$etcd_version/bin"
stamp="$out/.complete"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
# Optional extras, built only when asked for; same module, same ldflags, same cache.
extras=()
for arg in "$@"; do
  case "$arg" in
    kubelet | kube-proxy) extras+=("$arg") ;;
    *) printf 'build-binaries.sh: unknown binary %s (known extras: kubelet, kube-proxy)\n' "$arg" >&2; exit 2 ;;
  esac
done

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

complete() {
  [[ -f "$stamp" ]] || return 1
  local name
  for name in "${binaries[@]}"; do [[ -x "$out/$name" ]] || return 1; done
  for name in "${extras[@]}"; do [[ -x "$out/$name" ]] || return 1; done
}

if complete; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { log "Go is required (go 1.26) but 'go' is not on PATH"; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$out"

# One build at a time per cache: a second caller waits for the first.
exec 9>"$out/.lock"
if ! flock -n 9; then
  log "another build of $k8s_version is running; waiting for it"
  flock 9
  if complete; then echo "$out"; exit 0; fi
fi

log "building Kubernetes $k8s_version and etcd $etcd_version into $out"
log "the first build takes about 5 minutes on 2 cores (module download + compile); later runs reuse the cache"

ldflags_k8s="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$k8s_version" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"

cd "$gomod"
log "downloading modules (go mod download)"
go mod download 2>&1 | sed 's/^/    /' >&2

build() {
  local name="$1" pkg="$2" ldflags="$3"
  if [[ -x "$out/$name" ]]; then log "$name already built"; return; fi
  local start=$SECONDS
  log "compiling $name ($pkg) ..."
  # Heartbeat so a long compile is never minutes of silence.
  ( while sleep 30; do log "  still compiling $name ($((SECONDS - start))s)"; done ) &
  local beat=$!
  if ! go build -trimpath -ldflags "$ldflags" -o "$out/.$name.tmp" "$pkg"; then
    kill "$beat" 2>/dev/null || true
    log "building $name failed"
    exit 1
  fi
  kill "$beat" 2>/dev/null || true
  mv "$out/.$name.tmp" "$out/$name"
  log "$name done in $((SECONDS - start))s"
}

build etcd go.etcd.io/etcd/server/v3 "-s -w"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$ldflags_k8s"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$ldflags_k8s"
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$ldflags_k8s"
build kubectl k8s.io/kubernetes/cmd/kubectl "$ldflags_k8s"
for name in "${extras[@]}"; do
  build "$name" "k8s.io/kubernetes/cmd/$name" "$ldflags_k8s"
done

touch "$stamp"
log "all binaries ready in $out"
echo "$out"
