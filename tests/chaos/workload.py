"""The chaos harness's client processes; each writes its history as JSONL (checker.py's format).

  workload.py produce  --proc p1 --brokers B --topic T --partitions N --rate R --out F
  workload.py poll     --proc c1 --brokers B --topic T --partitions N --out F --seed S
  workload.py group    --proc g1 --brokers B --topic T --partitions N --out F --seed S
  workload.py observe  --proc observer --brokers B --topic T --partitions N --out F
  workload.py drain    --proc drain --brokers B --topic T --partitions N --out F --timeout S
  workload.py topics   --proc t1 --brokers B --topic T --partitions N --out F --seed S

Each runs until SIGTERM (drain: until it has read every partition to its end offset, or its
timeout), then finishes what it has in flight and exits. Times are time.monotonic_ns(), one
clock for every process on the machine. Run with /usr/bin/python3 (Debian's confluent-kafka).
"""
import argparse
import json
import logging
import os
import random
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

import topic_churn
from netcluster import quiet_logger

stopping = False


def on_term(*_):
    global stopping
    stopping = True


class History:
    def __init__(self, path, proc):
        self.file = open(path, "a", buffering=1 << 16)
        self.proc = proc

    def write(self, type_, f, value):
        self.file.write(json.dumps({"t": time.monotonic_ns(), "proc": self.proc, "type": type_,
                                    "f": f, "value": value}, separators=(",", ":")) + "\n")

    def close(self):
        self.file.close()


def file_logger(path):
    logger = logging.getLogger(f"chaos.rdkafka.{path}")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


def produce(args, history):
    """Idempotent acks=all sends of unique values, round-robin over the partitions, at a
    capped rate. Delivery errors are indeterminate (info): after retries a timed-out batch
    may still have been written. A local refusal (queue full) is a definite failure. A
    fatal producer error (e.g. OUT_OF_ORDER_SEQUENCE_NUMBER after the broker lost what it
    acknowledged) is written as a producer-fatal event, and a new producer (a new producer
    id) carries on, as an application would."""
    conf = {"bootstrap.servers": args.brokers, "acks": "all", "enable.idempotence": True,
            "max.in.flight.requests.per.connection": 5, "message.timeout.ms": 30000,
            "linger.ms": 5, "enable.gapless.guarantee": args.gapless,
            "logger": quiet_logger()}
    # librdkafka's own account beside the history: "eos" by default (about 15 KB a minute:
    # drains, epoch bumps and why), more with e.g. TRIB_CHAOS_CLIENT_DEBUG=eos,protocol,msg.
    debug = os.environ.get("TRIB_CHAOS_CLIENT_DEBUG", "eos")
    if debug:
        conf["debug"] = debug
        conf["logger"] = file_logger(f"{args.out}.rdkafka.log")
    seq = 0
    undelivered = 0
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    next_at = time.monotonic()

    def delivered(err, msg, value):
        partition = msg.partition()
        if err is None:
            history.write("ok", "send", {"partition": partition, "value": value,
                                         "offset": msg.offset()})
        else:
            history.write("info", "send", {"partition": partition, "value": value,
                                           "error": err.name()})

    while not stopping:
        producer = Producer(conf)
        try:
            while not stopping:
                now = time.monotonic()
                if now < next_at:
                    producer.poll(min(next_at - now, 0.05))
                    continue
                next_at = max(next_at + interval, now - 1.0)  # no burst after a stall
                partition = seq % args.partitions
                value = f"{args.proc}:{seq}"
                seq += 1
                history.write("invoke", "send", {"partition": partition, "value": value,
                                                 "idempotent": True})
                try:
                    producer.produce(args.topic, value=value.encode(), partition=partition,
                                     on_delivery=lambda e, m, v=value: delivered(e, m, v))
                except BufferError:
                    history.write("fail", "send", {"partition": partition, "value": value,
                                                   "error": "local queue full"})
                producer.poll(0)
            undelivered = producer.flush(35)
        except KafkaException as e:
            history.write("info", "producer-fatal", {"error": str(e.args[0])})
            try:
                producer.flush(5)  # what is left gets its (error) delivery report
            except KafkaException:
                pass
    return 0 if undelivered == 0 else 4


def consumer_conf(args, group):
    return {"bootstrap.servers": args.brokers, "group.id": group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "enable.partition.eof": False, "isolation.level": "read_committed",
            "logger": quiet_logger()}


def record_poll(history, messages):
    records = {}
    for m in messages:
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                history.write("info", "poll-error", {"error": m.error().name(),
                                                     "partition": m.partition()})
            continue
        records.setdefault(str(m.partition()), []).append(
            [m.offset(), m.value().decode(errors="replace")])
    if records:
        history.write("ok", "poll", {"records": records})
    return records


def poll(args, history):
    """Assign mode over every partition, from the beginning; every crash_s seconds the
    client is thrown away (a simulated crash) and a new one seeks each partition to a
    random offset it has already read, or to the beginning (Jepsen's crash-clients)."""
    rng = random.Random(args.seed)
    read_up_to = {p: 0 for p in range(args.partitions)}  # next offset after what was read
    while not stopping:
        consumer = Consumer(consumer_conf(args, f"chaos-{args.proc}"))
        starts = {p: (rng.randrange(read_up_to[p] + 1) if rng.random() < 0.5 else 0)
                  for p in range(args.partitions)}
        consumer.assign([TopicPartition(args.topic, p, o) for p, o in starts.items()])
        history.write("ok", "assign", {"partitions": sorted(starts), "offsets": starts})
        crash_at = time.monotonic() + args.crash_s * (0.5 + rng.random())
        while not stopping and time.monotonic() < crash_at:
            records = record_poll(history, consumer.consume(500, 0.5))
            for p, recs in records.items():
                read_up_to[int(p)] = max(read_up_to[int(p)], recs[-1][0] + 1)
        consumer.close()
    return 0


def group(args, history):
    """A member of one consumer group (subscribe mode) that commits synchronously what it
    has read after each poll. Each (re)assignment is an assign event (reads start at the
    committed offsets), followed by what OffsetFetch says is committed; every crash_s
    seconds the member is thrown away without committing and a new one joins."""
    rng = random.Random(args.seed)
    while not stopping:
        conf = {**consumer_conf(args, "chaos-group"), "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 1000}
        consumer = Consumer(conf)

        def assigned(c, partitions):
            ids = sorted(tp.partition for tp in partitions)
            history.write("ok", "assign", {"partitions": ids, "group": "chaos-group"})
            fetch_committed(c, ids)

        def fetch_committed(c, ids):
            if not ids:
                return
            history.write("invoke", "fetch-committed", {"group": "chaos-group"})
            try:
                got = c.committed([TopicPartition(args.topic, p) for p in ids], timeout=10)
            except KafkaException as e:
                history.write("fail", "fetch-committed", {"group": "chaos-group",
                                                          "error": str(e.args[0])})
                return
            history.write("ok", "fetch-committed", {
                "group": "chaos-group",
                "offsets": {str(tp.partition): tp.offset if tp.offset >= 0 else -1
                            for tp in got}})

        consumer.subscribe([args.topic], on_assign=assigned)
        crash_at = time.monotonic() + args.crash_s * (0.5 + rng.random())
        while not stopping and time.monotonic() < crash_at:
            records = record_poll(history, consumer.consume(500, 0.5))
            if not records:
                continue
            offsets = {p: recs[-1][0] + 1 for p, recs in records.items()}
            history.write("invoke", "commit", {"group": "chaos-group", "offsets": offsets})
            try:
                consumer.commit(offsets=[TopicPartition(args.topic, int(p), o)
                                         for p, o in offsets.items()], asynchronous=False)
                history.write("ok", "commit", {"group": "chaos-group", "offsets": offsets})
            except KafkaException as e:  # e.g. a rebalance took the partition: not committed
                history.write("info", "commit", {"group": "chaos-group", "offsets": offsets,
                                                 "error": str(e.args[0])})
        consumer.close()
    return 0


def end_offsets(args, consumer):
    ends = {}
    for p in range(args.partitions):
        try:
            ends[p] = consumer.get_watermark_offsets(TopicPartition(args.topic, p), 5,
                                                     cached=False)[1]
        except Exception:  # noqa: BLE001 (a partition without a leader now: ask again)
            return None
    return ends


def drain(args, history):
    """A fresh client reads every partition from the beginning up to its end offset, asking
    again until the deadline if a partition answers nothing (Jepsen's final polls)."""
    deadline = time.monotonic() + args.timeout
    consumer = Consumer(consumer_conf(args, "chaos-drain"))
    ends = None
    while ends is None and time.monotonic() < deadline:
        ends = end_offsets(args, consumer)
        if ends is None:
            time.sleep(0.5)
    if ends is None:
        history.write("ok", "drain-done", {"complete": False, "end_offsets": {}})
        return 5
    consumer.assign([TopicPartition(args.topic, p, 0) for p in range(args.partitions)])
    history.write("ok", "assign", {"partitions": list(range(args.partitions)),
                                   "offsets": {p: 0 for p in range(args.partitions)}})
    position = {p: 0 for p in range(args.partitions)}
    while time.monotonic() < deadline and any(position[p] < ends[p] for p in ends):
        for p, recs in record_poll(history, consumer.consume(1000, 0.5)).items():
            position[int(p)] = max(position[int(p)], recs[-1][0] + 1)
    complete = all(position[p] >= ends[p] for p in ends)
    history.write("ok", "drain-done", {"complete": complete,
                                       "end_offsets": {str(p): e for p, e in ends.items()},
                                       "positions": {str(p): o for p, o in position.items()}})
    consumer.close()
    return 0 if complete else 5


def observe(args, history):
    """Every interval: each partition's leader (Metadata) and high watermark (ListOffsets
    latest, from the leader); a change of leader is written as a leader-change event."""
    admin = AdminClient({"bootstrap.servers": args.brokers, "logger": quiet_logger()})
    consumer = Consumer(consumer_conf(args, "chaos-observer"))
    leaders = {}
    while not stopping:
        started = time.monotonic()
        try:
            topic = admin.list_topics(args.topic, timeout=2).topics.get(args.topic)
        except Exception:  # noqa: BLE001 (no node answered in time: try next round)
            topic = None
        if topic is not None and topic.error is None:
            for p, meta in topic.partitions.items():
                if meta.leader >= 0 and leaders.get(p, meta.leader) != meta.leader:
                    history.write("ok", "leader-change", {"partition": p, "from": leaders[p],
                                                          "to": meta.leader})
                if meta.leader >= 0:
                    leaders[p] = meta.leader
        for p in range(args.partitions):
            try:
                hw = consumer.get_watermark_offsets(TopicPartition(args.topic, p), 1,
                                                    cached=False)[1]
            except Exception:  # noqa: BLE001 (leaderless or unreachable right now)
                continue
            history.write("ok", "hw", {"partition": p, "hw": hw, "leader": leaders.get(p, -1)})
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    consumer.close()
    return 0


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("role",
                        choices=["produce", "poll", "group", "observe", "drain", "topics"])
    parser.add_argument("--proc", required=True)
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--gapless", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crash-s", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    history = History(args.out, args.proc)
    try:
        if args.role == "topics":
            return topic_churn.run(args, history, lambda: stopping, quiet_logger())
        return {"produce": produce, "poll": poll, "group": group, "observe": observe,
                "drain": drain}[args.role](args, history)
    finally:
        history.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
