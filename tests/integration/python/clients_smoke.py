#!/usr/bin/python3
"""Python Kafka clients (Debian's python3-confluent-kafka and python3-kafka) against a broker.

Usage: clients_smoke.py HOST:PORT
Creates topics with each client's admin API, produces keyed messages, consumes them back by
partition assignment and then in a consumer group (committing, and resuming from the commits),
and checks every message arrived once and in order. Exits non-zero on any mismatch, printing what
went wrong.
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
    confluent_group(bootstrap)
    print("confluent-kafka-python", "ok")


def confluent_group(bootstrap):
    from confluent_kafka import Consumer, TopicPartition

    conf = {"bootstrap.servers": bootstrap, "group.id": "py-group",
            "auto.offset.reset": "earliest", "enable.auto.commit": False}
    c = Consumer(conf)
    c.subscribe(["py-confluent"])
    seen = set()
    deadline = time.time() + 30
    while len(seen) < 5000 and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        seen.add((m.partition(), m.offset()))
        if len(seen) % 500 == 0:  # 5000 is a multiple: the last message is committed too
            c.commit(asynchronous=False)
    committed = c.committed([TopicPartition("py-confluent", 0), TopicPartition("py-confluent", 1)], 10)
    c.close()
    check(len(seen) == 5000, "confluent group: consumed %d" % len(seen))
    check([tp.offset for tp in committed] == [2500, 2500], "confluent group: committed %s" % committed)

    c = Consumer(conf)  # the same group resumes at the committed offsets: nothing left
    c.subscribe(["py-confluent"])
    extra = 0
    deadline = time.time() + 6
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            extra += 1
    c.close()
    check(extra == 0, "confluent group: %d messages delivered twice" % extra)


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

    # In a group, committing automatically on close.
    c = KafkaConsumer("py-kafka", bootstrap_servers=bootstrap, group_id="kp-group",
                      auto_offset_reset="earliest", consumer_timeout_ms=5000)
    grouped = [m.value for m in c]
    c.close()
    check(grouped == [b"x%d" % i for i in range(2000)], "kafka-python group: %d" % len(grouped))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    offsets = admin.list_consumer_group_offsets("kp-group")
    check(offsets[TopicPartition("py-kafka", 0)].offset == 2000, "kafka-python: committed %s" % offsets)
    check(("kp-group", "consumer") in admin.list_consumer_groups(), "kafka-python: group listed")
    desc = admin.describe_consumer_groups(["kp-group"])[0]
    check(desc.state == "Empty", "kafka-python: group state %s" % desc.state)
    admin.close()
    print("kafka-python", "ok")


if __name__ == "__main__":
    confluent(sys.argv[1])
    kafka_python(sys.argv[1])
