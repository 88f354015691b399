"""bench/cluster/run: see that script. Prints one line per measurement, then the ratios."""
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import threading
import time

root = pathlib.Path(sys.argv[1])
records, kills = int(sys.argv[2]), int(sys.argv[3])
kills_only = records == 0  # bench/cluster/run 0 N: the failover part alone
reconnect_max_ms = int(os.environ.get("TRIB_BENCH_RECONNECT_MAX_MS", "10000"))
debug = {"debug": "broker,topic,eos,msg"} if os.environ.get("TRIB_BENCH_DEBUG") else {}
sys.path.insert(0, str(root / "tests" / "integration"))
from broker import Broker, wait_until  # noqa: E402
from cluster import Cluster  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

build = root / "build" / "release"
tributary = str(build / "src" / "app" / "tributary")
loadgen = str(build / "bench" / "trib-loadgen")
work = root / "build" / "bench-work" / "cluster"
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)


def create(bootstrap, name, partitions, rf):
    adm = AdminClient({"bootstrap.servers": bootstrap})
    adm.create_topics([NewTopic(name, partitions, rf)], request_timeout=30)[name].result(30)


def run_loadgen(bootstrap, topic, partitions, *extra):
    out = subprocess.run([loadgen, "produce", "--brokers", bootstrap, "--topic", topic,
                          "--record-bytes", "1024", "--partitions", str(partitions),
                          "--acks", "all", *extra], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def measure(bootstrap, partitions, wait_for_leaders):
    """Throughput, latency at half of it, and the one-record-per-request case."""
    out = {}
    for name in ("tput", "lat"):
        create(bootstrap, f"{name}-{partitions}", partitions, rf)
        wait_for_leaders(f"{name}-{partitions}")
    t = run_loadgen(bootstrap, f"tput-{partitions}", partitions, "--records", str(records),
                    "--batch-bytes", "1048576", "--linger-ms", "5")
    subprocess.run(["sync"], check=True)
    rate = int(t["records_per_s"] / 2)
    lat = run_loadgen(bootstrap, f"lat-{partitions}", partitions, "--records", "100000000",
                      "--rate", str(rate), "--seconds", "10", "--batch-bytes", "1048576",
                      "--linger-ms", "5")
    out.update(tput=t, lat=lat)
    if partitions == 1:
        subprocess.run(["sync"], check=True)
        # The target: 10,000/s with p99 <= 10 ms (3,000/s for comparison).
        out["small"] = []
        for small_rate in (3000, 10000):
            create(bootstrap, f"small-{small_rate}", 1, rf)
            wait_for_leaders(f"small-{small_rate}")
            out["small"].append(run_loadgen(bootstrap, f"small-{small_rate}", 1, "--records",
                                            "100000000", "--rate", str(small_rate),
                                            "--seconds", "8", "--linger-ms", "0"))
            subprocess.run(["sync"], check=True)
    return out


results = {}
for layout in (() if kills_only else ("one node", "three nodes, RF=3")):
    if layout == "one node":
        rf = 1
        b = Broker(tributary, work / "single" / "data")
        b.start()
        nodes, bootstrap = [b], b.bootstrap
        leaders = lambda topic: time.sleep(0.5)  # noqa: E731 - a single node leads at once
    else:
        rf = 3
        c = Cluster(tributary, work / "three").start()
        nodes, bootstrap = list(c.nodes.values()), c.bootstrap()
        leaders = c.wait_for_leaders
    try:
        for partitions in (1, 16):
            results[(layout, partitions)] = measure(bootstrap, partitions, leaders)
    finally:
        for n in nodes:
            n.close()
    shutil.rmtree(work / ("single" if rf == 1 else "three"), ignore_errors=True)

for (layout, partitions), r in results.items():  # noqa: B007
    t, lat = r["tput"], r["lat"]["latency"]
    print(f"{layout:18s} {partitions:2d} partition(s): acks=all {t['mb_per_s']:7.1f} MB/s, "
          f"at {r['lat']['target_rate']:.0f} rec/s p50 {lat['p50_ms']:.1f} ms "
          f"p99 {lat['p99_ms']:.1f} ms")
    for s in r.get("small", []):
        # librdkafka with linger.ms=0 sends what queued while its requests were in flight;
        # its mean batch size is 1,126 bytes for one 1 KiB record (61 of them the header).
        per_request = (s["mean_batch_bytes"] - 61) / 1065
        print(f"{'':18s} linger.ms=0 at {s['target_rate']:.0f}/s: "
              f"{s['records_per_s']:.0f}/s, ~{per_request:.1f} records per batch, "
              f"p50 {s['latency']['p50_ms']:.1f} ms p99 {s['latency']['p99_ms']:.1f} ms "
              f"(target p99 <= 10 ms at 10,000/s)")
for partitions in (() if kills_only else (1, 16)):
    one = results[("one node", partitions)]["tput"]["mb_per_s"]
    three = results[("three nodes, RF=3", partitions)]["tput"]["mb_per_s"]
    print(f"{partitions:2d} partition(s): RF=3 / one node acks=all throughput = "
          f"{three / one:.2f} (target >= 0.3)")

# Failover: kill -9 the leader of a partition under idempotent acks=all writes, `kills` times.
# No preferred-leader handovers in between: each kill measures one failover only.
c = Cluster(tributary, work / "failover", extra_args=("--auto-leader-rebalance", "false")).start()
try:
    create(c.bootstrap(), "failover", 1, 3)
    c.wait_for_leaders("failover")
    acks, lock = [], threading.Lock()
    stop = threading.Event()

    def write():
        p = Producer({"bootstrap.servers": c.bootstrap(), "enable.idempotence": True,
                      "acks": "all", "linger.ms": 0, "message.timeout.ms": 60000,
                      # librdkafka backs off reconnecting to a broker it saw fail, up to
                      # 10 s by default: a producer that lives through many kills meets a
                      # new leader it is still backing off from (Kafka's clients alike).
                      "reconnect.backoff.max.ms": reconnect_max_ms,
                      **debug})

        def done(err, msg):
            # (when, the record's creation time): a kill counts as over at the first record
            # written after it that is acknowledged, which only a new leader can do.
            if err is None:
                with lock:
                    acks.append((time.monotonic(), msg.timestamp()[1] / 1000))
        while not stop.is_set():
            p.produce("failover", value=b"x" * 100, partition=0, on_delivery=done)
            p.poll(0.002)
        p.flush(60)

    writer = threading.Thread(target=write)
    writer.start()
    times, elected = [], []
    for _ in range(kills):
        leader = c.leaders("failover", c.live()[0])[0]
        killed, killed_wall = time.monotonic(), time.time()
        c.nodes[leader].kill()
        survivor = c.live()[0]
        wait_until(lambda: c.leaders("failover", survivor)[0] not in (-1, leader), 30,
                   "a new leader", interval=0.01)
        elected.append(time.monotonic() - killed)
        wait_until(lambda: any(made > killed_wall for _, made in acks), 30,
                   "an acknowledgement")
        with lock:
            times.append(min(at for at, made in acks if made > killed_wall) - killed)
        c.nodes[leader].start(timeout=60)
        wait_until(lambda: len(c.in_sync("failover", leader)[0]) == 3, 30, "back in sync")
        time.sleep(1)
    stop.set()
    writer.join()
finally:
    c.close()
times.sort()
print("new leader in Metadata (s): " + " ".join(f"{t:.2f}" for t in sorted(elected)))
print("failover times (s): " + " ".join(f"{t:.2f}" for t in times))
print(f"failover over {len(times)} kills (one producer, reconnect.backoff.max.ms "
      f"{reconnect_max_ms}): p50 {statistics.median(times):.2f} s, "
      f"max {times[-1]:.2f} s (targets < 1 s and < 2 s)")
