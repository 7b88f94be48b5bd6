# The fault suite's workload: paced idempotent producers (confluent_kafka / librdkafka) in the
# root namespace, each writing values "<name>:<instance>:<seq>" to explicit partitions round-robin
# and recording every delivery report (ack: partition + offset; error: name + fatal flag). A
# fatal producer error (e.g. librdkafka's idempotence "rewound sequence number" /
# OUT_OF_ORDER_SEQUENCE_NUMBER) is recorded as an event and the producer is replaced by a new
# instance (new producer id); the old one keeps being polled so its outstanding messages still
# get their reports. Messages with no report within message.timeout.ms + margin are "stuck".

import logging
import threading
import time
import traceback

from confluent_kafka import KafkaError, KafkaException, Producer

from logread import parse_value


class Message:
    __slots__ = ("value", "producer", "instance", "seq", "partition", "sent", "reported",
                 "offset", "error", "fatal")

    def __init__(self, value, producer, instance, seq, partition, sent):
        self.value = value
        self.producer, self.instance, self.seq = producer, instance, seq
        self.partition = partition
        self.sent = sent
        self.reported = None     # monotonic time of the delivery report
        self.offset = None       # acknowledged offset
        self.error = None        # error name
        self.fatal = False


class PacedProducer(threading.Thread):
    def __init__(self, name, compression, args, bootstrap, report):
        super().__init__(name=f"producer-{name}", daemon=True)
        self.pname, self.compression = name, compression
        self.args, self.bootstrap, self.report = args, bootstrap, report
        self.lock = threading.Lock()
        self.messages = []           # every Message produced, in send order
        self.instance = 0
        self.seq = 0
        self.fatal_events = []       # (time, instance, error text)
        self.halt = threading.Event()
        self._fatal = None
        self._closed = False
        self.producer = None
        self.retired = []            # older instances still being polled
        self.error = None            # set if this thread died (a harness failure)

    # ---- instances -------------------------------------------------------------------
    def _new_instance(self):
        self.instance += 1
        self._fatal = None
        conf = {"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                "compression.codec": self.compression, "linger.ms": self.args.linger_ms,
                "message.timeout.ms": self.args.message_timeout_ms,
                "client.id": f"fault-{self.pname}-{self.instance}",
                "error_cb": self._error_cb(self.instance), "logger": logging.getLogger("librdkafka")}
        self.producer = Producer(conf)

    def _error_cb(self, instance):
        def cb(err):
            if not err.fatal():
                self.report.count("client errors", err.name())
            elif instance == self.instance and self._fatal is None:
                self._fatal = err
        return cb

    def _replace_after_fatal(self):
        err = self._fatal
        self.fatal_events.append((self.report.now(), self.instance, str(err)))
        self.report.count("fatal", err.name())
        self.report.log(f"producer {self.pname} instance {self.instance}: FATAL {err}; "
                        f"replacing it with instance {self.instance + 1}")
        self.retired.append(self.producer)
        self._new_instance()

    # ---- sending -----------------------------------------------------------------------
    def _deliver(self, msg_rec):
        def cb(err, msg):
            if self._closed:
                return      # purged at the very end: the message stays without a report
            with self.lock:
                msg_rec.reported = time.monotonic()
                if err is None:
                    msg_rec.offset = msg.offset()
                else:
                    msg_rec.error = err.name()
                    msg_rec.fatal = err.fatal()
            if err is not None:
                self.report.count("delivery errors", err.name() + (" (fatal)" if err.fatal()
                                                                  else ""))
                if err.fatal() and self._fatal is None and msg_rec.instance == self.instance:
                    self._fatal = err
        return cb

    def _send_one(self):
        partition = self.seq % self.args.partitions
        value = f"{self.pname}:{self.instance}:{self.seq}".encode()
        rec = Message(value, self.pname, self.instance, self.seq, partition, time.monotonic())
        try:
            self.producer.produce(self.args.topic, value=value, key=self.pname.encode(),
                                  partition=partition, on_delivery=self._deliver(rec))
        except BufferError:
            return False
        except KafkaException as e:
            err = e.args[0]
            if err.code() == KafkaError._FATAL or err.fatal():
                self._fatal = self._fatal or err
            else:
                self.report.count("produce() errors", err.name())
            return False
        with self.lock:
            self.messages.append(rec)
        self.seq += 1
        return True

    def _poll(self, producer, timeout, instance):
        """poll() raises KafkaException for a fatal error even with an error_cb set."""
        try:
            producer.poll(timeout)
        except KafkaException as e:
            err = e.args[0]
            if not err.fatal():
                self.report.count("client errors", err.name())
            elif instance == self.instance and self._fatal is None:
                self._fatal = err

    def _poll_all(self, timeout):
        self._poll(self.producer, timeout, self.instance)
        for p in self.retired:
            self._poll(p, 0, None)

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - a harness failure, reported by the main thread
            self.error = f"producer {self.pname} thread failed: {type(e).__name__}: {e}"
            self.report.log(f"HARNESS: {self.error}\n{traceback.format_exc()}")

    def _run(self):
        self._new_instance()
        interval = 1.0 / self.args.rate
        next_at = time.monotonic()
        while not self.halt.is_set():
            if self._fatal is not None:
                self._replace_after_fatal()
            now = time.monotonic()
            if now < next_at:
                self._poll_all(min(next_at - now, 0.05))
                continue
            if not self._send_one():
                self._poll_all(0.05)
                continue
            next_at = max(next_at + interval, now - 1.0)   # no burst after a stall
            self._poll_all(0)
        self._drain()

    def outstanding(self):
        with self.lock:
            return [m for m in self.messages if m.reported is None]

    def _drain(self):
        """After halt: poll until every message has a report or is past its deadline."""
        limit = self.args.message_timeout_ms / 1000.0 + self.args.stuck_margin_s
        while True:
            pending = self.outstanding()
            now = time.monotonic()
            if not pending or all(now - m.sent > limit for m in pending):
                break
            self._poll_all(0.1)
        self._closed = True
        for p in [self.producer] + self.retired:
            try:
                p.purge(in_queue=True, in_flight=True)
            except KafkaException:
                pass
            self._poll(p, 0, None)
        self.producer, self.retired = None, []


class Workload:
    def __init__(self, args, bootstrap, report):
        self.args = args
        self.report = report
        codecs = ["none", "gzip"]
        names = [chr(ord("A") + i) for i in range(args.producers)]
        self.producers = [PacedProducer(name, codecs[i % 2], args, bootstrap, report)
                          for i, name in enumerate(names)]

    def start(self):
        for p in self.producers:
            p.start()

    def stop(self):
        """Stops producing and waits (bounded) for the outstanding delivery reports."""
        for p in self.producers:
            p.halt.set()
        limit = self.args.message_timeout_ms / 1000.0 + self.args.stuck_margin_s + 30
        for p in self.producers:
            p.join(limit)
            if p.is_alive():
                self.report.note(f"producer {p.pname} did not finish draining")

    def messages(self):
        out = []
        for p in self.producers:
            with p.lock:
                out.extend(p.messages)
        return out

    def errors(self):
        return [p.error for p in self.producers if p.error]

    def fatal_events(self):
        return [(p.pname,) + e for p in self.producers for e in p.fatal_events]


def route_client_logs(path):
    """librdkafka's log lines go to a file in the work dir instead of the terminal."""
    log = logging.getLogger("librdkafka")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)


FIELDS = ("value", "partition", "sent", "reported", "offset", "error", "fatal")


def save_deliveries(messages, path, t0):
    """One line per message (times relative to the run start; "-" = none), for --recheck."""
    def rel(t):
        return "-" if t is None else f"{t - t0:.3f}"

    with open(path, "w") as f:
        f.write("\t".join(FIELDS) + "\n")
        for m in messages:
            f.write(f"{m.value.decode()}\t{m.partition}\t{rel(m.sent)}\t{rel(m.reported)}\t"
                    f"{'-' if m.offset is None else m.offset}\t{m.error or '-'}\t"
                    f"{int(m.fatal)}\n")


def load_deliveries(path):
    """The messages save_deliveries() wrote (times relative to the run start)."""
    out = []
    with open(path) as f:
        next(f)
        for line in f:
            value, part, sent, reported, offset, error, fatal = line.rstrip("\n").split("\t")
            name, inst, seq = parse_value(value.encode())
            m = Message(value.encode(), name, inst, seq, int(part), float(sent))
            m.reported = None if reported == "-" else float(reported)
            m.offset = None if offset == "-" else int(offset)
            m.error = None if error == "-" else error
            m.fatal = fatal == "1"
            out.append(m)
    return out
