#!/usr/bin/env bash
# Fails when regenerating from proto/ would change gen/ or clients/gen/:
# generated code is committed, so it must match the protos it came from.
# It generates into a scratch copy, so uncommitted work is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cp -r proto buf.yaml buf.gen.yaml go.mod go.sum "$scratch"/
mkdir -p "$scratch/clients" "$scratch/gen/openapi"
ln -s "$root/clients/node_modules" "$scratch/clients/node_modules"
(cd "$scratch" && "$root/clients/node_modules/.bin/buf" generate)

status=0
for dir in gen clients/gen; do
  if ! diff -r --exclude=embed.go "$scratch/$dir" "$dir" >"$scratch/diff.txt"; then
    echo "generated code in $dir is stale; run 'make generate' and commit:" >&2
    head -40 "$scratch/diff.txt" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "generated code is up to date"
exit $status
