"""Connection limits an operator sets: idle connections are closed after
kafka.idle_timeout_ms (a connection waiting in a long poll is not idle), connections
beyond kafka.max_connections are closed at once while the ones already open keep working, and
kafka.max_request_memory makes readers wait rather than fail."""
import socket
import struct
import threading
import time

from clients import (confluent_produce, create_topic, expected_by_partition, make_records,
                     read_partitions, assert_same_records)
from raw_kafka import closed_within, connect, read_response, request


def api_versions_ok(sock):
    sock.sendall(request(18, 0, 5))
    corr, body = read_response(sock)
    return corr == 5 and struct.unpack(">h", body[:2])[0] == 0


def test_idle_connections_are_closed(start_broker):
    b = start_broker("--idle-timeout-ms", "1000")
    idle = connect(b.address)
    busy = connect(b.address)
    # Within the timeout the idle connection is still open...
    assert not closed_within(idle, 0.5)
    # ...while one that keeps talking stays open well past it,
    for _ in range(8):
        assert api_versions_ok(busy)
        time.sleep(0.3)
    # and by now the idle one has been closed.
    assert closed_within(idle, 5), "an idle connection stayed open"
    busy.close()


def test_connections_beyond_the_limit_are_refused(start_broker):
    b = start_broker("--max-connections", "2")
    first, second = connect(b.address), connect(b.address)
    assert api_versions_ok(first) and api_versions_ok(second)
    third = connect(b.address)  # the kernel accepts it; the broker closes it
    assert closed_within(third, 10)
    assert api_versions_ok(first)
    first.close()
    # A freed slot is usable again (the count drops once the broker sees the close).
    deadline = time.monotonic() + 10
    while True:
        fourth = connect(b.address)
        try:
            if api_versions_ok(fourth):
                break
        except (AssertionError, OSError):
            pass  # closed at once: the old connection was not yet counted out
        fourth.close()
        assert time.monotonic() < deadline, "a freed connection slot was never reused"
        time.sleep(0.1)
    fourth.close()
    second.close()


def test_a_small_request_memory_budget_slows_producers_but_loses_nothing(start_broker):
    # 64 KiB for all connections together, while four producers each pipeline five requests
    # of up to 256 KiB: most requests wait in their sockets for others to be answered.
    b = start_broker("--max-request-memory", "65536")
    topic = "budget"
    create_topic(b.bootstrap, topic, 4)
    sent, failures = {}, []

    def produce(partition):
        try:
            records = make_records(3000, first_seq=partition * 100_000)
            reports = confluent_produce(b.bootstrap, topic, records, partition=partition,
                                        **{"batch.size": 262144, "linger.ms": 20,
                                           "max.in.flight.requests.per.connection": 5,
                                           "enable.idempotence": False})
            sent[partition] = (records, [(p, off) for _, p, off in reports])
        except Exception as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    expected = {}
    for records, placements in sent.values():
        expected.update(expected_by_partition(records, placements))
    got = read_partitions(b.bootstrap, topic, {p: len(rows) for p, rows in expected.items()})
    assert_same_records(got, expected, "after producing under a tight memory budget")
