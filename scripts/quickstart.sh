#!/usr/bin/env bash
# The main job, from a fresh machine: install what is missing, build, then write a demo partition
# with the storage engine, dump its first batches and verify it.
#
#   DATA_DIR   where the demo data goes (default ./demo-data)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/strata-ccache}"
cmake --preset release >/dev/null
cmake --build --preset release --target strata

strata=build/release/tools/strata
data="${DATA_DIR:-./demo-data}"
rm -rf "$data"
echo "== writing a demo partition"
"$strata" log generate "$data" --topic demo --partitions 1 --records 200000 \
  --record-bytes 200 --batch-records 200 --compression lz4 --segment-bytes 16MiB
echo "== first batches of $data/demo-0"
"$strata" log dump "$data/demo-0" --records --print-data | head -n 8
echo "== verifying $data"
"$strata" log verify "$data"
