"""Malformed and unusual input on the Kafka port, written byte by byte on raw sockets.

What this proves to anyone exposing the port:
- A frame whose size prefix is negative, zero or above the maximum request size (100 MiB),
  a header cut short inside its frame, an unknown API key, or a known API at a version the
  broker does not support closes that connection, without a reply and without waiting for
  bytes that will never come.
- ApiVersions v0 built by hand gets a well-formed v0 response (correlation id echoed, error 0,
  every first-stage API listed). ApiVersions at an unsupported version gets error 35
  (UNSUPPORTED_VERSION) encoded at v0 with the supported ranges, and the connection stays
  usable, as KIP-511 clients (librdkafka) expect.
- A connection stuck halfway through a size prefix does not hold up other clients, and its
  request is answered once the rest arrives.
- 200 pipelined requests on one connection are answered in request order.
- After all of that the broker is still running and serves confluent-kafka normally.
All tests share one broker, so the last one sees everything the others did to it.
"""
import socket
import struct

import pytest

from broker import Broker
from raw_kafka import MAX_REQUEST, frame, read_exact, read_response, request
from raw_kafka import connect as raw_connect
from clients import (assert_same_records, confluent_produce, create_topic,
                     expected_by_partition, make_records, read_partitions)

API_VERSIONS, PRODUCE, FETCH, METADATA = 18, 0, 1, 3
FIRST_APIS = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 18: "ApiVersions",
              19: "CreateTopics", 20: "DeleteTopics"}
UNSUPPORTED_VERSION = 35


@pytest.fixture(scope="module")
def srv(tributary_bin, tmp_path_factory):
    b = Broker(tributary_bin, tmp_path_factory.mktemp("bad-input") / "data")
    b.start()
    yield b
    problem = b.close()
    print(f"--- {b.log_path}:\n{b.log_tail(200)}")
    assert problem is None, problem


def connect(srv):
    return raw_connect(srv.address)


def parse_api_versions_v0(body):
    """ApiVersions v0 body -> (error code, {api key: (min, max)}); exact length required."""
    error, count = struct.unpack(">hi", body[:6])
    assert len(body) == 6 + 6 * count, f"{len(body)} bytes for {count} entries"
    ranges = {}
    for i in range(count):
        key, lo, hi = struct.unpack(">hhh", body[6 + 6 * i:12 + 6 * i])
        assert key not in ranges and 0 <= lo <= hi, (key, lo, hi)
        ranges[key] = (lo, hi)
    return error, ranges


def api_versions(srv):
    with connect(srv) as sock:
        sock.sendall(request(API_VERSIONS, 0, 7))
        corr, body = read_response(sock)
    assert corr == 7
    error, ranges = parse_api_versions_v0(body)
    assert error == 0
    return ranges


def assert_closed(srv, sock, data):
    """Sends data (if the broker lets us) and expects the connection closed, with no reply."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still writing
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError(f"connection still open 10 s after {data[:24]!r}") from None
    assert got == b"", f"expected no reply before the close, got {got[:64]!r}"
    assert srv.alive, f"broker died:\n{srv.log_tail()}"


def test_api_versions_v0_built_by_hand(srv):
    with connect(srv) as sock:
        sock.sendall(request(API_VERSIONS, 0, 0x1234ABCD))
        corr, body = read_response(sock)
    assert corr == 0x1234ABCD
    error, ranges = parse_api_versions_v0(body)
    assert error == 0
    missing = {name for key, name in FIRST_APIS.items() if key not in ranges}
    assert not missing, f"not advertised: {missing}"
    assert ranges[API_VERSIONS][0] == 0, "ApiVersions v0 must stay answerable"


def test_api_versions_at_unsupported_version_answers_at_v0_and_keeps_connection(srv):
    ranges = api_versions(srv)
    # As a future client would send it: flexible header, body of compact strings + tags.
    body = b"\x04raw" + b"\x041.0" + b"\x00"  # name "raw", version "1.0", no tags
    with connect(srv) as sock:
        sock.sendall(request(API_VERSIONS, 99, 42, body=body, flexible=True))
        corr, reply = read_response(sock)
        assert corr == 42
        error, advertised = parse_api_versions_v0(reply)
        assert error == UNSUPPORTED_VERSION
        assert advertised == ranges
        # The client retries at a version it now knows, on the same connection.
        sock.sendall(request(API_VERSIONS, 0, 43))
        corr, reply = read_response(sock)
        assert corr == 43 and parse_api_versions_v0(reply) == (0, ranges)


BAD_FRAMES = {
    "size 0x7fffffff": struct.pack(">I", 0x7FFFFFFF) + b"\x00" * 16,
    "size one over 100 MiB": struct.pack(">i", MAX_REQUEST + 1) + b"\x00" * 16,
    "size -1": struct.pack(">i", -1) + b"\x00" * 16,
    "size -2^31": struct.pack(">I", 0x80000000) + b"\x00" * 16,
    "size 0": struct.pack(">i", 0),
    "header cut after api key": frame(b"\x00\x12\x00"),
    "client id longer than frame": frame(struct.pack(">hhih", API_VERSIONS, 0, 1, 100) + b"abc"),
    "unknown api key 9999": request(9999, 0, 1),
    "unknown api key -1": request(-1, 0, 1),
}


@pytest.mark.parametrize("data", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_frame_closes_connection(srv, data):
    with connect(srv) as sock:
        assert_closed(srv, sock, data)


@pytest.mark.parametrize("api_key", [METADATA, PRODUCE, FETCH])
def test_unsupported_version_closes_connection(srv, api_key):
    lo, hi = api_versions(srv)[api_key]
    versions = [hi + 1, 99] + ([lo - 1] if lo > 0 else [])
    for version in versions:
        with connect(srv) as sock:
            # A plausible header and body; the broker must not rely on either.
            assert_closed(srv, sock, request(api_key, version, 5, body=b"\x00" * 12,
                                             flexible=version >= 9))


def test_half_open_connection_does_not_block_others(srv):
    with connect(srv) as stuck:
        full = request(API_VERSIONS, 0, 1001)
        stuck.sendall(full[:2])  # half a size prefix, then nothing
        with connect(srv) as other:
            other.sendall(request(API_VERSIONS, 0, 1002))
            assert read_response(other)[0] == 1002
        create_topic(srv.bootstrap, "while-stuck", 1)
        records = make_records(50)
        reports = confluent_produce(srv.bootstrap, "while-stuck", records, partition=0)
        expected = expected_by_partition(records, [(p, o) for _, p, o in reports])
        assert_same_records(read_partitions(srv.bootstrap, "while-stuck", {0: 50}), expected,
                            "served while another connection is stuck")
        stuck.sendall(full[2:])  # the rest arrives: the request is answered
        corr, body = read_response(stuck)
        assert corr == 1001 and parse_api_versions_v0(body)[0] == 0


def metadata_request(version, corr):
    """Metadata for all topics at a non-flexible version (0-8)."""
    body = struct.pack(">i", 0 if version == 0 else -1)  # v0: empty = all; v1+: null = all
    if version >= 4:
        body += b"\x00"  # allow_auto_topic_creation
    if version >= 8:
        body += b"\x00\x00"  # include cluster / topic authorized operations
    return request(METADATA, version, corr, body=body)


def test_pipelined_requests_are_answered_in_order(srv):
    with connect(srv) as sock:
        sock.sendall(b"".join(request(API_VERSIONS, 0, corr) for corr in range(1, 201)))
        for corr in range(1, 201):
            got, body = read_response(sock)
            assert got == corr
            assert parse_api_versions_v0(body)[0] == 0

    lo, hi = api_versions(srv)[METADATA]
    usable = list(range(lo, min(hi, 8) + 1))
    assert usable, f"no non-flexible Metadata version in {lo}..{hi} (kafka-python needs v0, v1)"
    version = usable[-1]
    mixed = [metadata_request(version, c) if c % 2 == 0 else request(API_VERSIONS, 0, c)
             for c in range(1, 201)]
    with connect(srv) as sock:
        sock.sendall(b"".join(mixed))
        assert [read_response(sock)[0] for _ in range(200)] == list(range(1, 201))


def test_broker_survived_everything_and_serves_clients(srv):
    assert srv.alive, srv.log_tail()
    assert METADATA in api_versions(srv)
    create_topic(srv.bootstrap, "after-abuse", 2)
    records = make_records(400)
    reports = confluent_produce(srv.bootstrap, "after-abuse", records,
                                **{"compression.type": "zstd"})
    expected = expected_by_partition(records, [(p, o) for _, p, o in reports])
    counts = {p: len(expected.get(p, ())) for p in range(2)}
    assert_same_records(read_partitions(srv.bootstrap, "after-abuse", counts), expected,
                        "after bad input")
