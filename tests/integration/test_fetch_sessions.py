"""Incremental fetch sessions (KIP-227), spoken byte by byte: Debian's clients
(librdkafka 1.x, kafka-python 2.0.2, KafkaJS) always fetch without a session, Java clients
open one whenever they can."""
import struct
import threading
import time

from clients import confluent_produce, create_topic, make_records
from raw_kafka import Reader, call, string

FETCH = 1
VERSION = 11  # the newest non-flexible Fetch: sessions, log start offsets, rack id

FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71


def fetch_body(session_id, epoch, partitions=(), forgotten=(), max_wait_ms=0, min_bytes=1):
    """partitions: [(topic, partition, fetch_offset)]; forgotten: [(topic, partition)]."""
    by_topic = {}
    for topic, partition, offset in partitions:
        by_topic.setdefault(topic, []).append((partition, offset))
    body = struct.pack(">iiiibii", -1, max_wait_ms, min_bytes, 10 << 20, 0, session_id, epoch)
    body += struct.pack(">i", len(by_topic))
    for topic, parts in by_topic.items():
        body += string(topic) + struct.pack(">i", len(parts))
        for partition, offset in parts:
            body += struct.pack(">iiqqi", partition, -1, offset, -1, 1 << 20)
    gone = {}
    for topic, partition in forgotten:
        gone.setdefault(topic, []).append(partition)
    body += struct.pack(">i", len(gone))
    for topic, parts in gone.items():
        body += string(topic) + struct.pack(">i", len(parts))
        body += b"".join(struct.pack(">i", p) for p in parts)
    return body + string("")


def parse_fetch(data):
    """-> (error_code, session_id, {(topic, partition): (error, high_watermark, batches)})
    where batches is the number of record batches returned."""
    r = Reader(data)
    _throttle, error, session_id = r.take(">ihi")
    parts = {}
    for _ in range(r.take(">i")):
        topic = r.string()
        for _ in range(r.take(">i")):
            partition, perr, hw, _lso, _log_start = r.take(">ihqqq")
            aborted = r.take(">i")
            for _ in range(max(aborted, 0)):
                r.take(">qq")
            _preferred = r.take(">i")
            size = r.take(">i")
            records = r.data[r.pos:r.pos + max(size, 0)]
            r.pos += max(size, 0)
            batches, pos = 0, 0
            while pos + 12 <= len(records):
                batches += 1
                pos += 12 + struct.unpack(">i", records[pos + 8:pos + 12])[0]
            parts[(topic, partition)] = (perr, hw, batches)
    assert r.done(), "trailing bytes in the fetch response"
    return error, session_id, parts


def fetch(broker, *args, **kwargs):
    return parse_fetch(call(broker.address, FETCH, VERSION, fetch_body(*args, **kwargs)))


def produce_to(broker, topic, partition, count):
    confluent_produce(broker.bootstrap, topic, make_records(count), partition=partition)


def test_a_session_sends_only_what_changed(broker):
    topic = "sessions"
    create_topic(broker.bootstrap, topic, 3)
    produce_to(broker, topic, 0, 5)
    produce_to(broker, topic, 1, 3)

    # Epoch 0 opens a session; the first response is full.
    err, sid, parts = fetch(broker, 0, 0, [(topic, 0, 0), (topic, 1, 0), (topic, 2, 0)])
    assert err == 0 and sid != 0
    assert set(parts) == {(topic, 0), (topic, 1), (topic, 2)}
    assert parts[(topic, 0)][:2] == (0, 5) and parts[(topic, 0)][2] > 0
    assert parts[(topic, 1)][:2] == (0, 3)
    assert parts[(topic, 2)] == (0, 0, 0)

    # The client moves past what it read; nothing else changed, so nothing comes back.
    err, sid1, parts = fetch(broker, sid, 1, [(topic, 0, 5), (topic, 1, 3)], max_wait_ms=50)
    assert (err, sid1, parts) == (0, sid, {})

    # New records on a partition the request does not even name: only it is sent.
    produce_to(broker, topic, 2, 4)
    err, _, parts = fetch(broker, sid, 2)
    assert err == 0 and list(parts) == [(topic, 2)]
    assert parts[(topic, 2)][:2] == (0, 4) and parts[(topic, 2)][2] > 0

    # The same epoch twice is refused, and does not spend the next one.
    err, _, _ = fetch(broker, sid, 2)
    assert err == INVALID_FETCH_SESSION_EPOCH

    # A forgotten partition is no longer fetched, whatever happens to it.
    produce_to(broker, topic, 2, 1)
    err, _, parts = fetch(broker, sid, 3, [(topic, 0, 5)], forgotten=[(topic, 2)],
                          max_wait_ms=50)
    assert (err, parts) == (0, {})

    # The final epoch closes the session and fetches in full without one.
    err, closed_sid, parts = fetch(broker, sid, -1, [(topic, 0, 0)])
    assert err == 0 and closed_sid == 0 and parts[(topic, 0)][:2] == (0, 5)
    err, _, _ = fetch(broker, sid, 4)
    assert err == FETCH_SESSION_ID_NOT_FOUND


def test_an_incremental_long_poll_wakes_on_new_data(broker):
    topic = "session-poll"
    create_topic(broker.bootstrap, topic, 2)
    err, sid, parts = fetch(broker, 0, 0, [(topic, 0, 0), (topic, 1, 0)])
    assert err == 0 and sid != 0 and len(parts) == 2

    result = {}

    def poll():
        started = time.monotonic()
        result["response"] = fetch(broker, sid, 1, max_wait_ms=10_000)
        result["seconds"] = time.monotonic() - started

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    produce_to(broker, topic, 1, 2)
    waiter.join(15)
    err, _, parts = result["response"]
    assert err == 0 and list(parts) == [(topic, 1)] and parts[(topic, 1)][1] == 2
    assert result["seconds"] < 8, f"the long poll took {result['seconds']:.1f} s"


def test_unknown_sessions_and_partitions(broker):
    err, _, _ = fetch(broker, 12345, 1)
    assert err == FETCH_SESSION_ID_NOT_FOUND
    err, _, _ = fetch(broker, 0, 1)  # an incremental epoch needs a session
    assert err == FETCH_SESSION_ID_NOT_FOUND
    # A session over a partition that does not exist keeps reporting it.
    err, sid, parts = fetch(broker, 0, 0, [("no-such-topic", 0, 0)])
    assert err == 0 and sid != 0 and parts[("no-such-topic", 0)][0] == 3
    err, _, parts = fetch(broker, sid, 1)
    assert err == 0 and parts[("no-such-topic", 0)][0] == 3
