"""Replicated partitions on three tributary processes (replication factor 3).

What a user can rely on, proven here with unmodified clients:
- kill -9 of a partition's leader in the middle of a run of idempotent acks=all writes: a new
  leader takes over (the gap in acknowledgements is printed), the producer carries on by
  itself, and every acknowledged record is read back exactly once, at the offset it was
  acknowledged with, in the order it was sent; the killed node catches up when it returns
  and every replica's log is the same, byte for byte.
- A leader paused (SIGSTOP) for longer than the election timeout is replaced; when it wakes
  it follows the new leader, and nothing acknowledged meanwhile is lost.
- A leader stopped cleanly (SIGTERM) hands its partitions to a follower first; a rolling
  restart of all three nodes under load loses nothing.
- A replica whose partition directory was lost rejoins and gets every record again.
- A follower that missed batches its leader then compacted catches up and serves the same
  compacted records when it leads; one that missed segments retention then deleted gets the
  leader's snapshot and serves every record left at the offset it was acknowledged with.
- With two of three nodes down nothing is acknowledged (the write times out); once they are
  back, writes succeed again.
- kafka-python (with retries) and KafkaJS carry on through a leader's kill -9.
- A committed consumer-group offset survives the kill -9 of its coordinator.
- OffsetForLeaderEpoch (API 23) answers where an epoch ended.
- DeleteRecords moves the log start of every replica (each leads in turn and starts there).
- Leaders go back to their preferred replicas (spread evenly by placement) when they return.
"""
import json
import os
import pathlib
import struct
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from broker import wait_until
from cluster import Cluster
from raw_kafka import Reader, call, string

FENCED_LEADER_EPOCH = 74
JS_DIR = pathlib.Path(__file__).parent / "js"
# Records per second the writers aim at: small, for two cores running three nodes in CI.
RATE = int(os.environ.get("TRIB_REPLICATION_RATE", "300"))


@pytest.fixture
def cluster(tributary_bin, tmp_path):
    # Leaders go back to their preferred replicas within a second (10 s by default); a
    # replica not caught up for 2 s leaves the ISR (30 s by default), so "back in the ISR"
    # means caught up again.
    c = Cluster(tributary_bin, tmp_path,
                extra_args=("--leader-rebalance-check-ms", "1000",
                            "--replica-lag-time-max-ms", "2000")).start()
    yield c
    problems = c.close()
    for b in c.nodes.values():
        print(f"--- {b.log_path}:\n{b.log_tail(60)}")
    assert not problems, "\n".join(problems)


def create(cluster, name, partitions, rf=3):
    adm = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    adm.create_topics([NewTopic(name, partitions, rf)], request_timeout=30)[name].result(30)
    cluster.wait_for_leaders(name)
    wait_until(lambda: all(len(isr) == rf for isr in cluster.in_sync(name, 1).values()), 20,
               f"every replica of {name} in sync")


class Writer:
    """An idempotent acks=all confluent-kafka producer writing unique values ("w-<n>") to
    one partition at about RATE per second, in a thread; it records every acknowledgement
    (value -> offset, with the time) and every failure."""

    def __init__(self, bootstrap, topic, partition=0, **conf):
        self.topic, self.partition = topic, partition
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                  "acks": "all", "linger.ms": 5,
                                  "message.timeout.ms": 60000, **conf})
        self.acked, self.failed, self.sent = {}, [], 0
        self.ack_times = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        # A daemon: a failed test must not leave pytest waiting for it forever.
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _delivered(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[msg.value()] = msg.offset()
                self.ack_times.append(time.monotonic())
            else:
                self.failed.append((msg.value(), err))

    def _run(self):
        while not self.stop.is_set():
            value = b"w-%07d" % self.sent
            try:
                self.producer.produce(self.topic, value=value, partition=self.partition,
                                      on_delivery=self._delivered)
                self.sent += 1
            except BufferError:
                pass
            self.producer.poll(1.0 / RATE)

    def start(self):
        self.thread.start()
        return self

    def wait_for(self, count, timeout=60):
        wait_until(lambda: len(self.acked) >= count, timeout, f"{count} acknowledgements")

    def finish(self, timeout=90):
        self.stop.set()
        self.thread.join()
        left = self.producer.flush(timeout)
        assert left == 0, f"{left} records never answered"

    def longest_gap_after(self, t):
        """The longest time without an acknowledgement from `t` on (the unavailability)."""
        times = [t] + sorted(x for x in self.ack_times if x > t)
        return max(b - a for a, b in zip(times, times[1:])) if len(times) > 1 else None


def read_partition(bootstrap, topic, partition, timeout=60, keys=False):
    """[(offset, value)] (with keys: [(offset, key, value)]) of one partition from its start
    to its end."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, partition, 0)])
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error() is not None:
            assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
            break
        out.append((m.offset(), m.key(), m.value()) if keys else (m.offset(), m.value()))
    else:
        raise AssertionError(f"{topic}-{partition} not read to its end in {timeout} s")
    c.close()
    return out


def check_history(writer, log):
    """Every acknowledged value once, at its acknowledged offset; the writer's values in the
    order it sent them; nothing twice."""
    at = dict(log)
    values = [v for _, v in log]
    assert len(set(values)) == len(values), "a value was written twice"
    wrong = {v: (o, at.get(o)) for v, o in writer.acked.items() if at.get(o) != v}
    assert not wrong, f"{len(wrong)} acknowledged records not at their offsets: " \
                      f"{list(wrong.items())[:5]}"
    mine = [v for v in values if v.startswith(b"w-")]
    assert mine == sorted(mine), "the writer's records are out of order"


def segment_batches(directory):
    """The raw record batches of a partition directory's segments, in offset order."""
    out = []
    for seg in sorted(directory.glob("*.log")):
        data = seg.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack(">i", data[pos + 8:pos + 12])
            if pos + 12 + length > len(data):
                break
            out.append(data[pos:pos + 12 + length])
            pos += 12 + length
    return out


def assert_replicas_identical(cluster, topic, partition):
    """Stops every node cleanly; each replica's log is a prefix of the longest, and at most
    a few batches (what was not yet committed) shorter."""
    for b in cluster.nodes.values():
        b.stop()
    logs = {i: segment_batches(b.data_dir / "topics" / f"{topic}-{partition}")
            for i, b in cluster.nodes.items()}
    longest = max(logs.values(), key=len)
    for i, batches in logs.items():
        assert batches == longest[:len(batches)], f"node {i}'s log differs from the longest"
        assert len(longest) - len(batches) <= 3, \
            f"node {i} holds {len(batches)} batches of {len(longest)}"
    cluster.start()  # together: each waits for a controller quorum


def test_a_killed_leader_is_replaced_and_every_acknowledged_write_survives(cluster):
    create(cluster, "ledger", 3)
    leader = cluster.leaders("ledger", 1)[0]
    writer = Writer(cluster.bootstrap(), "ledger").start()
    writer.wait_for(RATE)
    killed_at = time.monotonic()
    cluster.nodes[leader].kill()
    survivor = next(i for i in cluster.nodes if i != leader)
    wait_until(lambda: cluster.leaders("ledger", survivor)[0] not in (-1, leader), 10,
               "a new leader for ledger-0")
    elected = time.monotonic() - killed_at
    acked_then = len(writer.acked)
    writer.wait_for(acked_then + RATE)
    gap = writer.longest_gap_after(killed_at)
    cluster.nodes[leader].start(timeout=60)
    writer.wait_for(len(writer.acked) + RATE // 2)
    writer.finish()
    print(f"leader {leader} of ledger-0 killed: a new leader in {elected:.2f} s, "
          f"no acknowledgement for {gap:.2f} s; {len(writer.acked)} records acknowledged, "
          f"{len(writer.failed)} failed")
    assert not writer.failed, writer.failed[:3]
    assert gap < 10
    wait_until(lambda: len(cluster.in_sync("ledger", survivor)[0]) == 3, 30,
               f"node {leader} back in sync")
    check_history(writer, read_partition(cluster.bootstrap(), "ledger", 0))
    assert_replicas_identical(cluster, "ledger", 0)
    # After a full restart every acknowledged record is still there.
    cluster.wait_for_leaders("ledger")
    check_history(writer, read_partition(cluster.bootstrap(), "ledger", 0))


def test_a_paused_leader_is_replaced_and_follows_when_it_wakes(cluster):
    create(cluster, "paused", 1)
    leader = cluster.leaders("paused", 1)[0]
    # A paused node keeps its connections open: librdkafka gives up on a request to it after
    # socket.timeout.ms (60 s by default, as against Kafka) and then follows the new leader.
    writer = Writer(cluster.bootstrap(), "paused", **{"socket.timeout.ms": 3000}).start()
    writer.wait_for(RATE)
    paused_at = time.monotonic()
    cluster.nodes[leader].pause()
    try:
        survivor = next(i for i in cluster.nodes if i != leader)
        wait_until(lambda: cluster.leaders("paused", survivor)[0] not in (-1, leader), 10,
                   "a new leader while the old one sleeps")
        writer.wait_for(len(writer.acked) + RATE)
    finally:
        cluster.nodes[leader].resume()
    gap = writer.longest_gap_after(paused_at)
    wait_until(lambda: len(cluster.in_sync("paused", survivor)[0]) == 3, 30,
               f"node {leader} following again")
    writer.finish()
    print(f"leader {leader} paused: no acknowledgement for {gap:.2f} s")
    assert not writer.failed, writer.failed[:3]
    # The woken node must not lead with a stale view: it says who leads now.
    new_leader = cluster.leaders("paused", survivor)[0]
    wait_until(lambda: cluster.leaders("paused", leader)[0] == new_leader, 10,
               "the woken node naming the new leader")
    check_history(writer, read_partition(cluster.bootstrap(), "paused", 0))
    assert_replicas_identical(cluster, "paused", 0)


def test_a_clean_stop_hands_leadership_over_without_an_election_timeout(cluster):
    create(cluster, "handover", 1)
    leader = cluster.leaders("handover", 1)[0]
    writer = Writer(cluster.bootstrap(), "handover").start()
    writer.wait_for(RATE)
    stopped_at = time.monotonic()
    cluster.nodes[leader].stop()
    writer.wait_for(len(writer.acked) + RATE)
    gap = writer.longest_gap_after(stopped_at)
    writer.finish()
    print(f"leader {leader} stopped cleanly: no acknowledgement for {gap:.2f} s")
    assert not writer.failed, writer.failed[:3]
    assert "not handed over" not in cluster.nodes[leader].logs()
    survivor = next(i for i in cluster.nodes if i != leader)
    assert cluster.leaders("handover", survivor)[0] not in (-1, leader)
    check_history(writer, read_partition(cluster.bootstrap(survivor), "handover", 0))
    cluster.nodes[leader].start(timeout=60)


def test_a_rolling_restart_under_load_loses_nothing(cluster):
    create(cluster, "rolling", 1)
    writer = Writer(cluster.bootstrap(), "rolling").start()
    writer.wait_for(RATE // 2)
    gaps = []
    for i in cluster.nodes:
        at = time.monotonic()
        cluster.nodes[i].stop()
        cluster.nodes[i].start(timeout=60)
        writer.wait_for(len(writer.acked) + RATE // 2)
        gaps.append(writer.longest_gap_after(at))
        wait_until(lambda: len(cluster.in_sync("rolling", i)[0]) == 3, 30,
                   f"node {i} back in sync")
    writer.finish()
    print(f"rolling restart: longest pause in acknowledgements per node {gaps}")
    assert not writer.failed, writer.failed[:3]
    check_history(writer, read_partition(cluster.bootstrap(), "rolling", 0))
    assert_replicas_identical(cluster, "rolling", 0)


def test_a_replica_whose_data_was_lost_rejoins_and_re_replicates(cluster):
    import shutil
    create(cluster, "wiped", 1)
    writer = Writer(cluster.bootstrap(), "wiped").start()
    writer.wait_for(RATE)
    victim = next(i for i in cluster.nodes if i != cluster.leaders("wiped", 1)[0])
    cluster.nodes[victim].kill()
    # The partition's directory (its log and Raft state) is gone; the node's controller log
    # is kept (a wiped controller voter: test_cluster.py).
    shutil.rmtree(cluster.nodes[victim].data_dir / "topics" / "wiped-0")
    writer.wait_for(len(writer.acked) + RATE // 2)
    cluster.nodes[victim].start(timeout=60)
    leader = cluster.leaders("wiped", 1 if victim != 1 else 2)[0]
    wait_until(lambda: len(cluster.in_sync("wiped", leader)[0]) == 3, 30,
               f"node {victim} back in sync with an empty disk")
    writer.wait_for(len(writer.acked) + RATE // 2)
    writer.finish()
    assert not writer.failed, writer.failed[:3]
    check_history(writer, read_partition(cluster.bootstrap(), "wiped", 0))
    assert_replicas_identical(cluster, "wiped", 0)


# The cluster fixture's settings, and a cleaner that runs every 200 ms.
CLEANING_CLUSTER_ARGS = ("--leader-rebalance-check-ms", "1000", "--replica-lag-time-max-ms",
                         "2000", "--cleaner-interval-ms", "200")


def without_preferred_leader(c, topic, configs):
    """Creates a one-partition RF=3 topic, waits for its preferred leader, kills it and
    waits for another; returns (the killed preferred leader, a surviving node)."""
    adm = AdminClient({"bootstrap.servers": c.bootstrap()})
    adm.create_topics([NewTopic(topic, 1, 3, config=configs)],
                      request_timeout=30)[topic].result(30)
    c.wait_for_leaders(topic)
    preferred = c.metadata(1, [topic])["topics"][topic][1][0][3][0]
    wait_until(lambda: c.leaders(topic, 1)[0] == preferred, 20, "the preferred leader")
    c.nodes[preferred].kill()
    survivor = next(i for i in c.nodes if i != preferred)
    wait_until(lambda: c.leaders(topic, survivor)[0] not in (-1, preferred), 20,
               "another leader")
    return preferred, survivor


def test_a_follower_behind_compacted_batches_catches_up(tributary_bin, tmp_path):
    # The leader compacts while a follower is down; what the follower missed is then partly
    # compacted away. Emptied batches stay as headers, so every offset the follower needs is
    # still in some batch, with its term: it catches up and, leading again, serves the same
    # compacted view.
    c = Cluster(tributary_bin, tmp_path, extra_args=CLEANING_CLUSTER_ARGS).start()
    try:
        preferred, survivor = without_preferred_leader(
            c, "keyed", {"cleanup.policy": "compact", "segment.bytes": "4096",
                         "min.cleanable.dirty.ratio": "0.01"})
        p = Producer({"bootstrap.servers": c.bootstrap(survivor), "acks": "all",
                      "linger.ms": 5})
        last = {}
        for i in range(3000):
            key = b"k%02d" % (i % 20)
            last[key] = b"v-%05d-" % i + b"x" * 80
            p.produce("keyed", key=key, value=last[key], partition=0)
            if i % 500 == 0:
                p.flush(30)
        assert p.flush(30) == 0
        leader = c.leaders("keyed", survivor)[0]
        wait_until(lambda: "keyed-0: compacted" in c.nodes[leader].logs(), 30,
                   "the leader compacting")
        started = time.monotonic()
        c.nodes[preferred].start(timeout=60)
        wait_until(lambda: c.leaders("keyed", survivor)[0] == preferred, 40,
                   f"node {preferred} caught up and leading again")
        print(f"node {preferred} caught up past compacted batches and led again "
              f"{time.monotonic() - started:.2f} s after its start")
        log = read_partition(c.bootstrap(), "keyed", 0, keys=True)
        offsets = [o for o, _, _ in log]
        assert offsets == sorted(set(offsets))
        newest = {}
        for _, k, v in log:
            newest[k] = v
        assert newest == last
        assert len(log) < 3000, "nothing was compacted"
    finally:
        problems = c.close()
        assert not problems, "\n".join(problems)


def test_a_follower_behind_retention_catches_up_by_snapshot_at_the_same_offsets(
        tributary_bin, tmp_path):
    # Retention on the leader deletes segments a stopped follower still lacked: it gets the
    # leader's snapshot instead, and every record keeps the offset it was acknowledged at when
    # that follower leads (internal offsets below the start are carried in the snapshot).
    c = Cluster(tributary_bin, tmp_path, extra_args=CLEANING_CLUSTER_ARGS).start()
    try:
        preferred, survivor = without_preferred_leader(
            c, "aged", {"segment.bytes": "4096", "retention.bytes": "16384"})
        writer = Writer(c.bootstrap(survivor), "aged").start()
        writer.wait_for(1500)
        leader = c.leaders("aged", survivor)[0]
        wait_until(lambda: "aged-0: retention moved the log start" in c.nodes[leader].logs(),
                   30, "the leader's retention")
        c.nodes[preferred].start(timeout=60)
        wait_until(lambda: c.leaders("aged", survivor)[0] == preferred, 40,
                   f"node {preferred} caught up and leading again")
        assert "aged-0: installed the leader's snapshot" in c.nodes[preferred].logs()
        writer.wait_for(len(writer.acked) + RATE // 2)
        writer.finish()
        assert not writer.failed, writer.failed[:3]
        log = read_partition(c.bootstrap(), "aged", 0)
        assert log and log[0][0] > 0, "retention deleted nothing"
        # Every record left is where it was acknowledged, and nothing after the start is gone.
        assert [writer.acked[v] for _, v in log] == [o for o, _ in log]
        assert len(log) == log[-1][0] - log[0][0] + 1
        assert log[-1][0] == max(writer.acked.values())
    finally:
        problems = c.close()
        assert not problems, "\n".join(problems)


def test_without_a_majority_nothing_is_acknowledged_until_it_returns(cluster):
    create(cluster, "quorum", 1)
    leader = cluster.leaders("quorum", 1)[0]
    others = [i for i in cluster.nodes if i != leader]
    for i in others:
        cluster.nodes[i].kill()
    p = Producer({"bootstrap.servers": cluster.bootstrap(leader), "acks": "all",
                  "message.timeout.ms": 4000, "retries": 1000, "enable.idempotence": False})
    outcome = []
    p.produce("quorum", value=b"alone", partition=0,
              on_delivery=lambda err, msg: outcome.append(err))
    p.flush(30)
    assert len(outcome) == 1 and outcome[0] is not None, "acknowledged without a majority"
    for i in others:
        cluster.nodes[i].start(timeout=60)
    cluster.wait_for_leaders("quorum")
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all",
                  "enable.idempotence": True, "message.timeout.ms": 30000})
    outcome.clear()
    p.produce("quorum", value=b"together", partition=0,
              on_delivery=lambda err, msg: outcome.append((err, msg.offset())))
    p.flush(30)
    assert outcome and outcome[0][0] is None, outcome
    log = read_partition(cluster.bootstrap(), "quorum", 0)
    assert (outcome[0][1], b"together") in log


def test_kafka_python_and_kafkajs_carry_on_through_a_leader_kill(cluster):
    import subprocess

    from kafka import KafkaProducer
    create(cluster, "mixed", 1)
    leader = cluster.leaders("mixed", 1)[0]
    js = subprocess.Popen(
        ["node", "failover.js", json.dumps({"bootstrap": cluster.bootstrap(), "topic": "mixed",
                                            "count": 300, "intervalMs": 20})],
        cwd=JS_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "KAFKAJS_NO_PARTITIONER_WARNING": "1"})
    kp = KafkaProducer(bootstrap_servers=cluster.bootstrap(), acks="all", retries=20,
                       retry_backoff_ms=200, request_timeout_ms=10000,
                       max_in_flight_requests_per_connection=1)
    futures = []
    for i in range(300):
        futures.append((b"kp-%04d" % i, kp.send("mixed", value=b"kp-%04d" % i, partition=0)))
        time.sleep(0.02)
        if i == 100:
            cluster.nodes[leader].kill()
    acked = {value: f.get(timeout=60).offset for value, f in futures}
    kp.close()
    out, err = js.communicate(timeout=120)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ok"], (result, err[-2000:])
    cluster.nodes[leader].start(timeout=60)
    log = dict(read_partition(cluster.bootstrap(), "mixed", 0))
    assert all(log.get(o) == v for v, o in acked.items()), "a kafka-python record was lost"
    js_acked = {v.encode(): o for v, o in result["acked"].items()}
    assert len(js_acked) == 300
    assert all(log.get(o) == v for v, o in js_acked.items()), "a KafkaJS record was lost"


def test_leadership_goes_back_to_the_preferred_replica_when_it_returns(cluster):
    create(cluster, "balanced", 3)
    # Placement spreads the preferred leaders; the first elections may not (a preferred
    # leader's first campaign can come before the others hold the group), the check does.
    before = wait_until(lambda: (lambda l: l if sorted(l.values()) == [1, 2, 3] else None)(
        cluster.leaders("balanced", 1)), 15, "one leader on each node")
    victim = before[0]
    cluster.nodes[victim].kill()
    survivor = next(i for i in cluster.nodes if i != victim)
    wait_until(lambda: victim not in cluster.leaders("balanced", survivor).values() and
               -1 not in cluster.leaders("balanced", survivor).values(), 15,
               f"node {victim}'s leaderships taken over")
    cluster.nodes[victim].start(timeout=60)
    back = time.monotonic()
    wait_until(lambda: cluster.leaders("balanced", survivor) == before, 20,
               "every leadership back on its preferred replica")
    print(f"leaderships back on node {victim} {time.monotonic() - back:.2f} s after it started")


def find_coordinator(cluster, node, group):
    r = Reader(call(cluster.nodes[node].address, 10, 0, string(group)))
    error, coordinator = r.take(">h"), r.take(">i")
    return coordinator if error == 0 else -1


def test_a_committed_offset_survives_the_coordinator_kill(cluster):
    create(cluster, "work", 1)
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all"})
    for i in range(50):
        p.produce("work", value=b"job-%d" % i, partition=0)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "workers",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition("work", 0, 0)])
    got = 0
    deadline = time.monotonic() + 30
    while got < 30 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got += 1
    assert got == 30
    c.commit(offsets=[TopicPartition("work", 0, 30)], asynchronous=False)
    c.close()
    coordinator = find_coordinator(cluster, 1, "workers")
    assert coordinator in cluster.nodes
    cluster.nodes[coordinator].kill()
    survivor = next(i for i in cluster.nodes if i != coordinator)
    wait_until(lambda: find_coordinator(cluster, survivor, "workers") not in (-1, coordinator),
               15, "a new coordinator")
    c = Consumer({"bootstrap.servers": cluster.bootstrap(survivor), "group.id": "workers",
                  "enable.auto.commit": False})
    committed = wait_until(
        lambda: next((tp.offset for tp in c.committed([TopicPartition("work", 0)], timeout=5)
                      if tp.offset >= 0), None), 20, "the committed offset")
    c.close()
    assert committed == 30
    cluster.nodes[coordinator].start(timeout=60)


def offset_for_leader_epoch(address, topic, partition, epoch):
    """OffsetForLeaderEpoch v2 -> (error, leader epoch, end offset)."""
    body = (struct.pack(">i", 1) + string(topic) + struct.pack(">i", 1) +
            struct.pack(">iii", partition, -1, epoch))
    r = Reader(call(address, 23, 2, body))
    r.take(">i")  # throttle
    assert r.take(">i") == 1
    r.string()
    assert r.take(">i") == 1
    error, _, leader_epoch, end = r.take(">h"), r.take(">i"), r.take(">i"), r.take(">q")
    return error, leader_epoch, end


def list_offset(address, topic, partition, timestamp):
    """ListOffsets v4 -> (error, offset, leader epoch); timestamp -1 latest, -2 earliest."""
    body = (struct.pack(">ib", -1, 0) + struct.pack(">i", 1) + string(topic) +
            struct.pack(">i", 1) + struct.pack(">iiq", partition, -1, timestamp))
    r = Reader(call(address, 2, 4, body))
    r.take(">i")  # throttle
    assert r.take(">i") == 1
    r.string()
    assert r.take(">i") == 1
    _, error, _, offset, epoch = r.take(">i"), r.take(">h"), r.take(">q"), r.take(">q"), \
        r.take(">i")
    return error, offset, epoch


def current_epoch(address, topic, partition):
    error, _, epoch = list_offset(address, topic, partition, -1)
    assert error == 0, error
    return epoch


def answering_leader(cluster, topic, partition):
    """The live node that answers ListOffsets for the partition as its leader, or None."""
    for node in cluster.live():
        if list_offset(cluster.nodes[node].address, topic, partition, -1)[0] == 0:
            return node
    return None


def test_offset_for_leader_epoch_says_where_an_epoch_ended(cluster):
    create(cluster, "epochs", 1)
    # Leaders go back to their preferred replica within a second here: wait for that first,
    # so the leader asked below is the one that keeps leading.
    _, parts = cluster.metadata(1, ["epochs"])["topics"]["epochs"]
    preferred = parts[0][3][0]
    first = wait_until(lambda: answering_leader(cluster, "epochs", 0) == preferred and preferred,
                       15, "the preferred replica leading")
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all"})
    for i in range(10):
        p.produce("epochs", value=b"a%d" % i, partition=0)
    assert p.flush(30) == 0
    address = cluster.nodes[first].address
    old = current_epoch(address, "epochs", 0)
    assert offset_for_leader_epoch(address, "epochs", 0, old) == (0, old, 10)
    assert offset_for_leader_epoch(address, "epochs", 0, old + 1000) == (0, -1, -1)
    cluster.nodes[first].kill()
    survivor = next(i for i in cluster.nodes if i != first)
    wait_until(lambda: cluster.leaders("epochs", survivor)[0] not in (-1, first), 10,
               "a new leader")
    for i in range(5):
        p.produce("epochs", value=b"b%d" % i, partition=0)
    assert p.flush(30) == 0
    # The leader is the node that answers as one: a survivor's Metadata can lag an election
    # (the two survivors may need more than one round to settle on a leader).
    second = wait_until(lambda: answering_leader(cluster, "epochs", 0), 10, "a leader")
    address = cluster.nodes[second].address
    new = current_epoch(address, "epochs", 0)
    assert new > old
    # The first leader's epoch ended where the second leader's records begin.
    assert offset_for_leader_epoch(address, "epochs", 0, old) == (0, old, 10)
    assert offset_for_leader_epoch(address, "epochs", 0, new) == (0, new, 15)
    # A client that names an older leader epoch is fenced.
    body = (struct.pack(">i", 1) + string("epochs") + struct.pack(">i", 1) +
            struct.pack(">iii", 0, old, old))
    r = Reader(call(address, 23, 2, body))
    r.take(">i"), r.take(">i"), r.string(), r.take(">i")
    assert r.take(">h") == FENCED_LEADER_EPOCH
    assert len(read_partition(cluster.bootstrap(second), "epochs", 0)) == 15
    cluster.nodes[first].start(timeout=60)


def delete_records(address, topic, partition, offset):
    """DeleteRecords v0 -> (low watermark, error)."""
    body = (struct.pack(">i", 1) + string(topic) + struct.pack(">iiq", 1, partition, offset) +
            struct.pack(">i", 30000))
    r = Reader(call(address, 21, 0, body))
    r.take(">i")
    assert r.take(">i") == 1 and r.string() == topic and r.take(">i") == 1
    index, low, error = r.take(">iqh")
    return low, error


def test_delete_records_reaches_every_replica(cluster):
    create(cluster, "trim", 1)
    p = Producer({"bootstrap.servers": cluster.bootstrap(), "acks": "all", "linger.ms": 50})
    for i in range(50):
        p.produce("trim", value=b"t%d" % i, partition=0)
    assert p.flush(30) == 0
    leader = cluster.leaders("trim", 1)[0]
    # 20 lies inside a batch: the batch stays whole on disk, the log starts at 20 all the same.
    assert delete_records(cluster.nodes[leader].address, "trim", 0, 20) == (20, 0)
    assert delete_records(cluster.nodes[leader].address, "trim", 0, 10) == (20, 0)
    # Other replicas lead in turn (the leader killed each time): each starts at 20. Each is
    # checked while the one before is down, since automatic rebalancing may hand leadership
    # back to a returning preferred replica at any moment.
    def check_current_leader():
        def answered():
            now = cluster.leaders("trim", cluster.live()[0])[0]
            if now < 0:
                return None
            error, start, _ = list_offset(cluster.nodes[now].address, "trim", 0, -2)
            return None if error == 6 else (now, error, start)  # 6: NOT_LEADER_OR_FOLLOWER
        now, error, start = wait_until(answered, 15, "a leader that answers")
        assert (error, start) == (0, 20), f"node {now} starts at {start}"
        log = read_partition(cluster.bootstrap(now), "trim", 0)
        assert log[0] == (20, b"t20") and len(log) == 30, log[:3]
        return now

    seen = [check_current_leader()]
    for _ in range(2):
        victim = seen[-1]
        cluster.nodes[victim].kill()
        survivor = cluster.live()[0]
        wait_until(lambda: cluster.leaders("trim", survivor)[0] not in (-1, victim), 15,
                   "another leader")
        seen.append(check_current_leader())
        cluster.nodes[victim].start(timeout=60)
        wait_until(lambda: len(cluster.in_sync("trim", survivor)[0]) == 3, 30,
                   "every replica in sync")
    assert len(set(seen)) >= 2, seen
