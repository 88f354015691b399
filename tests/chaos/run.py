#!/usr/bin/python3
"""A chaos run: a real cluster in network namespaces (or on loopback behind link proxies, where
namespaces cannot be made), clients writing and reading under faults, and the checker's
verdict over what the clients saw.

  tests/chaos/run.py --seed 8121 --nemesis kill,pause,partition --time 300

Phases (Redpanda's layout): warm-up without faults, the fault window (steps drawn from the
seed, see nemesis.py), heal everything, recovery under load, stop the producers, a final
drain that reads every partition from the beginning, then the checks. Exit code: 0 PASS,
1 FAIL, 2 UNKNOWN, 3 HANG. On anything but PASS the run directory is kept and the command
that replays the run is printed. Needs root (namespaces); every namespace, interface and
process it makes is removed on exit, on Ctrl-C and on failure. `--network loopback` needs
no root.
"""
import argparse
import atexit
import bisect
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import checker  # noqa: E402
import net  # noqa: E402
from nemesis import KINDS, Nemesis, make_schedule  # noqa: E402
from netcluster import NetCluster  # noqa: E402
import topic_checks  # noqa: E402

TOPIC = "chaos"
PYTHON = "/usr/bin/python3"
EXIT = {"PASS": 0, "FAIL": 1, "UNKNOWN": 2, "HANG": 3}
# Facts a run must show, or it proved nothing (verdict UNKNOWN): kills, pauses and
# partitions of leaders must have moved leadership at least once.
ELECTING_FAULTS = {"kill", "pause", "partition", "rolling-restart", "disk", "transfer"}


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    p.add_argument("--nemesis", default="kill,pause,partition",
                   help=f"comma-separated faults from: {','.join(KINDS)}")
    p.add_argument("--time", type=float, default=60, help="seconds of the fault window")
    p.add_argument("--nodes", type=int, default=3, choices=(3, 5))
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--producers", type=int, default=2)
    p.add_argument("--pollers", type=int, default=2)
    p.add_argument("--kafkajs-rate", type=float, default=50,
                   help="records/s of one KafkaJS producer (0: none)")
    p.add_argument("--group-members", type=int, default=2,
                   help="consumers of one group that commit what they read")
    p.add_argument("--topic-churn", type=int, default=1, choices=(0, 1),
                   help="1: a client creates, writes, reads back and deletes topics all along")
    p.add_argument("--rate", type=float, default=1000, help="records/s over all producers")
    p.add_argument("--warmup", type=float, default=10)
    p.add_argument("--recovery", type=float, default=20)
    p.add_argument("--drain-timeout", type=float, default=60)
    p.add_argument("--run-dir", type=pathlib.Path)
    p.add_argument("--keep", action="store_true", help="keep the run directory after a PASS")
    p.add_argument("--binary", default=os.environ.get("TRIBUTARY_BIN"))
    p.add_argument("--broker-arg", action="append", default=[],
                   help="extra tributary argument for every node (repeatable)")
    p.add_argument("--slow-sync-lib", default=os.environ.get("TRIB_SLOW_SYNC_LIB"),
                   help="slow_sync.cc's preload for the slow-fsync fault (default: "
                   "tests/chaos/libtrib_slow_sync.so of the binary's build tree)")
    p.add_argument("--network", choices=("auto", "namespaces", "loopback"), default="auto",
                   help="namespaces (root, nftables) or loopback with a proxy per link "
                   "(loopnet.py); auto: namespaces where this machine can make them")
    p.add_argument("--canary", help="run the brokers in a deliberately broken mode "
                   "(TRIBUTARY_UNSAFE_CANARY, e.g. ack-before-commit): the run must FAIL")
    args = p.parse_args(argv)
    args.kinds = [k for k in args.nemesis.split(",") if k]
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        p.error(f"unknown nemesis {','.join(unknown)} (choose from {','.join(KINDS)})")
    if not args.binary:
        p.error("--binary (or TRIBUTARY_BIN) must name the tributary binary")
    if "slow-fsync" in args.kinds:
        if not args.slow_sync_lib:
            # build/<preset>/src/app/tributary -> build/<preset>/tests/chaos/
            build = pathlib.Path(args.binary).resolve().parent.parent.parent
            args.slow_sync_lib = str(build / "tests" / "chaos" / "libtrib_slow_sync.so")
        if not os.path.exists(args.slow_sync_lib):
            p.error(f"slow-fsync needs the preload {args.slow_sync_lib} (built with the "
                    "tests: cmake --build --preset release), or --slow-sync-lib")
    return args


class Run:
    def __init__(self, args):
        self.args = args
        self.dir = args.run_dir or pathlib.Path(
            f"/tmp/tributary-chaos/seed-{args.seed}-{int(time.time())}")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        (self.dir / "history").mkdir(parents=True)
        self.cluster = NetCluster(args.binary, self.dir, nodes=args.nodes,
                                  extra_args=args.broker_arg, clock="clock" in args.kinds,
                                  disk="disk" in args.kinds,
                                  slow_sync_lib=(args.slow_sync_lib
                                                 if "slow-fsync" in args.kinds else None),
                                  spares=1 if "replace" in args.kinds else 0,
                                  network=args.network)
        self.nodes = self.cluster.nodes
        self.network = self.cluster.network
        self.clients = {}  # proc name -> Popen
        self.nemesis = None
        self.rss_max = {}
        self.sampling = threading.Event()

    # -- setup and teardown --

    def start_cluster(self):
        env = {"TRIBUTARY_UNSAFE_CANARY": self.args.canary} if self.args.canary else {}
        self.cluster.start(env)
        threading.Thread(target=self.sample_rss, daemon=True).start()

    def sample_rss(self):
        while not self.sampling.wait(1.0):
            for i, n in self.nodes.items():
                self.rss_max[i] = max(self.rss_max.get(i, 0), n.rss_bytes())

    def close(self):
        for p in self.clients.values():
            if p.poll() is None:
                p.kill()
        self.sampling.set()
        if self.nemesis:
            self.nemesis.stop_event.set()
        self.cluster.close()

    @property
    def brokers(self):
        return self.cluster.brokers

    def metadata(self):
        return self.cluster.metadata(TOPIC)

    def spawn(self, role, proc, *extra):
        cmd = [PYTHON, str(HERE / "workload.py"), role, "--proc", proc, "--brokers",
               self.brokers, "--topic", TOPIC, "--partitions", str(self.args.partitions),
               "--out", str(self.dir / "history" / f"{proc}.jsonl"), *map(str, extra)]
        log = open(self.dir / "history" / f"{proc}.log", "ab")
        self.clients[proc] = subprocess.Popen(cmd, stdout=log, stderr=log)
        return self.clients[proc]

    def spawn_kafkajs(self, proc, rate):
        opts = {"proc": proc, "brokers": self.brokers, "topic": TOPIC,
                "partitions": self.args.partitions, "rate": rate,
                "out": str(self.dir / "history" / f"{proc}.jsonl")}
        log = open(self.dir / "history" / f"{proc}.log", "ab")
        env = {**os.environ, "NODE_PATH": str(HERE.parent / "integration" / "js" / "node_modules")}
        self.clients[proc] = subprocess.Popen(
            ["node", str(HERE / "kafkajs_producer.js"), json.dumps(opts)], stdout=log,
            stderr=log, env=env)

    def stop_clients(self, prefix, timeout=60):
        procs = [(n, p) for n, p in self.clients.items() if n.startswith(prefix)]
        for _, p in procs:
            p.send_signal(signal.SIGTERM)
        codes = {}
        for name, p in procs:
            try:
                codes[name] = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[name] = "killed"
        return codes

    # -- the run --

    def execute(self):
        a = self.args
        schedule = make_schedule(a.seed, a.kinds, a.time, a.partitions)
        (self.dir / "schedule.json").write_text(json.dumps(
            {"seed": a.seed, "args": sys.argv[1:], "steps": schedule}, indent=1))
        self.start_cluster()
        self.cluster.create_topic(TOPIC, a.partitions)
        for i in range(a.producers):
            extra = ["--rate", a.rate / a.producers] + (["--gapless"] if i == 0 else [])
            self.spawn("produce", f"p{i + 1}", *extra)
        if a.kafkajs_rate > 0:
            self.spawn_kafkajs("js1", a.kafkajs_rate)
        for i in range(a.pollers):
            self.spawn("poll", f"c{i + 1}", "--seed", a.seed + i, "--crash-s", 30)
        for i in range(a.group_members):
            self.spawn("group", f"g{i + 1}", "--seed", a.seed + 100 + i, "--crash-s", 30)
        self.spawn("observe", "observer")
        if a.topic_churn:
            self.spawn("topics", "t1", "--seed", a.seed)
        time.sleep(a.warmup)
        self.nemesis = Nemesis(self.nodes, self.network, self.metadata,
                               self.dir / "nemesis.jsonl", a.seed, topic=TOPIC)
        self.nemesis.run(schedule, time.monotonic())
        time.sleep(a.time)
        self.nemesis.stop()
        self.nemesis.heal_all()
        healed_at = time.monotonic_ns()
        time.sleep(a.recovery)
        producer_codes = {**self.stop_clients("p"), **self.stop_clients("js")}
        self.stop_clients("c")
        self.stop_clients("g")
        self.stop_clients("t")
        drain = self.spawn("drain", "drain", "--timeout", a.drain_timeout)
        drain.wait(a.drain_timeout + 30)
        self.stop_clients("observer")
        listed = self.listed_topics()
        for n in self.nodes.values():
            n.stop()
        return self.verdict(healed_at, producer_codes, listed)

    def listed_topics(self):
        """The topics the cluster lists at the end (None if it does not answer)."""
        try:
            return set(self.cluster.admin().list_topics(timeout=20).topics)
        except Exception:  # noqa: BLE001 (reported as a liveness failure)
            return None

    def verdict(self, healed_at, producer_codes, listed):
        events = checker.load(self.dir)
        liveness = liveness_failures(events, healed_at, self.args.partitions)
        leftover = []
        if self.args.topic_churn:
            if not topic_checks.completed_after(events, healed_at):
                liveness.append("no topic was created and deleted after the final heal")
            if listed is None:
                liveness.append("no node listed the topics at the end")
            else:
                dirs = {i: [d.name for d in (n.data_dir / "topics").iterdir()]
                        for i, n in self.nodes.items() if (n.data_dir / "topics").exists()}
                leftover = topic_checks.leftovers(topic_checks.deleted_last(events), listed,
                                                  dirs)
        # A fatal producer error is a client stopped by what the cluster answered (librdkafka
        # 2.0.2 has a few of its own, CLUSTER_PROTOCOL.md): never a PASS, always looked at.
        for e in events:
            if e.get("f") == "producer-fatal":
                liveness.append(f"producer {e['proc']} hit a fatal error: {e['value']['error']}")
        for name, code in producer_codes.items():
            if code not in (0,):
                liveness.append(f"producer {name} ended with {code} (undelivered at the end)")
        required = {}
        if set(self.args.kinds) & ELECTING_FAULTS:
            required["leader-elections"] = 1
        result = checker.check(events, required_facts=required, liveness_failures=liveness)
        crashes = []
        for i, n in self.nodes.items():
            crashes += [f"node {i} exited by itself with {code}" for _, code in
                        n.unexpected_exits()]
            crashes += [f"node {i}: {line}" for line in n.crash_lines()]
        errors = [e for e in read_jsonl(self.dir / "nemesis.jsonl") if e["type"] == "error"]
        result["health"] = {"crashes": crashes,
                            "rss_max_mib": {i: round(v / 2**20) for i, v in
                                            self.rss_max.items()},
                            "nemesis_errors": [e["error"] for e in errors]}
        result["availability"] = availability(events, read_jsonl(self.dir / "nemesis.jsonl"))
        bumps = []
        for log in sorted((self.dir / "history").glob("*.rdkafka.log")):
            with open(log, errors="replace") as f:
                bumps += [f"{log.name.split('.')[0]}: {why}" for why in checker.epoch_bumps(f)]
        result["client_epoch_bumps"] = bumps
        if crashes:
            result["verdict"] = "FAIL"
            result["reasons"].append(f"health: {len(crashes)} broker crash(es)")
        if leftover:
            result["verdict"] = "FAIL"
            result["reasons"] += [f"topic churn: {what}" for what in leftover[:5]]
        if errors:
            if result["verdict"] == "PASS":
                result["verdict"] = "UNKNOWN"
            result["reasons"].append(f"nemesis: {len(errors)} step(s) failed")
        return result


def read_jsonl(path):
    if not path.exists():
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def acks_by_partition(events):
    acks = {}
    for e in events:
        if e.get("f") == "send" and e["type"] == "ok":
            acks.setdefault(e["value"]["partition"], []).append(e["t"])
    return acks


def liveness_failures(events, healed_at, partitions, within_s=10):
    """Every partition must acknowledge a write within `within_s` of the final heal."""
    acks = acks_by_partition(events)
    out = []
    for p in range(partitions):
        after = [t for t in acks.get(p, []) if t >= healed_at]
        if not after or (min(after) - healed_at) / 1e9 > within_s:
            out.append(f"partition {p} acknowledged no write within {within_s} s of the heal")
    return out


def availability(events, nemesis_events):
    """Longest gap between acknowledged writes on any partition, and per leader fault the
    failover: the longest gap between acknowledged writes on each partition the target led,
    from the injection to the heal."""
    acks = acks_by_partition(events)
    for ts in acks.values():
        ts.sort()
    gaps = [(b - a) / 1e9 for ts in acks.values() for a, b in zip(ts, ts[1:])]
    failovers = []
    heals = {}
    for e in nemesis_events:
        if e["type"] == "healed":
            heals.setdefault(e.get("node"), []).append(e["t"])
    for e in nemesis_events:
        if e["type"] != "inject" or not e.get("led"):
            continue
        healed = [t for t in heals.get(e.get("node"), []) if t >= e["t"]]
        end = min(healed) if healed else e["t"]
        for p in e["led"]:
            ts = acks.get(p, [])
            lo = max(bisect.bisect_right(ts, e["t"]) - 1, 0)
            hi = min(bisect.bisect_right(ts, end) + 1, len(ts))
            window = ts[lo:hi]
            if len(window) >= 2:
                failovers.append(max((b - a) / 1e9 for a, b in zip(window, window[1:])))
    failovers.sort()
    return {"max_unavailable_s": round(max(gaps, default=0), 3),
            "failover_p50_s": round(failovers[len(failovers) // 2], 3) if failovers else None,
            "failover_max_s": round(failovers[-1], 3) if failovers else None,
            "failovers": len(failovers)}


def main(argv):
    args = parse(argv)
    ok, why = net.available()
    if args.network == "auto":
        args.network = "namespaces" if ok else "loopback"
        if not ok:
            print(f"chaos: no network namespaces ({why}): nodes on loopback behind link "
                  "proxies (loopnet.py)")
    elif args.network == "namespaces" and not ok:
        print(f"chaos: cannot run here: {why} (needs root, iproute2 and nftables; "
              "--network loopback needs neither)")
        return EXIT["UNKNOWN"]
    run = Run(args)
    atexit.register(run.close)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(EXIT["UNKNOWN"]))
    try:
        result = run.execute()
    except Exception as e:  # noqa: BLE001 (a harness failure proves nothing: UNKNOWN)
        import traceback
        traceback.print_exc()
        result = {"verdict": "UNKNOWN", "error": repr(e)}
    finally:
        run.close()
    (run.dir / "result.json").write_text(json.dumps(result, indent=1, default=str))
    print(report(args, result))
    if result["verdict"] == "PASS" and not args.keep:
        shutil.rmtree(run.dir, ignore_errors=True)
    else:
        print(f"run directory kept: {run.dir}")
        canary = f" --canary {args.canary}" if args.canary else ""
        print(f"replay: tests/chaos/run.py --seed {args.seed} --nemesis {args.nemesis} "
              f"--time {args.time:g} --nodes {args.nodes} --rate {args.rate:g}{canary} "
              f"--network {args.network}")
    return EXIT[result["verdict"]]


def report(args, result):
    head = (f"chaos seed={args.seed} nodes={args.nodes} rf=3 partitions={args.partitions} "
            f"nemesis={args.nemesis} time={args.time:g}s network={args.network}")
    if "error" in result:
        return f"{head}\nharness error: {result['error']}\nverdict: UNKNOWN"
    lines = [head, checker.format_summary(result)]
    a, h = result["availability"], result["health"]
    lines.append(f"availability: max unavailable {a['max_unavailable_s']} s, failover p50 "
                 f"{a['failover_p50_s']} s / max {a['failover_max_s']} s "
                 f"({a['failovers']} leader faults)")
    lines.append(f"health: broker crashes {len(h['crashes'])}, RSS max "
                 + ", ".join(f"n{i} {v} MiB" for i, v in sorted(h["rss_max_mib"].items())))
    churn = result.get("topic_churn")
    if args.topic_churn and churn:
        lines.append(f"topic churn: {churn['cycles']} topics created, written, read back and "
                     f"deleted; {churn['creates_failed']} creates refused or unanswered, "
                     f"{churn['reads_incomplete']} read-backs cut short")
    bumps = result.get("client_epoch_bumps", [])
    if bumps:
        lines.append(f"client epoch bumps: {len(bumps)} (librdkafka renumbers what is "
                     f"unacknowledged; a duplicate after one points at its cause): "
                     + "; ".join(bumps[:5]))
    for c in h["crashes"][:5]:
        lines.append(f"  crash: {c}")
    for e in h["nemesis_errors"][:5]:
        lines.append(f"  nemesis error: {e}")
    lines.append("json: " + json.dumps({k: result[k] for k in result if k != "examples"},
                                       default=str, separators=(",", ":")))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
