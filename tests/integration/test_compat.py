"""Client compatibility: behaviour real clients rely on that Kafka has and we lacked, each
shown with the client that found it and with raw frames (issue: client compatibility).

- Fetch's max_bytes holds for every partition but the first with data (KIP-74): a consumer
  of large records on several partitions used to get answers over its receive limit.
- Bytes after the fields of a request are ignored, as Kafka does: librdkafka 2.0 sends some
  in ListGroups v3+ and OffsetFetch v6+ (every partition), and lost the connection.
- A static member that led its group restarts without a rebalance (KIP-345).
- A member's session ends at its deadline, not at the next coarse tick.
- Transactional producers fail at once with a clear message (transactions are not built).
"""
import json
import os
import pathlib
import struct
import subprocess
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from broker import wait_until
from clients import create_topic
from raw_kafka import (Reader, call, compact_string, connect, fetch_v4_partitions, read_response,
                       request, string)
from test_groups import Member

FETCH, OFFSET_COMMIT, OFFSET_FETCH, JOIN_GROUP = 1, 8, 9, 11
SYNC_GROUP, LIST_GROUPS, DELETE_GROUPS = 14, 16, 42
RECORD = 900 * 1024


def produce_large(b, topic, partitions):
    p = Producer({"bootstrap.servers": b.bootstrap, "message.max.bytes": 1_000_000,
                  "linger.ms": 0})
    for partition in range(partitions):
        p.produce(topic, value=b"%d" % partition + b"x" * RECORD, partition=partition)
    assert p.flush(30) == 0


def fetch_v4(topic, partitions, max_bytes):
    parts = struct.pack(">i", partitions) + b"".join(
        struct.pack(">iqi", p, 0, 1 << 20) for p in range(partitions))
    return (struct.pack(">iiii", -1, 100, 1, max_bytes) + b"\x00" + struct.pack(">i", 1) +
            string(topic) + parts)


def test_fetch_max_bytes_lets_only_the_first_partition_go_over(start_broker):
    b = start_broker()
    create_topic(b.bootstrap, "large", 3)
    produce_large(b, "large", 3)
    got = fetch_v4_partitions(call(b.address, FETCH, 4, fetch_v4("large", 3, 1_000_000)))
    assert [got[p][0] for p in range(3)] == [0, 0, 0]
    assert got[0][1] > RECORD  # the first batch whole
    assert got[1][1] == 0 and got[2][1] == 0, got  # no room left: empty, no error
    # A first batch larger than max_bytes itself still comes whole, so a consumer progresses.
    got = fetch_v4_partitions(call(b.address, FETCH, 4, fetch_v4("large", 3, 1000)))
    assert got[0][1] > RECORD and got[1][1] == 0 and got[2][1] == 0, got


def test_a_librdkafka_consumer_of_large_records_on_three_partitions_gets_them_all(start_broker):
    # The limits of the report: the answer must stay within receive.message.max.bytes.
    b = start_broker()
    create_topic(b.bootstrap, "large", 3)
    produce_large(b, "large", 3)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "large-readers",
                  "auto.offset.reset": "earliest", "fetch.max.bytes": 1_000_000,
                  "receive.message.max.bytes": 1_000_512, "enable.auto.commit": False})
    try:
        c.subscribe(["large"])
        seen = set()
        deadline = time.monotonic() + 30
        while len(seen) < 3 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                seen.add(m.partition())
                assert len(m.value()) == RECORD + 1
        assert seen == {0, 1, 2}, f"only partitions {sorted(seen)} were read in 30 s"
    finally:
        c.close()


def rdkafka_admin(b, *args):
    tool = os.environ.get("TRIB_RDKAFKA_ADMIN_BIN")
    assert tool, "TRIB_RDKAFKA_ADMIN_BIN must point at rdkafka-admin (ctest sets it)"
    return subprocess.run([tool, b.bootstrap, *args], capture_output=True, text=True,
                          timeout=60)


def test_librdkafka_lists_groups_and_every_offset_of_a_group(start_broker):
    b = start_broker("--group-initial-rebalance-delay-ms", "0")
    create_topic(b.bootstrap, "events", 2)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "listed",
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition("events", 0, 5), TopicPartition("events", 1, 7)],
                 asynchronous=False)
    finally:
        c.close()
    listed = rdkafka_admin(b, "list-groups")
    assert listed.returncode == 0, listed.stderr
    assert "listed Empty" in listed.stdout.splitlines(), listed.stdout
    offsets = rdkafka_admin(b, "group-offsets", "listed")
    assert offsets.returncode == 0, offsets.stderr
    assert sorted(offsets.stdout.splitlines()) == ["events 0 5", "events 1 7"]


def test_requests_with_trailing_bytes_are_answered(start_broker):
    b = start_broker()
    with connect(b.address) as s:
        # ListGroups v4: no state filter, no tags, then one byte more (librdkafka 2.0.2).
        s.sendall(request(LIST_GROUPS, 4, 1, b"\x01\x00" + b"\x00", flexible=True))
        corr, body = read_response(s)
        assert corr == 1
        assert struct.unpack(">h", body[5:7])[0] == 0  # tags, throttle, then the error code
        # OffsetFetch v7: a group, every partition (null topics), require_stable, no tags,
        # then three bytes more; answered on the same connection.
        s.sendall(request(OFFSET_FETCH, 7, 2,
                          compact_string("nobody") + b"\x00\x00\x00" + b"\x00\x00\x00",
                          flexible=True))
        corr, body = read_response(s)
        assert corr == 2
    # Too short is still refused: the connection closes.
    with connect(b.address) as s:
        s.sendall(request(OFFSET_FETCH, 7, 3, compact_string("nobody"), flexible=True))
        s.settimeout(10)
        assert s.recv(1) == b""


def join_v0(group, member_id, session_ms):
    protocols = struct.pack(">i", 1) + string("range") + struct.pack(">i", 3) + b"\x00\x01\x02"
    return (string(group) + struct.pack(">i", session_ms) + string(member_id) +
            string("consumer") + protocols)


def test_a_member_expires_exactly_at_its_session_deadline(start_broker):
    # One member joins, syncs and commits, then goes silent. A DeleteGroups at the end of its
    # 6 s session (as a tool cleaning up does) finds the group empty, as Kafka does; a
    # coarse tick used to leave the member up to 100 ms longer (GROUP_NOT_EMPTY).
    b = start_broker("--group-initial-rebalance-delay-ms", "0")
    create_topic(b.bootstrap, "t", 1)
    with connect(b.address) as s:
        s.sendall(request(JOIN_GROUP, 0, 1, join_v0("short", "", 6000)))
        _, body = read_response(s)
        r = Reader(body)
        assert r.take(">h") == 0
        generation = r.take(">i")
        r.string()
        r.string()
        member = r.string()
        assignment = struct.pack(">i", 1) + string(member) + struct.pack(">i", 1) + b"\x09"
        s.sendall(request(SYNC_GROUP, 0, 2, string("short") + struct.pack(">i", generation) +
                          string(member) + assignment))
        _, body = read_response(s)
        assert struct.unpack(">h", body[:2])[0] == 0
        commit = (string("short") + struct.pack(">i", generation) + string(member) +
                  struct.pack(">q", -1) + struct.pack(">i", 1) + string("t") +
                  struct.pack(">i", 1) + struct.pack(">iqh", 0, 42, -1))
        s.sendall(request(OFFSET_COMMIT, 2, 3, commit))
        _, body = read_response(s)
        committed_at = time.time()
        assert body[-2:] == b"\x00\x00"
        delete = struct.pack(">i", 1) + string("short")
        time.sleep(max(0.0, committed_at + 5.5 - time.time()))
        s.sendall(request(DELETE_GROUPS, 1, 4, delete))
        _, body = read_response(s)
        assert body[-2:] == struct.pack(">h", 68), "deleted while its member was alive"
        time.sleep(max(0.0, committed_at + 6.0 - time.time()))
        s.sendall(request(DELETE_GROUPS, 1, 5, delete))
        _, body = read_response(s)
        assert body[-2:] == b"\x00\x00", f"error {struct.unpack('>h', body[-2:])[0]}"


def test_a_restarted_static_leader_does_not_rebalance_the_group(start_broker):
    b = start_broker("--group-initial-rebalance-delay-ms", "300")
    create_topic(b.bootstrap, "static", 4)
    leader = Member(b, "static", "statics", "a", extra=("6000", "host-a"))
    other = None
    try:
        wait_until(lambda: len(leader.assignment()) == 4, 30, "the first member got everything")
        other = Member(b, "static", "statics", "b", extra=("6000", "host-b"))
        wait_until(lambda: len(other.assignment()) == 2 and len(leader.assignment()) == 2, 30,
                   "the partitions were shared")
        held = leader.assignment()
        events_before = len(other.events)
        leader.kill()  # a static member does not leave: its place is kept for its session
        leader = Member(b, "static", "statics", "a2", extra=("6000", "host-a"))
        wait_until(lambda: leader.assignment() == held, 30,
                   "the restarted leader got its partitions back")
        time.sleep(2)  # a rebalance, had one started, would have revoked b's partitions
        later = [e["event"] for e in other.events[events_before:]]
        assert "revoked" not in later and "assigned" not in later, later
        assert len(other.assignment()) == 2
    finally:
        leader.close()
        if other:
            other.close()


def test_transactional_producers_fail_at_once_with_a_clear_message(start_broker):
    # Transactions are not built: librdkafka retries COORDINATOR_NOT_AVAILABLE until its
    # timeout, so the broker answers with an error each client treats as fatal at once.
    b = start_broker()
    create_topic(b.bootstrap, "tx", 1)
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "tx-1"})
    started = time.monotonic()
    try:
        p.init_transactions(60)
        raise AssertionError("init_transactions succeeded")
    except KafkaException as e:
        err = e.args[0]
        took = time.monotonic() - started
        assert err.code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, err
        assert "does not support transactions" in err.str(), err.str()
        assert err.fatal()
    assert took < 10, f"init_transactions took {took:.1f} s to fail"
    # KafkaJS fails its transaction as fast.
    js = subprocess.run(["node", "roundtrip.js", "transaction",
                         json.dumps({"bootstrap": b.bootstrap, "topic": "tx", "timeoutMs": 60000})],
                        cwd=pathlib.Path(__file__).parent / "js", capture_output=True, text=True,
                        timeout=90, env={**os.environ, "KAFKAJS_NO_PARTITIONER_WARNING": "1"})
    result = json.loads(js.stdout.strip().splitlines()[-1])
    assert result["ok"], (result, js.stderr[-2000:])
    assert result["failedAfterMs"] < 10_000, result
