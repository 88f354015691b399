"""The README's `scripts/start --nodes 3`, run exactly as written in an empty directory: three
nodes come up on 127.0.0.1:9092-9094 with their data under ./tributary-data/node-N, form one
cluster (a topic created through one node is served by all three), and Ctrl-C (SIGINT) stops
every node cleanly."""
import pathlib
import signal
import subprocess
import time

from confluent_kafka.admin import AdminClient, NewTopic

from broker import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_scripts_start_nodes_3_runs_a_local_cluster(tmp_path):
    proc = subprocess.Popen([str(ROOT / "scripts" / "start"), "--nodes", "3"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 300  # it may have to build first
        while not any("cluster of 3 nodes up" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines[-30:])
            lines.append(proc.stdout.readline())
        for i, port in ((1, 9092), (2, 9093), (3, 9094)):
            assert any(f"node {i}: kafka 127.0.0.1:{port}" in line for line in lines), lines
            assert (tmp_path / "tributary-data" / f"node-{i}").is_dir()
        adm = AdminClient({"bootstrap.servers": "127.0.0.1:9093"})
        adm.create_topics([NewTopic("spread", 3, 3)])["spread"].result(30)

        def settled():
            m = adm.list_topics(timeout=10)
            parts = m.topics["spread"].partitions.values() if "spread" in m.topics else []
            ok = len(m.brokers) == 3 and parts and all(p.leader >= 0 for p in parts)
            return m if ok else None

        def balanced():
            m = settled()
            leaders = m and sorted(p.leader for p in m.topics["spread"].partitions.values())
            return m if leaders == [1, 2, 3] else None

        # Leaders are spread over the three: the first elections may not place them so, the
        # preferred-leader check (every 10 s) moves them there.
        md = wait_until(balanced, 40, "a leader for each partition on each node")
        parts = md.topics["spread"].partitions.values()
        assert all(sorted(p.replicas) == [1, 2, 3] for p in parts)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    logs = "".join((tmp_path / "tributary-data" / f"node-{i}.log").read_text()
                   for i in (1, 2, 3))
    assert logs.count("node stopped") == 3, logs[-3000:]
    assert proc.returncode == 0
