"""`trib`, the command-line tool, against real nodes: every command with its human and JSON
output, records checked with another client (kcat), bad input (unknown names, bad flags, an
unreachable broker) answered with a clear error and a meaningful exit code, --help on every
command, the bash completion, and cluster health on three nodes with one down."""
import json
import os
import pathlib
import subprocess
import time

import pytest

from cluster import Cluster
from broker import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def trib(trib_bin, broker):
    """Runs trib against the test's broker; returns the CompletedProcess."""

    def _run(*args, stdin=None, check=True, brokers=None, timeout=60):
        env = {**os.environ, "TRIB_BROKERS": brokers or broker.bootstrap}
        done = subprocess.run([trib_bin, *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout, env=env)
        if check:
            assert done.returncode == 0, f"trib {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    return _run


def as_json(done):
    return json.loads(done.stdout)


def kcat_read(bootstrap, topic):
    done = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-f",
                           "%p|%k|%s|%h\n"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.splitlines())


def test_topic_create_list_describe_change_delete(trib):
    created = as_json(trib("topic", "create", "orders", "-p", "3", "-c", "retention.ms=60000",
                           "--format", "json"))
    assert created == [{"topic": "orders", "error": None, "status": "created"}]
    again = trib("topic", "create", "orders", check=False)
    assert again.returncode == 1
    assert "TOPIC_ALREADY_EXISTS" in again.stderr and "trib topic delete" in again.stderr

    dry = trib("topic", "create", "maybe", "--dry-run")
    assert "dry run" in dry.stdout
    listed = as_json(trib("topic", "list", "--format", "json"))
    assert listed == [{"topic": "orders", "partitions": 3, "replicas": 1}]
    assert "orders" in trib("topic", "list").stdout

    d = as_json(trib("topic", "describe", "orders", "--format", "json"))
    assert [p["partition"] for p in d["partitions"]] == [0, 1, 2]
    assert all(p["leader"] == 0 and p["isr"] == [0] and p["high_watermark"] == 0
               for p in d["partitions"])
    assert d["configs"]["retention.ms"] == {"value": "60000", "default": False}
    human = trib("topic", "describe", "orders").stdout
    assert "HIGH-WATERMARK" in human and "SIZE" in human and "retention.ms" in human
    # Size on disk (DescribeLogDirs to every broker), by replica; the table shows the leader's.
    empty = [p["size_bytes"]["0"] for p in d["partitions"]]
    trib("produce", "orders", "--partition", "1", stdin="".join(f"{'x' * 990}-{i}\n"
                                                                 for i in range(100)))
    sized = as_json(trib("topic", "describe", "orders", "--format", "json"))["partitions"]
    assert sized[1]["size_bytes"]["0"] >= empty[1] + 100 * 990, sized[1]
    assert [sized[i]["size_bytes"]["0"] for i in (0, 2)] == [empty[0], empty[2]]
    assert "KiB" in trib("topic", "describe", "orders").stdout

    trib("topic", "add-partitions", "orders", "--total", "5")
    assert len(as_json(trib("topic", "describe", "orders", "--format", "json"))["partitions"]) == 5
    fewer = trib("topic", "add-partitions", "orders", "--total", "2", check=False)
    assert fewer.returncode == 1 and "INVALID_PARTITIONS" in fewer.stderr

    trib("topic", "alter-config", "orders", "--set", "cleanup.policy=compact", "--delete",
         "retention.ms")
    configs = as_json(trib("topic", "describe", "orders", "--format", "json"))["configs"]
    assert configs["cleanup.policy"] == {"value": "compact", "default": False}
    assert configs["retention.ms"]["default"] is True
    bad = trib("topic", "alter-config", "orders", "--set", "retention.ms=soon", check=False)
    assert bad.returncode == 1 and "INVALID_CONFIG" in bad.stderr

    trib("topic", "delete", "orders")
    gone = trib("topic", "describe", "orders", check=False)
    assert gone.returncode == 1 and "UNKNOWN_TOPIC_OR_PART" in gone.stderr
    again = trib("topic", "delete", "orders", check=False)
    assert again.returncode == 1 and "UNKNOWN_TOPIC_OR_PART" in again.stderr


def test_produce_and_consume_round_trip(trib, broker):
    trib("topic", "create", "events", "-p", "2")
    lines = "".join(f"k{i % 4}:value-{i}\n" for i in range(40))
    out = trib("produce", "events", "-k", ":", "-H", "source=test", "-z", "zstd",
               stdin=lines).stdout
    assert out == "produced 40 records to events\n"
    # Another client sees exactly what trib wrote, keys and headers included.
    seen = kcat_read(broker.bootstrap, "events")
    assert len(seen) == 40
    assert all(r.split("|")[3] == "source=test" for r in seen)
    assert sorted(r.split("|", 1)[1].rsplit("|", 1)[0] for r in seen) == sorted(
        f"k{i % 4}|value-{i}" for i in range(40))

    records = [json.loads(line) for line in
               trib("consume", "events", "-e", "--format", "json").stdout.splitlines()]
    assert len(records) == 40
    assert {r["key"] for r in records} == {"k0", "k1", "k2", "k3"}
    assert all(r["headers"] == {"source": "test"} for r in records)
    by_partition = {}
    for r in records:
        by_partition.setdefault(r["partition"], []).append(r["offset"])
    assert all(offs == list(range(len(offs))) for offs in by_partition.values())

    # kcat's format string, one partition, the last two of it, a count, a time.
    part = max(by_partition, key=lambda p: len(by_partition[p]))
    one = trib("consume", "events", "-e", "-p", str(part), "-f",
               "%p:%o:%k=%s\\n").stdout.splitlines()
    assert len(one) == len(by_partition[part])
    assert all(line.startswith(f"{part}:") for line in one)
    tail = trib("consume", "events", "-e", "-p", str(part), "-o", "-2", "-f",
                "%o\\n").stdout.split()
    assert tail == [str(len(one) - 2), str(len(one) - 1)]
    three = trib("consume", "events", "-n", "3", "-f", "%s\\n").stdout.split()
    assert len(three) == 3
    future_ms = int(time.time() * 1000) + 3_600_000
    assert trib("consume", "events", "-e", "-o", f"@{future_ms}").stdout == ""
    assert len(trib("consume", "events", "-e", "-o", "@0").stdout.splitlines()) == 40
    assert trib("consume", "events", "-e", "-o", "end").stdout == ""

    # acks=1 and acks=0 writes, and lines without a key.
    trib("produce", "events", "--acks", "1", "-p", "1", stdin="a\nb\n")
    trib("produce", "events", "--acks", "0", "-p", "1", stdin="c\n")
    wait_until(lambda: len(kcat_read(broker.bootstrap, "events")) == 43, 20, "acks=0 record")
    json_out = as_json(trib("produce", "events", "--format", "json", stdin="d\n"))
    assert json_out == {"topic": "events", "produced": 1, "failed": 0}


def test_groups_list_describe_seek_delete(trib):
    trib("topic", "create", "jobs", "-p", "2")
    started = time.time()
    trib("produce", "jobs", "-k", ":", stdin="".join(f"k{i}:{i}\n" for i in range(10)))
    produced = time.time()
    # A group member reads everything and commits it on leaving.
    read = trib("consume", "jobs", "-g", "workers", "-e", "-f", "%s\\n").stdout.split()
    assert sorted(read, key=int) == [str(i) for i in range(10)]
    assert {"group": "workers", "state": "Empty"} in as_json(trib("group", "list", "--format",
                                                                  "json"))
    g = as_json(trib("group", "describe", "workers", "--format", "json"))
    assert g["state"] == "Empty" and g["lag"] == 0 and g["lag_seconds"] == 0
    assert sum(p["committed"] for p in g["partitions"]) == 10

    plan = trib("group", "seek", "workers", "-t", "jobs", "--to", "earliest")
    assert "dry run" in plan.stdout
    assert as_json(trib("group", "describe", "workers", "--format", "json"))["lag"] == 0
    trib("group", "seek", "workers", "-t", "jobs", "--to", "earliest", "--execute")
    time.sleep(1.5)
    asked = time.time()
    g = as_json(trib("group", "describe", "workers", "--format", "json"))
    assert g["lag"] == 10
    # Lag in time: how long ago the next unread record was written.
    assert asked - produced - 0.1 <= g["lag_seconds"] <= time.time() - started + 0.1, g
    assert all(p["lag_seconds"] is not None for p in g["partitions"] if p["lag"] > 0), g
    assert "LAG-TIME" in trib("group", "describe", "workers").stdout
    # The group resumes where it was put: everything again.
    again = trib("consume", "jobs", "-g", "workers", "-e", "-f", "%s\\n").stdout.split()
    assert len(again) == 10
    trib("group", "seek", "workers", "-t", "jobs", "--to", "offset:1", "--execute")
    g = as_json(trib("group", "describe", "workers", "--format", "json"))
    assert all(p["committed"] == 1 for p in g["partitions"])
    bad = trib("group", "seek", "workers", "-t", "jobs", "--to", "yesterday", check=False)
    assert bad.returncode == 2 and "--to takes" in bad.stderr

    trib("group", "delete", "workers")
    assert "workers" not in trib("group", "list").stdout
    missing = trib("group", "describe", "workers", check=False)
    assert missing.returncode == 1 and "GROUP_ID_NOT_FOUND" in missing.stderr


def test_cluster_info_broker_list_and_health_on_one_node(trib, broker):
    info = as_json(trib("cluster", "info", "--format", "json"))
    assert len(info["cluster_id"]) == 22 and info["controller"] == 0
    assert info["brokers"] == [{"id": 0, "host": "127.0.0.1", "port": broker.port,
                                "controller": True}]
    assert "127.0.0.1:%d" % broker.port in trib("broker", "list").stdout
    health = as_json(trib("cluster", "health", "--format", "json"))
    assert health["healthy"] is True and health["down_brokers"] == []


def test_bad_input_gets_a_clear_error_and_exit_code(trib, broker):
    unreachable = trib("topic", "list", brokers="127.0.0.1:1", check=False)
    assert unreachable.returncode == 3
    assert "cannot reach a broker at 127.0.0.1:1" in unreachable.stderr
    for args, needle in [
        (["topic", "describe", "nope"], "UNKNOWN_TOPIC_OR_PART"),
        (["produce", "nope"], "UNKNOWN_TOPIC_OR_PART"),
        (["consume", "nope", "-e"], "UNKNOWN_TOPIC_OR_PART"),
        (["topic", "create", "bad name!"], "TOPIC_EXCEPTION"),
        (["topic", "create", "wide", "-r", "3"], "INVALID_REPLICATION_FACTOR"),
    ]:
        done = trib(*args, stdin="x\n", check=False)
        assert done.returncode == 1, (args, done.stderr)
        assert needle in done.stderr, (args, done.stderr)
    for args in (["topic", "create"], ["topic", "create", "x", "-p", "0"], ["topic"],
                 ["produce", "t", "--acks", "2"], ["consume", "t", "-o", "soon"],
                 ["topic", "list", "-X", "no-equals-sign"], ["topic", "list", "-X", "bogus=1"],
                 ["topic", "list", "--format", "xml"], ["--no-such-flag"], []):
        done = trib(*args, check=False)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.strip(), args


def test_every_command_has_help_and_bash_completes_them(trib_bin):
    commands = [[], ["cluster"], ["cluster", "info"], ["cluster", "health"], ["broker"],
                ["broker", "list"], ["topic"], ["topic", "create"], ["topic", "list"],
                ["topic", "describe"], ["topic", "delete"], ["topic", "add-partitions"],
                ["topic", "alter-config"], ["produce"], ["consume"], ["group"],
                ["group", "list"], ["group", "describe"], ["group", "delete"],
                ["group", "seek"], ["partition"], ["partition", "move"],
                ["partition", "cancel-move"], ["partition", "moves"],
                ["partition", "transfer-leadership"], ["completion"], ["completion", "bash"]]
    for c in commands:
        done = subprocess.run([trib_bin, *c, "--help"], capture_output=True, text=True,
                              timeout=10)
        assert done.returncode == 0 and "Usage:" in done.stdout, c
    script = subprocess.run([trib_bin, "completion", "bash"], capture_output=True, text=True,
                            check=True).stdout

    def complete(*words):
        probe = (script + f"\nCOMP_WORDS=(trib {' '.join(words)}); "
                 f"COMP_CWORD={len(words)}; _trib; echo \"${{COMPREPLY[*]}}\"")
        return subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                              check=True).stdout.split()

    assert complete("to") == ["topic"]
    assert complete("topic", "de") == ["describe", "delete"]
    assert "--partitions" in complete("topic", "create", "orders", "--")
    assert complete("group", "s") == ["seek"]
    assert complete("partition", "t") == ["transfer-leadership"]


def test_health_on_three_nodes_names_a_down_broker(trib_bin, tributary_bin, tmp_path):
    c = Cluster(tributary_bin, tmp_path)
    try:
        c.start()  # inside the try: nodes that did start are stopped if another did not

        def run(*args, check=True):
            done = subprocess.run([trib_bin, "--brokers", c.bootstrap(1, 2), *args],
                                  capture_output=True, text=True, timeout=60)
            assert not check or done.returncode == 0, done.stdout + done.stderr
            return done

        assert [b["id"] for b in as_json(run("broker", "list", "--format", "json"))] == [1, 2, 3]
        run("topic", "create", "replicated", "-p", "3", "-r", "3")
        c.wait_for_leaders("replicated")
        wait_until(lambda: as_json(run("cluster", "health", "--format", "json",
                                       check=False))["healthy"], 30, "a healthy cluster")
        d = as_json(run("topic", "describe", "replicated", "--format", "json"))
        assert all(sorted(p["replicas"]) == [1, 2, 3] for p in d["partitions"])
        c.nodes[3].stop()

        def unhealthy():
            done = run("cluster", "health", "--format", "json", check=False)
            h = as_json(done)
            return done.returncode == 1 and h["down_brokers"] == [3] and not h["healthy"]

        wait_until(unhealthy, 30, "node 3 reported down")
        human = run("cluster", "health", check=False)
        assert human.returncode == 1 and "down brokers                 3" in human.stdout
        d = as_json(run("topic", "describe", "replicated", "--format", "json"))
        assert all(p["offline_replicas"] == [3] for p in d["partitions"])
    finally:
        problems = c.close()
        for b in c.nodes.values():
            print(f"--- {b.log_path}:\n{b.log_tail(40)}")
    assert not problems, "\n".join(problems)
