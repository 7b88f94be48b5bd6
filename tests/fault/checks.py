# End-of-run checks of the fault suite, run on the stopped brokers' data dirs (logread.py) and the
# producers' delivery reports (workload.py):
#   - every acknowledged write is at its acknowledged offset with its value, on every replica,
#     and below the committed high watermark;
#   - no value twice within one producer id + epoch; per producer instance and partition,
#     sequence numbers increase with offset;
#   - replicas hold the committed high watermark (max over the brokers'
#     replication-offset-checkpoint) and identical batches (base, last, crc, leader epoch) below it;
#   - `strata log verify` exits 0 on every data dir;
#   - every message got a delivery report within message.timeout.ms + margin (else "stuck");
#   - no write sent after the final heal, once every ISR was full, failed.
# Findings go to the Report as violations, at most MAX_DETAILS printed per kind.

import collections
import os
import subprocess

import logread
from logread import parse_value

MAX_DETAILS = 10


class Findings:
    """Violations grouped by kind; the first MAX_DETAILS of each kind are printed."""

    def __init__(self, report):
        self.report = report
        self.by_kind = collections.Counter()

    def add(self, kind, detail):
        self.by_kind[kind] += 1
        if self.by_kind[kind] <= MAX_DETAILS:
            self.report.violation(kind, detail)

    def close(self):
        for kind, n in sorted(self.by_kind.items()):
            if n > MAX_DETAILS:
                self.report.violation(kind, f"... {n - MAX_DETAILS} more {kind} findings "
                                            f"({n} in total)")


class Replica:
    """One broker's copy of one partition."""

    def __init__(self, broker, batches):
        self.broker = broker
        self.batches = batches
        self.end = logread.log_end(batches)
        self.by_offset = {}
        for b in batches:
            for off, _key, value in b.records:
                self.by_offset[off] = (value, b)


def load(data_dirs, topic, partitions, findings):
    """{partition: [Replica per broker]} and {partition: committed HW}."""
    replicas, hw = {}, {}
    cps = {}
    for bid, d in enumerate(data_dirs):
        try:
            cps[bid] = logread.read_checkpoint(os.path.join(d, "replication-offset-checkpoint"))
        except ValueError as e:
            findings.add("unreadable-checkpoint", f"broker {bid}: {e}")
            cps[bid] = {}
    for p in range(partitions):
        replicas[p] = []
        for bid, d in enumerate(data_dirs):
            batches, problems = logread.read_partition(os.path.join(d, f"{topic}-{p}"))
            for problem in problems:
                findings.add("unreadable-log", f"broker {bid} {topic}-{p}: {problem}")
            replicas[p].append(Replica(bid, batches))
        hw[p] = max(cps[bid].get((topic, p), 0) for bid in cps)
    return replicas, hw, cps


def check_replicas(replicas, hw, cps, topic, findings):
    for p, reps in replicas.items():
        h = hw[p]
        per = ", ".join(f"b{b}={cps[b].get((topic, p), '-')}" for b in sorted(cps))
        ref = max(reps, key=lambda r: (cps[r.broker].get((topic, p), 0), r.end))
        ref_keys = [b.key() for b in ref.batches if b.base < h]
        for r in reps:
            if r.end < h:
                findings.add("replica-short", f"{topic}-{p}: broker {r.broker} log end {r.end} "
                                              f"< committed HW {h} (checkpoints: {per})")
            if r is ref:
                continue
            keys = [b.key() for b in r.batches if b.base < h]
            if keys != ref_keys and not (r.end < h and keys == ref_keys[:len(keys)]):
                findings.add("replica-divergence", _first_difference(
                    topic, p, h, ref.broker, ref_keys, r.broker, keys))


def _first_difference(topic, p, h, ref_id, ref_keys, other_id, keys):
    i = 0
    while i < min(len(ref_keys), len(keys)) and ref_keys[i] == keys[i]:
        i += 1
    fmt = "(base {}, last {}, crc {}, epoch {})".format
    exp = fmt(*ref_keys[i]) if i < len(ref_keys) else "nothing"
    got = fmt(*keys[i]) if i < len(keys) else "nothing"
    return (f"{topic}-{p} below HW {h}: batch #{i} differs: broker {ref_id} has {exp}, "
            f"broker {other_id} has {got}")


def check_acks(messages, replicas, hw, topic, findings):
    """Returns (acknowledged writes, of which acknowledged without an offset)."""
    acked = no_offset = 0
    for m in messages:
        if m.offset is None:
            if m.reported is not None and m.error is None:
                acked += 1
                no_offset += 1
                _check_ack_without_offset(m, replicas[m.partition], topic, findings)
            continue
        acked += 1
        p, off = m.partition, m.offset
        if off >= hw[p]:
            findings.add("acked-above-hw", f"{topic}-{p} offset {off} ({m.value.decode()}) "
                                           f"acknowledged but committed HW is {hw[p]}")
        ok, bad, short = 0, [], 0
        for r in replicas[p]:
            got = r.by_offset.get(off)
            if got is not None and got[0] == m.value:
                ok += 1
            elif got is None and r.end <= off < hw[p]:
                short += 1      # beyond a short replica's end: reported as replica-short
                bad.append(f"b{r.broker}: missing (log end {r.end})")
            elif got is None:
                bad.append(f"b{r.broker}: missing (log end {r.end})")
            else:
                bad.append(f"b{r.broker}: {got[0].decode(errors='replace')}")
        if ok == 0:
            findings.add("acked-write-lost", f"{topic}-{p} offset {off}: expected "
                         f"{m.value.decode()}; {'; '.join(bad)}; value found at "
                         f"{_locate(m.value, replicas[p])}")
        elif len(bad) > short:
            findings.add("acked-write-mismatch", f"{topic}-{p} offset {off}: expected "
                         f"{m.value.decode()}; {'; '.join(bad)} (other replicas ok)")
    return acked, no_offset


def _check_ack_without_offset(m, reps, topic, findings):
    """librdkafka reports a retried batch the broker answered DUPLICATE_SEQUENCE_NUMBER as
    delivered without an offset: the value must then be in the log (wherever it is)."""
    if not any(v == m.value for r in reps for v, _b in r.by_offset.values()):
        findings.add("acked-write-lost", f"{topic}-{m.partition}: {m.value.decode()} "
                                         f"acknowledged without an offset, found on no replica")


def _locate(value, reps):
    spots = [f"b{r.broker}@{off}" for r in reps for off, (v, _b) in r.by_offset.items()
             if v == value]
    return ", ".join(spots[:6]) or "nowhere"


def check_producer_order(replicas, topic, findings):
    """Duplicates within producer id + epoch, and sequence order per instance, per replica."""
    dups, reorders = {}, {}
    for p, reps in replicas.items():
        for r in reps:
            seen, last = {}, {}
            for b in r.batches:
                for off, _key, value in b.records:
                    parsed = parse_value(value) if value is not None else None
                    if parsed is None:
                        continue
                    ident = (b.pid, b.pepoch, value)
                    if ident in seen:
                        k = (p, value, seen[ident], off)
                        dups.setdefault(k, (b.pid, b.pepoch, []))[2].append(r.broker)
                    else:
                        seen[ident] = off
                    inst = parsed[:2]
                    prev = last.get(inst)
                    if prev is not None and parsed[2] < prev[0]:
                        k = (p, inst, prev[1], off)
                        reorders.setdefault(k, (prev[0], parsed[2], []))[2].append(r.broker)
                    last[inst] = (parsed[2], off)
    for (p, value, first, off), (pid, ep, brokers) in sorted(dups.items()):
        findings.add("duplicate", f"{topic}-{p}: {value.decode()} (producerId {pid} epoch {ep}) "
                                  f"at offsets {first} and {off} on brokers {brokers}")
    for (p, inst, o1, o2), (s1, s2, brokers) in sorted(reorders.items()):
        findings.add("reordered", f"{topic}-{p}: producer {inst[0]} instance {inst[1]}: seq "
                                  f"{s1} at offset {o1} before seq {s2} at offset {o2} on brokers "
                                  f"{brokers}")


def check_reports(messages, args, findings, isr_full_at=None):
    """Stuck and late reports; with isr_full_at (monotonic), writes sent once the healed
    cluster's ISRs were full that still failed (one finding per partition and error)."""
    limit = args.message_timeout_ms / 1000.0 + args.stuck_margin_s
    failed = collections.defaultdict(list)
    for m in messages:
        if isr_full_at is not None and m.sent >= isr_full_at and m.error is not None:
            failed[(m.partition, m.error)].append(m)
        if m.reported is None:
            findings.add("stuck", f"{m.value.decode()} to partition {m.partition}: no delivery "
                                  f"report at all (waited until it was over {limit:.0f} s old)")
        elif m.reported - m.sent > limit:
            findings.add("late-report", f"{m.value.decode()} to partition {m.partition}: "
                                        f"report after {m.reported - m.sent:.1f} s > {limit:.0f} s")
    for (p, error), ms in sorted(failed.items()):
        findings.add("failed-after-heal", f"{len(ms)} writes to {args.topic}-{p} sent after the "
                     f"final heal, once every ISR was full, failed with {error} (first: "
                     f"{ms[0].value.decode()}, last: {ms[-1].value.decode()})")


def verify_logs(strata, data_dirs, findings):
    for bid, d in enumerate(data_dirs):
        p = subprocess.run([strata, "log", "verify", d, "--quiet"], capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0:
            lines = (p.stdout + p.stderr).strip().splitlines()
            findings.add("log-verify", f"broker {bid}: strata log verify {d} exited "
                                       f"{p.returncode}: " + " | ".join(lines[-6:]))


def run_all(args, data_dirs, messages, report):
    """Runs every data check; returns the number of acknowledged writes."""
    findings = Findings(report)
    replicas, hw, cps = load(data_dirs, args.topic, args.partitions, findings)
    check_replicas(replicas, hw, cps, args.topic, findings)
    acked, no_offset = check_acks(messages, replicas, hw, args.topic, findings)
    report.set_value("acked_without_offset", no_offset)
    check_producer_order(replicas, args.topic, findings)
    check_reports(messages, args, findings, report.values.get("isr_full_at"))
    verify_logs(args.strata, data_dirs, findings)
    findings.close()
    report.set_value("committed_hw", hw)
    report.set_value("log_ends", {p: [r.end for r in reps] for p, reps in replicas.items()})
    return acked
