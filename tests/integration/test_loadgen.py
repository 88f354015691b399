"""The load generator (bench/loadgen) works against a real node, so the benchmarks never
rot: a short produce at acks=all and acks=1, a timed fixed-rate idempotent one, and a consume
of everything, each reporting
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
    # The latency-run shape: a fixed rate for a fixed time, idempotent, compressed, few keys.
    timed = loadgen("produce", "--acks", "all", "--idempotence", "--compression", "lz4",
                    "--keys", "100", "--rate", "2000", "--seconds", "5",
                    *common[:-4], "--records", "100000000", "--record-bytes", "1024")
    assert timed["failed"] == 0 and timed["delivered"] == timed["records"], timed
    assert 5000 <= timed["delivered"] <= 11000, timed  # about 2000/s for 5 s
    total = 40000 + timed["delivered"]
    c = loadgen("consume", *common[:-4], "--records", str(total))
    assert c["records"] == total, c
    assert c["end_to_end_latency"]["max_ms"] >= 0, c
