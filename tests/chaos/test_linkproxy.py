"""The loopback network's link proxies (linkproxy.py) stall a flow the way a dropped-packet
fault does: nothing passes while it is blocked, a new connection made meanwhile gets nowhere,
and on heal every byte arrives once and in order; a lossy flow still delivers everything."""
import json
import pathlib
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
from ports import free_port  # noqa: E402


class Echo:
    """A server that sends back what it reads."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)


@pytest.fixture
def proxy(tmp_path):
    echo = Echo()
    port = free_port()
    config = tmp_path / "links.json"
    config.write_text(json.dumps([{"listen": ["127.0.0.1", port],
                                   "target": ["127.0.0.1", echo.port],
                                   "up": "1>2", "down": "2>1"}]))
    proc = subprocess.Popen([sys.executable, str(HERE / "linkproxy.py"), str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"

    def command(line):
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ok"

    yield port, command
    proc.stdin.close()
    proc.wait(5)
    echo.sock.close()


def receive(conn, count, timeout):
    conn.settimeout(timeout)
    got = b""
    try:
        while len(got) < count:
            data = conn.recv(65536)
            if not data:
                break
            got += data
    except socket.timeout:
        pass
    return got


def test_a_blocked_flow_holds_bytes_until_healed_in_order(proxy):
    port, command = proxy
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(b"before ")
    assert receive(conn, 7, 5) == b"before "
    command("block 1 2")
    conn.sendall(b"during ")
    late = socket.create_connection(("127.0.0.1", port))  # made while blocked
    late.sendall(b"late")
    assert receive(conn, 1, 0.5) == b"" and receive(late, 1, 0.2) == b""
    command("heal")
    conn.sendall(b"after")
    assert receive(conn, 12, 5) == b"during after"
    assert receive(late, 4, 5) == b"late"


def test_answers_alone_can_be_blocked_and_a_node_healed(proxy):
    port, command = proxy
    conn = socket.create_connection(("127.0.0.1", port))
    command("block 2 1")  # one way: the echo hears, its answers are held
    conn.sendall(b"x" * 1000)
    assert receive(conn, 1, 0.5) == b""
    command("heal-node 2")
    assert receive(conn, 1000, 5) == b"x" * 1000


def test_a_lossy_flow_delivers_everything_later(proxy):
    port, command = proxy
    command("loss 1 2 100")
    conn = socket.create_connection(("127.0.0.1", port))
    started = time.monotonic()
    conn.sendall(b"slow")
    assert receive(conn, 4, 5) == b"slow"
    assert time.monotonic() - started >= 0.2  # one retransmission's delay
