"""The harness must be able to fail (RELIABILITY.md 8.7): a run against brokers in a
deliberately broken mode has to end FAIL with the anomaly that mode causes. Run as root:
/usr/bin/python3 -m pytest -q tests/chaos/test_harness.py"""
import json
import os
import pathlib
import subprocess

HERE = pathlib.Path(__file__).resolve().parent


def chaos_run(tmp_path, *args):
    binary = os.environ.get("TRIBUTARY_BIN")
    assert binary, "TRIBUTARY_BIN must name the tributary binary"
    run_dir = tmp_path / "run"
    done = subprocess.run(["/usr/bin/python3", str(HERE / "run.py"), "--binary", binary,
                           "--run-dir", str(run_dir), *args],
                          capture_output=True, text=True, timeout=600)
    print(done.stdout[-4000:], done.stderr[-2000:])
    return done, json.loads((run_dir / "result.json").read_text())


def test_acks_answered_before_commit_are_caught_as_lost_writes(tmp_path):
    """A leader cut off from its peers acknowledges writes it never commits; once the
    partition heals its uncommitted suffix is replaced, and the checker must see the loss."""
    done, result = chaos_run(tmp_path, "--canary", "ack-before-commit", "--seed", "3",
                             "--nemesis", "partition", "--time", "25", "--warmup", "5",
                             "--recovery", "10", "--rate", "600")
    assert done.returncode == 1, f"exit {done.returncode}: expected FAIL"
    assert result["verdict"] == "FAIL"
    assert result["anomalies"]["lost"] > 0, result["anomalies"]
    assert "replay: tests/chaos/run.py --seed 3" in done.stdout


def test_the_loopback_network_cuts_links_too(tmp_path):
    """Without namespaces (--network loopback, link proxies) the same broken mode must be
    caught: a partition there really cuts the leader off."""
    done, result = chaos_run(tmp_path, "--network", "loopback", "--canary", "ack-before-commit",
                             "--seed", "3", "--nemesis", "partition", "--time", "25",
                             "--warmup", "5", "--recovery", "10", "--rate", "600")
    assert done.returncode == 1, f"exit {done.returncode}: expected FAIL"
    assert result["anomalies"]["lost"] > 0, result["anomalies"]
    assert "--network loopback" in done.stdout


def test_a_correct_cluster_passes_on_the_loopback_network(tmp_path):
    done, result = chaos_run(tmp_path, "--network", "loopback", "--seed", "4", "--nemesis",
                             "kill,pause,partition,one-way,client-cut", "--time", "40",
                             "--warmup", "5", "--recovery", "15", "--rate", "400", "--keep")
    assert done.returncode == 0 and result["verdict"] == "PASS", result.get("anomalies")
    assert "network=loopback" in done.stdout
