# Shared run record for the fault suite: timestamped printing (seconds since the run started),
# counted events (errors by kind, faults by kind, restarts, ...) and violations. Thread-safe:
# the fault executor, the monitor, the producers and the main thread all write to it. Everything
# printed is also appended to <workdir>/suite.log.

import collections
import sys
import threading
import time


class Report:
    def __init__(self):
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self.counters = collections.defaultdict(collections.Counter)  # group -> Counter
        self.violations = []   # (kind, detail)
        self.notes = []        # things worth printing in the summary that are not violations
        self.values = {}       # named measurements (e.g. "isr_full_after_heal_s")
        self._logfile = None

    def open_log(self, path):
        self._logfile = open(path, "a", buffering=1)

    def now(self):
        """Seconds since the run started."""
        return time.monotonic() - self.t0

    def stamp(self, t=None):
        return f"[{(self.now() if t is None else t):7.2f}s]"

    def log(self, msg):
        line = f"{self.stamp()} {msg}"
        with self._lock:
            print(line, flush=True)
            if self._logfile:
                self._logfile.write(line + "\n")

    def count(self, group, key, n=1):
        with self._lock:
            self.counters[group][key] += n

    def violation(self, kind, detail):
        with self._lock:
            self.violations.append((kind, detail))
        self.log(f"VIOLATION {kind}: {detail}")

    def note(self, msg):
        with self._lock:
            self.notes.append(msg)
        self.log(f"note: {msg}")

    def set_value(self, name, value):
        with self._lock:
            self.values[name] = value

    def close(self):
        if self._logfile:
            self._logfile.close()
            self._logfile = None


def fmt_counter(counter):
    if not counter:
        return "none"
    return ", ".join(f"{k}={v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def eprint(msg):
    print(msg, file=sys.stderr, flush=True)
