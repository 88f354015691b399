"""A replica whose log is damaged repairs it from its peers (issue: hardening before the
cluster, its last item).

Alone, a damaged log keeps its damage and serves what is intact until an operator salvages
it (test_corruption.py). With peers, the replica drops the damaged batch and everything after
it at open, says so once, fetches it all again from the leader, and neither votes nor
campaigns until it holds again every offset it had (unit: raft_test restart.*): a vote from a
replica missing entries it acknowledged could elect a leader without them.
"""
from broker import wait_until
from test_corruption import data_batches
from test_replication import (RATE, Writer, assert_replicas_identical, check_history,
                              cluster, create, read_partition)

__all__ = ["cluster"]  # the fixture, shared with test_replication


def test_a_follower_with_a_damaged_log_repairs_it_from_its_peers(cluster):
    create(cluster, "mended", 1)
    writer = Writer(cluster.bootstrap(), "mended").start()
    writer.wait_for(RATE)
    leader = cluster.leaders("mended", 1)[0]
    victim = next(i for i in cluster.nodes if i != leader)
    node = cluster.nodes[victim]
    segment = node.data_dir / "topics" / "mended-0" / "00000000000000000000.log"
    # Damage needs batches on both sides of it (a loaded machine batches more per request).
    wait_until(lambda: len(data_batches(segment)) >= 3, 30, "three batches on the follower")
    node.stop()
    batches = data_batches(segment)
    assert len(batches) >= 3, batches
    position, offset = batches[len(batches) // 2]
    data = bytearray(segment.read_bytes())
    data[position + 70] ^= 0x40  # inside the first record, under the batch's CRC
    segment.write_bytes(bytes(data))
    writer.wait_for(len(writer.acked) + RATE // 2)  # it falls further behind meanwhile

    node.start(timeout=60)
    damaged = [line for line in node.logs().splitlines() if "damaged log data" in line]
    assert len(damaged) == 1, node.log_tail()
    assert f"offsets {offset} to" in damaged[0] and "neither votes nor campaigns" in damaged[0]
    wait_until(lambda: len(cluster.in_sync("mended", leader)[0]) == 3, 30,
               f"node {victim} back in sync after its repair")
    writer.wait_for(len(writer.acked) + RATE // 2)
    wait_until(lambda: "it votes and campaigns again" in node.logs(), 30,
               f"node {victim} voting again once it holds what it had")
    print(f"node {victim}: {damaged[0]}\n"
          + next(line for line in node.logs().splitlines() if "campaigns again" in line))
    writer.finish()
    assert not writer.failed, writer.failed[:3]
    check_history(writer, read_partition(cluster.bootstrap(), "mended", 0))
    # Its log is byte for byte the others' again (control batches included).
    assert_replicas_identical(cluster, "mended", 0)

