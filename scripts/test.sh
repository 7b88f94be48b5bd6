#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the suite in a release build, the suite
# again under AddressSanitizer + UndefinedBehaviorSanitizer, the fault suite (network partitions,
# pauses and kills of a three-broker cluster), then each libFuzzer target for a bounded time.
# Exits non-zero on the first failure. Used by the README and by .ci/run.
#
#   STRATA_FUZZ_SECONDS   seconds per fuzz target (default 60)
#   STRATA_FAULT_SECONDS  length of the fault suite's fault phase (default 150)
#   STRATA_FAULT_SEED     its seed (default: derived from the commit)
#   STRATA_SKIP_ASAN=1    skip the sanitizer build (local iteration only; CI runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/strata-ccache}"
# Hash paths relative to the checkout, so a fresh clone elsewhere (CI) reuses cached objects.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

step() { printf '\n==== %s\n' "$*"; }

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release
step "release tests"
ctest --preset release

step "fault suite (short)"
# Three brokers and etcd in network namespaces, links cut and healed, brokers paused and killed
# on a seeded schedule while idempotent acks=all producers write; then every acknowledged write
# and every replica is checked (tests/fault/README.md). The seed follows the commit, so a
# failure replays with the seed it prints. Needs root (network namespaces).
fault_seed=$(( 16#$(git rev-parse --short=7 HEAD 2>/dev/null || echo 1) % 100000 ))
/usr/bin/python3 tests/fault/fault_suite.py --duration "${STRATA_FAULT_SECONDS:-150}" \
  --seed "${STRATA_FAULT_SEED:-$fault_seed}" --strata build/release/tools/strata

if [[ "${STRATA_SKIP_ASAN:-0}" != 1 ]]; then
  step "asan+ubsan build"
  cmake --preset asan >/dev/null
  cmake --build --preset asan
  step "asan+ubsan tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset asan
fi

step "fuzz targets"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzzers
seconds="${STRATA_FUZZ_SECONDS:-60}"
for target in build/fuzz/tests/fuzz/*_fuzz; do
  name=$(basename "$target" _fuzz)
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzzing $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 "$corpus" \
    2>&1 | tail -n 12
  rm -rf "$corpus"
done

step "all tests passed"
