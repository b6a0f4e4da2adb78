#!/usr/bin/env bash
# test/unit/cesql-tck.sh — makes sure the copy of the CESQL TCK shipped in sdk-go's sql module is in
# the Go module cache, where test/unit/cesql-tck.test.ts looks when neither REFLEX_CESQL_TCK nor
# ../shared/cesql-tck exists; prints its directory. Safe to re-run: a present copy is not fetched.
# The proxy refuses to list versions, so the version is always named exactly.
# @see docs/cesql.md
set -euo pipefail

module=github.com/cloudevents/sdk-go/sql/v2
version=v2.16.2
dir="$(go env GOMODCACHE)/${module}@${version}/test/tck"

if ! compgen -G "${dir}/*.yaml" >/dev/null; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && go mod init tck >/dev/null 2>&1 && go mod download -json "${module}@${version}" >/dev/null)
fi

compgen -G "${dir}/*.yaml" >/dev/null || { echo "cesql-tck: no TCK in ${dir} after downloading ${module}@${version}" >&2; exit 1; }
echo "${dir}"
