"""A TCP proxy between Kafka clients and a broker that loses Produce responses on purpose: it
forwards every request, and for every `every`-th Produce response (up to `limit` times) it
closes both connections instead of forwarding it. The broker has then appended the batch but
the client never hears so, and retries on a new connection: exactly the case an idempotent
producer must survive without duplicates."""
import socket
import struct
import threading

PRODUCE = 0


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    head = read_exact(sock, 4)
    if head is None:
        return None
    body = read_exact(sock, struct.unpack(">i", head)[0])
    return None if body is None else head + body


class CuttingProxy:
    def __init__(self, listen_port, broker_address, every=7, limit=10):
        self.broker_address = broker_address
        self.every, self.limit = every, limit
        self.produce_responses = 0
        self.cuts = 0
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", listen_port))
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.broker_address)
            except OSError:
                client.close()
                continue
            produce_ids = set()  # correlation ids of Produce requests in flight
            threading.Thread(target=self._requests, args=(client, upstream, produce_ids),
                             daemon=True).start()
            threading.Thread(target=self._responses, args=(client, upstream, produce_ids),
                             daemon=True).start()

    def _requests(self, client, upstream, produce_ids):
        try:
            while True:
                frame = read_frame(client)
                if frame is None:
                    break
                api_key, _version, corr = struct.unpack(">hhi", frame[4:12])
                if api_key == PRODUCE:
                    produce_ids.add(corr)
                upstream.sendall(frame)
        except OSError:
            pass
        self._close(client, upstream)

    def _responses(self, client, upstream, produce_ids):
        try:
            while True:
                frame = read_frame(upstream)
                if frame is None:
                    break
                (corr,) = struct.unpack(">i", frame[4:8])
                if corr in produce_ids:
                    produce_ids.discard(corr)
                    with self.lock:
                        self.produce_responses += 1
                        cut = (self.cuts < self.limit
                               and self.produce_responses % self.every == 0)
                        if cut:
                            self.cuts += 1
                    if cut:
                        break  # the broker appended it; the client will never know
                client.sendall(frame)
        except OSError:
            pass
        self._close(client, upstream)

    @staticmethod
    def _close(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.closed = True
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.server.close()
