"""Topic administration beyond create and delete, as an operator relies on it.

- DescribeConfigs shows every topic setting with its value and whether the topic overrides
  it; AlterConfigs replaces the overrides, is validated (INVALID_CONFIG for a bad value or an
  unknown name, nothing changed), takes effect, and survives a restart. Broker settings are
  described and refused for altering.
- IncrementalAlterConfigs sets, deletes and appends to a list setting.
- CreatePartitions grows a topic (the new partition takes records); shrinking is refused.
- DeleteRecords moves the log start offset: the earliest offset and a read from the
  beginning start there, also after a restart; an offset past the end is refused.
- DescribeCluster names this node, its address and the cluster id Metadata gives.
- DescribeLogDirs gives this node's data directory, its disk space (v4) and the size of
  each replica it holds; partitions it does not hold are left out.
Debian's confluent-kafka 1.7 has describe/alter configs and create_partitions; the newer
APIs are sent as raw requests (raw_kafka.py).
"""
import os
import struct

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource, NewPartitions

from clients import (ASSIGN_ONLY_CONSUMER, admin, confluent_produce, create_topic,
                     make_records)
from raw_kafka import Reader, call, compact_string, nullable_string, string

TOPIC, BROKER = ConfigResource.Type.TOPIC, ConfigResource.Type.BROKER
INVALID_CONFIG, OFFSET_OUT_OF_RANGE, INVALID_RECORD = 40, 1, 87


def describe(adm, name):
    res = ConfigResource(TOPIC, name)
    entries = adm.describe_configs([res])[res].result(timeout=30)
    return {k: (e.value, e.is_default) for k, e in entries.items()}


def alter(adm, name, configs):
    res = ConfigResource(TOPIC, name, set_config=configs)
    return adm.alter_configs([res])[res]


def test_topic_configs_are_described_altered_validated_and_kept(broker):
    adm = admin(broker.bootstrap)
    create_topic(broker.bootstrap, "cfg", 1)
    before = describe(adm, "cfg")
    assert before["retention.ms"] == ("604800000", True)
    assert before["cleanup.policy"] == ("delete", True)
    assert {"segment.bytes", "max.message.bytes", "min.cleanable.dirty.ratio"} <= set(before)

    alter(adm, "cfg", {"retention.ms": "3600000", "cleanup.policy": "compact"}).result(30)
    after = describe(adm, "cfg")
    assert after["retention.ms"] == ("3600000", False)
    assert after["cleanup.policy"] == ("compact", False)

    for bad in ({"retention.ms": "soon"}, {"no.such.setting": "1"}, {"segment.bytes": "10"}):
        err = alter(adm, "cfg", bad).exception(30)
        assert err is not None and err.args[0].code() == INVALID_CONFIG, (bad, err)
    assert describe(adm, "cfg") == after  # a refused change changes nothing

    # The compact policy is in force: a record without a key is refused, one with a key taken.
    errors = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": False,
                  "message.timeout.ms": 30000})
    for key in (None, b"k"):
        p.produce("cfg", key=key, value=b"v", partition=0,
                  on_delivery=lambda err, msg: errors.append(err and err.code()))
        p.flush(30)
    assert errors == [INVALID_RECORD, None]
    broker.restart()
    assert describe(admin(broker.bootstrap), "cfg") == after


def test_broker_settings_are_described_and_static(broker):
    adm = admin(broker.bootstrap)
    res = ConfigResource(BROKER, "0")
    entries = adm.describe_configs([res])[res].result(timeout=30)
    assert entries["broker.id"].value == "0"
    assert entries["auto.create.topics.enable"].value == "false"
    res = ConfigResource(BROKER, "0", set_config={"log.retention.ms": "1"})
    assert adm.alter_configs([res])[res].exception(30) is not None


def incremental_alter(broker, topic, ops):
    """IncrementalAlterConfigs v0: [(name, op, value)] -> (error code, message)."""
    body = struct.pack(">i", 1) + struct.pack(">b", 2) + string(topic)
    body += struct.pack(">i", len(ops))
    for name, op, value in ops:
        body += string(name) + struct.pack(">b", op) + nullable_string(value)
    body += b"\x00"  # validate_only false
    r = Reader(call(broker.address, 44, 0, body))
    r.take(">i")  # throttle
    assert r.take(">i") == 1
    error, message = r.take(">h"), r.string()
    assert r.take(">b") == 2 and r.string() == topic
    assert r.done()
    return error, message


def test_incremental_alter_configs_sets_deletes_and_appends(broker):
    adm = admin(broker.bootstrap)
    create_topic(broker.bootstrap, "inc", 1)
    SET, DELETE, APPEND = 0, 1, 2
    assert incremental_alter(broker, "inc", [("retention.ms", SET, "1000"),
                                             ("cleanup.policy", APPEND, "compact")]) == (0, None)
    got = describe(adm, "inc")
    assert got["retention.ms"] == ("1000", False)
    assert got["cleanup.policy"][0] == "delete,compact"
    assert incremental_alter(broker, "inc", [("retention.ms", DELETE, None)]) == (0, None)
    assert describe(adm, "inc")["retention.ms"] == ("604800000", True)
    error, message = incremental_alter(broker, "inc", [("retention.ms", SET, "-7")])
    assert error == INVALID_CONFIG and "retention.ms" in message


def test_create_partitions_grows_a_topic(broker):
    adm = admin(broker.bootstrap)
    create_topic(broker.bootstrap, "grow", 1)
    adm.create_partitions([NewPartitions("grow", 3)])["grow"].result(30)
    assert len(adm.list_topics("grow", timeout=10).topics["grow"].partitions) == 3
    confluent_produce(broker.bootstrap, "grow", make_records(5), partition=2)
    err = adm.create_partitions([NewPartitions("grow", 2)])["grow"].exception(30)
    assert err is not None  # never shrinks
    broker.restart()
    assert len(admin(broker.bootstrap).list_topics("grow", timeout=10).topics["grow"].partitions) == 3


def delete_records(broker, topic, partition, offset):
    """DeleteRecords v0 -> (low watermark, error code)."""
    body = struct.pack(">i", 1) + string(topic) + struct.pack(">iiq", 1, partition, offset)
    body += struct.pack(">i", 30000)
    r = Reader(call(broker.address, 21, 0, body))
    r.take(">i")
    assert r.take(">i") == 1 and r.string() == topic and r.take(">i") == 1
    index, low, error = r.take(">iqh")
    assert index == partition and r.done()
    return low, error


def first_offset_read(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, **ASSIGN_ONLY_CONSUMER,
                  "auto.offset.reset": "earliest"})
    try:
        c.assign([TopicPartition(topic, 0, -2)])  # OFFSET_BEGINNING
        msg = c.poll(30)
        assert msg is not None and msg.error() is None, msg and msg.error()
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return msg.offset(), low, high
    finally:
        c.close()


def test_delete_records_moves_the_start_offset(broker):
    create_topic(broker.bootstrap, "trim", 1)
    confluent_produce(broker.bootstrap, "trim", make_records(50), partition=0)
    assert delete_records(broker, "trim", 0, 20) == (20, 0)
    assert first_offset_read(broker.bootstrap, "trim") == (20, 20, 50)
    assert delete_records(broker, "trim", 0, 10) == (20, 0)  # never backwards
    assert delete_records(broker, "trim", 0, 51)[1] == OFFSET_OUT_OF_RANGE
    broker.restart()
    assert first_offset_read(broker.bootstrap, "trim") == (20, 20, 50)


def test_describe_cluster_names_this_node(broker):
    # DescribeCluster v0 is flexible: compact encoding, tagged fields.
    body = b"\x00" + b"\x00"  # include_cluster_authorized_operations false, no tags
    r = Reader(call(broker.address, 60, 0, body, flexible=True))
    r.take(">i")
    assert r.take(">h") == 0
    r.compact_string()  # error message
    cluster_id = r.compact_string()
    assert r.take(">i") == 0  # controller
    assert r.uvarint() - 1 == 1
    node, host, port = r.take(">i"), r.compact_string(), r.take(">i")
    assert (node, host, port) == (0, broker.address[0], broker.address[1])
    md = admin(broker.bootstrap).list_topics(timeout=10)
    assert cluster_id == md.cluster_id and len(cluster_id) == 22


def describe_log_dirs_v0(broker, topics):
    """DescribeLogDirs v0 for [(topic, [partitions])] (None: every replica) ->
    (log dir, error, {(topic, partition): (size, lag, future)})."""
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics))
        for name, parts in topics:
            body += string(name) + struct.pack(">i", len(parts))
            body += b"".join(struct.pack(">i", i) for i in parts)
    r = Reader(call(broker.address, 35, 0, body))
    r.take(">i")  # throttle
    assert r.take(">i") == 1, "one log directory"
    error, log_dir = r.take(">h"), r.string()
    sizes = {}
    for _ in range(r.take(">i")):
        name = r.string()
        for _ in range(r.take(">i")):
            index, size, lag, future = r.take(">iqq?")
            sizes[(name, index)] = (size, lag, future)
    assert r.done()
    return log_dir, error, sizes


def test_describe_log_dirs_gives_each_replicas_size(broker):
    create_topic(broker.bootstrap, "sized", 2)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for _ in range(100):
        p.produce("sized", value=os.urandom(1000), partition=0)  # incompressible
    assert p.flush(30) == 0
    log_dir, error, sizes = describe_log_dirs_v0(broker, [("sized", [0, 1, 7]), ("absent", [0])])
    assert error == 0 and log_dir == str(broker.data_dir.resolve())
    assert set(sizes) == {("sized", 0), ("sized", 1)}, sizes  # 7 and "absent" are not here
    size0, lag0, future0 = sizes[("sized", 0)]
    assert 100 * 1000 <= size0 < 100 * 1000 * 2, size0
    assert (lag0, future0) == (0, False)
    assert sizes[("sized", 1)][0] < 1000
    _, _, everything = describe_log_dirs_v0(broker, None)
    assert everything[("sized", 0)] == sizes[("sized", 0)]

    # v4 (flexible) adds the disk's total and usable bytes.
    r = Reader(call(broker.address, 35, 4, b"\x00" + b"\x00", flexible=True))  # null topics
    r.take(">i")
    assert r.take(">h") == 0
    assert r.uvarint() - 1 == 1
    assert r.take(">h") == 0 and r.compact_string() == log_dir
    for _ in range(r.uvarint() - 1):  # topics
        r.compact_string()
        for _ in range(r.uvarint() - 1):
            r.take(">iqq?")
            assert r.uvarint() == 0  # no tagged fields
        assert r.uvarint() == 0
    total, usable = r.take(">qq")
    assert 0 < usable <= total, (usable, total)
