"""Raft groups in three real processes (trib-raft-bench on the storage engine, talking over
loopback) while nodes are killed with SIGKILL and restarted, or paused with SIGSTOP. Every
proposal a leader saw committed is checked afterwards in the logs on disk: it is on a
majority at its offset with its exact bytes, no offset holds two acknowledged batches, the
nodes' logs agree wherever two of them hold the same offset and term, and a fresh round of
proposals commits after the faults end."""
import collections
import os
import random
import signal
import subprocess
import time

import pytest

from ports import free_ports

GROUPS = 2


@pytest.fixture
def bench_bin():
    path = os.environ.get("TRIB_RAFT_BENCH_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("TRIB_RAFT_BENCH_BIN must point at trib-raft-bench (ctest sets it)")
    return path


class Cluster:
    def __init__(self, bench_bin, tmp_path):
        self.bin = bench_bin
        self.tmp = tmp_path
        ports = free_ports(3)
        self.peers = ",".join(f"{i}=127.0.0.1:{p}" for i, p in zip((1, 2, 3), ports))
        self.procs = {}

    def dir(self, node):
        return self.tmp / f"n{node}"

    def ack_log(self, node):
        return self.tmp / f"acks{node}"

    def start(self, node, seconds):
        args = [self.bin, "--id", str(node), "--peers", self.peers, "--dir", str(self.dir(node)),
                "--groups", str(GROUPS), "--seconds", str(seconds), "--warmup", "0",
                "--batch-bytes", "2048", "--window", "8", "--tick-ms", "20", "--unique",
                "--ack-log", str(self.ack_log(node))]
        self.procs[node] = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True)

    def kill(self, node):
        self.procs[node].kill()
        self.procs[node].wait()

    def wait_all(self, timeout=60):
        for node, p in self.procs.items():
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, f"node {node} exited {p.returncode}: {err[-2000:]}"

    def acks_by_node(self):
        out = []
        for node in (1, 2, 3):
            path = self.ack_log(node)
            if path.exists():
                for line in path.read_text().splitlines():
                    parts = line.split()
                    if len(parts) == 4:  # a line cut by SIGKILL is incomplete, not an ack
                        out.append((node,) + tuple(int(x) for x in parts))
        return out

    def acks(self):
        return [ack[1:] for ack in self.acks_by_node()]

    def commits_again(self, seconds):
        """After the faults: all three restart on the same disks, elect and commit anew."""
        before = len(self.acks())
        for node in (1, 2, 3):
            self.start(node, seconds)
        self.wait_all()
        assert len(self.acks()) > before, "nothing committed after the faults ended"

    def dump(self, node):
        r = subprocess.run([self.bin, "--id", str(node), "--peers", self.peers, "--dir",
                            str(self.dir(node)), "--groups", str(GROUPS), "--dump"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        log = {}
        for line in r.stdout.splitlines():
            g, offset, term, crc = (int(x) for x in line.split())
            log[(g, offset)] = (term, crc)
        return log


def check(cluster):
    acks = cluster.acks()
    assert acks, "no proposal was ever acknowledged"
    logs = {node: cluster.dump(node) for node in (1, 2, 3)}
    by_offset = collections.defaultdict(set)
    for g, offset, term, crc in acks:
        by_offset[(g, offset)].add((term, crc))
    two = {k: v for k, v in by_offset.items() if len(v) > 1}
    assert not two, f"offsets acknowledged with two different batches: {list(two.items())[:5]}"
    by_crc = collections.defaultdict(list)
    for node, g, offset, term, crc in cluster.acks_by_node():
        by_crc[crc].append((node, g, offset, term))
    # Each ack with the node that made it, so a failure tells one entry acknowledged twice
    # (same group, offset and term) from one batch written at two offsets.
    dup = {c: where for c, where in by_crc.items() if len(where) > 1}
    assert not dup, f"a batch acknowledged twice (node, group, offset, term): " \
        f"{list(dup.items())[:5]}"
    lost = []
    for g, offset, term, crc in acks:
        holders = sum(1 for log in logs.values() if log.get((g, offset)) == (term, crc))
        if holders < 2:
            lost.append((g, offset, term, holders))
    assert not lost, f"{len(lost)} acknowledged entries are on fewer than 2 nodes: {lost[:5]}"
    # Log matching: same offset and term on two nodes means the same batch.
    for a in (1, 2, 3):
        for b in (1, 2, 3):
            if a < b:
                for key, (term, crc) in logs[a].items():
                    other = logs[b].get(key)
                    if other and other[0] == term:
                        assert other[1] == crc, f"nodes {a} and {b} differ at {key}, term {term}"
    return len(acks)


def test_sigkill_and_restart_lose_no_acknowledged_entry(bench_bin, tmp_path):
    c = Cluster(bench_bin, tmp_path)
    run_for = 16
    started = time.monotonic()
    for node in (1, 2, 3):
        c.start(node, run_for)
    rng = random.Random(7)
    time.sleep(2)
    kills = 0
    while time.monotonic() - started < run_for - 5:
        victim = rng.choice((1, 2, 3))
        c.kill(victim)
        kills += 1
        time.sleep(rng.uniform(0.2, 1.0))
        c.start(victim, max(1.0, run_for - (time.monotonic() - started)))
        time.sleep(rng.uniform(0.5, 1.5))
    c.wait_all()
    c.commits_again(4)
    n = check(c)
    assert kills >= 4
    print(f"{kills} kills, {n} acknowledged entries checked")


def test_a_paused_leader_is_replaced_and_nothing_acknowledged_is_lost(bench_bin, tmp_path):
    c = Cluster(bench_bin, tmp_path)
    for node in (1, 2, 3):
        c.start(node, 10)
    time.sleep(2)
    # Pause each node in turn for longer than an election timeout (10-20 ticks of 20 ms).
    for node in (1, 2, 3):
        os.kill(c.procs[node].pid, signal.SIGSTOP)
        time.sleep(1.0)
        os.kill(c.procs[node].pid, signal.SIGCONT)
        time.sleep(0.5)
    c.wait_all()
    c.commits_again(3)
    check(c)
