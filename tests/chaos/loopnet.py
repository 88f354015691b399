"""The chaos harness's network where namespaces are unavailable (no root, no nftables): every
node on its own loopback address, every link between two nodes and from the clients to each
node through a userspace proxy (linkproxy.py) that the faults stall. The same interface as
net.Network, so every nemesis runs on either.

Node i listens on 127.<A>.<B>.i. Node a reaches voter b at 127.<A>.<B>.(100 + 10a + b), the
proxy of link a->b, because each node is given its own --controller-voters list; clients
reach node i at 127.<A>.<B>.(200 + i), the address the node advertises. Nodes are numbered
1..9.

What it cannot do as the namespaces do: a broker that is no controller voter (the spare of
the replace fault) is reached at the address it registered, not through a proxy, so faults
do not cut links towards it; and the answer to a broker heartbeat goes straight to the
address the broker registered, past a one-way cut.
"""
import json
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
CLIENT = "c"


def available():
    return True, ""


class LoopbackNetwork:
    kafka_port = 29092  # below the ephemeral range; our own loopback addresses only
    rpc_port = 29093
    kind = "loopback"

    def __init__(self, nodes, run_dir):
        self.prefix = f"127.{77 + (os.getpid() // 250) % 100}.{os.getpid() % 250}"
        self.nodes = list(nodes)
        assert all(1 <= i <= 9 for i in self.nodes), "the loopback network numbers nodes 1..9"
        self.run_dir = pathlib.Path(run_dir)
        self.proc = None

    def host(self, node):
        return f"{self.prefix}.{node}"

    def client_address(self, node):
        return f"{self.prefix}.{200 + node}"

    def link_address(self, a, b):
        return f"{self.prefix}.{100 + 10 * a + b}"

    def voters(self, node, voter_ids):
        return ",".join(f"{v}@{self.host(v) if v == node else self.link_address(node, v)}:"
                        f"{self.rpc_port}" for v in voter_ids)

    def exec_prefix(self, node):
        return []

    def create(self):
        links = []
        for a in self.nodes:
            links.append({"listen": [self.client_address(a), self.kafka_port],
                          "target": [self.host(a), self.kafka_port],
                          "up": f"{CLIENT}>{a}", "down": f"{a}>{CLIENT}"})
            for b in self.nodes:
                if a != b:
                    links.append({"listen": [self.link_address(a, b), self.rpc_port],
                                  "target": [self.host(b), self.rpc_port],
                                  "up": f"{a}>{b}", "down": f"{b}>{a}"})
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "links.json"
        config.write_text(json.dumps(links))
        self.proc = subprocess.Popen([sys.executable, str(HERE / "linkproxy.py"), str(config)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the loopback link proxies did not start")
        return self

    def _send(self, *commands):
        for c in commands:
            self.proc.stdin.write(c + "\n")
        self.proc.stdin.flush()
        for c in commands:
            if self.proc.stdout.readline().strip() != "ok":
                raise RuntimeError(f"the link proxies refused {c!r}")

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    # Faults: the same as net.Network's, as stalled flows.

    def isolate(self, groups):
        blocks = []
        for i in self.nodes:
            own = next((g for g in groups if i in g), [i])
            blocks += [f"block {i} {j}" for j in self.nodes if j not in own]
        self._send("heal", *blocks)

    def one_way(self, node, from_nodes):
        self._send(f"heal-node {node}", *[f"block {j} {node}" for j in from_nodes])

    def flaky(self, node, percent):
        peers = [j for j in self.nodes if j != node]
        self._send(f"heal-node {node}", *[f"loss {node} {j} {int(percent)}" for j in peers],
                   *[f"loss {j} {node} {int(percent)}" for j in peers])

    def cut_client(self, node, kafka_port=None):
        self._send(f"heal-node {node}", f"block {CLIENT} {node}", f"block {node} {CLIENT}")

    def heal(self, nodes=None):
        if nodes is None:
            self._send("heal")
        else:
            self._send(*[f"heal-node {i}" for i in nodes])
