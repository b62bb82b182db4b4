#!/usr/bin/env bash
# Runs Videologue's whole test suite. On a fresh machine it first installs
# the npm packages the tests use (the official phoenix client, the asset
# build) from their lock files. Tests whose tool is missing (node, chromium,
# PostgreSQL) skip with a message; with CI=true such a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v npm >/dev/null 2>&1; then
  for lock in $(git ls-files '*package-lock.json' 2>/dev/null || find . -name package-lock.json -not -path '*/node_modules/*'); do
    dir=$(dirname "$lock")
    echo "== npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  done
else
  echo "npm not found: the tests that use the official phoenix client will skip"
fi

echo "== go vet"
go vet ./...

echo "== go test"
# The log, the socket and the projections' batched runs are where
# concurrency bugs would hide: race detector on.
raced="./eventstore/... ./channels/... ./projections/..."
go test -count=1 -race -timeout 20m $raced
others=$(go list ./... | grep -v -e /eventstore -e /channels -e /projections)
go test -count=1 -timeout 10m $others

# Fuzz targets run briefly; their seed corpora also run as plain tests above.
if [ -x scripts/fuzz.sh ]; then
  scripts/fuzz.sh 50000x
fi
