#!/usr/bin/env bash
# test/cluster/build.sh — builds the test control plane from Go modules, once per version set.
#
# Produces, in $REFLEX_CLUSTER_CACHE/<key>/ (default ~/.cache/reflex/cluster/<key>):
#   bin/etcd                        etcd 3.6 (wrapper module: etcd's own go.mod has replaces)
#   bin/kube-apiserver              } k8s.io/kubernetes (wrapper module replacing every staging
#   bin/kube-controller-manager     } module with its published v0.x tag, list derived at build time)
#   bin/kubectl                     } (matching the server: Debian's kubectl is 1.20)
#   bin/apiserver_receive_adapter   knative.dev/eventing's ApiServerSource adapter (plain go install)
#   bin/knative-oracle              test/oracle: Knative's own validation, filters and delivery as a
#                                   JSON-lines process (rebuilt when its source's hash changes)
#   bin/alertmanager                } github.com/prometheus/alertmanager (test/cluster/alertmanager.test.ts)
#   bin/amtool                      } (test/wire/alerts-examples.test.ts: `amtool check-config`)
#   crds/*.yaml                     Knative Serving + Eventing CRDs from the module zips
# Nothing here is committed; only this script is. Safe to re-run: finished parts are skipped.
# `build.sh --alertmanager` builds (or finds) only alertmanager and amtool, and prints the directory.
# @see docs/testing.md
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.36.3}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
EVENTING_VERSION=${EVENTING_VERSION:-v0.49.2}   # = Knative 1.22
SERVING_VERSION=${SERVING_VERSION:-v0.49.1}
ALERTMANAGER_VERSION=${ALERTMANAGER_VERSION:-v0.35.0}

key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_eventing-${EVENTING_VERSION}_serving-${SERVING_VERSION}"
root=${REFLEX_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reflex/cluster}
out="$root/$key"
mkdir -p "$out/bin" "$out/crds" "$out/src"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
# test/oracle, found before any step changes directory.
oracle_src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../oracle" && pwd)"
log() { printf '[cluster-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ "${1:-}" = "--print-dir" ]; then echo "$out"; exit 0; fi

build_etcd() {
  [ -x "$out/bin/etcd" ] && { log "etcd $ETCD_VERSION cached"; return; }
  log "building etcd $ETCD_VERSION"
  local w="$out/src/etcd"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  go mod init reflex.local/etcd-bin >/dev/null 2>&1
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/bin/etcd.tmp" "$out/bin/etcd"
  log "etcd done"
}

build_kube() {
  local want=() c
  for c in kube-apiserver kube-controller-manager kubectl; do [ -x "$out/bin/$c" ] || want+=("$c"); done
  if [ ${#want[@]} -eq 0 ]; then log "kubernetes $K8S_VERSION cached"; return; fi
  log "building ${want[*]} $K8S_VERSION (see docs/testing.md for measured times)"
  local w="$out/src/kube"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  local gomod minor
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  go mod init reflex.local/kube-bins >/dev/null 2>&1
  # Copy upstream's go and godebug lines: only the main module's apply to the binaries.
  go mod edit -go="$(sed -n 's/^go //p' "$gomod")"
  local gd; gd=$(sed -n 's/^godebug //p' "$gomod" || true)
  [ -n "$gd" ] && go mod edit -godebug="$gd"
  # Every staging module k/k maps to ./staging/src/k8s.io/X gets its published v0.<minor>.<patch>.
  local mods; mods=$(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/k8s.io/.*|\1|p' "$gomod")
  local n=0
  for m in $mods; do go mod edit -replace="$m=$m@v0.${K8S_VERSION#1.}"; n=$((n+1)); done
  log "replaced $n staging modules with v0.${K8S_VERSION#1.}"
  local pkgs=() tools=()
  for c in "${want[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); tools+=("k8s.io/kubernetes/cmd/$c@v$K8S_VERSION"); done
  go get -tool "${tools[@]}" >&2
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  # One go build for all of them: the shared packages compile once.
  go build -trimpath -tags=selinux,notest -ldflags "$ld" -o "$out/src/kube/bin/" "${pkgs[@]}"
  for c in "${want[@]}"; do mv "$out/src/kube/bin/$c" "$out/bin/"; done
  log "kubernetes done"
}

build_adapter() {
  [ -x "$out/bin/apiserver_receive_adapter" ] && { log "receive adapter cached"; return; }
  log "building knative apiserver_receive_adapter $EVENTING_VERSION"
  # A wrapper module rather than `go install pkg@v`: go install asks the proxy for the module's
  # version list (deprecation check), which the proxy refuses for knative.dev/eventing.
  local w="$out/src/adapter"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  go mod init reflex.local/adapter-bin >/dev/null 2>&1
  go get -tool "knative.dev/eventing/cmd/apiserver_receive_adapter@$EVENTING_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$out/bin/apiserver_receive_adapter.tmp" \
    knative.dev/eventing/cmd/apiserver_receive_adapter
  mv "$out/bin/apiserver_receive_adapter.tmp" "$out/bin/apiserver_receive_adapter"
  log "adapter done"
}

build_oracle() {
  # Keyed by a hash of test/oracle (and the eventing version), so a source change rebuilds it.
  local src="$oracle_src"
  local sum; sum=$( (cd "$src" && cat go.mod go.sum ./*.go; echo "$EVENTING_VERSION") | sha256sum | cut -c1-16)
  if [ -x "$out/bin/knative-oracle" ] && [ "$(cat "$out/bin/knative-oracle.sum" 2>/dev/null)" = "$sum" ]; then
    log "knative oracle cached ($sum)"; return
  fi
  log "building the knative oracle ($sum) against knative.dev/eventing $EVENTING_VERSION"
  local ev; ev=$(go mod download -json "knative.dev/eventing@$EVENTING_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  # A copy, as for the adapter: the build may write go.mod/go.sum (GOFLAGS=-mod=mod), never the repo's.
  local w="$out/src/oracle"; rm -rf "$w"; mkdir -p "$w/config"; cd "$w"
  cp "$src"/go.mod "$src"/go.sum "$src"/*.go .
  # The ConfigMaps a fresh install creates: the webhook's context is built from them (go:embed).
  cp "$ev/config/core/configmaps/features.yaml" "$ev/config/core/configmaps/default-broker.yaml" config/
  go mod edit -require="knative.dev/eventing@$EVENTING_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$out/bin/knative-oracle.tmp" .
  mv "$out/bin/knative-oracle.tmp" "$out/bin/knative-oracle"
  echo "$sum" > "$out/bin/knative-oracle.sum"
  log "oracle done"
}

fetch_crds() {
  [ -f "$out/crds/.done" ] && { log "knative CRDs cached"; return; }
  log "extracting Knative CRDs"
  local ev sv
  ev=$(go mod download -json "knative.dev/eventing@$EVENTING_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  sv=$(go mod download -json "knative.dev/serving@$SERVING_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  for f in "$ev"/config/core/resources/*.yaml; do cp "$f" "$out/crds/eventing-$(basename "$f")"; done
  for f in "$sv"/config/core/300-resources/*.yaml; do cp "$f" "$out/crds/serving-$(basename "$f")"; done
  chmod u+w "$out"/crds/*.yaml
  touch "$out/crds/.done"
}

build_alertmanager() {
  # Two callers at once (the cluster tier's global setup, test/wire/alerts-examples.test.ts): one
  # builds, the other waits for it.
  (
    flock 9
    local want=() c
    for c in alertmanager amtool; do [ -x "$out/bin/$c" ] || want+=("$c"); done
    if [ ${#want[@]} -eq 0 ]; then log "alertmanager and amtool $ALERTMANAGER_VERSION cached"; exit 0; fi
    log "building ${want[*]} $ALERTMANAGER_VERSION"
    local am; am=$(go mod download -json "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    # A writable copy: the module zip lacks the web UI's built files (ui/app/dist), which the binary
    # embeds; an empty UI is enough for the webhook and the API the tests use.
    local w="$out/src/alertmanager"; rm -rf "$w"; cp -r "$am" "$w"; chmod -R u+w "$w"; cd "$w"
    mkdir -p ui/app/dist && echo "<!doctype html><title>Alertmanager</title>" > ui/app/dist/index.html
    # One go build for both (amtool: the same config loader as alertmanager): shared packages compile once.
    local pkgs=(); for c in "${want[@]}"; do pkgs+=("./cmd/$c"); done
    go build -trimpath -ldflags "-s -w" -o "$w/bin/" "${pkgs[@]}"
    for c in "${want[@]}"; do mv "$w/bin/$c" "$out/bin/"; done
    cd "$out"; rm -rf "$w"
    log "alertmanager done"
  ) 9>"$out/.alertmanager.lock"
}

if [ "${1:-}" = "--alertmanager" ]; then build_alertmanager; echo "$out"; exit 0; fi

fetch_crds
EVENTING_VERSION=$EVENTING_VERSION bash "$(dirname "${BASH_SOURCE[0]}")/build-knative.sh" "$out" # Knative data plane (before any cd)
build_etcd
build_adapter
build_oracle
build_alertmanager
build_kube
log "all binaries ready in $out"
echo "$out"
