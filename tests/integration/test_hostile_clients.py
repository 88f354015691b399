"""Clients that try to starve the others through the request memory budget, and bad input
that must not flood the log (issue: hardening before the cluster).

- A size prefix alone (100 MiB claimed, two bytes sent) charges nothing but the bytes that
  arrive: three such connections used to fill the 256 MiB budget and stop every producer.
  They are closed after kafka.request_read_timeout_ms, and the broker's RSS stays small.
- A Fetch's wait is capped by kafka.max_fetch_wait_ms, and parked Fetches end when their
  client disconnects, giving back their request memory (they used to hold it ~25 days).
- ApiVersions v3 with a body that does not decode, or with an invalid client software name,
  gets INVALID_REQUEST, as Kafka answers.
- Malformed requests are logged at debug only, with a counted summary at warn.
"""
import os
import socket
import struct
import time

from confluent_kafka import Producer

from clients import create_topic
from raw_kafka import closed_within, connect, read_response, request, string

API_VERSIONS, FETCH = 18, 1
INVALID_REQUEST = 42
MAX_WAIT = 2**31 - 1


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def produce_one_mib(b, topic, count=4):
    """Produces `count` records of ~900 KB with acks=all, one request each; returns the seconds
    it took (the records' delivery is checked)."""
    started = time.monotonic()
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": 20000, "message.max.bytes": 1_000_000})
    delivered = []
    for i in range(count):
        p.produce(topic, value=b"%d" % i + b"x" * 900_000, partition=0,
                  on_delivery=lambda err, msg: delivered.append(err))
    assert p.flush(30) == 0, "records not delivered within 30 s"
    assert delivered == [None] * count, delivered
    return time.monotonic() - started


def test_size_prefixes_alone_do_not_hold_the_budget(start_broker):
    b = start_broker("--request-read-timeout-ms", "2000")
    create_topic(b.bootstrap, "victim", 1)
    rss_before = rss_bytes(b.proc.pid)
    attackers = []
    for _ in range(6):  # each claims 100 MiB: 600 MiB against a 256 MiB budget
        s = connect(b.address)
        s.sendall(struct.pack(">i", 100 * 1024 * 1024) + b"\x00\x12")
        attackers.append(s)
    time.sleep(0.5)
    # Other clients are served at once, while the attackers are still connected.
    assert produce_one_mib(b, "victim") < 15
    grown = rss_bytes(b.proc.pid) - rss_before
    # (A sanitized build keeps freed memory in quarantine: the bound is looser there; the
    # defect it catches held 600 MiB.)
    limit = (256 << 20) if "asan" in os.environ.get("TRIBUTARY_BIN", "") else 64 << 20
    assert grown < limit, f"RSS grew by {grown} bytes for 6 stalled prefixes"
    # The stalled requests are closed after the read timeout (2 s), not the idle one (600 s).
    for s in attackers:
        assert closed_within(s, 10), "a stalled request's connection stayed open"
        s.close()


def fetch_v4(topic, partitions, max_wait_ms, corr):
    """A Fetch v4 for partition 0 of `topic` from offset 0, listed `partitions` times (to
    make the request large), waiting for one byte."""
    parts = struct.pack(">i", partitions) + struct.pack(">iqi", 0, 0, 1 << 20) * partitions
    body = (struct.pack(">iiii", -1, max_wait_ms, 1, 50 << 20) + b"\x00" +
            struct.pack(">i", 1) + string(topic) + parts)
    return request(FETCH, 4, corr, body)


def test_a_fetch_waits_no_longer_than_the_cap(start_broker):
    b = start_broker("--max-fetch-wait-ms", "1000")
    create_topic(b.bootstrap, "quiet", 1)
    with connect(b.address) as s:
        started = time.monotonic()
        s.sendall(fetch_v4("quiet", 1, MAX_WAIT, 7))
        s.settimeout(10)
        corr, _ = read_response(s)
        waited = time.monotonic() - started
    assert corr == 7
    assert 0.9 <= waited < 5, f"a Fetch asking to wait forever was answered after {waited} s"


def test_parked_fetches_give_their_memory_back_when_the_client_goes(start_broker):
    # 4 MiB of budget; 8 parked Fetches of ~1 MiB each would hold all of it for ~25 days.
    # (Each lists 65,000 partitions to be that large: few of them keep the test light on CPU
    # in the sanitized build, where CI saw it take over 20 s with 24.)
    b = start_broker("--max-request-memory", str(4 << 20))
    create_topic(b.bootstrap, "parked", 1)
    create_topic(b.bootstrap, "victim", 1)
    parkers = []
    for i in range(8):
        s = connect(b.address)
        s.sendall(fetch_v4("parked", 65_000, MAX_WAIT, i))
        parkers.append(s)
    time.sleep(1)
    for s in parkers:
        s.close()
    # With the parked Fetches gone, 1 MiB produces get the budget again.
    assert produce_one_mib(b, "victim") < 15


def api_versions_v3(client_name, client_version, corr):
    body = (bytes([len(client_name) + 1]) + client_name + bytes([len(client_version) + 1]) +
            client_version + b"\x00")
    return request(API_VERSIONS, 3, corr, body, flexible=True)


def api_versions_v3_error(sock, frame, corr):
    sock.sendall(frame)
    got, body = read_response(sock)
    assert got == corr
    return struct.unpack(">h", body[:2])[0]  # v3 responses use header v0


def test_api_versions_v3_with_a_bad_body_gets_invalid_request(start_broker):
    b = start_broker()
    with connect(b.address) as s:
        assert api_versions_v3_error(s, api_versions_v3(b"librdkafka", b"2.0.2", 1), 1) == 0
        assert api_versions_v3_error(s, api_versions_v3(b"", b"2.0.2", 2), 2) == INVALID_REQUEST
        assert api_versions_v3_error(s, api_versions_v3(b"bad name!", b"1", 3),
                                     3) == INVALID_REQUEST
        # A body cut short: the software name claims 80 bytes.
        garbage = request(API_VERSIONS, 3, 4, b"\x51abc", flexible=True)
        assert api_versions_v3_error(s, garbage, 4) == INVALID_REQUEST
        # The connection stays usable.
        assert api_versions_v3_error(s, api_versions_v3(b"kcat", b"1.7.1", 5), 5) == 0


def test_malformed_requests_are_not_logged_one_by_one(start_broker):
    b = start_broker()
    for i in range(300):
        with connect(b.address) as s:
            # An unknown API key, then a size prefix far too large.
            s.sendall(request(999, 0, i) if i % 2 else struct.pack(">i", -5))
            closed_within(s, 5)
    lines = b.logs().splitlines()
    noisy = [line for line in lines if "closing" in line]
    assert len(noisy) < 5, f"{len(noisy)} log lines for 300 bad requests:\n" + "\n".join(
        noisy[:10])
