"""Single faults against a real cluster in network namespaces, each with the outcome a user
relies on. Every test here was a defect the chaos harness found; it stays so it cannot
return. Run as root: /usr/bin/python3 -m pytest -q tests/chaos/test_faults.py"""
import os
import pathlib
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import net  # noqa: E402
from netcluster import NetCluster  # noqa: E402


def wait_until(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def cluster(tmp_path):
    ok, why = net.available()
    assert ok, f"the chaos tests need network namespaces: {why}"
    binary = os.environ.get("TRIBUTARY_BIN")
    assert binary, "TRIBUTARY_BIN must name the tributary binary"
    c = NetCluster(binary, tmp_path / "run")
    try:
        yield c.start()
    finally:
        c.close()


def test_an_isolated_leader_stops_naming_itself(cluster):
    """A leader cut off from its peers steps down; its own Metadata must stop naming it, or
    clients that ask it keep sending there (found by the chaos harness: it went on naming
    itself from its own stale announcement for as long as the partition lasted)."""
    cluster.create_topic("isolated", 3)
    leaders = cluster.metadata("isolated")
    victim = leaders[0][0]
    led = [p for p, (leader, _) in leaders.items() if leader == victim]
    others = [i for i in cluster.nodes if i != victim]
    cluster.network.isolate([[victim], others])
    # The majority elects new leaders; the isolated node names none of its own.
    wait_until(lambda: all(cluster.metadata("isolated", others[0]).get(p, (-1,))[0]
                           in others for p in led), 15, "new leaders on the majority side")
    wait_until(lambda: all(cluster.metadata("isolated", victim).get(p, (victim,))[0] != victim
                           for p in led), 10, "the isolated node to stop naming itself")
    cluster.network.heal()
    wait_until(lambda: all(lead >= 0 for lead, _ in cluster.metadata("isolated").values()),
               15, "leaders after the heal")
