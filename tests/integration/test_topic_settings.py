"""Kafka's topic settings and old message formats with real clients (issue: client
compatibility).

- Every topic setting Kafka 3.x documents is accepted by CreateTopics and AlterConfigs with
  its value validated (INVALID_CONFIG otherwise, also for unknown names), and described
  normalised, with a documentation string saying what it does here.
- compression.type recompresses on produce (producer keeps the client's codec); the
  timestamp bounds reject out-of-range CreateTime records with INVALID_TIMESTAMP;
  min.insync.replicas above the replica count refuses acks=all with NOT_ENOUGH_REPLICAS.
- Magic 0 and 1 message sets (kafka-python speaking to "0.9" and "0.10" brokers, and raw
  frames) are up-converted to v2 batches with each codec those formats allow.
- DescribeConfigs on the broker gives the settings a Kafka client looks for, typed.
"""
import struct
import time
import zlib

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import ConfigResource, NewTopic
from kafka import KafkaProducer

from clients import admin, create_topic, now_ms, read_partitions, topic_ready, wait_until
from raw_kafka import Reader, call, string

FETCH, PRODUCE, DESCRIBE_CONFIGS = 1, 0, 32
INVALID_CONFIG = 40
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

# A valid value for every Kafka 3.x topic setting, as tools send them.
KAFKA_SETTINGS = {
    "cleanup.policy": "delete", "compression.type": "producer", "delete.retention.ms": "86400000",
    "file.delete.delay.ms": "60000", "flush.messages": "9223372036854775807",
    "flush.ms": "1000", "follower.replication.throttled.replicas": "",
    "index.interval.bytes": "4096", "leader.replication.throttled.replicas": "",
    "local.retention.bytes": "-2", "local.retention.ms": "-2",
    "max.compaction.lag.ms": "9223372036854775807", "max.message.bytes": "1048588",
    "message.downconversion.enable": "true", "message.format.version": "3.0-IV1",
    "message.timestamp.after.max.ms": "9223372036854775807",
    "message.timestamp.before.max.ms": "9223372036854775807",
    "message.timestamp.difference.max.ms": "9223372036854775807",
    "message.timestamp.type": "CreateTime", "min.cleanable.dirty.ratio": "0.5",
    "min.compaction.lag.ms": "0", "min.insync.replicas": "1", "preallocate": "false",
    "remote.storage.enable": "false", "retention.bytes": "-1", "retention.ms": "604800000",
    "segment.bytes": "1073741824", "segment.index.bytes": "10485760", "segment.jitter.ms": "0",
    "segment.ms": "604800000", "unclean.leader.election.enable": "false",
}


def create(bootstrap, name, config, partitions=1):
    adm = admin(bootstrap)
    fut = adm.create_topics([NewTopic(name, partitions, 1, config=config)],
                            request_timeout=30)[name]
    try:
        fut.result(30)
    except Exception as e:  # noqa: BLE001 - the KafkaException carries the Kafka error
        return e.args[0]
    wait_until(lambda: topic_ready(adm, name, partitions), 30, f"topic {name} ready")
    return None


def describe(bootstrap, name):
    adm = admin(bootstrap)
    res = ConfigResource("TOPIC", name)
    return adm.describe_configs([res])[res].result(timeout=30)


def test_every_kafka_topic_setting_is_accepted_validated_and_described(broker):
    assert create(broker.bootstrap, "all-settings", KAFKA_SETTINGS) is None
    entries = describe(broker.bootstrap, "all-settings")
    for name, value in KAFKA_SETTINGS.items():
        assert entries[name].value == value, name
        assert not entries[name].is_default, name
    # Normalised as Kafka describes: trimmed, booleans lower-case, lists joined.
    assert create(broker.bootstrap, "normalised", {"retention.ms": " 3600000 ",
                                                    "preallocate": "TRUE",
                                                    "cleanup.policy": "compact, delete"}) is None
    entries = describe(broker.bootstrap, "normalised")
    assert entries["retention.ms"].value == "3600000"
    assert entries["preallocate"].value == "true"
    assert entries["cleanup.policy"].value == "compact,delete"
    for bad in ({"compression.type": "GZIP"}, {"min.insync.replicas": "0"},
                {"segment.bytes": "13"}, {"retention.ms": "soon"},
                {"log.retention.ms": "1000"}, {"no.such.setting": "1"},
                {"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}):
        err = create(broker.bootstrap, "refused", bad)
        assert err is not None and err.code() == INVALID_CONFIG, (bad, err)


def describe_v3(address, resource_type, name):
    """DescribeConfigs v3 with documentation -> {name: (value, read_only, source, type, doc)}."""
    body = (struct.pack(">i", 1) + struct.pack(">b", resource_type) + string(name) +
            struct.pack(">i", -1) + b"\x00" + b"\x01")
    r = Reader(call(address, DESCRIBE_CONFIGS, 3, body))
    r.take(">i")
    assert r.take(">i") == 1
    error = r.take(">h")
    message = r.string()
    r.take(">b")
    r.string()
    out = {}
    for _ in range(r.take(">i")):
        key, value = r.string(), r.string()
        read_only, source, _sensitive = r.take(">?b?")
        for _ in range(r.take(">i")):
            r.string(), r.string(), r.take(">b")
        config_type = r.take(">b")
        out[key] = (value, read_only, source, config_type, r.string())
    assert r.done()
    return error, message, out


def test_broker_settings_are_described_with_their_types(broker):
    error, _, configs = describe_v3(broker.address, 4, "0")
    assert error == 0
    host, port = broker.address
    assert configs["listeners"][0] == f"PLAINTEXT://{host}:{port}"
    assert configs["advertised.listeners"][0] == f"PLAINTEXT://{host}:{port}"
    assert configs["default.replication.factor"][:4] == ("1", True, 5, 3)  # INT, default
    assert configs["auto.create.topics.enable"][3] == 1  # BOOLEAN
    assert configs["log.retention.ms"][3] == 5  # LONG
    assert configs["offsets.topic.replication.factor"][3] == 4  # SHORT
    assert configs["log.cleanup.policy"][3] == 7  # LIST
    assert configs["broker.rack"][0] is None
    assert all(c[1] for c in configs.values()), "broker settings are read-only"
    assert all(c[4] for c in configs.values()), "every setting is documented"
    # The cluster-wide default (empty name) has no dynamic settings; another id is an error.
    assert describe_v3(broker.address, 4, "") == (0, None, {})
    error, message, _ = describe_v3(broker.address, 4, "7")
    assert error == 42 and "expected 0" in message
    # librdkafka reads the same through its AdminClient (DescribeConfigs v1).
    adm = admin(broker.bootstrap)
    res = ConfigResource("BROKER", "0")
    entries = adm.describe_configs([res])[res].result(timeout=30)
    assert entries["listeners"].value == f"PLAINTEXT://{host}:{port}"
    assert entries["listeners"].is_read_only


def first_batch_codec(address, topic):
    body = (struct.pack(">iiii", -1, 100, 1, 1 << 20) + b"\x00" + struct.pack(">i", 1) +
            string(topic) + struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20))
    resp = call(address, FETCH, 4, body)
    records_at = 4 + 4 + 2 + len(topic) + 4 + 4 + 2 + 8 + 8 + 4 + 4
    batch = resp[records_at:]
    assert batch[16] == 2, "not a v2 batch"
    return struct.unpack(">h", batch[21:23])[0] & 7


@pytest.mark.parametrize("topic_codec,client_codec,stored", [
    ("lz4", "gzip", "lz4"), ("uncompressed", "zstd", "none"), ("zstd", "none", "zstd"),
    ("producer", "snappy", "snappy")])
def test_compression_type_recompresses_on_produce(broker, topic_codec, client_codec, stored):
    topic = f"codec-{topic_codec}-{client_codec}"
    assert create(broker.bootstrap, topic, {"compression.type": topic_codec}) is None
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.codec": client_codec,
                  "linger.ms": 50})
    values = [b"value-%d-" % i * 20 for i in range(200)]
    for v in values:
        p.produce(topic, value=v, partition=0)
    assert p.flush(30) == 0
    assert first_batch_codec(broker.address, topic) == CODEC_IDS[stored]
    got = read_partitions(broker.bootstrap, topic, {0: len(values)})[0]
    assert [row[2] for row in got] == values
    assert [row[0] for row in got] == list(range(len(values)))


def produce_one(bootstrap, topic, timestamp, acks="all"):
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "message.timeout.ms": 5000,
                  "retries": 0})
    result = []
    p.produce(topic, value=b"x", partition=0, timestamp=timestamp,
              on_delivery=lambda err, msg: result.append(err))
    p.flush(15)
    assert len(result) == 1
    return result[0]


def test_timestamps_out_of_the_topic_bounds_are_rejected(broker):
    assert create(broker.bootstrap, "recent", {"message.timestamp.before.max.ms": "60000",
                                                "message.timestamp.after.max.ms": "5000"}) is None
    assert produce_one(broker.bootstrap, "recent", now_ms()) is None
    for ts in (now_ms() - 3_600_000, now_ms() + 60_000):
        err = produce_one(broker.bootstrap, "recent", ts)
        assert err is not None and err.code() == KafkaError.INVALID_TIMESTAMP, err
    # The older single bound still works where before/after are not set.
    assert create(broker.bootstrap, "recent-old", {"message.timestamp.difference.max.ms": "1000"}) is None
    err = produce_one(broker.bootstrap, "recent-old", now_ms() - 10_000)
    assert err is not None and err.code() == KafkaError.INVALID_TIMESTAMP, err
    # Nothing rejected was stored.
    got = read_partitions(broker.bootstrap, "recent", {0: 1})[0]
    assert len(got) == 1


def test_min_insync_replicas_above_the_replicas_refuses_acks_all(broker):
    assert create(broker.bootstrap, "strict", {"min.insync.replicas": "2"}) is None
    err = produce_one(broker.bootstrap, "strict", now_ms(), acks="all")
    assert err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS, err
    assert produce_one(broker.bootstrap, "strict", now_ms(), acks="1") is None


# kafka-python writes magic 0 with lz4 only with the xxhash module, which Debian lacks: that
# pair is the raw-frame test below.
@pytest.mark.parametrize("api_version,magic,codec", [
    ((0, 9), 0, None), ((0, 9), 0, "gzip"), ((0, 9), 0, "snappy"), ((0, 10, 0), 1, None),
    ((0, 10, 0), 1, "gzip"), ((0, 10, 0), 1, "snappy"), ((0, 10, 0), 1, "lz4")])
def test_old_message_formats_are_up_converted(broker, api_version, magic, codec):
    topic = f"legacy-{magic}-{codec}"
    create_topic(broker.bootstrap, topic, 1)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=api_version,
                      compression_type=codec, linger_ms=20)
    base = now_ms() - 1000
    sent = [(b"k%d" % i if i % 3 else None, b"v%d-" % i * (i % 50 + 1), base + i)
            for i in range(300)]
    futures = [p.send(topic, key=k, value=v, partition=0, timestamp_ms=ts) for k, v, ts in sent]
    for f in futures:
        f.get(timeout=30)
    p.close(10)
    got = read_partitions(broker.bootstrap, topic, {0: len(sent)})[0]
    assert [row[0] for row in got] == list(range(len(sent)))  # offsets assigned in order
    assert [(row[1], row[2]) for row in got] == [(k, v) for k, v, _ in sent]
    if magic == 1:
        assert [row[4] for row in got] == [ts for _, _, ts in sent]
    assert first_batch_codec(broker.address, topic) == CODEC_IDS[codec or "none"]


def magic0_message(key, value, attributes=0):
    body = (b"\x00" + bytes([attributes]) + struct.pack(">i", len(key)) + key +
            struct.pack(">i", len(value)) + value)
    return struct.pack(">qi", 0, len(body) + 4) + struct.pack(">I", zlib.crc32(body)) + body


def xxh32_short(data):
    """XXH32 (seed 0) of fewer than 16 bytes."""
    p1, p2, p3, p4, p5, mask = 2654435761, 2246822519, 3266489917, 668265263, 374761393, 2**32 - 1

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & mask

    h = (p5 + len(data)) & mask
    i = 0
    while i + 4 <= len(data):
        h = rotl((h + struct.unpack("<I", data[i:i + 4])[0] * p3) & mask, 17) * p4 & mask
        i += 4
    for b in data[i:]:
        h = rotl((h + b * p5) & mask, 11) * p1 & mask
    h ^= h >> 15
    h = h * p2 & mask
    h ^= h >> 13
    h = h * p3 & mask
    return h ^ (h >> 16)


def produce_v0(topic, message_set):
    return (struct.pack(">hi", 1, 10000) + struct.pack(">i", 1) + string(topic) +
            struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(message_set)) +
            message_set)


def test_a_magic_0_lz4_set_with_the_old_header_checksum_is_accepted(broker):
    # Kafka 0.8-0.9 clients hashed the LZ4 frame's magic number into its header checksum
    # (KAFKA-3160); Kafka accepts such sets, so do we.
    import lz4.frame
    create_topic(broker.bootstrap, "old-lz4", 1)
    inner = b"".join(magic0_message(b"k%d" % i, b"value-%d" % i * 10) for i in range(50))
    frame = bytearray(lz4.frame.compress(inner, store_size=False))
    assert frame[4] & 0x09 == 0  # no content size or dictionary: the checksum is byte 6
    frame[6] = (xxh32_short(bytes(frame[0:6])) >> 8) & 0xFF
    wrapper = magic0_message(b"", bytes(frame), attributes=3)
    r = Reader(call(broker.address, PRODUCE, 0, produce_v0("old-lz4", wrapper)))
    r.take(">i")
    r.string()
    r.take(">i")
    assert r.take(">ihq") == (0, 0, 0)
    got = read_partitions(broker.bootstrap, "old-lz4", {0: 50})[0]
    assert [row[2] for row in got] == [b"value-%d" % i * 10 for i in range(50)]
    assert first_batch_codec(broker.address, "old-lz4") == CODEC_IDS["lz4"]


def test_a_raw_magic_0_produce_is_stored_as_a_v2_batch(broker):
    create_topic(broker.bootstrap, "raw-legacy", 1)
    message_set = magic0_message(b"a", b"first") + magic0_message(b"b", b"second")
    body = produce_v0("raw-legacy", message_set)
    r = Reader(call(broker.address, PRODUCE, 0, body))
    assert r.take(">i") == 1
    r.string()
    assert r.take(">i") == 1
    partition, error, offset = r.take(">ihq")
    assert (partition, error, offset) == (0, 0, 0)
    got = read_partitions(broker.bootstrap, "raw-legacy", {0: 2})[0]
    assert [(row[1], row[2]) for row in got] == [(b"a", b"first"), (b"b", b"second")]
    # From Produce v3 on, Kafka takes only v2 batches: INVALID_RECORD.
    v3 = struct.pack(">h", -1) + body
    r = Reader(call(broker.address, PRODUCE, 3, v3))
    r.take(">i")
    r.string()
    r.take(">i")
    assert r.take(">ih")[1] == 87
    # A damaged message is refused whole (CORRUPT_MESSAGE), nothing stored.
    damaged = bytearray(message_set)
    damaged[-1] ^= 1
    body = body[:-len(message_set)] + bytes(damaged)
    r = Reader(call(broker.address, PRODUCE, 0, body))
    r.take(">i")
    r.string()
    r.take(">i")
    assert r.take(">ih")[1] == 2
    time.sleep(0.2)
    assert len(read_partitions(broker.bootstrap, "raw-legacy", {0: 2})[0]) == 2
