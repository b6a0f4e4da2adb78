#!/usr/bin/env bash
# Regenerate vocabulary/events.tsv from the pinned upstream sources.
#
#   vocabulary/generate.sh
#
# Needs: go, network access to the Go module proxy (the modules are fetched
# with `go mod download`, nothing is built from them), and for
# cluster-autoscaler a git clone of github.com/kubernetes/autoscaler
# (its tags are not Go-module versions, so the proxy cannot serve it):
# set AUTOSCALER_GIT to its git dir, or AUTOSCALER_SRC to an already checked
# out cluster-autoscaler/ directory at the pinned tag.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

K8S_NEW=v1.36.3
K8S_OLD=v1.30.14
STAGING_NEW=v0.36.3
STAGING_OLD=v0.30.14
NPD=v0.8.20
CA_TAG=cluster-autoscaler-1.36.1
CA_VERSION=1.36.1

export GOFLAGS=-mod=mod
export GOSUMDB="${GOSUMDB:-off}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# go mod download prints the module directory.
moddir() {
  (cd "$tmp" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== building the extractor" >&2
(cd extract && go build -o "$tmp/extract" .)
X="$tmp/extract"

echo "== downloading pinned modules" >&2
k8s_new="$(moddir k8s.io/kubernetes@$K8S_NEW)"
k8s_old="$(moddir k8s.io/kubernetes@$K8S_OLD)"
api_new="$(moddir k8s.io/api@$STAGING_NEW)"
api_old="$(moddir k8s.io/api@$STAGING_OLD)"
cp_new="$(moddir k8s.io/cloud-provider@$STAGING_NEW)"
cp_old="$(moddir k8s.io/cloud-provider@$STAGING_OLD)"
es_new="$(moddir k8s.io/endpointslice@$STAGING_NEW)"
es_old="$(moddir k8s.io/endpointslice@$STAGING_OLD)"
npd="$(moddir k8s.io/node-problem-detector@$NPD)"

if [[ -z "${AUTOSCALER_SRC:-}" ]]; then
  git_dir="${AUTOSCALER_GIT:-/work/.mirror/kubernetes+autoscaler/repo}"
  if [[ ! -d "$git_dir" ]]; then
    echo "cluster-autoscaler source not found: set AUTOSCALER_GIT or AUTOSCALER_SRC" >&2
    exit 1
  fi
  mkdir -p "$tmp/ca"
  git -C "$git_dir" archive "$CA_TAG" cluster-autoscaler | tar -x -C "$tmp/ca"
  AUTOSCALER_SRC="$tmp/ca/cluster-autoscaler"
fi

# Composite literals that become Events elsewhere:
# - kubelet admission results: a rejected pod gets a Warning Event with the
#   result's Reason and Message (Kubelet.rejectPod);
# - endpointslice topology-hint events (topologycache.EventBuilder), recorded
#   by the endpointslice reconciler.
STRUCTS='PodAdmitResult=Warning,Reason,Message,Pod;EventBuilder=@EventType,Reason,Message,Service'

mkdir -p "$tmp/rows" "$tmp/diag"
extract() { # name root module label consts dirs
  "$X" extract -root "$2" -module "$3" -label "$4" -consts "$5" -dirs "$6" \
    -structs "$STRUCTS" -map components.tsv -diag "$tmp/diag/$1.txt" > "$tmp/rows/$1.tsv"
}

echo "== extracting" >&2
extract k8s-new "$k8s_new" k8s.io/kubernetes "k8s.io/kubernetes@$K8S_NEW" "k8s.io/api=$api_new" pkg,cmd,plugin
extract k8s-old "$k8s_old" k8s.io/kubernetes "k8s.io/kubernetes@$K8S_OLD" "k8s.io/api=$api_old" pkg,cmd,plugin
extract cp-new "$cp_new" k8s.io/cloud-provider "k8s.io/cloud-provider@$STAGING_NEW" "k8s.io/api=$api_new" controllers
extract cp-old "$cp_old" k8s.io/cloud-provider "k8s.io/cloud-provider@$STAGING_OLD" "k8s.io/api=$api_old" controllers
extract es-new "$es_new" k8s.io/endpointslice "k8s.io/endpointslice@$STAGING_NEW" "k8s.io/api=$api_new" .
extract es-old "$es_old" k8s.io/endpointslice "k8s.io/endpointslice@$STAGING_OLD" "k8s.io/api=$api_old" .
extract ca "$AUTOSCALER_SRC" k8s.io/autoscaler/cluster-autoscaler "k8s.io/autoscaler/cluster-autoscaler@$CA_VERSION" "" .
"$X" npd -dir "$npd" -label "k8s.io/node-problem-detector@$NPD" > "$tmp/rows/npd.tsv"

# What the extractor could not resolve (resolved by hand in manual.tsv).
cat "$tmp"/diag/*.txt | grep -v '^$' | sort > unresolved.txt || true

echo "== merging" >&2
"$X" merge -out events.tsv -manual manual.tsv -normal normal.tsv -readme README.md "$tmp"/rows/*.tsv
echo "wrote $here/events.tsv ($(($(wc -l < events.tsv) - 1)) rows)" >&2
