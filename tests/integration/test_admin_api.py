"""The admin HTTP API and /metrics of real nodes: every route with its JSON, its errors
(unknown route, unknown topic, bad log level: a JSON error with the status code), readiness
on a node cut off from its cluster, and the metrics page parsed by Prometheus' own text parser
with the expected series present and moving under load."""
import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from broker import wait_until
from cluster import Cluster


def http(base, path, method="GET", body=None):
    """(status, parsed JSON or text) of one request."""
    req = urllib.request.Request(base + path, method=method, data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text, kind = r.status, r.read().decode(), r.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        status, text, kind = e.code, e.read().decode(), e.headers["Content-Type"]
    return status, json.loads(text) if kind.startswith("application/json") else text


def create(bootstrap, name, partitions, rf=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, rf)])[name].result(30)


def produce(bootstrap, topic, count):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        p.produce(topic, value=f"v{i}".encode(), key=f"k{i}".encode())
    assert p.flush(30) == 0


def value(s, name, **labels):
    return s.get((name, tuple(sorted(labels.items()))), 0)


def samples(base):
    """{(name, labels as a sorted tuple): value} of every sample on /metrics."""
    status, text = http(base, "/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_every_read_route_answers_json(broker):
    base = broker.admin_url
    create(broker.bootstrap, "orders", 2)
    produce(broker.bootstrap, "orders", 10)

    assert http(base, "/v1/health/live") == (200, {"live": True})
    assert http(base, "/v1/health/ready") == (200, {"ready": True, "reasons": []})
    status, c = http(base, "/v1/cluster")
    assert status == 200 and len(c["cluster_id"]) == 22 and c["node_id"] == 0
    assert c["controller"]["leader"] == 0 and c["topics"] == 1 and c["partitions"] == 2
    status, brokers = http(base, "/v1/brokers")
    assert status == 200 and [b["id"] for b in brokers] == [0]
    assert brokers[0]["live"] and brokers[0]["kafka"] == broker.bootstrap
    assert brokers[0]["uptime_seconds"] > 0 and brokers[0]["version"]
    status, topics = http(base, "/v1/topics")
    assert status == 200 and [t["name"] for t in topics] == ["orders"]
    assert topics[0]["partitions"] == 2 and topics[0]["replication_factor"] == 1

    status, t = http(base, "/v1/topics/orders")
    assert status == 200 and [p["partition"] for p in t["partitions"]] == [0, 1]
    total = 0
    for p in t["partitions"]:
        assert p["leader"] == 0 and p["replicas"] == [0] and p["in_sync_replicas"] == [0]
        local = p["local_replica"]
        assert local["leads"] and local["serving"] and not local["failed"]
        assert local["log_start_offset"] == 0 and local["size_bytes"] > 0
        total += local["high_watermark"]
    assert total == 10


def test_errors_are_json_with_a_status(broker):
    base = broker.admin_url
    status, e = http(base, "/v1/topics/missing")
    assert status == 404 and "no topic named 'missing'" in e["error"] and e["status"] == 404
    status, e = http(base, "/v1/nowhere")
    assert status == 404 and "no such route" in e["error"] and "/v1/cluster" in e["error"]
    status, e = http(base, "/v1/topics", method="DELETE")
    assert status in (404, 405) and e["status"] == status
    status, e = http(base, "/v1/log-level?level=loud", method="PUT", body=b"")
    assert status == 400 and "not \"loud\"" in e["error"]
    status, e = http(base, "/v1/log-level", method="PUT", body=b"{not json")
    assert status == 400
    # A huge body is refused, not read into memory.
    status, _ = http(base, "/v1/log-level", method="PUT", body=b"x" * (1 << 20))
    assert status == 413
    # curl -X POST sends no Content-Length without -d: the error says what to do.
    done = subprocess.run(["curl", "-s", "-X", "POST",
                           f"{base}/v1/topics/t/partitions/0/transfer-leadership?to=1"],
                          capture_output=True, text=True, timeout=10)
    e = json.loads(done.stdout)
    assert e["status"] == 400 and "curl: -d ''" in e["error"], e
    assert http(base, "/v1/health/live")[0] == 200  # still serving


def test_the_log_level_changes_at_run_time(broker):
    base = broker.admin_url
    assert http(base, "/v1/log-level") == (200, {"level": "info"})
    assert http(base, "/v1/log-level?level=debug", method="PUT", body=b"")[0] == 200
    assert http(base, "/v1/log-level") == (200, {"level": "debug"})
    # Debug lines now appear (a malformed request is logged at debug).
    import socket
    with socket.create_connection(broker.address) as s:
        s.sendall(b"\x00\x00\x00\x02\xff\xff")
        s.recv(1)
    wait_until(lambda: "request size 2 outside" in broker.logs(), 10, "a debug line")
    body = json.dumps({"level": "warn"}).encode()
    assert http(base, "/v1/log-level", method="PUT", body=body) == (200, {"level": "warn"})
    # curl's form, as the README shows it.
    done = subprocess.run(["curl", "-sf", "-X", "PUT", "-d", "level=info",
                           f"{base}/v1/log-level"], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0 and json.loads(done.stdout) == {"level": "info"}


def test_metrics_parse_and_move_under_load(broker):
    base = broker.admin_url
    create(broker.bootstrap, "load", 3)
    before = samples(base)
    produce(broker.bootstrap, "load", 200)
    after = samples(base)

    produced = (value(after, "tributary_kafka_requests_total", api="Produce")
                - value(before, "tributary_kafka_requests_total", api="Produce"))
    assert produced >= 1
    assert value(after, "tributary_kafka_request_duration_seconds_count", api="Produce") >= produced
    assert value(after, "tributary_kafka_request_duration_seconds_bucket", api="Produce",
                 le="+Inf") == value(after, "tributary_kafka_request_duration_seconds_count",
                                     api="Produce")
    hws = [value(after, "tributary_partition_high_watermark", topic="load", partition=str(p))
           for p in range(3)]
    assert sum(hws) == 200
    assert all(value(after, "tributary_partition_size_bytes", topic="load", partition=str(p)) > 0
               for p in range(3) if hws[p] > 0)
    assert value(after, "tributary_partitions_led") >= 3
    assert value(after, "tributary_partitions_offline") == 0
    assert value(after, "tributary_brokers", state="live") == 1
    assert value(after, "tributary_controller_leader") == 0
    assert value(after, "tributary_kafka_request_memory_limit_bytes") > 0
    assert value(after, "tributary_uptime_seconds") > 0
    # Storage and Raft: every acks=all write was fsynced and committed; leaders were elected.
    assert (value(after, "tributary_storage_fsync_duration_seconds_count")
            > value(before, "tributary_storage_fsync_duration_seconds_count"))
    assert (value(after, "tributary_replication_duration_seconds_count", acks="all")
            - value(before, "tributary_replication_duration_seconds_count", acks="all")
            >= produced)
    assert value(after, "tributary_raft_leaderships_won_total", kind="partition") >= 3
    assert value(after, "tributary_raft_leaderships_won_total", kind="controller") == 1
    assert value(after, "tributary_raft_terms_total", kind="controller") >= 1
    assert value(after, "tributary_storage_fsync_errors_total") == 0
    # Bytes in and out per topic (Kafka's BytesInPerSec / BytesOutPerSec): what was produced
    # is on disk (with Raft's own batches), and reading it all gives out at least as much.
    bytes_in = value(after, "tributary_topic_bytes_in_total", topic="load")
    assert 200 * 4 < bytes_in <= sum(
        value(after, "tributary_partition_size_bytes", topic="load", partition=str(p))
        for p in range(3))
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "bytes-out"})
    c.assign([TopicPartition("load", p, 0) for p in range(3)])
    read, deadline = 0, time.monotonic() + 20
    while read < 200 and time.monotonic() < deadline:
        read += sum(1 for m in c.consume(200, 1.0) if m.error() is None)
    c.close()
    assert read == 200
    assert value(samples(base), "tributary_topic_bytes_out_total", topic="load") >= bytes_in

    # An error answer is counted by API and code: CreateTopics of an existing topic (36).
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    with pytest.raises(Exception, match="TOPIC_ALREADY_EXISTS"):
        admin.create_topics([NewTopic("load", 1, 1)])["load"].result(30)
    assert value(samples(base), "tributary_kafka_request_errors_total", api="CreateTopics",
                 code="36") == 1


def test_readiness_fails_when_cut_off_and_metrics_show_it(tributary_bin, tmp_path):
    c = Cluster(tributary_bin, tmp_path)
    try:
        c.start()  # inside the try: nodes that did start are stopped if another did not
        create(c.bootstrap(1, 2, 3), "r3", 3, rf=3)
        c.wait_for_leaders("r3")
        base = c.nodes[1].admin_url
        assert http(base, "/v1/health/ready")[0] == 200
        status, t = http(base, "/v1/topics/r3")
        assert all(sorted(p["replicas"]) == [1, 2, 3] for p in t["partitions"])
        # Replica lag, on the leader: 0 once followers have caught up; with one follower
        # stopped, it grows by what is written meanwhile.
        leader = t["partitions"][0]["leader"]
        lagging = 2 if leader == 3 else 3  # stopped now; node 1 stays up
        other = ({1, 2, 3} - {leader, lagging}).pop()
        leader_url = c.nodes[leader].admin_url

        def lag_of(replica):
            lags = http(leader_url, "/v1/topics/r3")[1]["partitions"][0]["local_replica"]
            return lags.get("replica_lag", {}).get(str(replica))

        wait_until(lambda: lag_of(lagging) == 0 and lag_of(other) == 0, 15,
                   "followers caught up")
        c.nodes[lagging].stop()
        p = Producer({"bootstrap.servers": c.bootstrap(leader, other), "acks": "all"})
        for i in range(50):
            p.produce("r3", value=b"%d" % i, partition=0)
        assert p.flush(30) == 0
        wait_until(lambda: lag_of(lagging) >= 50 and lag_of(other) == 0, 15,
                   f"node {lagging} behind by 50")
        assert value(samples(leader_url), "tributary_partition_replica_lag", topic="r3",
                     partition="0", replica=str(lagging)) >= 50
        c.nodes[5 - lagging].stop()  # the other of nodes 2 and 3: node 1 is cut off

        def not_ready():
            status, r = http(base, "/v1/health/ready")
            return status == 503 and "cut off from the controller" in r["reasons"]

        wait_until(not_ready, 30, "node 1 not ready once cut off")
        assert http(base, "/v1/health/live") == (200, {"live": True})
        s = samples(base)
        assert s.get(("tributary_partitions_offline", ()), 0) >= 0
    finally:
        problems = c.close()
        for b in c.nodes.values():
            print(f"--- {b.log_path}:\n{b.log_tail(40)}")
    assert not problems, "\n".join(problems)


def test_the_grafana_dashboard_uses_only_series_the_node_exports(broker):
    """docs/grafana/tributary.json: every metric its queries name is on /metrics."""
    import pathlib
    import re
    dashboard = json.loads((pathlib.Path(__file__).resolve().parents[2] / "docs" / "grafana"
                            / "tributary.json").read_text())
    create(broker.bootstrap, "seen", 1)
    produce(broker.bootstrap, "seen", 1)
    # Error series appear with the first error answer: give one.
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept until the answer
    with pytest.raises(Exception, match="TOPIC_ALREADY_EXISTS"):
        admin.create_topics([NewTopic("seen", 1, 1)])["seen"].result(30)
    # Group series appear with a group's first commit: make one.
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "watcher"})
    c.commit(offsets=[TopicPartition("seen", 0, 0)], asynchronous=False)
    c.assign([TopicPartition("seen", 0, 0)])  # bytes out appear with the first fetch
    assert c.consume(1, 20), "the record was not read"
    c.close()
    # Replica lag exists only for a partition with followers: the three-node test checks it.
    exported = {name for name, _ in samples(broker.admin_url)} | {"tributary_partition_replica_lag"}
    wanted = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            wanted |= set(re.findall(r"tributary_[a-z_]+", target["expr"]))
    assert wanted, "the dashboard queries no tributary series"
    missing = sorted(w for w in wanted if w not in exported)
    assert not missing, missing


def test_groups_show_lag_in_records_and_seconds(broker):
    """A group that committed 5 of 20 records written a minute ago (CreateTime) lags 15
    records and about 60 s; once it commits everything, 0 and 0."""
    import time
    from confluent_kafka import Consumer, TopicPartition
    base = broker.admin_url
    create(broker.bootstrap, "lagging", 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    written_ms = int(time.time() * 1000) - 60_000
    for i in range(20):
        p.produce("lagging", value=b"x", timestamp=written_ms + i)
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "slow",
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition("lagging", 0, 5)], asynchronous=False)
        status, g = http(base, "/v1/groups/slow")
        assert status == 200 and g["coordinator"] == 0 and g["lag"] == 15
        [part] = g["partitions"]
        assert part["committed"] == 5 and part["high_watermark"] == 20
        assert 59 <= part["lag_seconds"] < 120, part
        assert [x["group"] for x in http(base, "/v1/groups")[1]] == ["slow"]
        s = samples(base)
        labels = (("group", "slow"), ("partition", "0"), ("topic", "lagging"))
        assert s[("tributary_group_lag_records", labels)] == 15
        assert 59 <= s[("tributary_group_lag_seconds", labels)] < 120

        c.commit(offsets=[TopicPartition("lagging", 0, 20)], asynchronous=False)
        status, g = http(base, "/v1/groups/slow")
        assert g["lag"] == 0 and g["partitions"][0]["lag_seconds"] == 0
    finally:
        c.close()
    status, e = http(base, "/v1/groups/nobody")
    assert status == 404 and "no group 'nobody'" in e["error"]


def test_leadership_is_transferred_on_request(tributary_bin, trib_bin, tmp_path):
    """POST /v1/topics/T/partitions/P/transfer-leadership?to=N on the leader hands the
    partition to N; anywhere else, or to a node without a replica, it is refused with why.
    `trib partition transfer-leadership` names a new preferred leader, which takes over
    also where automatic rebalancing is off."""
    # No rebalancing back to the preferred replica while the test looks.
    c = Cluster(tributary_bin, tmp_path, extra_args=["--auto-leader-rebalance", "false"])
    try:
        c.start()
        create(c.bootstrap(1, 2, 3), "moved", 1, rf=3)
        c.wait_for_leaders("moved")
        leader = c.leaders("moved", 1)[0]
        to = 2 if leader != 2 else 3
        bystander = ({1, 2, 3} - {leader, to}).pop()
        path = "/v1/topics/moved/partitions/0/transfer-leadership"
        status, body = http(c.nodes[bystander].admin_url, f"{path}?to={to}", "POST")
        assert status == 409 and f"the leader: {leader}" in body["error"], body
        status, body = http(c.nodes[leader].admin_url, f"{path}?to=7", "POST")
        assert status == 409 and "holds no replica" in body["error"], body
        status, body = http(c.nodes[leader].admin_url, path, "POST")
        assert status == 400 and "?to=NODE" in body["error"], body
        status, body = http(c.nodes[leader].admin_url, "/v1/topics/absent/partitions/0/"
                            "transfer-leadership?to=1", "POST")
        assert status == 404, body

        status, body = http(c.nodes[leader].admin_url, f"{path}?to={to}", "POST")
        assert status == 202 and body == {"topic": "moved", "partition": 0, "from": leader,
                                          "to": to}, body
        wait_until(lambda: all(c.leaders("moved", i)[0] == to for i in (1, 2, 3)), 15,
                   f"node {to} leading moved-0 everywhere")
        # Writes go on at the new leader.
        produce(c.bootstrap(1, 2, 3), "moved", 10)

        def trib_transfer_to(node):
            done = subprocess.run([trib_bin, "--brokers", c.bootstrap(1, 2, 3), "partition",
                                   "transfer-leadership", "moved", "0", "--to", str(node)],
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            wait_until(lambda: all(c.leaders("moved", i)[0] == node for i in (1, 2, 3)), 10,
                       f"node {node} leading moved-0 everywhere")

        trib_transfer_to(bystander)
        # Led elsewhere while first of the replicas: trib names it first again, and it leads.
        status, _ = http(c.nodes[bystander].admin_url, f"{path}?to={to}", "POST")
        assert status == 202
        wait_until(lambda: all(c.leaders("moved", i)[0] == to for i in (1, 2, 3)), 15,
                   f"node {to} leading moved-0 everywhere")
        trib_transfer_to(bystander)
    finally:
        problems = c.close()
    assert not problems, "\n".join(problems)


def test_bytes_out_count_what_a_long_poll_sends_once(broker):
    """A Fetch that waits for more data (min_bytes) reads its partitions again after each
    wait; the bytes sent are counted once, as they leave."""
    import struct
    from raw_kafka import call, fetch_v4_partitions, string
    base = broker.admin_url
    create(broker.bootstrap, "polled", 1)
    produce(broker.bootstrap, "polled", 5)
    before = value(samples(base), "tributary_topic_bytes_out_total", topic="polled")
    # max_wait 600 ms, min_bytes 1 MiB: never satisfied, so it reads, waits, reads again.
    body = (struct.pack(">iiii", -1, 600, 1 << 20, 1 << 20) + b"\x00" + struct.pack(">i", 1) +
            string("polled") + struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20))
    (error, sent), = fetch_v4_partitions(call(broker.address, 1, 4, body)).values()
    assert error == 0 and sent > 0
    after = value(samples(base), "tributary_topic_bytes_out_total", topic="polled")
    assert after - before == sent, (before, after, sent)


def test_storage_metrics_count_retention_compaction_and_the_flush_queue(start_broker):
    """Cleaner passes, bytes retention deleted and compaction reclaimed move as the cleaner
    works; the moving, decommissioning and flush-queue gauges are listed."""
    broker = start_broker("--cleaner-interval-ms", "200")
    base = broker.admin_url
    before = samples(base)
    for name in ("tributary_storage_cleaner_passes_total",
                 "tributary_storage_compactions_total",
                 "tributary_storage_compaction_reclaimed_bytes_total",
                 "tributary_storage_deleted_segment_bytes_total",
                 "tributary_partitions_moving", "tributary_brokers_decommissioning",
                 "tributary_raft_flushes_waiting"):
        assert (name, ()) in before, f"{name} is not listed"
    assert value(before, "tributary_partitions_moving") == 0
    assert value(before, "tributary_brokers_decommissioning") == 0
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([
        NewTopic("aging", 1, 1, config={"segment.bytes": "2048", "retention.bytes": "4096"}),
        NewTopic("keyed", 1, 1, config={"cleanup.policy": "compact", "segment.bytes": "2048",
                                        "min.cleanable.dirty.ratio": "0.01"})])
    for f in futures.values():
        f.result(30)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(300):
        p.produce("aging", value=b"a" * 200)
        p.produce("keyed", key=b"k%d" % (i % 3), value=b"v" * 200)
        if i % 10 == 9:
            assert p.flush(30) == 0  # many small batches, so many segments
    assert p.flush(30) == 0
    wait_until(lambda: value(samples(base), "tributary_storage_deleted_segment_bytes_total")
               > 0 and value(samples(base), "tributary_storage_compactions_total") > 0, 30,
               "retention and compaction to run")
    after = samples(base)
    assert (value(after, "tributary_storage_cleaner_passes_total")
            > value(before, "tributary_storage_cleaner_passes_total"))
    assert value(after, "tributary_storage_compaction_reclaimed_bytes_total") > 0
    assert value(after, "tributary_raft_flushes_waiting") >= 0
