#!/usr/bin/env bash
# Replication cost on this machine: a real etcd and three real brokers on loopback, driven by
# `strata bench produce` (Strata's client). Each round measures, in the same run:
#   baseline  acks=1   on a topic with replication factor 1 (one broker does the work)
#   replicas  acks=all on a topic with replication factor 3, min.insync.replicas=2
# first flat out (throughput), then at a fixed rate (send-to-ack latency p50/p99), and prints
# the medians over the rounds and the ratio replicated/baseline. Results: docs/benchmarks.md.
#
#   perf/replication_bench.sh [ROUNDS (5)] [RECORDS (200000)] [RATE (5000 records/s)]
set -euo pipefail
cd "$(dirname "$0")/.."
S=${STRATA:-build/release/tools/strata}
rounds=${1:-5} records=${2:-200000} rate=${3:-5000}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ec=$(free_port) ep=$(free_port)
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$ec" \
  --advertise-client-urls "http://127.0.0.1:$ec" --listen-peer-urls "http://127.0.0.1:$ep" \
  >"$work/etcd.log" 2>&1 &
pids+=($!)
sleep 2
ports=()
for id in 0 1 2; do
  port=$(free_port)
  ports+=("$port")
  "$S" serve --metadata "etcd://127.0.0.1:$ec" --broker-id "$id" --data-dir "$work/b$id" \
    --listen "127.0.0.1:$port" --log-level warn >"$work/b$id.log" 2>&1 &
  pids+=($!)
done
B="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
for _ in $(seq 1 100); do
  "$S" cluster status --metadata "etcd://127.0.0.1:$ec" 2>/dev/null | grep -q "brokers: 3" && break
  sleep 0.2
done
"$S" topic create --bootstrap "$B" --topic rf1 --partitions 3 --replication-factor 1 >/dev/null
"$S" topic create --bootstrap "$B" --topic rf3 --partitions 3 --replication-factor 3 \
  --config min.insync.replicas=2 >/dev/null
sleep 2

# bench TOPIC ACKS RECORDS [RATE] -> "records/s p50-ms p99-ms"
bench() {
  local out
  out=$("$S" bench produce --bootstrap "$B" --topic "$1" --acks "$2" --records "$3" \
    --record-bytes 100 --partitions 3 ${4:+--rate $4})
  local rps p50 p99
  rps=$(sed -n 's/.*MB\/s, \([0-9.]*\) records\/s.*/\1/p' <<<"$out" | head -1)
  p50=$(sed -n 's/.*p50 \([0-9.]*\).*/\1/p' <<<"$out")
  p99=$(sed -n 's/.*p99 \([0-9.]*\).*/\1/p' <<<"$out")
  echo "$rps $p50 $p99"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -a t1 t3 l1p50 l1p99 l3p50 l3p99
for r in $(seq 1 "$rounds"); do
  read -r a _ _ < <(bench rf1 1 "$records")
  read -r b _ _ < <(bench rf3 all "$records")
  read -r _ c50 c99 < <(bench rf1 1 $((rate * 5)) "$rate")
  read -r _ d50 d99 < <(bench rf3 all $((rate * 5)) "$rate")
  t1+=("$a") t3+=("$b") l1p50+=("$c50") l1p99+=("$c99") l3p50+=("$d50") l3p99+=("$d99")
  echo "round $r: acks=1 RF=1 $a rec/s, acks=all RF=3 $b rec/s; at $rate rec/s p50/p99 ms:" \
    "acks=1 RF=1 $c50/$c99, acks=all RF=3 $d50/$d99"
done
m1=$(printf '%s\n' "${t1[@]}" | median) m3=$(printf '%s\n' "${t3[@]}" | median)
echo "median throughput (100-byte records, 3 partitions): acks=1 RF=1 $m1 rec/s," \
  "acks=all RF=3 $m3 rec/s, ratio $(awk -v a="$m3" -v b="$m1" 'BEGIN {printf "%.2f", a / b}')"
echo "median latency at $rate rec/s: acks=1 RF=1 p50 $(printf '%s\n' "${l1p50[@]}" | median) ms" \
  "p99 $(printf '%s\n' "${l1p99[@]}" | median) ms; acks=all RF=3 p50" \
  "$(printf '%s\n' "${l3p50[@]}" | median) ms p99 $(printf '%s\n' "${l3p99[@]}" | median) ms"
