"""confluent-kafka (librdkafka 2.0.2) against a real tributary broker.

What a user of librdkafka-based clients can rely on, proven here:
- 100,000 records with keys, values and headers of every shape (null and empty keys and
  values, binary bytes, values up to 70 kB, duplicate header keys, null and empty header
  values) produced with each compression codec (none, gzip, snappy, lz4, zstd) are all
  acknowledged, land at offsets 0, 1, 2, ... of their partition in send order, and read back
  byte for byte (key, value, headers, partition, offset, CreateTime timestamp); and again
  after the broker is restarted. Records acknowledged with acks=all survive kill -9.
- Producers with acks=0, acks=1 and acks=all each deliver.
- The AdminClient creates, lists and deletes topics, and gets Kafka's error codes for a topic
  that exists, a partition count below 1 and an invalid topic name; metadata describes the
  single node 0 at its listen address as leader and controller; unknown topics are not
  auto-created.
- ListOffsets: watermarks, and the offset for a timestamp (offsets_for_times).
Consumers read with assign() and explicit offsets: consumer groups are not implemented yet.
"""
import pytest
from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic

from broker import wait_until
from clients import (ASSIGN_ONLY_CONSUMER, admin, assert_same_records, confluent_produce,
                     create_topic, expected_by_partition, make_records, now_ms, read_partitions,
                     topic_ready)

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
TOTAL = 100_000
PARTITIONS = 3


def test_every_codec_round_trips_byte_exact_and_survives_restart(broker):
    topic = "roundtrip"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    per_codec = TOTAL // len(CODECS)
    records, placements = [], []
    for n, codec in enumerate(CODECS):
        batch = make_records(per_codec, first_seq=n * per_codec)
        reports = confluent_produce(broker.bootstrap, topic, batch, **{"compression.type": codec})
        records += batch
        placements += [(p, off) for _, p, off in reports]
    assert len(records) == TOTAL
    expected = expected_by_partition(records, placements)
    assert sorted(expected) == list(range(PARTITIONS)), "the partitioner used every partition"
    counts = {p: len(rows) for p, rows in expected.items()}

    assert_same_records(read_partitions(broker.bootstrap, topic, counts), expected,
                        "read back")
    broker.restart()
    assert_same_records(read_partitions(broker.bootstrap, topic, counts), expected,
                        "read back after restart")


def test_acks_all_records_survive_kill_9(broker):
    # `tributary --help`: "acks=all always waits for fsync", so an acknowledged record and the
    # topic holding it are on disk even if the process dies without a chance to flush.
    create_topic(broker.bootstrap, "durable", 2)
    records = make_records(2000, first_seq=500_000)
    reports = confluent_produce(broker.bootstrap, "durable", records, acks="all",
                                **{"compression.type": "lz4"})
    expected = expected_by_partition(records, [(p, off) for _, p, off in reports])
    broker.restart(kill=True)
    counts = {p: len(expected.get(p, ())) for p in range(2)}
    assert_same_records(read_partitions(broker.bootstrap, "durable", counts), expected,
                        "after kill -9")


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_each_acks_setting_delivers(broker, acks):
    topic = f"acks-{acks}"
    create_topic(broker.bootstrap, topic, 1)
    records = make_records(500, first_seq=1000)
    # Idempotence needs acks=all; the weaker settings are plain producers.
    reports = confluent_produce(broker.bootstrap, topic, records, partition=0, acks=acks,
                                **{"enable.idempotence": acks == "all"})
    if acks != "0":  # with acks=0 the broker says nothing, so the client knows no offset
        assert [off for _, _, off in reports] == list(range(len(records)))
    expected = expected_by_partition(records, [(0, i) for i in range(len(records))])
    assert_same_records(read_partitions(broker.bootstrap, topic, {0: len(records)}),
                        expected, f"acks={acks}")


def test_admin_creates_lists_and_deletes_topics(broker):
    adm = admin(broker.bootstrap)
    futures = adm.create_topics([NewTopic("admin-a", 2, 1), NewTopic("admin-b", 1, -1)],
                                request_timeout=30)
    for f in futures.values():
        assert f.result(30) is None
    wait_until(lambda: topic_ready(adm, "admin-a", 2) and topic_ready(adm, "admin-b", 1), 30,
               "both topics in metadata")

    md = adm.list_topics(timeout=10)
    assert {b.id: (b.host, b.port) for b in md.brokers.values()} == {
        0: ("127.0.0.1", broker.port)}
    assert md.controller_id == 0
    for name, n in (("admin-a", 2), ("admin-b", 1)):
        t = md.topics[name]
        assert sorted(t.partitions) == list(range(n))
        for p in t.partitions.values():
            assert (p.leader, p.replicas, p.isrs) == (0, [0], [0]), (name, p)

    assert adm.delete_topics(["admin-a"], request_timeout=30)["admin-a"].result(30) is None
    wait_until(lambda: "admin-a" not in adm.list_topics(timeout=10).topics, 30,
               "admin-a gone from metadata")
    assert topic_ready(adm, "admin-b", 1), "deleting one topic left the other alone"

    # The name can be used again, and the new topic starts empty.
    create_topic(broker.bootstrap, "admin-a", 4)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, **ASSIGN_ONLY_CONSUMER})
    try:
        for p in range(4):
            assert consumer.get_watermark_offsets(TopicPartition("admin-a", p), 10) == (0, 0)
    finally:
        consumer.close()


def create_error(adm, new_topic):
    with pytest.raises(KafkaException) as info:
        adm.create_topics([new_topic], request_timeout=30)[new_topic.topic].result(30)
    return info.value.args[0].code()


def test_admin_errors(broker):
    adm = admin(broker.bootstrap)
    create_topic(broker.bootstrap, "exists", 1)
    assert create_error(adm, NewTopic("exists", 1, 1)) == KafkaError.TOPIC_ALREADY_EXISTS
    assert create_error(adm, NewTopic("zero-partitions", 0, 1)) == KafkaError.INVALID_PARTITIONS
    # librdkafka refuses a partition count below -1 itself (-1 means the broker's default), so
    # negative counts reach the broker only from kafka-python (test_kafka_python.py).
    with pytest.raises(ValueError, match="num_partitions"):
        adm.create_topics([NewTopic("negative", -5, 1)])
    bad_names = ["bad/name", "..", ".", "with space", "x" * 250, "tab\tname"]
    for name in bad_names:
        assert create_error(adm, NewTopic(name, 1, 1)) == KafkaError.TOPIC_EXCEPTION, name
    with pytest.raises(KafkaException) as info:
        adm.delete_topics(["never-created"], request_timeout=30)["never-created"].result(30)
    assert info.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART

    # Asking for an unknown topic's metadata neither creates it (--auto-create-topics false)
    # nor lists it; none of the refused topics exist.
    md = adm.list_topics(topic="never-created", timeout=10)
    assert md.topics["never-created"].error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    names = set(adm.list_topics(timeout=10).topics)
    assert "exists" in names
    assert not names & {"never-created", "zero-partitions", "negative", *bad_names}, names
    assert topic_ready(adm, "exists", 1), "the existing topic is unchanged"


def test_list_offsets_watermarks_and_times(broker):
    topic = "times"
    create_topic(broker.bootstrap, topic, 2)
    t0 = now_ms() - 600_000
    records = [r._replace(timestamp=t0 + 1000 * i) for i, r in enumerate(make_records(10))]
    confluent_produce(broker.bootstrap, topic, records, partition=0)

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, **ASSIGN_ONLY_CONSUMER})
    try:
        assert consumer.get_watermark_offsets(TopicPartition(topic, 0), 10) == (0, 10)
        assert consumer.get_watermark_offsets(TopicPartition(topic, 1), 10) == (0, 0)
        # (timestamp asked, offset expected): the first record at or after the timestamp;
        # -1 when none is; the special timestamps -2 and -1 mean earliest and latest.
        cases = [(t0 - 5000, 0), (t0, 0), (t0 + 1, 1), (t0 + 4500, 5), (t0 + 9000, 9),
                 (t0 + 9001, -1), (-2, 0), (-1, 10)]
        for ts, want in cases:  # one at a time: one request holds a partition only once
            (tp,) = consumer.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert tp.error is None, (ts, tp.error)
            assert tp.offset == want, f"timestamp {ts - t0 if ts > 0 else ts}: {tp.offset}"
        (empty,) = consumer.offsets_for_times([TopicPartition(topic, 1, t0)], timeout=10)
        assert (empty.error, empty.offset) == (None, OFFSET_END)
    finally:
        consumer.close()
