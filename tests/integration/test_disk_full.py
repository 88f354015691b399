"""A full data disk (issue: hardening before the cluster), on a real size-limited tmpfs the
test mounts itself (as root, as CI runs) and removes.

- Produces fail with an error while the disk is full, and the broker keeps running.
- DeleteTopics works on the full disk (it used to fail with KAFKA_STORAGE_ERROR, so the only
  way out was a shell on the host): the metadata write it needs takes the space reserve, and
  deleting frees the topic's space; afterwards produces succeed again.
- The disk filling up and emptying are logged once each, not once per failed request.
"""
import pathlib
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from broker import Broker
from clients import create_topic


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def produce(bootstrap, topic, count, size=100_000, timeout_ms=5000):
    """Produces `count` records of `size` bytes with acks=all; returns how many succeeded."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": timeout_ms, "retries": 0,
                  "enable.idempotence": False})
    ok = []
    payload = uuid.uuid4().bytes * (size // 16)
    for _ in range(count):
        while True:
            try:
                p.produce(topic, value=payload,
                          on_delivery=lambda err, msg: ok.append(err is None))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    p.flush(60)
    return sum(ok)


def test_a_full_disk_can_be_freed_through_the_kafka_api(tributary_bin, small_disk):
    b = Broker(tributary_bin, small_disk / "data", extra_args=(
        "--disk-reserve-bytes", str(4 << 20), "--segment-bytes", str(4 << 20)))
    b.start()
    try:
        create_topic(b.bootstrap, "filler", 1)
        # 48 MiB of disk, 4 MiB of it in reserve: 600 records of 100 KB cannot all fit.
        written = produce(b.bootstrap, "filler", 600)
        assert 100 < written < 600, f"{written} records of 100 KB fit on a 48 MiB disk"
        assert b.alive

        adm = AdminClient({"bootstrap.servers": b.bootstrap})
        adm.delete_topics(["filler"], operation_timeout=30)["filler"].result(30)

        create_topic(b.bootstrap, "after", 1)
        assert produce(b.bootstrap, "after", 20) == 20, "produces still fail after the delete"
        deadline = time.monotonic() + 10  # the free space is looked at every 200 ms
        while "disk has space again" not in b.logs():
            assert time.monotonic() < deadline, b.log_tail()
            time.sleep(0.3)
            produce(b.bootstrap, "after", 1)
        lines = b.logs().splitlines()
        full = [line for line in lines if "disk full writing" in line]
        assert len(full) == 1, f"{len(full)} disk-full lines:\n" + "\n".join(full[:5])
        assert any("disk has space again" in line for line in lines), b.log_tail()
        assert any("releasing the" in line for line in lines), b.log_tail()
        # The reserve is taken back once there is room.
        deadline = time.monotonic() + 10
        reserve = pathlib.Path(small_disk / "data" / "space_reserve")
        while not (reserve.exists() and reserve.stat().st_size == 4 << 20):
            create_topic(b.bootstrap, f"t{int(time.monotonic() * 1000)}", 1)
            assert time.monotonic() < deadline, "the space reserve was never restored"
    finally:
        problem = b.close()
        print(b.log_tail(100))
    assert problem is None, problem
