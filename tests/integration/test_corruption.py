"""One flipped byte in acknowledged data (issue: hardening before the cluster).

It used to be taken for a torn tail: recovery cut the log there, dropping every acknowledged
record after it, and the next produce reused an acknowledged offset. Now, with a real client:
- after a clean stop, a byte flipped in a batch in the middle of the active segment is
  reported once, loudly (file, bytes, offsets), and nothing is cut;
- the records before and after it are still served at their offsets, the damaged batch
  never is, and produces fail (KAFKA_STORAGE_ERROR) rather than reuse an offset;
- `tributary salvage` says what it would lose (exit 3), `--apply` removes only that batch,
  and afterwards new records get offsets after every one ever handed out.
"""
import struct

from confluent_kafka import Consumer, Producer, TopicPartition

from clients import create_topic

TOPIC = "ledger"
COUNT = 40


def produce_each(b, values, timeout_ms=30000):
    """One record per request (flushed one by one, so each is its own batch); returns the
    (error, offset) of each."""
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": timeout_ms, "retries": 2})
    out = []
    for v in values:
        p.produce(TOPIC, value=v, partition=0,
                  on_delivery=lambda err, msg: out.append((err, msg.offset())))
        p.flush(60)
    return out


def read_from(b, offset, want, timeout=20):
    """Up to `want` records from `offset` -> [(offset, value)], and the errors seen."""
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "reader",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(TOPIC, 0, offset)])
    got, errors = [], []
    import time
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            errors.append(m.error())
            continue
        got.append((m.offset(), m.value()))
    c.close()
    return got, errors


def data_batches(segment):
    """[(file position, log offset)] of the record batches that hold records, leaving out
    control batches (attributes bit 5: the partition's Raft group writes one per term)."""
    data = segment.read_bytes()
    pos, out = 0, []
    while pos + 23 <= len(data):
        base, length = struct.unpack(">qi", data[pos:pos + 12])
        (attributes,) = struct.unpack(">h", data[pos + 21:pos + 23])
        if not attributes & 0x20:
            out.append((pos, base))
        pos += 12 + length
    return out


def test_a_flipped_byte_mid_segment_is_reported_and_salvaged_without_reusing_offsets(
        start_broker, run):
    b = start_broker()
    create_topic(b.bootstrap, TOPIC, 1)
    values = [b"record-%03d" % i + b"." * 200 for i in range(COUNT)]
    acked = produce_each(b, values)
    assert [e for e, _ in acked] == [None] * COUNT
    assert [o for _, o in acked] == list(range(COUNT))
    b.stop()

    segment = b.data_dir / "topics" / f"{TOPIC}-0" / "00000000000000000000.log"
    batches = data_batches(segment)
    assert len(batches) == COUNT, "expected one batch per record"
    victim = 17
    # Storage names offsets in the log, where Raft's own batches count too.
    position, log_offset = batches[victim]
    with open(segment, "r+b") as f:
        f.seek(position + 70)  # inside the record
        byte = f.read(1)
        f.seek(position + 70)
        f.write(bytes([byte[0] ^ 0x01]))

    b.start()
    damaged = [line for line in b.logs().splitlines() if "DAMAGED DATA" in line]
    assert len(damaged) == 1, b.log_tail()
    assert str(segment) in damaged[0] and f"offsets from {log_offset} to {log_offset}" in damaged[0], damaged[0]
    before, _ = read_from(b, 0, victim)
    assert before == [(i, values[i]) for i in range(victim)]
    after, _ = read_from(b, victim + 1, COUNT - victim - 1)
    assert after == [(i, values[i]) for i in range(victim + 1, COUNT)], "data after it was lost"
    stuck, errors = read_from(b, victim, 1, timeout=5)
    assert stuck == [], "the damaged batch was served"
    refused = produce_each(b, [b"must not reuse 17..39"], timeout_ms=5000)
    assert refused[0][0] is not None, f"a produce succeeded at offset {refused[0][1]}"
    b.stop()

    args = ["--data-dir", str(b.data_dir)]
    dry = run("salvage", *args)
    assert dry.returncode == 3, dry.stdout + dry.stderr
    assert f"offsets {log_offset} to {log_offset} would be lost" in dry.stdout, dry.stdout
    applied = run("salvage", "--apply", *args)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = run("salvage", *args)
    assert again.returncode == 0 and "no damaged logs" in again.stdout, again.stdout

    b.start()
    fresh = produce_each(b, [b"after salvage"])
    assert fresh[0][0] is None
    assert fresh[0][1] >= COUNT, f"offset {fresh[0][1]} handed out twice"
    everything, _ = read_from(b, 0, COUNT)
    expected = [(i, values[i]) for i in range(COUNT) if i != victim]
    assert everything == expected + [(fresh[0][1], b"after salvage")]
