# The fault suite's monitor: a thread in the root namespace that, every few hundred ms, reads the
# broker registrations and partition states from etcd (JSON gateway) and asks every broker for
# Metadata (a raw Kafka Metadata v1 request written here; no answer within ~1 s = unreachable).
# It derives two checks:
#  (a) leading without a session: a broker whose registration has been absent from etcd for
#      more than a grace (counted from when it could last act: a paused or restarted broker's
#      clock restarts at SIGCONT / restart) while its own Metadata names itself leader;
#  (b) availability: per partition, time with no usable leader (etcd's leader is -1, not
#      registered, or does not claim leadership itself) while the fault model (schedule.py)
#      says a majority of brokers is healthy and one of them is in the partition's ISR.
# Every sample goes to <workdir>/monitor.jsonl for debugging.

import concurrent.futures
import json
import socket
import struct
import threading


# ---- raw Kafka Metadata v1 --------------------------------------------------------------
def _kstring(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def metadata_request(correlation_id, client_id="fault-monitor"):
    """Metadata v1 request for all topics (null topic array: no auto-creation)."""
    body = struct.pack(">hhi", 3, 1, correlation_id) + _kstring(client_id)
    body += struct.pack(">i", -1)
    return struct.pack(">i", len(body)) + body


class _Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.buf[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def int_array(self):
        return [self.take(">i") for _ in range(self.take(">i"))]


def parse_metadata_v1(buf):
    """{"brokers": [ids], "controller": id, "topics": {name: {partition: leader}}}."""
    r = _Reader(buf)
    r.take(">i")  # correlation id
    brokers = []
    for _ in range(r.take(">i")):
        brokers.append(r.take(">i"))
        r.string()
        r.take(">i")
        r.string()  # rack
    controller = r.take(">i")
    topics = {}
    for _ in range(r.take(">i")):
        r.take(">h")
        name = r.string()
        r.take(">b")
        parts = {}
        for _ in range(r.take(">i")):
            r.take(">h")
            index, leader = r.take(">i"), r.take(">i")
            r.int_array()
            r.int_array()
            parts[index] = leader
        topics[name] = parts
    return {"brokers": brokers, "controller": controller, "topics": topics}


def _recv_exact(sock, n):
    chunks = []
    while n > 0:
        c = sock.recv(n)
        if not c:
            raise OSError("connection closed")
        chunks.append(c)
        n -= len(c)
    return b"".join(chunks)


def query_metadata(ip, port=9092, timeout=1.0):
    """The broker's Metadata answer, or None if it does not answer within timeout."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(metadata_request(1))
            size = struct.unpack(">i", _recv_exact(s, 4))[0]
            return parse_metadata_v1(_recv_exact(s, size))
    except (OSError, struct.error, UnicodeDecodeError):
        return None


# ---- the monitor thread -----------------------------------------------------------------
class Episode:
    def __init__(self, start, faults):
        self.start = start
        self.end = start
        self.faults = faults
        self.partitions = set()


class Monitor(threading.Thread):
    def __init__(self, cluster, faults, args, report, jsonl_path):
        super().__init__(name="monitor", daemon=True)
        self.cluster = cluster
        self.faults = faults          # schedule.FaultState
        self.args = args
        self.report = report
        self.topic = args.topic
        self.interval = args.monitor_interval_ms / 1000.0
        self.grace = args.session_grace_ms / 1000.0
        self.target = args.failover_target_ms / 1000.0
        self._halt = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=3)
        self._out = open(jsonl_path, "w", buffering=1)
        self.absent_since = {}        # broker -> first sample time seen unregistered
        self.sessionless = {}         # broker -> open Episode
        self.unavailable = {}         # partition -> open Episode
        self.longest = {}             # partition -> (seconds, start)
        self.isr_seen = {}            # partition -> last ISR (as a set)
        self.isr_changes = {}         # partition -> ISR membership changes seen
        self.samples = 0

    def stop(self):
        self._halt.set()
        self.join(15)
        self.finish()

    def run(self):
        while not self._halt.is_set():
            try:
                self.sample()
            except Exception as e:  # noqa: BLE001 - the monitor must keep going
                self.report.count("monitor", f"sample error {type(e).__name__}")
            self._halt.wait(self.interval)

    def _claims(self):
        futs = {b.id: self._pool.submit(query_metadata, b.node.ip) for b in self.cluster.brokers}
        claims = {}
        for bid, fut in futs.items():
            md = fut.result()
            if md is None:
                claims[bid] = None            # unreachable
            else:
                leaders = md["topics"].get(self.topic, {})
                claims[bid] = sorted(p for p, leader in leaders.items() if leader == bid)
        return claims

    def sample(self):
        try:
            state = self.cluster.etcd.cluster_state(self.topic)
        except OSError:
            self.report.count("monitor", "etcd read failed")
            return
        claims = self._claims()
        # After the claims: a broker resumed while we waited for its answer counts as acting
        # from its resume, not from before its pause.
        snap = self.faults.snapshot()
        t = self.report.now()
        self.samples += 1
        self._check_sessions(t, state, claims, snap)
        self._check_availability(t, state, claims, snap)
        parts = {p: [s.get("leader"), s.get("isr")] for p, s in state["partitions"].items()}
        self._out.write(json.dumps({"t": round(t, 3), "faults": snap.active, "etcd": parts,
                                    "registered": sorted(state["brokers"]),
                                    "claims": claims}) + "\n")

    # (a) leading without a session
    def _check_sessions(self, t, state, claims, snap):
        for b in self.cluster.brokers:
            bid = b.id
            if bid in state["brokers"]:
                self.absent_since.pop(bid, None)
            else:
                self.absent_since.setdefault(bid, t)
            since = self.absent_since.get(bid)
            bad = False
            if since is not None and claims.get(bid):
                since = max(since, snap.acting_since.get(bid, 0.0))
                bad = t - since > self.grace
            ep = self.sessionless.get(bid)
            if bad:
                if ep is None:
                    ep = self.sessionless[bid] = Episode(t, snap.active)
                ep.end = t
                ep.partitions.update(claims[bid])
            elif ep is not None:
                self._close_sessionless(bid, ep, t)

    def _close_sessionless(self, bid, ep, t):
        del self.sessionless[bid]
        self.report.violation(
            "leading-without-session",
            f"broker {bid} named itself leader of {self.topic} partitions "
            f"{sorted(ep.partitions)} while unregistered in etcd (> {self.grace:.1f} s) from "
            f"{ep.start:.1f}s to {t:.1f}s ({t - ep.start:.1f} s); faults active at start: "
            f"{'; '.join(ep.faults) or 'none'}")

    # (b) availability
    def usable_leader(self, p, state, claims):
        leader = state["partitions"].get(p, {}).get("leader", -1)
        if leader < 0 or leader not in state["brokers"]:
            return False
        return p in (claims.get(leader) or [])

    def _check_availability(self, t, state, claims, snap):
        for p in range(self.args.partitions):
            isr = set(state["partitions"].get(p, {}).get("isr", []))
            if p in self.isr_seen and self.isr_seen[p] != isr:
                self.isr_changes[p] = self.isr_changes.get(p, 0) + 1
            self.isr_seen[p] = isr
            expected = any(m & isr for m in snap.majorities)
            bad = expected and not self.usable_leader(p, state, claims)
            ep = self.unavailable.get(p)
            if bad and ep is None:
                self.unavailable[p] = Episode(t, snap.active)
            elif not bad and ep is not None:
                self._close_unavailable(p, ep, t)

    def _close_unavailable(self, p, ep, t):
        del self.unavailable[p]
        length = t - ep.start
        if length > self.longest.get(p, (0.0, 0.0))[0]:
            self.longest[p] = (length, ep.start)
        if length > self.target:
            self.report.violation(
                "unavailable",
                f"{self.topic}-{p} had no usable leader for {length:.1f} s (from {ep.start:.1f}s"
                f" to {t:.1f}s; target {self.target:.1f} s) while a healthy majority in its ISR"
                f" existed; faults active at start: {'; '.join(ep.faults) or 'none'}")

    def finish(self):
        """Closes open episodes at the last sample time (called once the thread stopped)."""
        t = self.report.now()
        for bid, ep in list(self.sessionless.items()):
            self._close_sessionless(bid, ep, t)
        for p, ep in list(self.unavailable.items()):
            self._close_unavailable(p, ep, t)
        self._pool.shutdown(wait=True)
        self._out.close()

    def longest_summary(self):
        return {p: self.longest.get(p, (0.0, 0.0)) for p in range(self.args.partitions)}
