#!/usr/bin/env bash
# test/cluster/build-knative.sh — Knative Eventing's data plane for the test control plane, built
# from knative.dev/eventing at the pinned version, once per version set (called by build.sh).
#
# Produces, in <cache dir>/ (the first argument; build.sh passes its own):
#   bin/knative-controller          cmd/controller: channels, subscriptions, sources (ApiServerSource,
#                                   PingSource), event types and policies
#   bin/knative-mt-broker-controller cmd/mtchannel_broker: the Broker (class MTChannelBasedBroker) and
#                                   Trigger reconcilers
#   bin/knative-broker-ingress      cmd/broker/ingress: the multi-tenant Broker's ingress
#   bin/knative-broker-filter       cmd/broker/filter: its filter (Trigger matching and delivery)
#   bin/knative-imc-controller      cmd/in_memory/channel_controller: InMemoryChannel reconciler
#   bin/knative-imc-dispatcher      cmd/in_memory/channel_dispatcher: InMemoryChannel dispatcher
#   knative-config/                 the release YAML (config/**) of the same module, for the test to apply
# One wrapper module and one `go build` for all six: the shared packages compile once. Prints the
# time it took. Safe to re-run: a complete set is skipped.
# @see docs/testing.md ("The Knative data plane")
set -euo pipefail

EVENTING_VERSION=${EVENTING_VERSION:-v0.49.2}
out=${1:?usage: build-knative.sh <cache dir>}
mkdir -p "$out/bin" "$out/src"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { printf '[cluster-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# binary name in bin/ = package under knative.dev/eventing/cmd/
declare -A cmds=(
  [knative-controller]=controller
  [knative-mt-broker-controller]=mtchannel_broker
  [knative-broker-ingress]=broker/ingress
  [knative-broker-filter]=broker/filter
  [knative-imc-controller]=in_memory/channel_controller
  [knative-imc-dispatcher]=in_memory/channel_dispatcher
)

want=()
for b in "${!cmds[@]}"; do [ -x "$out/bin/$b" ] || want+=("$b"); done
ev=""
if [ ! -f "$out/knative-config/.done" ]; then
  ev=$(go mod download -json "knative.dev/eventing@$EVENTING_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$out/knative-config"; mkdir -p "$out/knative-config"
  cp -r "$ev/config/." "$out/knative-config/"
  chmod -R u+w "$out/knative-config"
  touch "$out/knative-config/.done"
fi
if [ ${#want[@]} -eq 0 ]; then log "knative data plane $EVENTING_VERSION cached"; exit 0; fi

t0=$(date +%s)
log "building the knative data plane $EVENTING_VERSION: ${want[*]}"
# A wrapper module, as for the adapter (go install pkg@v asks the proxy for a version list it refuses).
w="$out/src/knative"; rm -rf "$w"; mkdir -p "$w/bin"; cd "$w"
go mod init reflex.local/knative-bins >/dev/null 2>&1
pkgs=() tools=()
for b in "${want[@]}"; do
  pkgs+=("knative.dev/eventing/cmd/${cmds[$b]}")
  tools+=("knative.dev/eventing/cmd/${cmds[$b]}@$EVENTING_VERSION")
done
go get -tool "${tools[@]}" >&2
t1=$(date +%s)
go build -trimpath -ldflags "-s -w" -o "$w/bin/" "${pkgs[@]}"
for b in "${want[@]}"; do
  # go build -o dir/ names each binary after the last element of its package path.
  mv "$w/bin/$(basename "${cmds[$b]}")" "$out/bin/$b"
done
t2=$(date +%s)
log "knative data plane done: modules $((t1 - t0)) s, compile $((t2 - t1)) s, total $((t2 - t0)) s"
