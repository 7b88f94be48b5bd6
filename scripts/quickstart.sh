#!/usr/bin/env bash
# The main job, from a fresh machine: install what is missing, build, and run one broker with
# sensible defaults in the foreground (Ctrl-C or SIGTERM stops it cleanly).
#
#   DATA_DIR   data directory (default ./data)
#   LISTEN     HOST:PORT to listen on (default 127.0.0.1:9092)
#   Extra arguments are passed to `strata serve` (e.g. --config server.properties).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/strata-ccache}"
cmake --preset release >/dev/null
cmake --build --preset release --target strata

echo "== starting a broker on ${LISTEN:-127.0.0.1:9092} with data in ${DATA_DIR:-./data}"
exec build/release/tools/strata serve --data-dir "${DATA_DIR:-./data}" \
  --listen "${LISTEN:-127.0.0.1:9092}" "$@"
