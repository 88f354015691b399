"""A black-box wire fuzz of the Kafka port (issue: hardening before the cluster): inputs
mutated from real clients' request frames (tests/unit/kafka/protocol/golden), truncated
frames, lying size prefixes and random bytes, over many short connections, while a canary
client produces and fetches throughout. The broker must stay up, the canary must never fail,
and its peak RSS must stay far below the request memory budget (a flood of bad input must
not make it hold memory). Prints the inputs sent, the canary's rounds and the peak RSS.

TRIB_FUZZ_INPUTS sets the count (default 20000), TRIB_FUZZ_RATE the inputs per second
(default 2000, so the canary runs throughout), TRIB_FUZZ_SEED the seed.
"""
import os
import pathlib
import random
import socket
import struct
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from clients import create_topic

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "unit" / "kafka" / "protocol" / "golden"


def golden_frames():
    # CreateTopics is left out: mutated, it creates real topics with up to thousands of
    # partitions, each holding open files, which exhausts descriptors as any admin flood
    # would (a quota question, not a decoding one).
    frames = [bytes.fromhex(p.read_text().strip()) for p in sorted(GOLDEN.glob("*.hex"))
              if "CreateTopics" not in p.name]
    assert len(frames) > 20, f"golden frames missing under {GOLDEN}"
    return frames


def mutate(rng, frames):
    """One fuzz input: bytes to send on a fresh connection."""
    base = bytearray(rng.choice(frames))
    kind = rng.randrange(8)
    if kind == 0:  # flip bytes
        for _ in range(rng.randint(1, 8)):
            base[rng.randrange(len(base))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate the body, keep the size honest
        base = base[:rng.randrange(len(base))]
    elif kind == 2:  # overwrite with boundary integers (lengths, counts)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(max(1, len(base) - 4))
            base[at:at + 4] = struct.pack(">i", rng.choice([-1, 0, 1, 0x7FFFFFFF, -0x80000000,
                                                            0xFFFF, 1 << 20]))
    elif kind == 3:  # random API key and version on a real body
        base[0:4] = struct.pack(">hh", rng.randrange(-2, 80), rng.randrange(-1, 20))
    elif kind == 4:  # trailing junk
        base += rng.randbytes(rng.randint(1, 64))
    elif kind == 5:  # pure noise
        base = bytearray(rng.randbytes(rng.randint(1, 200)))
    if kind == 6:  # a size prefix that lies (too large, negative, or larger than sent)
        prefix = struct.pack(">i", rng.choice([-7, 0, 3, 1 << 30, len(base) + 1000,
                                               100 * 1024 * 1024]))
    else:
        prefix = struct.pack(">i", len(base))
    data = prefix + bytes(base)
    if kind == 7:  # two frames back to back, the second cut short
        data += data[:rng.randrange(1, len(data))]
    return data


def rss(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


class Canary(threading.Thread):
    """Produces one record and reads it back, over and over, recording failures."""

    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.stop = threading.Event()
        self.rounds = 0
        self.failures = []

    def run(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 0,
                      "message.timeout.ms": 10000})
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "canary",
                      "enable.auto.commit": False, "fetch.wait.max.ms": 50})
        c.assign([TopicPartition("canary", 0, 0)])
        while not self.stop.is_set():
            value = b"canary-%d" % self.rounds
            done = []
            p.produce("canary", value=value, partition=0,
                      on_delivery=lambda err, msg: done.append(err))
            p.flush(15)
            if done != [None]:
                self.failures.append(f"round {self.rounds}: produce {done}")
                continue
            deadline = time.monotonic() + 15
            while True:
                m = c.poll(0.2)
                if m is not None and not m.error() and m.value() == value:
                    break
                if time.monotonic() > deadline:
                    self.failures.append(f"round {self.rounds}: not read back within 15 s")
                    break
            self.rounds += 1
        c.close()


def test_wire_fuzz_with_a_canary(start_broker):
    b = start_broker("--request-read-timeout-ms", "1000")
    create_topic(b.bootstrap, "canary", 1)
    count = int(os.environ.get("TRIB_FUZZ_INPUTS", "20000"))
    rate = float(os.environ.get("TRIB_FUZZ_RATE", "2000"))
    rng = random.Random(int(os.environ.get("TRIB_FUZZ_SEED", "20261202")))
    frames = golden_frames()
    canary = Canary(b.bootstrap)
    canary.start()
    rss_start = rss(b.proc.pid, "VmRSS")
    started = time.monotonic()
    sent = 0
    open_socks = []
    while sent < count:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(5)
        s.connect(b.address)
        for _ in range(rng.randint(1, 4)):
            try:
                s.sendall(mutate(rng, frames))
            except OSError:
                break  # the broker closed it: the next input gets a new connection
            sent += 1
        # Most connections are dropped at once (RST); some are left open mid-request, so
        # stalled requests pile up until the read timeout closes them.
        if rng.random() < 0.05 and len(open_socks) < 200:
            open_socks.append(s)
        else:
            s.close()
        if len(open_socks) >= 200:
            for o in open_socks:
                o.close()
            open_socks = []
        assert b.alive, f"the broker died after {sent} inputs:\n{b.log_tail()}"
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    for o in open_socks:
        o.close()
    elapsed = time.monotonic() - started
    time.sleep(1)
    canary.stop.set()
    canary.join(30)
    peak = rss(b.proc.pid, "VmHWM")
    print(f"fuzz: {sent} inputs in {elapsed:.1f} s; canary rounds {canary.rounds}, "
          f"failures {len(canary.failures)}; broker RSS at start {rss_start >> 20} MiB, "
          f"peak {peak >> 20} MiB")
    assert b.alive
    assert not canary.failures, canary.failures[:5]
    assert canary.rounds > 10, "the canary barely ran"
    # AddressSanitizer keeps freed memory in quarantine (256 MiB) and adds shadow memory.
    limit = (1 << 30) if "asan" in os.environ.get("TRIBUTARY_BIN", "") else 256 << 20
    assert peak < limit, f"peak RSS {peak >> 20} MiB"
    logs = b.logs()
    assert "ASSERT" not in logs and "assertion" not in logs.lower()
    assert "accept failed" not in logs, "descriptors ran out"
