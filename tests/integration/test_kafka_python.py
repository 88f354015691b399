"""kafka-python 2.0.2 against a real tributary broker, with its API version left to
auto-detection (it probes with ApiVersions v0 and infers a Kafka release from the ranges).

What a kafka-python user can rely on, proven here:
- KafkaAdminClient creates, lists, describes and deletes topics, and gets Kafka's typed errors
  for an existing topic, zero or negative partitions and an invalid name.
- KafkaProducer with each compression_type (None, gzip, snappy, lz4, zstd) delivers records
  with keys, headers (duplicate keys, empty values) and values of every size; every record
  lands at the next offset of its partition, and a KafkaConsumer with assign() (no group, no
  commits) reads them back byte for byte (key, value, headers, partition, offset, timestamp),
  and again after the broker restarts.
- Records with null header values written by librdkafka read back through kafka-python.
- A Produce with acks=0 gets no response: the next response on the connection is the next
  request's.
- beginning_offsets, end_offsets and offsets_for_times (ListOffsets).
"""
import socket
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (InvalidPartitionsError, InvalidTopicError, TopicAlreadyExistsError,
                          UnknownTopicOrPartitionError)
from kafka.protocol.admin import ApiVersionRequest
from kafka.protocol.parser import KafkaProtocol
from kafka.protocol.produce import ProduceRequest
from kafka.record.memory_records import MemoryRecordsBuilder

from broker import wait_until
from clients import (assert_same_records, confluent_produce, expected_by_partition, make_records,
                     now_ms)
from clients import create_topic as confluent_create_topic

CODECS = [None, "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 2000
PARTITIONS = 3


def admin_client(bootstrap):
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tributary-tests")


def create_topic(adm, name, partitions):
    adm.create_topics([NewTopic(name, partitions, 1)], timeout_ms=30_000)
    wait_until(lambda: partition_count(adm, name) == partitions, 30, f"{name} in metadata")


def partition_count(adm, name):
    (t,) = adm.describe_topics([name])
    return len(t["partitions"]) if t["error_code"] == 0 else None


def kp_read(bootstrap, topic, counts, timeout=120):
    """Reads exactly counts[p] records of each partition from offset 0 with a group-less
    KafkaConsumer (group_id=None, assign(), seek(); auto commit off)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="none",
                             client_id="tributary-tests", fetch_max_wait_ms=200)
    got = {p: [] for p in counts}
    try:
        tps = [TopicPartition(topic, p) for p in counts]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        deadline = time.monotonic() + timeout
        while sum(map(len, got.values())) < sum(counts.values()):
            assert time.monotonic() < deadline, f"read {[len(g) for g in got.values()]}"
            for tp, batch in consumer.poll(timeout_ms=500, max_records=5000).items():
                for r in batch:
                    assert r.timestamp_type == 0, r  # CreateTime
                    got[tp.partition].append(
                        (r.offset, r.key, r.value, tuple(r.headers), r.timestamp))
        assert consumer.beginning_offsets(tps) == {tp: 0 for tp in tps}
        assert consumer.end_offsets(tps) == {tp: counts[tp.partition] for tp in tps}
    finally:
        consumer.close(autocommit=False)
    return got


def test_admin_client_topics_and_errors(broker):
    adm = admin_client(broker.bootstrap)
    try:
        create_topic(adm, "kp-admin", 3)
        assert "kp-admin" in adm.list_topics()
        (described,) = adm.describe_topics(["kp-admin"])
        assert sorted(p["partition"] for p in described["partitions"]) == [0, 1, 2]
        for p in described["partitions"]:
            assert (p["error_code"], p["leader"], p["replicas"], p["isr"]) == (0, 0, [0], [0])
        cluster = adm.describe_cluster()
        assert cluster["controller_id"] == 0
        assert [(b["node_id"], b["host"], b["port"]) for b in cluster["brokers"]] == [
            (0, "127.0.0.1", broker.port)]

        with pytest.raises(TopicAlreadyExistsError):
            adm.create_topics([NewTopic("kp-admin", 1, 1)])
        for partitions in (0, -5):
            with pytest.raises(InvalidPartitionsError):
                adm.create_topics([NewTopic(f"kp-partitions{partitions}", partitions, 1)])
        for name in ("bad/name", "..", "x" * 250):
            with pytest.raises(InvalidTopicError):
                adm.create_topics([NewTopic(name, 1, 1)])

        adm.delete_topics(["kp-admin"], timeout_ms=30_000)
        wait_until(lambda: "kp-admin" not in adm.list_topics(), 30, "kp-admin deleted")
        with pytest.raises(UnknownTopicOrPartitionError):
            adm.delete_topics(["kp-admin"])
        assert not {"kp-partitions0", "kp-partitions-5", "bad/name"} & set(adm.list_topics())
    finally:
        adm.close()


def kp_produce(bootstrap, topic, records, **conf):
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="tributary-tests",
                             acks="all", linger_ms=10, batch_size=256 * 1024,
                             max_in_flight_requests_per_connection=1, **conf)
    try:
        futures = [producer.send(topic, key=r.key, value=r.value, headers=list(r.headers),
                                 timestamp_ms=r.timestamp) for r in records]
        producer.flush(timeout=90)
        return [(m.partition, m.offset) for m in (f.get(timeout=10) for f in futures)]
    finally:
        producer.close(timeout=10)


def test_every_compression_type_round_trips_and_survives_restart(broker):
    topic = "kp-roundtrip"
    adm = admin_client(broker.bootstrap)
    try:
        create_topic(adm, topic, PARTITIONS)
    finally:
        adm.close()
    records, placements = [], []
    for n, codec in enumerate(CODECS):
        # kafka-python cannot send a header whose value is null (it asserts bytes).
        batch = make_records(PER_CODEC, first_seq=n * PER_CODEC, null_header_values=False)
        placements += kp_produce(broker.bootstrap, topic, batch, compression_type=codec)
        records += batch
    expected = expected_by_partition(records, placements)
    counts = {p: len(expected.get(p, ())) for p in range(PARTITIONS)}
    assert all(counts.values()), counts

    assert_same_records(kp_read(broker.bootstrap, topic, counts), expected, "kafka-python")
    broker.restart()
    assert_same_records(kp_read(broker.bootstrap, topic, counts), expected,
                        "kafka-python after restart")


def test_reads_null_header_values_written_by_librdkafka(broker):
    confluent_create_topic(broker.bootstrap, "kp-cross", 1)
    records = make_records(300, first_seq=7)
    reports = confluent_produce(broker.bootstrap, "kp-cross", records, partition=0,
                                **{"compression.type": "lz4"})
    expected = expected_by_partition(records, [(p, off) for _, p, off in reports])
    assert any(("null", None) in r.headers for r in records)
    assert_same_records(kp_read(broker.bootstrap, "kp-cross", {0: 300}), expected,
                        "librdkafka -> kafka-python")


def _exchange(sock, proto, *requests):
    """Sends the requests in one write; returns the responses to those that expect one."""
    for r in requests:
        proto.send_request(r)
    sock.sendall(proto.send_bytes())
    want = sum(1 for r in requests if r.expect_response())
    responses = []
    while len(responses) < want:
        data = sock.recv(65536)
        assert data, "broker closed the connection"
        # A response to the acks=0 Produce would raise CorrelationIdError here.
        responses += proto.receive_bytes(data)
    return responses


def test_acks_zero_produce_gets_no_response(broker):
    adm = admin_client(broker.bootstrap)
    try:
        create_topic(adm, "kp-acks0", 1)
    finally:
        adm.close()
    ts = now_ms()
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    builder.append(timestamp=ts, key=b"k0", value=b"fire-and-forget", headers=[("h", b"1")])
    builder.close()
    with socket.create_connection(broker.address, timeout=10) as sock:
        proto = KafkaProtocol(client_id="tributary-acks0")
        ((_, versions),) = _exchange(sock, proto, ApiVersionRequest[0]())
        ranges = {k: (lo, hi) for k, lo, hi in versions.api_versions}
        lo, hi = ranges[ProduceRequest[0].API_KEY]
        version = min(7, hi)
        assert lo <= version and version >= 3, ranges[0]
        produce = ProduceRequest[version](transactional_id=None, required_acks=0, timeout=10_000,
                                          topics=[("kp-acks0", [(0, builder.buffer())])])
        ((corr, after),) = _exchange(sock, proto, produce, ApiVersionRequest[0]())
        assert after.error_code == 0
    got = kp_read(broker.bootstrap, "kp-acks0", {0: 1})
    assert got == {0: [(0, b"k0", b"fire-and-forget", (("h", b"1"),), ts)]}


def test_list_offsets(broker):
    adm = admin_client(broker.bootstrap)
    try:
        create_topic(adm, "kp-offsets", 2)
    finally:
        adm.close()
    t0 = now_ms() - 600_000
    records = [r._replace(timestamp=t0 + 1000 * i) for i, r in
               enumerate(make_records(10, null_header_values=False))]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    try:
        for r in records:
            producer.send("kp-offsets", key=r.key, value=r.value, partition=0,
                          timestamp_ms=r.timestamp).get(timeout=30)
    finally:
        producer.close(timeout=10)
    p0, p1 = TopicPartition("kp-offsets", 0), TopicPartition("kp-offsets", 1)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        assert consumer.beginning_offsets([p0, p1]) == {p0: 0, p1: 0}
        assert consumer.end_offsets([p0, p1]) == {p0: 10, p1: 0}
        for delta, want in [(-5000, 0), (0, 0), (1, 1), (4500, 5), (9000, 9), (9001, None)]:
            found = consumer.offsets_for_times({p0: t0 + delta})[p0]
            if want is None:
                assert found is None, (delta, found)
            else:
                assert (found.offset, found.timestamp) == (want, t0 + 1000 * want), delta
        assert consumer.offsets_for_times({p1: t0}) == {p1: None}
    finally:
        consumer.close(autocommit=False)
