# Reads a stopped broker's data dir for the fault suite's checks: decodes the RecordBatch v2
# segments of a partition directory in Python (docs/formats/record-batch.md: 61-byte header,
# zigzag varint records, codecs none and gzip — the only ones the workload uses) and Kafka's
# text checkpoint files (docs/formats/checkpoints.md: version line, count line, entries).
# It does not validate CRCs (`strata log verify` does); it reports undecodable bytes as problems.
# Also parses the workload's values ("<producer>:<instance>:<seq>").

import os
import struct
import zlib

HEADER = struct.Struct(">qiibIhiqqqhii")   # baseOffset .. recordsCount, 61 bytes


class Batch:
    __slots__ = ("base", "last", "epoch", "crc", "attrs", "pid", "pepoch", "base_seq",
                 "records", "segment", "position")

    def key(self):
        """What replicas must agree on below the high watermark."""
        return (self.base, self.last, self.crc, self.epoch)


def _varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
    return (result >> 1) ^ -(result & 1), pos


def _bytes(buf, pos):
    n, pos = _varint(buf, pos)
    if n < 0:
        return None, pos
    return bytes(buf[pos:pos + n]), pos + n


def _records(base, count, body):
    out, pos = [], 0
    for _ in range(count):
        length, pos = _varint(body, pos)
        end = pos + length
        pos += 1                                 # attributes
        _, pos = _varint(body, pos)              # timestamp delta
        delta, pos = _varint(body, pos)
        key, pos = _bytes(body, pos)
        value, pos = _bytes(body, pos)
        out.append((base + delta, key, value))
        pos = end                                # skip headers
    return out


def _decompress(codec, data):
    if codec == 0:
        return data
    if codec == 1:
        return zlib.decompress(data, 47)         # gzip (auto-detected header)
    raise ValueError(f"codec {codec} not supported by the checker")


def read_segment(path):
    """([Batch], problem or None) for one .log file."""
    with open(path, "rb") as f:
        buf = f.read()
    batches, pos = [], 0
    while pos < len(buf):
        if len(buf) - pos < HEADER.size:
            return batches, f"{len(buf) - pos} trailing bytes at position {pos}"
        (base, length, epoch, magic, crc, attrs, delta, _ts, _max_ts, pid, pepoch, seq,
         count) = HEADER.unpack_from(buf, pos)
        end = pos + 12 + length
        if magic != 2 or length < 49 or end > len(buf):
            return batches, f"bad batch header at position {pos} (magic {magic}, len {length})"
        b = Batch()
        b.base, b.last, b.epoch, b.crc, b.attrs = base, base + delta, epoch, crc, attrs
        b.pid, b.pepoch, b.base_seq = pid, pepoch, seq
        b.segment, b.position = os.path.basename(path), pos
        try:
            b.records = _records(base, count, _decompress(attrs & 7, buf[pos + 61:end]))
        except (ValueError, IndexError, zlib.error) as e:
            return batches, f"undecodable batch at offset {base} position {pos}: {e}"
        batches.append(b)
        pos = end
    return batches, None


def read_partition(pdir):
    """([Batch] in offset order, [problems]) for a partition directory (all segments)."""
    if not os.path.isdir(pdir):
        return [], [f"{pdir} missing"]
    batches, problems = [], []
    for name in sorted(n for n in os.listdir(pdir) if n.endswith(".log")):
        got, problem = read_segment(os.path.join(pdir, name))
        batches.extend(got)
        if problem:
            problems.append(f"{name}: {problem}")
    return batches, problems


def read_checkpoint(path):
    """{(topic, partition): offset} from a Kafka text checkpoint file ({} if absent)."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = f.read().splitlines()
    if len(lines) < 2 or lines[0].strip() != "0":
        raise ValueError(f"{path}: bad checkpoint header")
    out = {}
    for line in lines[2:2 + int(lines[1])]:
        topic, part, off = line.rsplit(" ", 2)
        out[(topic, int(part))] = int(off)
    return out


def parse_value(value):
    """(producer, instance, seq) from a value this workload wrote, else None."""
    try:
        name, instance, seq = value.decode().split(":")
        return name, int(instance), int(seq)
    except (ValueError, UnicodeDecodeError):
        return None


def log_end(batches):
    return batches[-1].last + 1 if batches else 0
