"""Faults for a chaos run: a schedule drawn from the seed, and the code that carries it out.

The schedule is fixed before the run starts (written to schedule.json): at each step, which
kind of fault, aimed at which role (the leader or a follower of partition k, the controller
leader, a random node), for how long. Roles become node ids only when the step runs, since
who leads depends on the run. Every step writes inject/injected/heal/healed events to
nemesis.jsonl with the node ids it touched; those are for the report and the liveness
figures only, never for the safety checks.
"""
import json
import random
import re
import threading
import time

KINDS = ("kill", "pause", "partition", "one-way", "flaky", "client-cut", "clock",
         "rolling-restart", "disk", "slow-fsync", "transfer", "move", "replace")
ROLES = ("leader", "follower", "controller", "random")


def make_schedule(seed, kinds, window_s, partitions, hold=(3.0, 8.0), gap=(2.0, 5.0)):
    """Fault steps filling window_s seconds: [{at, kind, role, partition, hold, ...}]."""
    rng = random.Random(seed)
    steps, at = [], rng.uniform(*gap)
    while at < window_s:
        kind = rng.choice(kinds)
        step = {"at": round(at, 3), "kind": kind, "role": rng.choice(ROLES),
                "partition": rng.randrange(partitions), "hold": round(rng.uniform(*hold), 3)}
        if kind == "flaky":
            step["loss_percent"] = rng.choice((10, 20, 30))
        if kind == "clock":
            step["offset_s"] = rng.choice((-300, -60, 60, 300))
        if kind == "slow-fsync":
            # From a slow disk to one slower than the election timeout (500 ms).
            step["delay_ms"] = rng.choice((50, 200, 1000))
        if kind in ("rolling-restart", "transfer", "move", "replace"):
            step["role"] = "all"
        steps.append(step)
        at += step["hold"] + rng.uniform(*gap)
    return steps


class Nemesis:
    """Carries out a schedule against nodes {id: Node} on a Network, from its own thread."""

    def __init__(self, nodes, network, metadata, log_path, seed, topic="chaos"):
        self.nodes = nodes
        self.network = network
        self.metadata = metadata  # callable: {partition: (leader, [replicas])}
        self.topic = topic  # the workload's topic (transfers move its partitions)
        self.log = open(log_path, "a", buffering=1)
        self.rng = random.Random(seed ^ 0x5EED)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = None
        self.injected = {}

    def event(self, type_, step, **extra):
        self.log.write(json.dumps({"t": time.monotonic_ns(), "type": type_,
                                   "fault": step["kind"], **extra}) + "\n")

    def run(self, schedule, started_at):
        self.thread = threading.Thread(target=self._run, args=(schedule, started_at),
                                       daemon=True)
        self.thread.start()

    def _run(self, schedule, started_at):
        for step in schedule:
            if self.stop_event.wait(max(0.0, started_at + step["at"] - time.monotonic())):
                return
            try:
                self.perform(step)
            except Exception as e:  # noqa: BLE001 (recorded; the run's verdict says UNKNOWN)
                self.event("error", step, error=repr(e))

    def stop(self):
        self.stop_event.set()
        if self.thread:
            self.thread.join()

    def target(self, step):
        """The node id a step's role names now, or None when there is none (no leader)."""
        live = [i for i, n in self.nodes.items() if n.alive and not n.paused]
        if not live:
            return None
        role = step["role"]
        if role in ("leader", "follower"):
            leader, replicas = self.metadata().get(step["partition"], (-1, []))
            if role == "leader":
                return leader if leader in live else None
            followers = [r for r in replicas if r != leader and r in live]
            return self.rng.choice(followers) if followers else None
        if role == "controller":
            node = controller_leader(self.nodes)
            return node if node in live else None
        return self.rng.choice(live)

    def led_by(self, node):
        return sorted(p for p, (leader, _) in self.metadata().items() if leader == node)

    def perform(self, step):
        kind = step["kind"]
        if kind == "rolling-restart":
            return self.rolling_restart(step)
        if kind == "transfer":
            return self.transfer_storm(step)
        if kind == "move":
            return self.move_replicas(step)
        if kind == "replace":
            return self.replace_node(step)
        node = self.target(step)
        if node is None:
            self.event("skipped", step, reason=f"no {step['role']} now")
            return
        self.event("inject", step, node=node, role=step["role"], led=self.led_by(node))
        heal = self.inject(step, node)
        self.event("injected", step, node=node)
        if self.stop_event.wait(step["hold"]):
            pass  # stopping: heal at once
        self.event("heal", step, node=node)
        heal()
        self.event("healed", step, node=node)

    def inject(self, step, node):
        """Causes step's fault on node; returns the function that heals it."""
        n, kind = self.nodes[node], step["kind"]
        others = [i for i in self.nodes if i != node]
        if kind == "kill":
            n.kill()
            return lambda: (n.start(), n.wait_ready())
        if kind == "pause":
            n.pause()
            return n.resume
        if kind == "partition":
            self.network.isolate([[node], others])
            return self.network.heal
        if kind == "one-way":
            self.network.one_way(node, others)
            return self.network.heal
        if kind == "flaky":
            self.network.flaky(node, step["loss_percent"])
            return self.network.heal
        if kind == "client-cut":
            self.network.cut_client(node, self.network.kafka_port)
            return self.network.heal
        if kind == "clock":
            set_clock(n, step["offset_s"])
            return lambda: set_clock(n, 0)
        if kind == "slow-fsync":
            n.delay_syncs(step["delay_ms"])
            return lambda: n.delay_syncs(0)
        if kind == "disk":
            # Its syncs fail: each Raft group that syncs stops (fsyncgate: the page cache
            # cannot be trusted after a failed sync) until the process restarts, which is the
            # heal, as an operator would do once the disk is fixed.
            n.fail_syncs(True)
            return lambda: (n.fail_syncs(False), n.kill(), n.start(), n.wait_ready())
        raise ValueError(f"unknown fault {kind}")

    def storm(self, step, interval, act):
        """Calls act(partition, (leader, replicas)) for a random partition every `interval`
        seconds of the step's hold; returns how many calls did something (act returns 1)."""
        self.event("inject", step, node=None, role="all")
        self.event("injected", step, node=None)
        end, done = time.monotonic() + step["hold"], 0
        while time.monotonic() < end and not self.stop_event.is_set():
            meta = self.metadata()
            if meta:
                p = self.rng.choice(sorted(meta))
                done += act(p, meta[p])
            self.stop_event.wait(interval)
        return done

    def transfer_storm(self, step):
        """Leadership transfers under load: for the hold, every 0.3 s one partition's leader
        is asked (admin API) to hand it to another of its replicas."""
        def transfer(p, state):
            leader, replicas = state
            others = [r for r in replicas if r != leader and self.nodes[r].alive]
            if leader not in self.nodes or not others:
                return 0
            to = self.rng.choice(others)
            status = self.nodes[leader].admin_post(
                f"/v1/topics/{self.topic}/partitions/{p}/transfer-leadership?to={to}")
            return 1 if status == 202 else 0

        moved = self.storm(step, 0.3, transfer)
        self.event("heal", step, node=None, transfers=moved)
        self.event("healed", step, node=None)

    def move_replicas(self, step):
        """Partition moves under load (Raft membership changes): for the hold, every second
        one partition not moving now is moved (admin API, any node): one replica swapped for a
        node without one where there is such a node, else dropped (replication factor 2, its
        copy deleted) and added back the next time (it re-replicates from nothing). The heal
        brings every partition back to three replicas and waits for the moves to end."""
        moved = self.storm(step, 1.0, lambda p, state: self.move_one(p, state[1], False))
        # Until no partition is moving and each has three replicas again (or 90 s).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # also when stopping: leave no partition short
            moving = self.moving()
            meta = self.metadata()
            short = [p for p, (_, replicas) in meta.items()
                     if len(replicas) < 3 and p not in (moving or ())]
            if meta and moving == set() and not short:
                break
            for p in short:
                moved += self.move_one(p, meta[p][1], grow_only=True)
            time.sleep(1.0)
        self.event("heal", step, node=None, moves=moved)
        self.event("healed", step, node=None)

    def moving(self):
        """The partitions moving now (admin API of a live node), or None if none answers."""
        for n in self.nodes.values():
            if n.alive and not n.paused:
                view = n.admin_get(f"/v1/topics/{self.topic}")
                if view is not None:
                    return {p["partition"] for p in view["partitions"] if p.get("moving_to")}
        return None

    def move_one(self, partition, replicas, grow_only):
        """Posts one move of `partition` (replicas as Metadata lists them); 1 if accepted."""
        if not replicas:
            return 0
        spare = [i for i in self.nodes if i not in replicas]
        target = list(replicas)
        if len(replicas) < 3 and spare:
            target.append(self.rng.choice(spare))
        elif grow_only:
            return 0
        elif spare:
            target[self.rng.randrange(len(target))] = self.rng.choice(spare)
        else:
            target.pop(self.rng.randrange(len(target)))
        via = [n for n in self.nodes.values() if n.alive and not n.paused]
        if not via:
            return 0
        status = self.rng.choice(via).admin_post(
            f"/v1/topics/{self.topic}/partitions/{partition}/move?"
            f"replicas={','.join(map(str, target))}")
        return 1 if status == 202 else 0

    def replace_node(self, step):
        """A node added and an old one removed, as an operator replaces a machine: the stopped
        node (the spare, or the one the last replacement removed) starts and joins as a
        broker; a random other node is decommissioned (admin API), and once it holds no
        replica it is stopped and recommissioned, to be the next one added. A node that holds
        replicas after 120 s (its partitions had nowhere to go) is left running."""
        spare = next((i for i, n in self.nodes.items() if not n.alive), None)
        if spare is None:
            self.event("skipped", step, reason="no stopped node to add")
            return
        self.nodes[spare].start()
        self.nodes[spare].wait_ready()
        others = [i for i, n in self.nodes.items() if i != spare and n.alive and not n.paused]
        if not others:
            self.event("skipped", step, reason="no node to remove")
            return
        victim = self.rng.choice(others)
        self.event("inject", step, node=victim, role="removed", added=spare,
                   led=self.led_by(victim))
        status = self.admin_any("POST", f"/v1/brokers/{victim}/decommission")
        self.event("injected", step, node=victim, status=status)
        deadline = time.monotonic() + 120
        drained = False
        while time.monotonic() < deadline and not self.stop_event.is_set():
            held = self.replicas_of(victim)
            if held == 0:
                drained = True
                break
            time.sleep(1.0)
        self.event("heal", step, node=victim, drained=drained)
        if drained:
            self.nodes[victim].stop()
        self.admin_any("DELETE", f"/v1/brokers/{victim}/decommission")
        self.event("healed", step, node=victim)

    def admin_any(self, method, path):
        """Sends to the admin API of live nodes in turn until one answers; its status."""
        for n in self.nodes.values():
            if n.alive and not n.paused:
                status, _ = n.admin_call(method, path)
                if status is not None:
                    return status
        return None

    def replicas_of(self, node):
        """How many replicas the cluster's image gives `node` (None if no node answers)."""
        for n in self.nodes.values():
            if n.alive and not n.paused:
                view = n.admin_get("/v1/brokers")
                if view is not None:
                    return next((b["replicas"] for b in view if b["id"] == node), 0)
        return None

    def rolling_restart(self, step):
        for i, n in self.nodes.items():
            if self.stop_event.is_set():
                return
            if not n.alive:
                continue  # a spare, or a node another fault stopped: it stays so
            # Each node's restart is one fault (counted, like the others, by "injected").
            self.event("inject", step, node=i, led=self.led_by(i))
            n.stop()
            self.event("injected", step, node=i)
            self.event("heal", step, node=i)
            n.start()
            n.wait_ready()
            self.event("healed", step, node=i)
            time.sleep(2)

    def heal_all(self):
        """After the fault window: every node running and reachable, clocks back."""
        self.network.heal()
        for n in self.nodes.values():
            if n.clock_file is not None:
                set_clock(n, 0)
            if n.slow_sync_file is not None:
                n.delay_syncs(0)
            n.resume()
        for n in self.nodes.values():
            if not n.alive:
                n.start()
        for n in self.nodes.values():
            n.wait_ready()


def set_clock(node, offset_s):
    if node.clock_file is None:
        raise RuntimeError("the clock fault needs nodes started under libfaketime")
    node.clock_file.write_text(f"{offset_s:+d}s\n" if offset_s else "+0\n")


def controller_leader(nodes):
    """The node that most recently logged leading the controller (highest term)."""
    best = (-1, -1)
    for i, n in nodes.items():
        if not n.log_path.exists():
            continue
        text = n.log_path.read_text(errors="replace")
        for m in re.finditer(r"node (\d+) leads the controller in term (\d+)", text):
            best = max(best, (int(m.group(2)), int(m.group(1))))
    return best[1] if best[1] >= 0 else None
