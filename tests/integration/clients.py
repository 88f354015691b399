"""Client-side helpers shared by the integration tests: deterministic test records, topic
creation and a group-less, commit-less read-back with confluent-kafka (librdkafka).

A record is compared as (offset, key, value, headers, timestamp): key and value are bytes or
None, headers a tuple of (str, bytes-or-None) pairs in wire order, timestamp the CreateTime in
milliseconds. Comparisons report the first difference instead of diffing 100,000 records.
"""
import ctypes
import functools
import itertools
import logging
import random
import time
from typing import NamedTuple, Optional

import confluent_kafka
from confluent_kafka import (TIMESTAMP_CREATE_TIME, Consumer, KafkaError, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

from broker import wait_until

# librdkafka insists on a group.id for a Consumer; these tests never join or commit with it
# (assign() with explicit offsets, no auto commit, no offset store).
ASSIGN_ONLY_CONSUMER = {
    "group.id": "tributary-tests-unused",
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "error",
}


class Sent(NamedTuple):
    key: Optional[bytes]
    value: Optional[bytes]
    headers: tuple
    timestamp: int


def now_ms():
    return int(time.time() * 1000)


def make_records(count, first_seq=0, base_ts=None, null_header_values=True):
    """`count` deterministic records: null, empty, text and binary keys; null, empty, small and
    large (compressible, with some random bytes) values; no headers, duplicate header keys,
    empty and (unless a client cannot send them) null header values, binary and UTF-8
    headers. Never both key and value null (kafka-python refuses that)."""
    rng = random.Random(first_seq)
    base_ts = now_ms() - 3_600_000 if base_ts is None else base_ts
    out = []
    for seq in range(first_seq, first_seq + count):
        k = seq % 10
        key = (None if k == 0 else b"" if k == 1 else rng.randbytes(16) if k == 2
               else b"key-%08d" % seq)
        v = seq % 20
        if v == 3:
            value = None
        elif v == 5:
            value = b""
        else:
            size = 70_000 if seq % 997 == 0 else rng.choice((1, 8, 50, 200, 1000, 3000))
            text = b"%d:tributary-value;" % seq
            buf = bytearray((text * (size // len(text) + 1))[:size])
            for _ in range(min(4, size // 50)):
                buf[rng.randrange(size)] = rng.randrange(256)
            value = bytes(buf)
        h = seq % 5
        if h == 0:
            headers = ()
        elif h == 1:
            headers = (("trace-id", b"%d" % seq),)
        elif h == 2:
            headers = (("dup", b"first"),) + ((("null", None),) if null_header_values else ())
            headers += (("dup", b"second"), ("empty", b""))
        elif h == 3:
            headers = (("bin", rng.randbytes(rng.randrange(1, 40))),)
        else:
            headers = (("ünïcode-kéy", "välue-✓".encode()),)
        out.append(Sent(key, value, headers, base_ts + seq))
    return out


# confluent-kafka before 1.8.0 (Debian 12 ships 1.7.0) puts None into the (name, value) tuple
# of a null header value without taking a reference to it (c_headers_to_py; fixed upstream by
# "Add a missing incref to c_headers_to_py", #1165). Each such tuple later drops a reference
# it never had, and after some thousands Python aborts with "none_dealloc". consumed_headers
# hands None the missing reference.
_MISSING_NONE_INCREF = confluent_kafka.version()[1] < 0x01080000
_py_incref = ctypes.pythonapi.Py_IncRef
_py_incref.argtypes, _py_incref.restype = [ctypes.py_object], None


def consumed_headers(msg):
    """A consumed message's headers as a tuple of (name, value) pairs, () if none."""
    headers = msg.headers()  # converted once per message, then cached by the library
    if not headers:
        return ()
    if _MISSING_NONE_INCREF:
        for _, value in headers:
            if value is None:
                _py_incref(None)
    return tuple(headers)


class LibrdkafkaErrors(logging.Handler):
    """Collects what librdkafka logs at error level or worse. librdkafka survives many broker
    mistakes by logging and retrying (a Fetch it cannot parse is logged as PROTOERR, then
    retried after a back-off), so the tests fail on such logs instead of missing them."""

    _ids = itertools.count()

    def __init__(self, what):
        super().__init__(logging.ERROR)
        self.what = what
        self.messages = []
        self.logger = logging.getLogger(f"librdkafka.{what}.{next(self._ids)}")
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self)

    def emit(self, record):
        self.messages.append(record.getMessage())

    def check(self):
        self.logger.removeHandler(self)
        assert not self.messages, f"librdkafka ({self.what}) logged errors: {self.messages[:5]}"


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def topic_ready(adm, name, partitions):
    md = adm.list_topics(timeout=10)
    t = md.topics.get(name)
    return (t is not None and t.error is None and len(t.partitions) == partitions
            and all(p.error is None and p.leader == 0 for p in t.partitions.values()))


def create_topic(bootstrap, name, partitions, replication_factor=1, timeout=30):
    """Creates a topic with the AdminClient and waits until its metadata shows every
    partition led by node 0."""
    adm = admin(bootstrap)
    futures = adm.create_topics([NewTopic(name, partitions, replication_factor)],
                                request_timeout=timeout)
    futures[name].result(timeout)
    wait_until(lambda: topic_ready(adm, name, partitions), timeout,
               f"topic {name!r} with {partitions} partitions led by node 0")


def _report(reports, i, err, msg):
    reports[i] = (err, msg.partition(), msg.offset())  # called from producer.poll()/flush()


def confluent_produce(bootstrap, topic, records, partition=None, **conf):
    """Produces records in order with one producer; returns the delivery reports
    [(error, partition, offset)] in send order after checking every one succeeded."""
    errors = LibrdkafkaErrors("producer")
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "logger": errors.logger,
        "acks": "all",
        "linger.ms": 10,
        "enable.idempotence": True,  # what current clients default to
        # One request in flight: a retry can never reorder, so send order is log order.
        "max.in.flight.requests.per.connection": 1,
        "message.timeout.ms": 60_000,
        **conf,
    })
    reports = [None] * len(records)
    extra = {} if partition is None else {"partition": partition}
    for i, r in enumerate(records):
        while True:
            try:
                producer.produce(topic, key=r.key, value=r.value, headers=list(r.headers) or None,
                                 timestamp=r.timestamp,
                                 on_delivery=functools.partial(_report, reports, i), **extra)
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(90) == 0, "not every record was delivered within 90 s"
    failed = [(i, rep) for i, rep in enumerate(reports) if rep is None or rep[0] is not None]
    assert not failed, f"{len(failed)} records failed, first: {failed[:3]}"
    errors.check()
    return reports


def read_partitions(bootstrap, topic, counts, timeout=120, **conf):
    """Reads each partition p from offset 0 with an assign() consumer (no group, no commits)
    until it has counts[p] records and librdkafka reports the end of the partition there
    (the event `kcat -e` waits for: a Fetch at the high watermark answered with no records).
    Returns {partition: [(offset, key, value, headers, timestamp), ...]} as received."""
    errors = LibrdkafkaErrors("consumer")
    consumer = Consumer({"bootstrap.servers": bootstrap, "logger": errors.logger,
                         "enable.partition.eof": True, **ASSIGN_ONLY_CONSUMER, **conf})
    got = {p: [] for p in counts}
    eof = {}
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in counts])
        deadline = time.monotonic() + timeout
        while any(len(got[p]) != n or eof.get(p) != n for p, n in counts.items()):
            progress = {p: (len(r), eof.get(p)) for p, r in got.items()}
            assert time.monotonic() < deadline and not errors.messages, (
                f"{topic}: (records read, end seen at) {progress}, expected {counts}; "
                f"librdkafka errors: {errors.messages[:3]}")
            for m in consumer.consume(num_messages=10_000, timeout=0.5):
                if m.error() is not None:
                    assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                    eof[m.partition()] = m.offset()
                    continue
                ts_type, ts = m.timestamp()
                assert ts_type == TIMESTAMP_CREATE_TIME, (ts_type, m.partition(), m.offset())
                got[m.partition()].append(
                    (m.offset(), m.key(), m.value(), consumed_headers(m), ts))
        for p, n in counts.items():
            marks = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assert marks == (0, n), f"{topic}[{p}] watermarks {marks}, expected (0, {n})"
    finally:
        consumer.close()
    errors.check()
    return got


def expected_by_partition(records, placements):
    """Turns the sent records and where each landed ([(partition, offset)], same order) into
    {partition: [(offset, key, value, headers, timestamp)]}, checking that each partition's
    offsets run 0, 1, 2, ... in send order."""
    out = {}
    for r, (p, off) in zip(records, placements):
        rows = out.setdefault(p, [])
        assert off == len(rows), f"partition {p}: record sent as #{len(rows)} got offset {off}"
        rows.append((off, r.key, r.value, r.headers, r.timestamp))
    return out


def assert_same_records(got, expected, what):
    """Compares {partition: [rows]} maps; on a difference names the first differing record."""
    assert sorted(got) == sorted(expected), f"{what}: partitions {sorted(got)}, {sorted(expected)}"
    for p in sorted(expected):
        g, e = got[p], expected[p]
        for i, (a, b) in enumerate(zip(g, e)):
            if a != b:
                raise AssertionError(f"{what}: partition {p}, record #{i} differs:\n"
                                     f"  got      {_short(a)}\n  expected {_short(b)}")
        assert len(g) == len(e), f"{what}: partition {p} has {len(g)} records, expected {len(e)}"


def _short(row):
    return repr(tuple(x[:80] + b"..." if isinstance(x, bytes) and len(x) > 80 else x
                      for x in row))


def read_values(bootstrap, topic, partitions, timeout=60):
    """Every value of partitions 0..partitions-1, read from offset 0 with an assign()
    consumer until each partition's end is reported (or `timeout` passes)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    values, ended = [], set()
    deadline = time.monotonic() + timeout
    while len(ended) < partitions and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error() is not None:
            assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
            ended.add(m.partition())
            continue
        values.append(m.value())
    c.close()
    return values
