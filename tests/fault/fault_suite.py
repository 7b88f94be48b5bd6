#!/usr/bin/python3
# Strata fault suite: runs etcd and three brokers in private network namespaces, writes with
# two idempotent producers while a seeded schedule cuts links (iptables), pauses and kills
# brokers, watches leadership and availability (monitor.py), then heals everything and checks
# the data dirs (checks.py). Prints the seed first and a replay command at the end.
# Exit status: 0 no violation, 1 violations, 2 the host cannot run the suite, 3 harness error,
# 130 interrupted. See tests/fault/README.md.
#
#   sudo /usr/bin/python3 tests/fault/fault_suite.py --duration 150 --seed 42

import argparse
import importlib
import os
import random
import shutil
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checks      # noqa: E402
import cluster     # noqa: E402
import netns       # noqa: E402
import report as report_mod  # noqa: E402
import schedule    # noqa: E402
from monitor import Monitor  # noqa: E402
from report import fmt_counter  # noqa: E402
# workload.py imports confluent_kafka: loaded only after main() checked that it is there.

DEFAULT_STRATA = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "../../build/release/tools/strata"))


class Interrupted(Exception):
    pass


def parser():
    p = argparse.ArgumentParser(description="Strata fault-injection suite (run as root).")
    a = p.add_argument
    a("--seed", type=int, default=None, help="schedule seed (default: random)")
    a("--duration", type=float, default=300, help="fault phase length in seconds (300)")
    a("--strata", default=DEFAULT_STRATA, help="broker binary")
    a("--etcd", default="/usr/bin/etcd", help="etcd binary")
    a("--workdir", default="/tmp/strata-fault", help="parent of the run's work dir")
    a("--keep", action="store_true", help="keep the work dir even when the run passes")
    a("--rate", type=float, default=200, help="messages/s per producer (200)")
    a("--producers", type=int, default=2, help="number of producers (2)")
    a("--linger-ms", type=int, default=5)
    a("--message-timeout-ms", type=int, default=60000)
    a("--stuck-margin-s", type=float, default=15, help="margin over message.timeout.ms")
    a("--topic", default="faults")
    a("--partitions", type=int, default=6)
    a("--session-timeout-ms", type=int, default=6000, help="broker.session.timeout.ms")
    a("--replica-lag-ms", type=int, default=10000, help="replica.lag.time.max.ms")
    a("--replication-factor", type=int, default=3, help="default.replication.factor")
    a("--offsets-partitions", type=int, default=3, help="offsets.topic.num.partitions")
    a("--broker-set", action="append", metavar="NAME=VALUE", help="extra broker --set")
    a("--failover-target-ms", type=int, default=None,
      help="max unavailability with a healthy majority (session timeout + 4000)")
    a("--session-grace-ms", type=int, default=2000,
      help="how long a broker may lead after its registration vanished (2000)")
    a("--monitor-interval-ms", type=int, default=300)
    a("--isr-full-limit-s", type=float, default=30, help="ISR full after the final heal")
    a("--isr-stable-s", type=float, default=None,
      help="the ISRs must stay full this long to count as full after the heal "
           "(replica lag time + 2 s: a follower that does not fetch leaves within the lag)")
    a("--catchup-s", type=float, default=3, help="pause before stopping the brokers")
    a("--one-way-fraction", type=float, default=0.0,
      help="fraction of link cuts that drop one direction only (0: all symmetric)")
    a("--print-plan", action="store_true", help="print the schedule and exit")
    a("--recheck", metavar="RUNDIR",
      help="only rerun the data checks on a kept run dir (b0..b2, deliveries.tsv)")
    return p


def replay_command(args):
    defaults = vars(parser().parse_args([]))
    parts = ["sudo", "/usr/bin/python3", "tests/fault/fault_suite.py",
             "--seed", str(args.seed), "--duration", f"{args.duration:g}"]
    for name, value in vars(args).items():
        if name in ("seed", "duration", "workdir", "keep", "print_plan", "recheck"):
            continue
        if name == "failover_target_ms" and value == args.session_timeout_ms + 4000:
            continue
        if name == "isr_stable_s" and value == args.replica_lag_ms / 1000.0 + 2:
            continue
        if value != defaults.get(name) and value is not None:
            flag = "--" + name.replace("_", "-")
            for v in (value if isinstance(value, list) else [value]):
                parts += [flag, str(v)]
    return " ".join(parts)


class Run:
    """One run: owns the network, processes, threads and the work dir."""

    def __init__(self, args, report):
        self.args, self.report = args, report
        self.workdir = os.path.join(args.workdir, f"run-{args.seed}-{os.getpid()}")
        self.net = netns.Network(f"sft{os.getpid()}", report.log)
        self.cluster = self.workload = self.monitor = self.executor = None
        self.state = schedule.FaultState(report)
        self.plan = schedule.make_plan(args.seed, args.duration, args.partitions,
                                       args.one_way_fraction)
        self.harness_error = None

    # ---- setup -------------------------------------------------------------------------
    def setup(self):
        os.makedirs(self.workdir)
        self.report.open_log(os.path.join(self.workdir, "suite.log"))
        with open(os.path.join(self.workdir, "schedule.txt"), "w") as f:
            f.write("".join(fault.plan_line() + "\n" for fault in self.plan))
        self.report.log(f"work dir {self.workdir}; {len(self.plan)} faults planned "
                        f"(schedule.txt)")
        netns.sweep_stale(self.report.log)
        self.net.setup(["etcd", "b0", "b1", "b2"], os.getpid())
        self.cluster = cluster.Cluster(self.net, self.args, self.workdir, self.report)
        self.cluster.start_etcd()
        self.self_test_cut()
        self.cluster.start_all()
        self.report.log("brokers ready")
        self.cluster.create_topic()
        took = self.cluster.wait_isr_full(60)
        if took is None:
            raise RuntimeError("the new topic's ISRs were not full within 60 s")
        self.report.log(f"topic {self.args.topic}: {self.args.partitions} partitions, ISR full")

    def self_test_cut(self):
        """A cut must really block traffic and a heal restore it, or the suite is meaningless."""
        pair = [("b0", "etcd")]
        before = self.net.can_connect("b0", "etcd", 2379)
        self.net.cut(pair)
        during = self.net.can_connect("b0", "etcd", 2379)
        self.net.heal(pair)
        after = self.net.can_connect("b0", "etcd", 2379)
        if not (before and not during and after):
            raise netns.HostUnsupported(
                f"iptables cuts do not work here (connect before/during/after a cut: "
                f"{before}/{during}/{after})")

    # ---- phases ------------------------------------------------------------------------
    def fault_phase(self):
        from workload import Workload, route_client_logs
        a = self.args
        route_client_logs(os.path.join(self.workdir, "producers.log"))
        self.workload = Workload(a, self.cluster.bootstrap(), self.report)
        self.workload.start()
        self.monitor = Monitor(self.cluster, self.state, a, self.report,
                               os.path.join(self.workdir, "monitor.jsonl"))
        self.monitor.start()
        self.executor = schedule.Executor(self.plan, self.net, self.cluster, self.state,
                                          self.report, a)
        self.report.log(f"fault phase: {a.duration:g} s, {a.producers} producers at "
                        f"{a.rate:g} msg/s each")
        self.executor.start()
        while self.executor.is_alive():
            self.executor.join(0.5)
            for b in self.cluster.crashed():
                self.executor.restart_crashed(b, b.proc.returncode)
        if self.executor.error is not None:
            raise RuntimeError(f"fault executor failed: {self.executor.error}")

    def end_phase(self):
        a = self.args
        self.report.log("end of the fault phase: healing everything")
        if not self.executor.heal_everything():
            self.report.violation("restart", "a killed broker was still not serving 120 s "
                                             "after the final heal")
        self.report.log(f"healed ({self.net.rule_count()} rules left); waiting for full ISRs")
        healed_at = time.monotonic()
        took = self.cluster.wait_isr_full(a.isr_full_limit_s, stable=a.isr_stable_s)
        self.report.set_value("isr_full_after_heal_s", took)
        if took is not None:
            self.report.set_value("isr_full_at", healed_at + took)
        if took is None:
            st = self._isr_text()
            self.report.violation("isr-not-full", f"ISRs not (stably) full "
                                                  f"{a.isr_full_limit_s:g} s after the final "
                                                  f"heal: {st}")
        else:
            self.report.log(f"every ISR full {took:.1f} s after the heal (and for the "
                            f"{a.isr_stable_s:g} s after that)")
        self.monitor.stop()
        self.report.log("stopping producers")
        self.workload.stop()
        from workload import save_deliveries
        save_deliveries(self.workload.messages(), os.path.join(self.workdir, "deliveries.tsv"),
                        self.report.t0)
        time.sleep(a.catchup_s)
        self.stop_brokers()

    def _isr_text(self):
        try:
            st = self.cluster.etcd.cluster_state(self.args.topic)["partitions"]
        except OSError as e:
            return f"(etcd unreadable: {e})"
        return "; ".join(f"p{p} leader {s.get('leader')} isr {s.get('isr')}"
                         for p, s in sorted(st.items()))

    def stop_brokers(self):
        for b in self.cluster.brokers:
            rc = self.cluster.stop_broker(b, 30)
            if rc is None:
                self.report.violation("shutdown", f"broker {b.id} did not exit within 30 s of "
                                                  f"SIGTERM (killed; see {b.log_path})")
            elif rc != 0:
                self.report.violation("shutdown", f"broker {b.id} exited with {rc} after "
                                                  f"SIGTERM (see {b.log_path})")
        self.report.log("brokers stopped")
        self.cluster.stop_etcd()

    def check(self):
        self.report.log("checking the data dirs")
        dirs = [b.data_dir for b in self.cluster.brokers]
        acked = checks.run_all(self.args, dirs, self.workload.messages(), self.report)
        self.report.set_value("acked", acked)

    # ---- cleanup -----------------------------------------------------------------------
    def cleanup(self):
        """Kills every process and thread we started and removes the network. Idempotent."""
        if self.executor is not None:
            self.executor.halt.set()
        if self.cluster is not None:
            self.cluster.stopping.set()
        if self.monitor is not None and self.monitor.is_alive():
            self.monitor.stop()
        if self.workload is not None:
            for p in self.workload.producers:
                p.halt.set()
        if self.cluster is not None:
            self.cluster.kill_everything()
        self.net.teardown()


# ---- summary ----------------------------------------------------------------------------
def print_summary(run, args, status):
    r = run.report
    out = r.log
    msgs = run.workload.messages() if run.workload else []
    out("=" * 30 + " fault suite summary " + "=" * 30)
    out(f"seed: {args.seed}   fault phase: {args.duration:g} s   run: {r.now():.0f} s")
    out(f"writes: {len(msgs)} produced, {r.values.get('acked', 'n/a')} acknowledged and "
        f"checked ({r.values.get('acked_without_offset', 'n/a')} of them acknowledged without "
        f"an offset); delivery errors: {fmt_counter(r.counters['delivery errors'])}")
    fatal = run.workload.fatal_events() if run.workload else []
    out(f"fatal producer errors: {len(fatal)}")
    for name, t, inst, text in fatal:
        out(f"  producer {name} instance {inst} at {t:.1f}s: {text}")
    out(f"client errors (non-fatal, error_cb): {fmt_counter(r.counters['client errors'])}; "
        f"produce() refused: {fmt_counter(r.counters['produce() errors'])}")
    out(f"faults injected: {fmt_counter(r.counters['faults'])}; skipped: "
        f"{fmt_counter(r.counters['faults skipped'])}; restarts: "
        f"{fmt_counter(r.counters['restart'])}")
    if run.monitor is not None:
        longest = run.monitor.longest_summary()
        out(f"longest unavailability with a healthy majority (target "
            f"{args.failover_target_ms / 1000:g} s, {run.monitor.samples} samples): "
            + ", ".join(f"p{p} {s:.1f}s" + (f"@{at:.0f}s" if s else "")
                        for p, (s, at) in longest.items()))
        out("ISR membership changes seen (per partition): " + ", ".join(
            f"p{p} {run.monitor.isr_changes.get(p, 0)}" for p in range(args.partitions)))
    isr = r.values.get("isr_full_after_heal_s", "n/a")
    out("ISR full after the final heal: " + (f"{isr:.1f} s" if isinstance(isr, float) else
                                             f"not within {args.isr_full_limit_s:g} s"
                                             if isr is None else isr)
        + f" (limit {args.isr_full_limit_s:g} s)")
    if r.counters["monitor"]:
        out(f"monitor problems: {fmt_counter(r.counters['monitor'])}")
    _print_violations(run, status)


def _print_violations(run, status):
    r = run.report
    kinds = {}
    for kind, _ in r.violations:
        kinds[kind] = kinds.get(kind, 0) + 1
    r.log(f"violations: {len(r.violations)}" + (f" ({fmt_counter(kinds)})" if kinds else ""))
    for kind, detail in r.violations:
        r.log(f"  [{kind}] {detail}")
    for note in r.notes:
        r.log(f"  note: {note}")
    if run.harness_error:
        r.log(f"HARNESS ERROR: {run.harness_error}")
    r.log(f"replay: {replay_command(run.args)}")
    r.log({0: "RESULT: PASS", 1: "RESULT: FAIL (violations)", 2: "RESULT: HOST UNSUPPORTED",
           3: "RESULT: HARNESS ERROR", 130: "RESULT: INTERRUPTED"}.get(status, str(status)))


# ---- main -------------------------------------------------------------------------------
def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def execute(run):
    """Setup, fault phase, end phase and checks; returns the exit status."""
    try:
        run.setup()
        run.fault_phase()
        run.end_phase()
        run.check()
        if run.workload.errors():
            run.harness_error = "; ".join(run.workload.errors())
            return 3
    except netns.HostUnsupported as e:
        report_mod.eprint(f"fault suite cannot run on this host: {e}")
        return 2
    except (Interrupted, KeyboardInterrupt) as e:
        run.harness_error = f"interrupted ({e or 'SIGINT'})"
        return 130
    except Exception as e:  # noqa: BLE001 - reported, exit 3
        run.harness_error = f"{type(e).__name__}: {e}"
        traceback.print_exc()
        return 3
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.cleanup()
    return 1 if run.report.violations else 0


def recheck(args):
    """The end-of-run data checks on a kept run dir (brokers stopped); exit 0 or 1."""
    from workload import load_deliveries
    report = report_mod.Report()
    messages = load_deliveries(os.path.join(args.recheck, "deliveries.tsv"))
    dirs = [os.path.join(args.recheck, f"b{i}") for i in range(3)]
    acked = checks.run_all(args, dirs, messages, report)
    report.log(f"{len(messages)} messages, {acked} acknowledged; "
               f"violations: {len(report.violations)}")
    return 1 if report.violations else 0


def main(argv=None):
    args = parser().parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    if args.failover_target_ms is None:
        args.failover_target_ms = args.session_timeout_ms + 4000
    if args.isr_stable_s is None:
        args.isr_stable_s = args.replica_lag_ms / 1000.0 + 2
    if args.recheck:
        return recheck(args)
    print(f"seed: {args.seed}", flush=True)
    if args.print_plan:
        for f in schedule.make_plan(args.seed, args.duration, args.partitions,
                                    args.one_way_fraction):
            print(f.plan_line())
        return 0
    try:
        netns.check_host()
        if not os.access(args.strata, os.X_OK) or not os.access(args.etcd, os.X_OK):
            raise netns.HostUnsupported(f"{args.strata} or {args.etcd} is not executable")
        importlib.import_module("confluent_kafka")
    except (netns.HostUnsupported, ImportError) as e:
        report_mod.eprint(f"fault suite cannot run on this host: {e}")
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    report = report_mod.Report()
    run = Run(args, report)
    status = execute(run)
    if status == 2:
        shutil.rmtree(run.workdir, ignore_errors=True)
        return 2
    print_summary(run, args, status)
    report.close()
    if status == 0 and not args.keep:
        shutil.rmtree(run.workdir, ignore_errors=True)
        print(f"work dir removed ({run.workdir})")
    else:
        print(f"work dir kept: {run.workdir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
