#!/usr/bin/env bash
# test/oracle/monitoring/build.sh — builds what test/wire/monitoring.test.ts checks Reflex's
# monitoring with (monitoring/), from Go modules, once per version:
#
# Produces, in $REFLEX_MONITORING_CACHE/<key>/ (default ~/.cache/reflex/monitoring/<key>):
#   bin/prometheus          } github.com/prometheus/prometheus (its Go module v0.3xx.y is Prometheus
#   bin/promtool            } 3.xx.y), without service discovery plugins (-tags remove_all_sd:
#                           } the test scrapes static targets) and without the web UI's assets
#   bin/monitoring-oracle   test/oracle/monitoring: Prometheus's parser, rulefmt and relabel, the
#                           Grafana Foundation SDK's dashboard types, the Prometheus Operator's
#                           PodMonitor type (rebuilt when its source's hash changes)
# Prints the directory on its last line. Nothing here is committed; only this script is. Safe to
# re-run and to run twice at once (a lock): finished parts are skipped. Measured times:
# docs/observability.md.
# @see docs/observability.md
set -euo pipefail

PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.316.0}   # = Prometheus 3.16.0

key="prometheus-${PROMETHEUS_VERSION}"
root=${REFLEX_MONITORING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reflex/monitoring}
out="$root/$key"

if [ "${1:-}" = "--print-dir" ]; then echo "$out"; exit 0; fi

mkdir -p "$out/bin" "$out/src"
# A caller's GOFLAGS (e.g. -p=1 on a shared machine) are kept.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod${GOFLAGS:+ $GOFLAGS}"
# test/oracle/monitoring, found before any step changes directory.
oracle_src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[monitoring-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Two test files (or a test and CI) may ask at once: one builds, the other waits for it.
exec 9>"$out/.lock"
flock 9

build_prometheus() {
  if [ -x "$out/bin/prometheus" ] && [ -x "$out/bin/promtool" ]; then log "prometheus $PROMETHEUS_VERSION cached"; return; fi
  log "building prometheus and promtool $PROMETHEUS_VERSION (a few minutes the first time)"
  # A wrapper module, as test/cluster/build.sh does: the proxy lists no versions, so
  # `go install pkg@latest` cannot be used; an exact version through `go get -tool` can.
  local w="$out/src/prometheus"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  go mod init reflex.local/prometheus-bin >/dev/null 2>&1
  go get -tool "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" >&2
  # Module v0.3xx.y is release 3.xx.y: what `prometheus --version` then says.
  local v; v="3.$(echo "$PROMETHEUS_VERSION" | sed -E 's/^v0\.3([0-9]+)\.([0-9]+)$/\1.\2/')"
  # One go build for both: the shared packages compile once.
  go build -trimpath -tags remove_all_sd -ldflags "-s -w -X github.com/prometheus/common/version.Version=$v" \
    -o "$w/bin/" github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
  mv "$w/bin/prometheus" "$w/bin/promtool" "$out/bin/"
  cd "$out"; rm -rf "$w"
  log "prometheus done"
}

build_oracle() {
  # Keyed by a hash of test/oracle/monitoring (go.mod pins Prometheus's and Grafana's modules).
  local src="$oracle_src"
  local sum; sum=$( (cd "$src" && cat go.mod go.sum ./*.go) | sha256sum | cut -c1-16)
  if [ -x "$out/bin/monitoring-oracle" ] && [ "$(cat "$out/bin/monitoring-oracle.sum" 2>/dev/null)" = "$sum" ]; then
    log "monitoring oracle cached ($sum)"; return
  fi
  log "building the monitoring oracle ($sum)"
  # A copy: the build may write go.mod/go.sum (GOFLAGS=-mod=mod), never the repository's.
  local w="$out/src/oracle"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
  cp "$src"/go.mod "$src"/go.sum "$src"/*.go .
  go build -trimpath -ldflags "-s -w" -o "$out/bin/monitoring-oracle.tmp" .
  mv "$out/bin/monitoring-oracle.tmp" "$out/bin/monitoring-oracle"
  echo "$sum" > "$out/bin/monitoring-oracle.sum"
  cd "$out"; rm -rf "$w"
  log "oracle done"
}

build_oracle
build_prometheus
log "ready in $out"
echo "$out"
