"""A data directory written by the single-node version (topics in metadata.json, producer ids
in producer_ids, no controller log) opens in place: its topics, records, consumer groups,
committed offsets and cluster id are all there, producer ids continue past every id handed
out before, and metadata.json is retired once its content is in the controller log.

The old layout is made from a new one: a node writes data, stops, and its directory is
turned back into what the single-node version left (controller log, topic_id and dir_id
files removed; metadata.json and producer_ids written as that version wrote them).
"""
import json
import shutil
import struct

from confluent_kafka import Consumer, Producer, TopicPartition

from broker import Broker
from clients import admin, create_topic, read_values
from raw_kafka import Reader, call

INIT_PRODUCER_ID = 22


def init_producer_id(address):
    body = struct.pack(">h", -1) + struct.pack(">i", 60000)  # no transactional id
    r = Reader(call(address, INIT_PRODUCER_ID, 0, body))
    r.take(">i")  # throttle
    assert r.take(">h") == 0
    return r.take(">q")


def committed(bootstrap, group, topic, partition):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return c.committed([TopicPartition(topic, partition)], timeout=20)[0].offset
    finally:
        c.close()


def test_a_single_node_data_directory_is_upgraded_in_place(tributary_bin, tmp_path):
    data = tmp_path / "node" / "data"
    b = Broker(tributary_bin, data)
    b.start()
    try:
        create_topic(b.bootstrap, "kept", 2)
        p = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(10):
            p.produce("kept", value=f"v{i}".encode(), partition=i % 2)
        assert p.flush(30) == 0
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g"})
        c.commit(offsets=[TopicPartition("kept", 0, 4)], asynchronous=False)
        c.close()
        cluster_id = admin(b.bootstrap).list_topics(timeout=10).cluster_id
    finally:
        b.stop()

    # Back to the single-node layout.
    shutil.rmtree(data / "controller")
    (data / "dir_id").unlink()
    topics = {}
    for d in sorted((data / "topics").iterdir()):
        name, _, index = d.name.rpartition("-")
        topic_id = (d / "topic_id").read_text().strip()
        (d / "topic_id").unlink()
        topics.setdefault(name, {"id": topic_id, "partitions": 0})
        topics[name]["partitions"] = max(topics[name]["partitions"], int(index) + 1)
    configs = {"kept": {"retention.ms": "86400000"},
               "__consumer_offsets": {"cleanup.policy": "compact",
                                      "segment.bytes": "104857600"}}
    (data / "metadata.json").write_text(json.dumps({
        "cluster_id": cluster_id,
        "topics": [{"name": n, "id": t["id"], "partitions": t["partitions"],
                    "configs": configs[n]} for n, t in topics.items()]}))
    (data / "producer_ids").write_text("5000\n")

    b.start()
    try:
        assert "upgraded the single-node metadata.json into the controller log" in b.logs()
        assert not (data / "metadata.json").exists()
        assert (data / "metadata.json.migrated").exists()
        md = admin(b.bootstrap).list_topics(timeout=10)
        assert md.cluster_id == cluster_id
        assert len(md.topics["kept"].partitions) == 2
        values = read_values(b.bootstrap, "kept", 2)
        assert sorted(values) == sorted(f"v{i}".encode() for i in range(10))
        assert committed(b.bootstrap, "g", "kept", 0) == 4
        assert init_producer_id(b.address) >= 5000
    finally:
        b.stop()
    # Once is enough: the next start finds nothing to upgrade and everything in place.
    b.start()
    try:
        assert "upgraded the single-node" not in b.logs()
        assert sorted(read_values(b.bootstrap, "kept", 2)) == sorted(f"v{i}".encode() for i in range(10))
        assert committed(b.bootstrap, "g", "kept", 0) == 4
    finally:
        b.stop()
