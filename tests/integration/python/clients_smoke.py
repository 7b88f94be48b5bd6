#!/usr/bin/python3
"""Python Kafka clients (Debian's python3-confluent-kafka and python3-kafka) against a broker.

Usage: clients_smoke.py HOST:PORT
Creates topics with each client's admin API, produces keyed messages, consumes them back by
partition assignment, and checks every message arrived once and in order. Exits non-zero on any
mismatch, printing what went wrong.
"""
import sys
import time


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def confluent(bootstrap):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic("py-confluent", num_partitions=2, replication_factor=1)])
    futures["py-confluent"].result(15)
    md = admin.list_topics(timeout=10)
    check(len(md.topics["py-confluent"].partitions) == 2, "confluent: 2 partitions")

    p = Producer({"bootstrap.servers": bootstrap, "compression.type": "zstd", "linger.ms": 5})
    for i in range(5000):
        p.produce("py-confluent", key=b"k%d" % (i % 10), value=b"v%d" % i, partition=i % 2)
    check(p.flush(20) == 0, "confluent: all delivered")

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "py", "enable.auto.commit": False})
    c.assign([TopicPartition("py-confluent", 0, 0), TopicPartition("py-confluent", 1, 0)])
    got = {0: [], 1: []}
    deadline = time.time() + 20
    while sum(len(v) for v in got.values()) < 5000 and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got[m.partition()].append((m.offset(), int(m.value()[1:])))
    c.close()
    for part, msgs in got.items():
        check(len(msgs) == 2500, "confluent: partition %d has %d" % (part, len(msgs)))
        check([o for o, _ in msgs] == list(range(2500)), "confluent: contiguous offsets")
        check([v for _, v in msgs] == list(range(part, 5000, 2)), "confluent: order")
    print("confluent-kafka-python", "ok")


def kafka_python(bootstrap):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic("py-kafka", num_partitions=1, replication_factor=1)])
    check("py-kafka" in admin.list_topics(), "kafka-python: topic listed")
    admin.close()

    p = KafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip", linger_ms=5)
    futures = [p.send("py-kafka", key=b"k", value=b"x%d" % i) for i in range(2000)]
    p.flush(20)
    offsets = [f.get(timeout=10).offset for f in futures]
    check(offsets == list(range(2000)), "kafka-python: offsets 0..1999")
    p.close()

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      consumer_timeout_ms=3000)
    tp = TopicPartition("py-kafka", 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    values = [m.value for m in c]
    c.close()
    check(values == [b"x%d" % i for i in range(2000)], "kafka-python: %d values" % len(values))
    print("kafka-python", "ok")


if __name__ == "__main__":
    confluent(sys.argv[1])
    kafka_python(sys.argv[1])
