"""The load generator (bench/loadgen) works against a real node, so the benchmarks never
rot: a short produce at acks=all and acks=1 and a consume of everything, each reporting
throughput and latency percentiles in its JSON. No speed is asserted here (bench/ measures)."""
import json
import os
import subprocess

from clients import create_topic


def loadgen(*args):
    binary = os.environ["TRIB_LOADGEN_BIN"]
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_loadgen_produces_and_consumes(broker):
    create_topic(broker.bootstrap, "smoke", 4)
    common = ["--brokers", broker.bootstrap, "--topic", "smoke", "--partitions", "4",
              "--records", "20000", "--record-bytes", "1024"]
    for acks in ("all", "1"):
        r = loadgen("produce", "--acks", acks, *common)
        assert r["delivered"] == 20000 and r["failed"] == 0, r
        assert r["mb_per_s"] > 0 and r["latency"]["p99_ms"] >= r["latency"]["p50_ms"] > 0, r
    c = loadgen("consume", *common[:-4], "--records", "40000")
    assert c["records"] == 40000, c
    assert c["end_to_end_latency"]["max_ms"] >= 0, c
