"""Loopback ports for test servers that no parallel test, and no outgoing connection, can
take before the server binds them.

A port found free by binding port 0 comes from the kernel's ephemeral range (32768-60999),
where any connect() or a test running in parallel may take it before our server binds it.
These come from below that range and are claimed with a lock file that every test process
honours (tests/unit/test_port.h uses the same directory and range). A claim lasts until the
process that made it exits, so a broker restarted on its port finds it still ours.
"""
import fcntl
import os
import random
import socket

LOW, HIGH = 20000, 32000
LOCK_DIR = "/tmp/tributary-test-ports"
_claims = []  # open lock files: closing one would release its port


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    """A TCP port on 127.0.0.1 reserved for this process."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    for _ in range(4000):
        port = random.randrange(LOW, HIGH)
        f = open(os.path.join(LOCK_DIR, str(port)), "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        if not _bindable(port):
            f.close()
            continue
        _claims.append(f)
        return port
    raise RuntimeError(f"no free test port in {LOW}-{HIGH}")


def free_ports(n):
    return [free_port() for _ in range(n)]
