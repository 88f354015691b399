"""Moving partitions between nodes (AlterPartitionReassignments / ListPartitionReassignments,
as kafka-reassign-partitions.sh and admin clients send them) on four tributary processes.

What a user can rely on:
- A partition moves off its leader's node onto a new one while an idempotent acks=all
  producer writes to it: the producer carries on by itself, every acknowledged record is
  read back exactly once and in order, the new replica holds them all (the partition stays
  available with it after one of the old replicas is killed), and the node left out deletes
  its copy.
- A move to a node that is down waits (ListPartitionReassignments names what is being added
  and removed, Metadata lists every replica) and can be cancelled: the partition goes back
  to the replicas it had.
- Bad moves get Kafka's error codes: unknown topic or partition, a repeated or unknown
  broker, a cancel with no move in progress; `trib partition` and the admin API
  (POST/DELETE /v1/topics/T/partitions/P/move) say the same with an exit code or status.
"""
import json
import struct
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from broker import wait_until
from cluster import Cluster
from raw_kafka import Reader, call, compact_string, uvarint
from test_admin_api import http
from test_replication import Writer, read_partition

ALTER_REASSIGNMENTS = 45
LIST_REASSIGNMENTS = 46
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REPLICA_ASSIGNMENT = 39
NO_REASSIGNMENT_IN_PROGRESS = 85


@pytest.fixture
def cluster(tributary_bin, tmp_path):
    c = Cluster(tributary_bin, tmp_path, nodes=4, voters=3,
                extra_args=("--replica-lag-time-max-ms", "2000",
                            "--leader-rebalance-check-ms", "1000")).start()
    yield c
    problems = c.close()
    assert not problems, problems


def compact_array(items):
    return uvarint(len(items) + 1) + b"".join(items)


def alter(address, moves, timeout_ms=30000):
    """AlterPartitionReassignments v0: moves {(topic, partition): replicas or None (cancel)}
    -> (top-level error, {(topic, partition): error})."""
    by_topic = {}
    for (topic, partition), replicas in moves.items():
        by_topic.setdefault(topic, []).append((partition, replicas))
    topics = []
    for topic, parts in by_topic.items():
        encoded = []
        for partition, replicas in parts:
            if replicas is None:
                replica_field = uvarint(0)
            else:
                replica_field = compact_array([struct.pack(">i", r) for r in replicas])
            encoded.append(struct.pack(">i", partition) + replica_field + b"\x00")
        topics.append(compact_string(topic) + compact_array(encoded) + b"\x00")
    body = struct.pack(">i", timeout_ms) + compact_array(topics) + b"\x00"
    r = Reader(call(address, ALTER_REASSIGNMENTS, 0, body, flexible=True))
    r.take(">i")  # throttle
    error = r.take(">h")
    r.compact_string()
    out = {}
    for _ in range(r.uvarint() - 1):
        topic = r.compact_string()
        for _ in range(r.uvarint() - 1):
            partition, perr = r.take(">ih")
            r.compact_string()
            assert r.uvarint() == 0
            out[(topic, partition)] = perr
        assert r.uvarint() == 0
    assert r.uvarint() == 0 and r.done()
    return error, out


def ongoing(address):
    """ListPartitionReassignments v0 for every topic -> {(topic, partition): (replicas,
    adding, removing)}."""
    body = struct.pack(">i", 30000) + uvarint(0) + b"\x00"
    r = Reader(call(address, LIST_REASSIGNMENTS, 0, body, flexible=True))
    r.take(">i")
    assert r.take(">h") == 0
    r.compact_string()
    out = {}

    def ints():
        return [r.take(">i") for _ in range(r.uvarint() - 1)]

    for _ in range(r.uvarint() - 1):
        topic = r.compact_string()
        for _ in range(r.uvarint() - 1):
            partition = r.take(">i")
            out[(topic, partition)] = (ints(), ints(), ints())
            assert r.uvarint() == 0
        assert r.uvarint() == 0
    assert r.uvarint() == 0 and r.done()
    return out


def create(cluster, name, assignment):
    adm = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    adm.create_topics([NewTopic(name, len(assignment), replica_assignment=assignment)],
                      request_timeout=30)[name].result(30)
    cluster.wait_for_leaders(name)


def replicas_of(cluster, topic, via):
    _, parts = cluster.metadata(via, [topic])["topics"][topic]
    return {index: replicas for index, _, _, replicas, _ in parts}


def partition_dir(cluster, node, topic, partition):
    return cluster.nodes[node].data_dir / "topics" / f"{topic}-{partition}"


def read_back_once_in_order(w, bootstrap, topic):
    """Every record the finished Writer `w` saw acknowledged is in partition 0 at its offset,
    none twice, all in the order sent."""
    assert not w.failed, w.failed[:5]
    records = read_partition(bootstrap, topic, 0)
    offsets = {value: offset for offset, value in records}
    assert len(offsets) == len(records), "a value was written twice"
    for value, offset in w.acked.items():
        assert offsets.get(value) == offset, f"{value} acknowledged at {offset}"
    values = [v for _, v in records]
    assert values == sorted(values), "records out of the order they were sent"


def test_a_partition_moves_off_its_leader_under_load_and_loses_nothing(cluster):
    create(cluster, "moving", [[1, 2, 3]])
    leader = cluster.leaders("moving", 1)[0]
    others = [n for n in (1, 2, 3) if n != leader]
    target = [4] + others
    w = Writer(cluster.bootstrap(), "moving").start()
    w.wait_for(200)
    started = time.monotonic()
    assert alter(cluster.nodes[1].address, {("moving", 0): target}) == (0, {("moving", 0): 0})
    # While it moves, Metadata lists the target's replicas and the one it leaves.
    wait_until(lambda: not ongoing(cluster.nodes[2].address), 60, "the move to finish")
    moved_in = time.monotonic() - started
    for node in (1, 2, 3, 4):
        wait_until(lambda: replicas_of(cluster, "moving", node)[0] == target, 10,
                   f"node {node} naming the new replicas")
    wait_until(lambda: not partition_dir(cluster, leader, "moving", 0).exists(), 20,
               f"node {leader} deleting the copy it no longer holds")
    w.wait_for(len(w.acked) + 200)  # writes go on with the new replicas
    # Node 4 is a voter that holds everything: with one old replica gone it still commits.
    cluster.nodes[others[0]].kill()
    w.wait_for(len(w.acked) + 100, timeout=60)
    w.finish()
    read_back_once_in_order(w, cluster.bootstrap(4, others[1]), "moving")
    print(f"moved in {moved_in:.2f} s with {len(w.acked)} records acknowledged; longest gap "
          f"{w.longest_gap_after(started):.2f} s")
    cluster.nodes[others[0]].start(timeout=60)


def trib(trib_bin, cluster, *args):
    return subprocess.run([trib_bin, "--brokers", cluster.bootstrap(1), *args],
                          capture_output=True, text=True, timeout=120)


def leader_everywhere(cluster, topic):
    """The leader every live node's Metadata names for partition 0 (None while they differ)."""
    seen = set()
    for i, node in cluster.nodes.items():
        if node.alive:
            _, parts = cluster.metadata(i, [topic])["topics"][topic]
            seen.add(parts[0][2])
    return seen.pop() if len(seen) == 1 else None


def test_trib_transfers_leadership_for_good_while_writes_go_on(cluster, trib_bin):
    """`trib partition transfer-leadership` makes the replica named the preferred leader
    (the first replica) and waits until it leads: automatic rebalancing (every second here)
    keeps it there, where a bare Raft transfer would be undone."""
    create(cluster, "led", [[1, 2, 3]])
    wait_until(lambda: leader_everywhere(cluster, "led") == 1, 20, "node 1 leading")
    w = Writer(cluster.bootstrap(), "led").start()
    w.wait_for(100)
    moved = trib(trib_bin, cluster, "--format", "json", "partition", "transfer-leadership",
                 "led", "0", "--to", "3")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout) == {"topic": "led", "partition": 0, "leader": 3,
                                        "replicas": [3, 1, 2]}
    for node in (1, 2, 3, 4):
        wait_until(lambda: replicas_of(cluster, "led", node)[0] == [3, 1, 2], 10,
                   f"node {node} naming node 3 first")
    w.wait_for(len(w.acked) + 100)
    time.sleep(3)  # three rebalance checks
    assert leader_everywhere(cluster, "led") == 3
    # Asked again for the leader it has: nothing to move, still a clear answer.
    again = trib(trib_bin, cluster, "partition", "transfer-leadership", "led", "0", "--to", "3")
    assert again.returncode == 0 and again.stdout == "led-0: led by node 3, replicas 3,1,2\n", \
        (again.stdout, again.stderr)
    w.finish()
    read_back_once_in_order(w, cluster.bootstrap(), "led")
    # What cannot be done is said, with exit 1 (2 for a bad command line).
    for args, code, said in [
            (("led", "0", "--to", "4"), 1, "node 4 holds no replica of led-0 (its replicas: 3,1,2)"),
            (("led", "7", "--to", "1"), 1, "topic 'led' has no partition 7"),
            (("nosuch", "0", "--to", "1"), 1, "UNKNOWN_TOPIC_OR_PART"),
            (("led", "0", "--to", "x"), 2, "--to")]:
        bad = trib(trib_bin, cluster, "partition", "transfer-leadership", *args)
        assert bad.returncode == code and said in bad.stderr, (args, bad.stderr)


def test_a_move_to_a_node_that_is_down_waits_and_can_be_cancelled(cluster, trib_bin):
    create(cluster, "waiting", [[1, 2, 3]])
    cluster.nodes[4].kill()
    assert alter(cluster.nodes[2].address, {("waiting", 0): [4, 2, 3]})[1] == {
        ("waiting", 0): 0}
    time.sleep(2)
    # Node 4 cannot catch up: the move stays under way and says what it waits for.
    assert ongoing(cluster.nodes[3].address) == {("waiting", 0): ([4, 2, 3, 1], [4], [1])}
    assert replicas_of(cluster, "waiting", 1)[0] == [4, 2, 3, 1]
    listed = trib(trib_bin, cluster, "partition", "moves")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\n")[1].split() == ["waiting", "0", "4,2,3,1", "4", "1"], \
        listed.stdout
    # `--wait` gives up at its limit, says why and what undoes it, exit 1.
    waited = trib(trib_bin, cluster, "partition", "move", "waiting", "0", "--to", "4,2,3",
                  "--wait", "--wait-timeout", "1")
    assert waited.returncode == 1 and "still moving" in waited.stderr, waited.stderr
    # A leadership transfer would replace the move's target: refused while it moves.
    led = trib(trib_bin, cluster, "partition", "transfer-leadership", "waiting", "0", "--to", "2")
    assert led.returncode == 1 and "waiting-0 is moving (adding 4, removing 1)" in led.stderr, \
        led.stderr
    assert ongoing(cluster.nodes[3].address) == {("waiting", 0): ([4, 2, 3, 1], [4], [1])}
    cancelled = trib(trib_bin, cluster, "partition", "cancel-move", "waiting", "0")
    assert cancelled.returncode == 0, cancelled.stderr
    wait_until(lambda: not ongoing(cluster.nodes[1].address), 30, "the cancel to finish")
    for node in (1, 2, 3):
        wait_until(lambda: replicas_of(cluster, "waiting", node)[0] == [1, 2, 3], 10,
                   f"node {node} naming the old replicas")
    cluster.nodes[4].start(timeout=60)
    time.sleep(1)
    assert not partition_dir(cluster, 4, "waiting", 0).exists()
    # Still a working partition on its old replicas.
    w = Writer(cluster.bootstrap(), "waiting").start()
    w.wait_for(50)
    w.finish()
    assert not w.failed


def test_bad_moves_get_kafkas_error_codes(cluster, trib_bin):
    create(cluster, "fixed", [[1, 2, 3]])
    address = cluster.nodes[1].address
    _, errors = alter(address, {("nosuch", 0): [1, 2, 3], ("fixed", 5): [1, 2, 3],
                                ("fixed", 0): [1, 1, 2]})
    assert errors == {("nosuch", 0): UNKNOWN_TOPIC_OR_PARTITION,
                      ("fixed", 5): UNKNOWN_TOPIC_OR_PARTITION,
                      ("fixed", 0): INVALID_REPLICA_ASSIGNMENT}
    assert alter(address, {("fixed", 0): [1, 2, 9]})[1] == {
        ("fixed", 0): INVALID_REPLICA_ASSIGNMENT}
    assert alter(address, {("fixed", 0): []})[1] == {("fixed", 0): INVALID_REPLICA_ASSIGNMENT}
    assert alter(address, {("fixed", 0): None})[1] == {
        ("fixed", 0): NO_REASSIGNMENT_IN_PROGRESS}
    assert ongoing(address) == {}
    assert replicas_of(cluster, "fixed", 1)[0] == [1, 2, 3]
    # The same through trib: the Kafka error named, exit 1; then a move that works.
    bad = trib(trib_bin, cluster, "partition", "move", "nosuch", "0", "--to", "1,2,3")
    assert bad.returncode == 1 and "UNKNOWN_TOPIC_OR_PART" in bad.stderr, bad.stderr
    nothing = trib(trib_bin, cluster, "partition", "cancel-move", "fixed", "0")
    assert nothing.returncode == 1 and "NO_REASSIGNMENT_IN_PROGRESS" in nothing.stderr, \
        nothing.stderr
    usage = trib(trib_bin, cluster, "partition", "move", "fixed", "0", "--to", "one")
    assert usage.returncode == 2, usage.stderr
    moved = trib(trib_bin, cluster, "--format", "json", "partition", "move", "fixed", "0",
                 "--to", "2,3,4", "--wait")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout) == {"topic": "fixed", "partition": 0, "replicas": [2, 3, 4],
                                        "done": True}
    for node in (1, 2, 3, 4):
        wait_until(lambda: replicas_of(cluster, "fixed", node)[0] == [2, 3, 4], 10,
                   f"node {node} naming the new replicas")
    assert trib(trib_bin, cluster, "partition", "moves").stdout == "no partition is moving\n"


def test_the_admin_api_moves_and_cancels(cluster):
    create(cluster, "admin-moved", [[1, 2, 3]])
    base = cluster.nodes[3].admin_url
    path = "/v1/topics/admin-moved/partitions/0/move"
    assert http(base, f"{path}?replicas=1,x", "POST")[0] == 400
    assert http(base, path, "POST")[0] == 400
    assert http(base, "/v1/topics/absent/partitions/0/move?replicas=1", "POST")[0] == 404
    assert http(base, path, "DELETE")[0] == 409  # nothing to cancel
    status, body = http(base, f"{path}?replicas=1,2,9", "POST")
    assert status == 400 and "registered brokers" in body["error"], body
    status, body = http(base, f"{path}?replicas=2,3,4", "POST")
    assert status == 202 and body == {"topic": "admin-moved", "partition": 0,
                                      "moving_to": [2, 3, 4]}, body
    wait_until(lambda: not ongoing(cluster.nodes[1].address), 30, "the move to finish")
    status, view = http(base, "/v1/topics/admin-moved")
    assert status == 200
    part = view["partitions"][0]
    assert part["replicas"] == [2, 3, 4] and part["moving_to"] is None, part


def test_a_decommissioned_node_is_drained_while_writes_go_on(cluster):
    """POST /v1/brokers/N/decommission: the controller moves every replica of node N to the
    other nodes, a few partitions at a time, and new topics avoid it; DELETE ends it."""
    create(cluster, "drained", [[1, 2, 3], [2, 3, 1], [3, 1, 2], [2, 3, 4]])
    base = cluster.nodes[2].admin_url
    assert http(base, "/v1/brokers/9/decommission", "POST")[0] == 404
    w = Writer(cluster.bootstrap(), "drained").start()
    w.wait_for(100)
    status, body = http(base, "/v1/brokers/1/decommission", "POST")
    assert status == 202 and body == {"broker": 1, "decommissioning": True}, body

    def node_1():
        return next(b for b in http(base, "/v1/brokers")[1] if b["id"] == 1)

    wait_until(lambda: node_1()["replicas"] == 0 and not ongoing(cluster.nodes[3].address), 60,
               "node 1 drained")
    assert node_1()["decommissioning"]
    for p, replicas in replicas_of(cluster, "drained", 2).items():
        assert 1 not in replicas and len(replicas) == 3, (p, replicas)
    wait_until(lambda: not partition_dir(cluster, 1, "drained", 0).exists(), 20,
               "node 1 deleting its copies")
    create(cluster, "after", [[2, 3, 4]])
    adm = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    adm.create_topics([NewTopic("placed", 4, 3)], request_timeout=30)["placed"].result(30)
    cluster.wait_for_leaders("placed")
    assert all(1 not in r for r in replicas_of(cluster, "placed", 2).values())
    w.wait_for(len(w.acked) + 100)
    w.finish()
    assert not w.failed, w.failed[:5]
    records = read_partition(cluster.bootstrap(2, 3, 4), "drained", 0)
    offsets = {value: offset for offset, value in records}
    assert all(offsets.get(v) == o for v, o in w.acked.items())
    status, body = http(base, "/v1/brokers/1/decommission", "DELETE")
    assert status == 202 and not node_1()["decommissioning"], body


def test_trib_decommissions_and_recommissions_a_broker(cluster, trib_bin):
    """`trib broker decommission N --wait` drains node N through the admin API, with progress;
    `recommission` ends it; a wrong id, address or admin API each get their exit code."""
    create(cluster, "trib-drained", [[4, 2, 3], [2, 4, 1]])
    admin = cluster.nodes[2].admin_url.removeprefix("http://")

    def run(*args):
        return trib(trib_bin, cluster, "--admin", admin, *args)

    bad = run("broker", "decommission", "9")
    assert bad.returncode == 1 and "HTTP 404" in bad.stderr, bad
    dead = trib(trib_bin, cluster, "--admin", "127.0.0.1:1", "broker", "decommission", "4")
    assert dead.returncode == 3 and "no answer from the admin API" in dead.stderr, dead
    usage = trib(trib_bin, cluster, "--admin", "nowhere", "broker", "decommission", "4")
    assert usage.returncode == 2 and "host:port" in usage.stderr, usage

    done = run("broker", "decommission", "4", "--wait", "--wait-timeout", "60")
    assert done.returncode == 0, done
    assert "broker 4: decommissioning" in done.stdout, done.stdout
    assert "replicas left" in done.stderr and "drained after" in done.stderr, done.stderr
    for p, replicas in replicas_of(cluster, "trib-drained", 2).items():
        assert 4 not in replicas and len(replicas) == 3, (p, replicas)
    again = run("--format", "json", "broker", "recommission", "4")
    assert again.returncode == 0, again
    assert json.loads(again.stdout) == {"broker": 4, "decommissioning": False}, again.stdout
    brokers = http(cluster.nodes[1].admin_url, "/v1/brokers")[1]
    assert not next(b for b in brokers if b["id"] == 4)["decommissioning"]
