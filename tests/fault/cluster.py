# The processes of a fault-suite run: etcd and three Strata brokers, each inside its own network
# namespace (netns.py), plus etcd's v3 JSON gateway client that the suite and the monitor use to
# read broker registrations and partition states (docs/formats/cluster-metadata.md). Brokers can
# be paused (SIGSTOP), resumed, killed (SIGKILL), restarted on their data dir (retried until the
# broker serves; a broker that exits at start instead of waiting for etcd is a violation) and
# stopped cleanly (SIGTERM). Children are forked from one long-lived thread with
# PR_SET_PDEATHSIG so that they die with the suite even if it is killed with SIGKILL.

import base64
import concurrent.futures
import ctypes
import json
import os
import queue
import signal
import subprocess
import threading
import time
import urllib.request

PR_SET_PDEATHSIG = 1


def _pdeathsig():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


class Spawner:
    """Forks every child from one thread that lives as long as the suite: the parent-death
    signal fires when the forking *thread* exits, so forking from short-lived threads (restarts)
    would kill the child with its thread."""

    def __init__(self):
        self._q = queue.Queue()
        threading.Thread(target=self._loop, name="spawner", daemon=True).start()

    def _loop(self):
        while True:
            args, kwargs, fut = self._q.get()
            try:
                fut.set_result(subprocess.Popen(args, preexec_fn=_pdeathsig, **kwargs))
            except Exception as e:  # noqa: BLE001 - handed to the caller
                fut.set_exception(e)

    def popen(self, args, **kwargs):
        fut = concurrent.futures.Future()
        self._q.put((args, kwargs, fut))
        return fut.result()


class EtcdClient:
    """etcd v3 JSON gateway (POST /v3/kv/range), reachable from the root namespace."""

    def __init__(self, ip, port=2379):
        self.url = f"http://{ip}:{port}/v3/kv/range"

    def _range(self, prefix, timeout):
        key = prefix.encode()
        end = key[:-1] + bytes([key[-1] + 1])
        body = json.dumps({"key": base64.b64encode(key).decode(),
                           "range_end": base64.b64encode(end).decode()}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read()).get("kvs", [])

    def range_prefix(self, prefix, timeout=1.0):
        """[(key, value bytes)] of every key starting with prefix; raises OSError on failure."""
        return [(base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")))
                for kv in self._range(prefix, timeout)]

    def registration_lease(self, bid, timeout=1.0):
        """The lease id of /strata/brokers/<bid>, or None when it is not registered."""
        for kv in self._range(f"/strata/brokers/{bid}", timeout):
            if base64.b64decode(kv["key"]).decode() == f"/strata/brokers/{bid}":
                return kv.get("lease")
        return None

    def cluster_state(self, topic, timeout=1.0):
        """{"brokers": {id: info}, "partitions": {p: state}} from one consistent range read."""
        brokers, parts = {}, {}
        for key, value in self.range_prefix("/strata/", timeout):
            try:
                doc = json.loads(value)
            except ValueError:
                continue
            if key.startswith("/strata/brokers/"):
                brokers[int(key.rsplit("/", 1)[1])] = doc
            elif key.startswith(f"/strata/partitions/{topic}/"):
                parts[int(key.rsplit("/", 1)[1])] = doc
        return {"brokers": brokers, "partitions": parts}


class Broker:
    def __init__(self, bid, node):
        self.id = bid
        self.node = node           # netns.Node
        self.proc = None
        self.state = "new"         # running | paused | killed | stopped
        self.starts = 0
        self.log_path = None
        self.ready_path = None
        self.data_dir = None


class Cluster:
    def __init__(self, net, args, workdir, report):
        self.net = net
        self.args = args
        self.workdir = workdir
        self.report = report
        self.spawner = Spawner()
        self.etcd_proc = None
        self.etcd = EtcdClient(net.nodes["etcd"].ip)
        self.brokers = [Broker(i, net.nodes[f"b{i}"]) for i in range(3)]
        self._lock = threading.Lock()   # one signal/restart at a time per cluster
        self.stopping = threading.Event()
        for b in self.brokers:
            b.data_dir = os.path.join(workdir, f"b{b.id}")
            b.log_path = os.path.join(workdir, f"b{b.id}.log")
            b.ready_path = os.path.join(workdir, f"b{b.id}.ready")

    def bootstrap(self):
        return ",".join(f"{b.node.ip}:9092" for b in self.brokers)

    # ---- etcd --------------------------------------------------------------------------
    def start_etcd(self, timeout=30):
        ip = self.net.nodes["etcd"].ip
        args = self.net.exec_prefix("etcd") + [
            self.args.etcd, "--data-dir", os.path.join(self.workdir, "etcd"), "--name", "n",
            "--listen-client-urls", f"http://{ip}:2379",
            "--advertise-client-urls", f"http://{ip}:2379",
            "--listen-peer-urls", f"http://{ip}:2380",
            "--initial-advertise-peer-urls", f"http://{ip}:2380",
            "--initial-cluster", f"n=http://{ip}:2380"]
        log = open(os.path.join(self.workdir, "etcd.log"), "ab")
        self.etcd_proc = self.spawner.popen(args, stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.etcd_proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.etcd_proc.returncode} (etcd.log)")
            try:
                self.etcd.range_prefix("/strata/")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("etcd did not answer within 30 s")

    # ---- brokers -----------------------------------------------------------------------
    def broker_args(self, b):
        a = self.args
        etcd_ip = self.net.nodes["etcd"].ip
        args = self.net.exec_prefix(f"b{b.id}") + [
            a.strata, "serve", "--metadata", f"etcd://{etcd_ip}:2379",
            "--broker-id", str(b.id), "--data-dir", b.data_dir,
            "--listen", f"{b.node.ip}:9092", "--advertised", f"{b.node.ip}:9092",
            "--ready-file", b.ready_path,
            "--set", f"broker.session.timeout.ms={a.session_timeout_ms}",
            "--set", f"replica.lag.time.max.ms={a.replica_lag_ms}",
            "--set", f"default.replication.factor={a.replication_factor}",
            "--set", f"offsets.topic.num.partitions={a.offsets_partitions}"]
        for extra in a.broker_set or []:
            args += ["--set", extra]
        return args

    def spawn_broker(self, b):
        if os.path.exists(b.ready_path):
            os.unlink(b.ready_path)
        log = open(b.log_path, "ab")
        log.write(f"\n===== start #{b.starts + 1} at {self.report.now():.2f}s =====\n".encode())
        log.flush()
        b.proc = self.spawner.popen(self.broker_args(b), stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
        log.close()
        b.starts += 1

    def wait_ready(self, b, timeout):
        """True once the ready file exists; False if the process exited or timeout passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            if b.proc.poll() is not None:
                return False
            if os.path.exists(b.ready_path):
                return True
            time.sleep(0.1)
        return False

    def start_all(self, timeout=60):
        for b in self.brokers:
            self.spawn_broker(b)
        for b in self.brokers:
            if not self.wait_ready(b, timeout):
                rc = b.proc.poll()
                raise RuntimeError(f"broker {b.id} did not become ready "
                                   f"(exit code {rc}; see {b.log_path})")
            b.state = "running"

    def crashed(self):
        """Brokers that exited on their own while they should be running."""
        return [b for b in self.brokers
                if b.state == "running" and b.proc is not None and b.proc.poll() is not None]

    def signal(self, b, sig):
        with self._lock:
            if b.proc is not None and b.proc.poll() is None:
                os.kill(b.proc.pid, sig)

    def pause(self, b):
        self.signal(b, signal.SIGSTOP)
        b.state = "paused"

    def resume(self, b):
        self.signal(b, signal.SIGCONT)
        b.state = "running"

    def kill(self, b):
        b.state = "killed"
        self.signal(b, signal.SIGKILL)
        if b.proc is not None:
            b.proc.wait()

    def restart(self, b, ready_timeout=60, on_spawn=None):
        """Restarts a killed broker on its data dir, retrying until it serves.
        Returns the number of failed attempts (the broker exited or never became ready)."""
        failures = 0
        b.state = "restarting"
        while not self.stopping.is_set():
            if on_spawn is not None:
                on_spawn()
            self.spawn_broker(b)
            if self.wait_ready(b, ready_timeout):
                b.state = "running"
                return failures
            failures += 1
            rc = b.proc.poll()
            if rc is None:
                self.signal(b, signal.SIGKILL)
                b.proc.wait()
            else:
                # A broker waits for an unreachable etcd instead of exiting (issue 13, bug 5).
                self.report.violation("restart-exited", f"broker {b.id} exited with {rc} at "
                                      f"start instead of waiting (see {b.log_path})")
            self.report.count("restart", "failed attempts")
            self.report.log(f"restart of broker {b.id} failed (attempt {failures}, "
                            f"exit code {rc if rc is not None else 'none: not ready'}); retrying")
            self.stopping.wait(1.0)
        return failures

    def stop_broker(self, b, timeout):
        """SIGTERM and wait; returns the exit code or None if it had to be killed."""
        if b.proc is None or b.proc.poll() is not None:
            return b.proc.returncode if b.proc else 0
        self.signal(b, signal.SIGCONT)
        self.signal(b, signal.SIGTERM)
        try:
            rc = b.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(b, signal.SIGKILL)
            b.proc.wait()
            rc = None
        b.state = "stopped"
        return rc

    def kill_everything(self):
        """Best-effort: no child of ours survives this (used on errors and signals)."""
        self.stopping.set()
        procs = [b.proc for b in self.brokers] + [self.etcd_proc]
        for p in procs:
            if p is not None and p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        for p in procs:
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    pass

    def stop_etcd(self):
        p = self.etcd_proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # ---- topic -------------------------------------------------------------------------
    def create_topic(self, timeout=90):
        a = self.args
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            b = self.brokers[int(time.monotonic()) % 3]
            p = subprocess.run([a.strata, "topic", "create", "--bootstrap", f"{b.node.ip}:9092",
                                "--topic", a.topic, "--partitions", str(a.partitions),
                                "--replication-factor", "3",
                                "--config", "min.insync.replicas=2"],
                               capture_output=True, text=True, timeout=30)
            last = (p.stdout + p.stderr).strip()
            if p.returncode == 0 or "already exists" in last.lower():
                return
            time.sleep(1.0)
        raise RuntimeError(f"topic create kept failing: {last}")

    def isr_full(self, state):
        parts = state["partitions"]
        if len(parts) < self.args.partitions:
            return False
        return all(parts[p].get("leader", -1) >= 0 and len(parts[p].get("isr", [])) == 3
                   for p in range(self.args.partitions))

    def wait_isr_full(self, timeout, poll=0.25, stable=0.0):
        """Seconds until every partition has a leader and a full ISR that then stays full for
        `stable` seconds; None if that did not start within timeout."""
        start = time.monotonic()
        full_since = None
        while not self.stopping.is_set():
            elapsed = time.monotonic() - start
            try:
                full = self.isr_full(self.etcd.cluster_state(self.args.topic))
            except OSError:
                full = False
            if not full:
                full_since = None
            elif full_since is None:
                full_since = elapsed
            if full_since is not None and elapsed - full_since >= stable:
                return full_since
            if elapsed > timeout + (stable if full_since is not None else 0):
                return None
            time.sleep(poll)
        return None
