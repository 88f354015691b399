"""The chaos harness's network: one network namespace per node on a bridge, and the faults
nftables can cause in it.

Node i lives in namespace `<prefix>n<i>` with address 10.<A>.<B>.i on a veth whose other end
is on bridge `<prefix>br`; the root namespace (clients, checker) is 10.<A>.<B>.254 on the
bridge. Faults are nftables tables inside a node's namespace (input and output hooks), so
they cut exactly the links chosen and nothing else: healing deletes the table. Every
namespace and interface is removed by `close()`, which the harness runs on exit, on signals
and on failure. Needs root (CAP_NET_ADMIN).
"""
import os
import subprocess

CLIENT_HOST = 254
TABLE = "chaos"


def run(*args, check=True, input=None):
    """Runs one command; a failure names the command and its stderr."""
    done = subprocess.run(list(args), input=input, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def available():
    """Whether this process can create namespaces and nftables rules (root with the tools)."""
    if os.geteuid() != 0:
        return False, "not root"
    for tool in ("ip", "nft"):
        if run("sh", "-c", f"command -v {tool}", check=False).returncode != 0:
            return False, f"{tool} is not installed"
    probe = f"trcprobe{os.getpid() % 10000}"
    if run("ip", "netns", "add", probe, check=False).returncode != 0:
        return False, "cannot create a network namespace"
    run("ip", "netns", "del", probe, check=False)
    return True, ""


class Network:
    """Namespaces for nodes 1..n on one bridge; `cut` and `heal` change what reaches whom."""

    kafka_port = 9092
    rpc_port = 9093
    kind = "namespaces"

    def __init__(self, nodes, prefix=None):
        self.prefix = prefix or f"trc{os.getpid() % 100000}"
        # A /24 of its own per run, so two harnesses on one machine never share addresses.
        self.subnet = f"10.{77 + (os.getpid() // 250) % 100}.{os.getpid() % 250}"
        self.nodes = list(nodes)
        self.created_namespaces = []
        self.bridge = None
        self.rules = {}  # node -> nft ruleset text in force

    def namespace(self, node):
        return f"{self.prefix}n{node}"

    def host(self, node):
        return f"{self.subnet}.{node}"

    def client_address(self, node):
        """Where clients reach node (its namespace's address)."""
        return self.host(node)

    def voters(self, node, voter_ids):
        """The --controller-voters node is given: the same for every node here."""
        return ",".join(f"{v}@{self.host(v)}:{self.rpc_port}" for v in voter_ids)

    @property
    def client_host(self):
        return f"{self.subnet}.{CLIENT_HOST}"

    def create(self):
        br = f"{self.prefix}br"
        run("ip", "link", "add", br, "type", "bridge")
        self.bridge = br
        run("ip", "addr", "add", f"{self.client_host}/24", "dev", br)
        run("ip", "link", "set", br, "up")
        for i in self.nodes:
            self.add_node(i)
        return self

    def add_node(self, i):
        ns, veth, peer = self.namespace(i), f"{self.prefix}v{i}", f"{self.prefix}p{i}"
        run("ip", "netns", "add", ns)
        self.created_namespaces.append(ns)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
        run("ip", "link", "set", peer, "master", self.bridge, "up")
        run("ip", "link", "set", veth, "netns", ns)
        run("ip", "-n", ns, "addr", "add", f"{self.host(i)}/24", "dev", veth)
        run("ip", "-n", ns, "link", "set", veth, "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        if i not in self.nodes:
            self.nodes.append(i)

    def close(self):
        """Removes every namespace and interface this network made (safe to call twice)."""
        for ns in self.created_namespaces:
            run("ip", "netns", "del", ns, check=False)
        self.created_namespaces = []
        if self.bridge:
            run("ip", "link", "del", self.bridge, check=False)
            self.bridge = None
        # A veth's bridge end goes with its namespace end; any left over goes here.
        for i in self.nodes:
            run("ip", "link", "del", f"{self.prefix}p{i}", check=False)

    def exec_prefix(self, node):
        """The command prefix that runs a program inside node's namespace."""
        return ["ip", "netns", "exec", self.namespace(node)]

    # Faults. Each node holds at most one table; a new fault on a node replaces its rules.

    def _apply(self, node, drop_in, drop_out):
        """Drops packets in node's namespace: from the hosts in drop_in (input hook) and to
        the hosts in drop_out (output hook). Each entry is a host or (host, rule suffix)."""
        ns = self.namespace(node)
        run("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", TABLE, check=False)
        self.rules.pop(node, None)
        if not drop_in and not drop_out:
            return

        def rules(direction, entries):
            out = []
            for e in entries:
                host, extra = (e, "") if isinstance(e, str) else e
                out.append(f"    ip {direction} {host} {extra} drop")
            return "\n".join(out)

        text = (f"table inet {TABLE} {{\n"
                f"  chain input {{ type filter hook input priority 0; policy accept;\n"
                f"{rules('saddr', drop_in)}\n  }}\n"
                f"  chain output {{ type filter hook output priority 0; policy accept;\n"
                f"{rules('daddr', drop_out)}\n  }}\n}}\n")
        run("ip", "netns", "exec", ns, "nft", "-f", "-", input=text)
        self.rules[node] = text

    def isolate(self, groups):
        """Network partition: nodes reach only the nodes of their own group (each group a
        list of node ids; nodes in no group are cut from everyone). Clients reach all."""
        for i in self.nodes:
            own = next((g for g in groups if i in g), [i])
            others = [self.host(j) for j in self.nodes if j not in own]
            self._apply(i, others, others)

    def one_way(self, node, from_nodes):
        """Node hears nothing from from_nodes, while they still hear it."""
        hosts = [self.host(j) for j in from_nodes]
        self._apply(node, hosts, [])

    def flaky(self, node, percent):
        """Drops `percent` % of packets at random between node and its peers, both ways."""
        extra = f"numgen random mod 100 < {int(percent)}"
        peers = [(self.host(j), extra) for j in self.nodes if j != node]
        self._apply(node, peers, peers)

    def cut_client(self, node, kafka_port):
        """Clients (the root namespace) lose node's Kafka port; the nodes still talk."""
        self._apply(node, [(self.client_host, f"tcp dport {kafka_port}")],
                    [(self.client_host, f"tcp sport {kafka_port}")])

    def heal(self, nodes=None):
        for i in list(self.rules) if nodes is None else nodes:
            self._apply(i, [], [])
