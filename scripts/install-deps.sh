#!/usr/bin/env bash
# Installs the Debian 12 packages Strata needs to build, test and benchmark. Idempotent: when
# everything is present it only runs dpkg-query and returns in well under a second.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache  # toolchain (g++ 12, CMake 3.25), build cache
  python3                                   # build-time protocol codec generator (stdlib only)
  clang libclang-rt-14-dev                  # libFuzzer targets
  liburing-dev                              # io_uring network front end
  libabsl-dev                               # Status/StatusOr, strings, synchronization, hashing
  libxxhash-dev                             # XXH3 key digests (compaction), content checksums
  libzstd-dev liblz4-dev libsnappy-dev zlib1g-dev   # record batch codecs clients use
  libgtest-dev libgmock-dev googletest      # unit and integration tests
  libbenchmark-dev                          # perf/ micro-benchmarks
  librdkafka-dev kcat                       # real Kafka clients for interop tests and fixtures
  python3-confluent-kafka python3-kafka     # Python Kafka clients in interop tests
  libcurl4-openssl-dev nlohmann-json3-dev   # etcd v3 JSON gateway client (replication/etcd_store)
  etcd-server                               # real etcd for the MetadataStore conformance tests
  iproute2 iptables                         # the fault suite's network namespaces and link cuts
  clang-format                              # style checks
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
