#!/usr/bin/env bash
# test/fresh-clone.sh — the README's quick start, word for word, as a newcomer meets it: a fresh
# clone in a temporary directory, an empty HOME (no kubeconfig, no npm cache, no ~/.cache), empty
# Go module and build caches. Then `npm ci && npm start` and `npm test` must both succeed.
# Time stays reasonable because the control-plane binaries come from the cache the suite already
# keeps (REFLEX_CLUSTER_CACHE, default ~/.cache/reflex/cluster: building them cold takes ~10 min
# and is what the first `npm test` on a new machine does); everything else (npm packages, Node 24,
# the CESQL TCK through the Go module proxy) is fetched from scratch. Run by .ci/run.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
clusters="${REFLEX_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reflex/cluster}"
# Prometheus and promtool (test/oracle/monitoring/build.sh) likewise: ~7 min to build cold.
monitoring="${REFLEX_MONITORING_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reflex/monitoring}"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/home"
git clone -q "$repo" "$work/reflex"
cd "$work/reflex"
run() {
  env -i PATH="$PATH" HOME="$work/home" GOMODCACHE="$work/gomod" GOCACHE="$work/gocache" GOPATH="$work/gopath" \
    REFLEX_CLUSTER_CACHE="$clusters" REFLEX_MONITORING_CACHE="$monitoring" CI="${CI:-}" TERM=dumb bash -c "$1"
}
echo "fresh clone in $work/reflex (HOME=$work/home; control plane from $clusters)"
run 'npm ci --no-audit --no-fund && npm start' | tee "$work/start.log"
grep -Eq '[0-9]+ signals, [0-9]+ decisions' "$work/start.log" || { echo "fresh-clone: npm start printed no summary" >&2; exit 1; }
run 'npm test'
echo "fresh-clone: the README's two commands succeeded"
