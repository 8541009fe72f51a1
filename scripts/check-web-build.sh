#!/usr/bin/env bash
# Fails when rebuilding the web clients would change the committed builds in
# server/web/dist (the Go server embeds them, so they must match their source).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd clients
for app in widget:widget console:agent; do
  src=${app%%:*} out=${app##*:}
  npx --no-install vite build --logLevel warn --config "$src/vite.config.ts" --outDir "$scratch/$out" --emptyOutDir
done
cd ..
status=0
for out in widget agent; do
  if ! diff -r "$scratch/$out" "server/web/dist/$out" >"$scratch/diff.txt"; then
    echo "server/web/dist/$out is stale; run 'make web' and commit:" >&2
    head -20 "$scratch/diff.txt" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "web builds are up to date"
exit $status
