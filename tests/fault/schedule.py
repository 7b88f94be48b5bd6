# The fault schedule: a plan drawn entirely from random.Random(seed) before the run (so one seed
# and duration always give the same faults at the same times; only "the leader of partition p"
# is resolved at injection time, from etcd), the fault model the monitor consults (which links
# are cut, which brokers are paused or down, hence which majorities are healthy), and the
# executor thread that injects and heals faults on time. Faults may overlap: a new one starts
# every 4-15 s and each is held 4-15 s (etcd cut ~12 s, SIGSTOP 5-15 s, kill -9 then restart
# after 1-5 s).

import collections
import heapq
import itertools
import random
import threading
import time

KINDS = ["leader-iso-brokers", "leader-iso-etcd", "leader-iso-all", "broker-iso-etcd",
         "split", "etcd-cut-all", "pause", "kill"]
BROKERS = (0, 1, 2)


class Fault:
    def __init__(self, index, start, kind, partition, broker, etcd_with_minority, hold,
                 one_way, reverse):
        self.index = index
        self.start = start
        self.kind = kind
        self.partition = partition
        self.broker = broker
        self.etcd_with_minority = etcd_with_minority
        self.hold = hold
        self.one_way = one_way
        self.reverse = reverse
        self.target = None       # resolved broker
        self.pairs = []          # cut links (node names), resolved at injection
        self.desc = ""
        self.skipped = False

    def plan_line(self):
        extra = {"split": f" etcd-with-{'minority' if self.etcd_with_minority else 'majority'}",
                 }.get(self.kind, "")
        way = " one-way" + (" reversed" if self.reverse else "") if self.one_way else ""
        return (f"#{self.index:<3} t={self.start:6.1f}s hold={self.hold:5.1f}s {self.kind:<18} "
                f"partition={self.partition} broker={self.broker}{extra}{way}")


def make_plan(seed, duration, partitions, one_way_fraction=0.0):
    """The faults of a run; every iteration draws the same fields so the stream never shifts."""
    rng = random.Random(seed)
    plan, t = [], 0.0
    for index in itertools.count(1):
        t += rng.uniform(4, 15)
        kind = rng.choice(KINDS)
        partition = rng.randrange(partitions)
        broker = rng.randrange(3)
        minority = rng.random() < 0.5
        hold = {"etcd-cut-all": rng.uniform(11, 13), "pause": rng.uniform(5, 15),
                "kill": rng.uniform(1, 5)}
        generic = rng.uniform(4, 15)
        one_way = rng.random() < one_way_fraction
        reverse = rng.random() < 0.5
        h = round(hold.get(kind, generic), 1)
        if t + h > duration:
            return plan
        plan.append(Fault(index, round(t, 1), kind, partition, broker, minority, h,
                          one_way and kind not in ("pause", "kill"), reverse))


# ---- the fault model ----------------------------------------------------------------------
class Snapshot:
    def __init__(self, active, majorities, acting_since, paused, down):
        self.active = active              # descriptions of the faults in force
        self.majorities = majorities      # healthy broker majorities (frozensets)
        self.acting_since = acting_since  # broker -> time it last resumed / restarted
        self.paused = paused
        self.down = down


def healthy_majorities(cuts, paused, down):
    """Sets of >= 2 brokers, none paused or down, all reaching etcd and each other."""
    def linked(a, b):
        return cuts[(a, b)] == 0 and cuts[(b, a)] == 0

    ok = [b for b in BROKERS if b not in paused and b not in down and linked(f"b{b}", "etcd")]
    result = []
    for size in (3, 2):
        for group in itertools.combinations(ok, size):
            if all(linked(f"b{x}", f"b{y}") for x, y in itertools.combinations(group, 2)):
                result.append(frozenset(group))
    return result


class FaultState:
    def __init__(self, report):
        self.report = report
        self._lock = threading.Lock()
        self.cuts = collections.Counter()     # directed (node, node) -> active cut count
        self.paused, self.down = set(), set()
        self.acting_since = {}
        self.active = {}                      # fault index -> description

    def add_cuts(self, pairs, symmetric, sign=1):
        with self._lock:
            for a, b in pairs:
                self.cuts[(a, b)] += sign
                if symmetric:
                    self.cuts[(b, a)] += sign

    def set_paused(self, b, paused):
        with self._lock:
            (self.paused.add if paused else self.paused.discard)(b)
            if not paused:
                self.acting_since[b] = self.report.now()

    def set_down(self, b, down):
        with self._lock:
            (self.down.add if down else self.down.discard)(b)
            if not down:
                self.acting_since[b] = self.report.now()

    def mark_acting(self, b):
        with self._lock:
            self.acting_since[b] = self.report.now()

    def set_active(self, index, desc):
        with self._lock:
            if desc is None:
                self.active.pop(index, None)
            else:
                self.active[index] = desc

    def busy(self, b):
        with self._lock:
            return b in self.paused or b in self.down

    def snapshot(self):
        with self._lock:
            return Snapshot(list(self.active.values()),
                            healthy_majorities(self.cuts, self.paused, self.down),
                            dict(self.acting_since), set(self.paused), set(self.down))


# ---- the executor -------------------------------------------------------------------------
class Executor(threading.Thread):
    """Injects and heals the planned faults at their times (seconds after start())."""

    def __init__(self, plan, net, cluster, state, report, args):
        super().__init__(name="faults", daemon=True)
        self.plan, self.net, self.cluster = plan, net, cluster
        self.state, self.report, self.args = state, report, args
        self.duration = args.duration
        self.halt = threading.Event()
        self.active = {}               # index -> Fault
        self.restarts = []             # restart threads
        self.old_lease = {}            # broker -> its registration's lease when it went down
        self.error = None

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e
            self.report.log(f"fault executor failed: {type(e).__name__}: {e}")

    def _run(self):
        start = time.monotonic()
        events = []
        for f in self.plan:
            heapq.heappush(events, (f.start, 1, f.index, f, "inject"))
            heapq.heappush(events, (f.start + f.hold, 0, f.index, f, "heal"))
        while events and not self.halt.is_set():
            at, _, _, f, what = heapq.heappop(events)
            if self.halt.wait(max(0.0, start + at - time.monotonic())):
                return
            (self.inject if what == "inject" else self.heal)(f)
        self.halt.wait(max(0.0, start + self.duration - time.monotonic()))

    # resolution of the targets
    def leader_of(self, f):
        try:
            st = self.cluster.etcd.cluster_state(self.args.topic)
            leader = st["partitions"].get(f.partition, {}).get("leader", -1)
        except OSError:
            leader = -1
        return leader if leader in BROKERS else None

    def lease_of(self, b):
        try:
            return self.cluster.etcd.registration_lease(b)
        except OSError:
            return None

    def wait_registered(self, b, timeout):
        """Waits until broker b is registered under a lease other than the one it had when it
        went down; returns whether it did within timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.cluster.stopping.is_set():
            lease = self.lease_of(b)
            if lease is not None and lease != self.old_lease.get(b):
                return True
            time.sleep(0.2)
        return False

    def free_broker(self, preferred):
        for k in range(3):
            b = (preferred + k) % 3
            if not self.state.busy(b):
                return b
        return None

    def resolve_cut(self, f):
        if f.kind.startswith("leader-"):
            leader = self.leader_of(f)
            f.target = f.broker if leader is None else leader
            who = (f"broker {f.target} (leader of {self.args.topic}-{f.partition})"
                   if leader is not None else f"broker {f.target} (no leader; fallback)")
        else:
            f.target = f.broker
            who = f"broker {f.target}"
        a = f"b{f.target}"
        others = [f"b{x}" for x in BROKERS if x != f.target]
        if f.kind in ("leader-iso-brokers", "leader-iso-all", "split"):
            f.pairs += [(a, o) for o in others]
        if f.kind in ("leader-iso-etcd", "leader-iso-all", "broker-iso-etcd"):
            f.pairs.append((a, "etcd"))
        if f.kind == "split":
            f.pairs += ([("etcd", o) for o in others] if f.etcd_with_minority
                        else [(a, "etcd")])
        if f.kind == "etcd-cut-all":
            f.pairs = [("etcd", f"b{x}") for x in BROKERS]
            who = "etcd"
        if f.one_way and f.reverse:
            f.pairs = [(b, a2) for a2, b in f.pairs]
        return who

    def describe_cut(self, f, who):
        links = ", ".join(f"{x}{'->' if f.one_way else '<->'}{y}" for x, y in f.pairs)
        side = ""
        if f.kind == "split":
            side = f"; etcd with the {'minority' if f.etcd_with_minority else 'majority'}"
        return f"#{f.index} {f.kind}: {who}{side}; cut {links}"

    def inject(self, f):
        self.report.count("faults", f.kind)
        if f.kind in ("pause", "kill"):
            return self.inject_process(f)
        who = self.resolve_cut(f)
        f.desc = self.describe_cut(f, who)
        self.net.cut(f.pairs, symmetric=not f.one_way)
        self.state.add_cuts(f.pairs, not f.one_way)
        self.state.set_active(f.index, f.desc)
        self.active[f.index] = f
        self.report.log(f"FAULT {f.desc} for {f.hold:.1f} s")

    def inject_process(self, f):
        b = self.free_broker(f.broker)
        if b is None:
            f.skipped = True
            self.report.log(f"FAULT #{f.index} {f.kind}: skipped (every broker paused or down)")
            self.report.count("faults skipped", f.kind)
            return
        f.target = b
        broker = self.cluster.brokers[b]
        if f.kind == "pause":
            self.state.set_paused(b, True)
            self.cluster.pause(broker)
            f.desc = f"#{f.index} pause: SIGSTOP broker {b}"
            self.report.log(f"FAULT {f.desc} for {f.hold:.1f} s")
        else:
            self.state.set_down(b, True)
            self.old_lease[b] = self.lease_of(b)
            self.cluster.kill(broker)
            f.desc = f"#{f.index} kill: kill -9 broker {b}"
            self.report.log(f"FAULT {f.desc}; restart in {f.hold:.1f} s")
        self.state.set_active(f.index, f.desc)
        self.active[f.index] = f

    def heal(self, f):
        if self.active.pop(f.index, None) is None:
            return
        if f.kind == "pause":
            self.cluster.resume(self.cluster.brokers[f.target])
            self.state.set_paused(f.target, False)
            self.report.log(f"HEAL #{f.index}: SIGCONT broker {f.target}")
        elif f.kind == "kill":
            self.report.log(f"HEAL #{f.index}: restarting broker {f.target}")
            self.restart_async(f.target, f.index)
            return
        else:
            self.net.heal(f.pairs, symmetric=not f.one_way)
            self.state.add_cuts(f.pairs, not f.one_way, sign=-1)
            self.report.log(f"HEAL #{f.index} {f.kind}: links restored")
        self.state.set_active(f.index, None)

    def restart_async(self, target, index):
        """Restarts broker target in a thread (retrying until it serves); the fault model keeps
        it down until then. index: the fault (or crash) entry to clear once it serves."""
        t = threading.Thread(target=self._restart, args=(target, index),
                             name=f"restart-{target}", daemon=True)
        t.start()
        self.restarts.append(t)

    def _restart(self, target, index):
        b = self.cluster.brokers[target]
        t0 = time.monotonic()
        failures = self.cluster.restart(b, on_spawn=lambda: self.state.mark_acting(target))
        if self.cluster.stopping.is_set():
            return
        limit = self.args.session_timeout_ms / 1000.0 + 15
        if not self.wait_registered(target, limit):
            self.report.note(f"broker {target} serves but did not register in etcd within "
                             f"{limit:.0f} s of its restart")
        self.state.set_down(target, False)
        self.state.set_active(index, None)
        took = time.monotonic() - t0
        if failures:
            self.report.count("restart", "needed retries")
            what = f"fault #{index}" if isinstance(index, int) else index
            self.report.note(f"broker {target} restart ({what}) needed {failures} "
                             f"retries, serving after {took:.1f} s")
        else:
            self.report.log(f"broker {target} serving and registered again after {took:.1f} s")

    def restart_crashed(self, b, rc):
        """A broker exited on its own: a violation; it is restarted so the run goes on."""
        b.state = "crashed"
        self.report.violation("broker-exited", f"broker {b.id} exited with code {rc} while "
                                               f"running (see {b.log_path})")
        self.state.set_down(b.id, True)
        self.old_lease[b.id] = self.lease_of(b.id)
        key = f"crash-b{b.id}-{self.report.now():.0f}"
        self.state.set_active(key, f"broker {b.id} crashed (restarting)")
        self.restart_async(b.id, key)

    def heal_everything(self, restart_timeout=120):
        """Stops injecting, heals every active fault, waits for restarts (end of the phase)."""
        self.halt.set()
        self.join(30)
        for index in sorted(self.active):
            self.heal(self.active[index])
        self.net.heal_all()
        for b in BROKERS:
            if b in self.state.snapshot().paused:
                self.cluster.resume(self.cluster.brokers[b])
                self.state.set_paused(b, False)
        deadline = time.monotonic() + restart_timeout
        for t in self.restarts:
            t.join(max(0.0, deadline - time.monotonic()))
        return all(not t.is_alive() for t in self.restarts)
