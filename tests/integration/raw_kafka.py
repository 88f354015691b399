"""Kafka requests written byte by byte, for what Debian's clients cannot send (malformed
frames, and APIs newer than confluent-kafka 1.7 / kafka-python 2.0.2 such as DeleteRecords,
IncrementalAlterConfigs and DescribeCluster)."""
import socket
import struct

MAX_REQUEST = 100 * 1024 * 1024


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def request(api_key, version, corr, body=b"", flexible=False, client_id=b"raw-test"):
    """A request frame: header v1 (key, version, correlation id, client id), or v2 (plus an
    empty tagged-field section) for flexible versions."""
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    return frame(header + (b"\x00" if flexible else b"") + body)


def connect(address):
    sock = socket.create_connection(address, timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class ConnectionClosed(AssertionError):
    """The broker closed the connection before a whole response arrived (e.g. a node cut off
    from the controller closes Metadata connections so that clients move to another node)."""


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionClosed(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_response(sock):
    """One response frame -> (correlation id, body after a v0 response header)."""
    (size,) = struct.unpack(">i", read_exact(sock, 4))
    assert 4 <= size < MAX_REQUEST, size
    data = read_exact(sock, size)
    return struct.unpack(">i", data[:4])[0], data[4:]


def call(address, api_key, version, body, flexible=False):
    """Sends one request and returns the response body (after the response header)."""
    with connect(address) as sock:
        sock.sendall(request(api_key, version, 1, body, flexible))
        corr, resp = read_response(sock)
    assert corr == 1
    if flexible:
        assert resp[0] == 0, "unexpected tagged fields in the response header"
        resp = resp[1:]
    return resp


def string(s):
    data = s.encode()
    return struct.pack(">h", len(data)) + data


def nullable_string(s):
    return struct.pack(">h", -1) if s is None else string(s)


def compact_string(s):
    data = s.encode()
    return uvarint(len(data) + 1) + data


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class Reader:
    """Reads classic (non-flexible) fields in order."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        values = struct.unpack(fmt, self.data[self.pos:self.pos + size])
        self.pos += size
        return values[0] if len(values) == 1 else values

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def uvarint(self):
        shift = result = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    def compact_string(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def done(self):
        return self.pos == len(self.data)


def fetch_v4_partitions(body):
    """A Fetch v4 response -> {partition: (error code, bytes of records)} (one topic)."""
    r = Reader(body)
    r.take(">i")  # throttle
    out = {}
    for _ in range(r.take(">i")):
        r.string()
        for _ in range(r.take(">i")):
            partition, error = r.take(">ih")
            r.take(">qq")
            aborted = r.take(">i")
            r.pos += max(aborted, 0) * 16
            size = r.take(">i")
            r.pos += max(size, 0)
            out[partition] = (error, max(size, 0))
    assert r.done()
    return out


def closed_within(sock, seconds):
    """True if the broker closes `sock` within `seconds` (without sending anything)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
