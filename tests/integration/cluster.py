"""Several tributary processes on loopback forming one cluster: node i (1..n) with its own
data directory, Kafka port and rpc port; the first `voters` nodes are the controller's
voters. Metadata is read from one node at a time with raw requests, so a test can compare
what each node says."""
import struct

from broker import Broker, free_port, wait_until
from raw_kafka import Reader, call, string

METADATA = 3


class Cluster:
    def __init__(self, binary, root, nodes=3, voters=3, extra_args=(), log_level="info"):
        self.rpc_ports = {i: free_port() for i in range(1, nodes + 1)}
        self.voters = ",".join(f"{i}@127.0.0.1:{self.rpc_ports[i]}"
                               for i in range(1, voters + 1))
        self.nodes = {}
        for i in range(1, nodes + 1):
            args = ["--rpc-listen", f"127.0.0.1:{self.rpc_ports[i]}",
                    "--controller-voters", self.voters,
                    "--broker-session-timeout-ms", "3000",
                    "--broker-heartbeat-interval-ms", "300", *extra_args]
            self.nodes[i] = Broker(binary, root / f"node-{i}" / "data", extra_args=args,
                                   name=f"node-{i}", node_id=i, log_level=log_level)

    def start(self):
        # Every node waits for a controller quorum before it serves: start them together.
        import threading
        errors = []

        def run(b):
            try:
                b.start(timeout=60)
            except AssertionError as e:
                errors.append(e)

        threads = [threading.Thread(target=run, args=(b,)) for b in self.nodes.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[0]
        wait_until(lambda: len(self.metadata(1)["brokers"]) == len(self.nodes), 30,
                   "every broker registered")
        return self

    def bootstrap(self, *ids):
        return ",".join(self.nodes[i].bootstrap for i in ids or self.nodes)

    def close(self):
        problems = [p for p in (b.close() for b in self.nodes.values()) if p]
        return problems

    def metadata(self, node, topics=None):
        """Metadata v1 from one node: {brokers: {id: (host, port)}, controller, topics:
        {name: (error, [(partition, error, leader, replicas, isr)])}}."""
        if topics is None:
            body = struct.pack(">i", -1)
        else:
            body = struct.pack(">i", len(topics)) + b"".join(string(t) for t in topics)
        r = Reader(call(self.nodes[node].address, METADATA, 1, body))
        brokers = {}
        for _ in range(r.take(">i")):
            node_id, host, port, _rack = r.take(">i"), r.string(), r.take(">i"), r.string()
            brokers[node_id] = (host, port)
        controller = r.take(">i")
        out = {}
        for _ in range(r.take(">i")):
            error, name, _internal = r.take(">h"), r.string(), r.take(">b")
            parts = []
            for _ in range(r.take(">i")):
                perr, index, leader = r.take(">h"), r.take(">i"), r.take(">i")
                replicas = [r.take(">i") for _ in range(r.take(">i"))]
                isr = [r.take(">i") for _ in range(r.take(">i"))]
                parts.append((index, perr, leader, replicas, isr))
            out[name] = (error, sorted(parts))
        return {"brokers": brokers, "controller": controller, "topics": out}

    def wait_for_leaders(self, topic, timeout=20):
        """Until every live node names a leader for each partition of `topic` (Raft elects
        them after the topic is created)."""
        def elected():
            for i, b in self.nodes.items():
                if not b.alive:
                    continue
                topics = self.metadata(i, [topic])["topics"]
                if topic not in topics or any(leader < 0 for _, _, leader, _, _ in
                                              topics[topic][1]):
                    return False
            return True
        wait_until(elected, timeout, f"leaders elected for {topic}")

    def leaders(self, topic, via):
        """{partition: leader} as node `via` reports it (-1: none)."""
        _, parts = self.metadata(via, [topic])["topics"][topic]
        return {index: leader for index, _, leader, _, _ in parts}

    def in_sync(self, topic, via):
        """{partition: ISR} as node `via` reports it."""
        _, parts = self.metadata(via, [topic])["topics"][topic]
        return {index: sorted(isr) for index, _, _, _, isr in parts}

    def live(self):
        return [i for i, b in self.nodes.items() if b.alive]

    def controller_leader(self):
        """The node that logged leading the controller in the highest term, among those up."""
        import re
        best = (-1, -1)
        for i, b in self.nodes.items():
            if not b.alive:
                continue
            for m in re.finditer(r"node (\d+) leads the controller in term (\d+)", b.logs()):
                best = max(best, (int(m.group(2)), int(m.group(1))))
        return best[1]
