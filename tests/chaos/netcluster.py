"""A cluster of tributary processes, each in its own network namespace (net.py, node.py) or
on its own loopback address behind link proxies (loopnet.py):
what a chaos run and the fault tests start, ask and tear down."""
import logging
import time

import loopnet
import net
from node import Node


def quiet_logger():
    """librdkafka's log lines (reconnects during faults) would flood the output; the
    histories say what matters."""
    logger = logging.getLogger("chaos.rdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


class NetCluster:
    def __init__(self, binary, run_dir, nodes=3, extra_args=(), clock=False, disk=False,
                 slow_sync_lib=None, spares=0, network="namespaces"):
        """`nodes` controller voters, all started; `spares` more nodes (brokers only) that
        start() leaves stopped, for a fault that adds a node. `network`: "namespaces"
        (net.py) or "loopback" (loopnet.py)."""
        self.dir = run_dir
        ids = range(1, nodes + spares + 1)
        self.network = (loopnet.LoopbackNetwork(ids, run_dir) if network == "loopback"
                        else net.Network(ids))
        self.spares = set(range(nodes + 1, nodes + spares + 1))
        voter_ids = [i for i in self.network.nodes if i not in self.spares]
        self.nodes = {}
        for i in self.network.nodes:
            clock_file = None
            if clock:
                clock_file = run_dir / f"n{i}.clock"
            self.nodes[i] = Node(binary, i, run_dir, self.network,
                                 self.network.voters(i, voter_ids),
                                 extra_args=extra_args, clock_file=clock_file, disk_faults=disk,
                                 slow_sync_lib=slow_sync_lib)
        self._admin = None

    def start(self, env=None):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.network.create()
        for n in self.nodes.values():
            if n.clock_file is not None:
                n.clock_file.write_text("+0\n")
            if n.id not in self.spares:
                n.start(env)
        for n in self.nodes.values():
            if n.id not in self.spares:
                n.wait_ready()
        return self

    def close(self):
        for n in self.nodes.values():
            n.resume()
            if n.alive:
                n.kill()
        self.network.close()

    @property
    def brokers(self):
        return ",".join(n.bootstrap for n in self.nodes.values())

    def admin(self, node=None):
        from confluent_kafka.admin import AdminClient
        servers = self.nodes[node].bootstrap if node else self.brokers
        return AdminClient({"bootstrap.servers": servers, "logger": quiet_logger()})

    def create_topic(self, name, partitions, rf=3, timeout=60):
        """Creates the topic (retrying while the cluster settles) and waits for its leaders."""
        from confluent_kafka.admin import NewTopic
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while True:
            try:
                admin.create_topics([NewTopic(name, partitions, rf)])[name].result(30)
                break
            except Exception as e:  # noqa: BLE001
                if "TOPIC_ALREADY_EXISTS" in str(e):
                    break
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        while time.monotonic() < deadline:
            leaders = self.metadata(name)
            if len(leaders) == partitions and all(lead >= 0 for lead, _ in leaders.values()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"topic {name} has a partition without a leader after {timeout} s")

    def metadata(self, topic, node=None):
        """{partition: (leader, replicas)} as the cluster (or one node) says now; {} when no
        answer comes."""
        try:
            admin = self._admin if node is None else self.admin(node)
            if admin is None:
                admin = self._admin = self.admin()
            meta = admin.list_topics(topic, timeout=2).topics.get(topic)
        except Exception:  # noqa: BLE001
            return {}
        if meta is None or meta.error is not None:
            return {}
        return {p: (m.leader, list(m.replicas)) for p, m in meta.partitions.items()}
