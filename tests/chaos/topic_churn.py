"""Topics created and deleted during faults: the `topics` workload and its checks.

The workload (workload.py topics) goes round a cycle until SIGTERM: create a topic (2
partitions, RF=3), write CYCLE_RECORDS values to it with an idempotent acks=all producer,
read it back from the beginning to its end offsets, delete it. Every second cycle re-creates
the name the previous one deleted, so a topic that comes back must start empty. Each value
names its topic, its incarnation (the cycle) and a number: "<topic>#<incarnation>#<n>".

Events (history JSONL, f = "topic-create", "topic-send", "topic-read", "topic-delete"; value
{"topic", "incarnation", ...}) are judged by topic_checks.py.
"""
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from topic_checks import PREFIX

CYCLE_RECORDS = 20
PARTITIONS = 2


def topic_name(seed, index):
    return f"{PREFIX}{seed}-{index}"


def run(args, history, stopping, logger):
    """The workload; `stopping()` says when SIGTERM came."""
    admin = AdminClient({"bootstrap.servers": args.brokers, "logger": logger})
    index, incarnation = 0, 0
    while not stopping():
        if incarnation % 2 == 0:
            index += 1
        incarnation += 1
        name = topic_name(args.seed, index)
        tag = {"topic": name, "incarnation": incarnation}
        if not create(admin, name, history, tag, stopping):
            continue
        acked = write(args, name, incarnation, history, tag, logger)
        read_back(args, name, acked, history, tag, logger)
        delete(admin, name, history, tag, stopping)
    return 0


def admin_call(submit, history, op, tag):
    """One CreateTopics/DeleteTopics call: "ok", or the error's name ("fail" for a definite
    refusal, "info" when it may have happened)."""
    history.write("invoke", op, tag)
    try:
        submit().result(30)
        history.write("ok", op, tag)
        return "ok"
    except KafkaException as e:
        err = e.args[0]
        definite = not err.retriable() and err.name() not in ("_TIMED_OUT", "REQUEST_TIMED_OUT")
        history.write("fail" if definite else "info", op, {**tag, "error": err.name()})
        return err.name()


def create(admin, name, history, tag, stopping):
    """Creates the topic; retried while the cluster cannot answer. A create whose answer was
    lost may have happened: TOPIC_ALREADY_EXISTS then counts as created."""
    while not stopping():
        got = admin_call(lambda: admin.create_topics(
            [NewTopic(name, PARTITIONS, 3)], operation_timeout=20)[name], history,
            "topic-create", tag)
        if got in ("ok", "TOPIC_ALREADY_EXISTS"):
            return True
        time.sleep(1.0)
    return False


def delete(admin, name, history, tag, stopping):
    """Deletes the topic, retried until it is gone (the name may come back next cycle)."""
    while True:
        got = admin_call(lambda: admin.delete_topics([name], operation_timeout=20)[name],
                         history, "topic-delete", tag)
        if got in ("ok", "UNKNOWN_TOPIC_OR_PART"):
            return
        if stopping():
            return
        time.sleep(1.0)


def write(args, name, incarnation, history, tag, logger):
    """CYCLE_RECORDS values, round-robin over the partitions; {value: (partition, offset)} of
    those acknowledged."""
    producer = Producer({"bootstrap.servers": args.brokers, "acks": "all",
                         "enable.idempotence": True, "message.timeout.ms": 30000,
                         "linger.ms": 5, "logger": logger})
    acked = {}

    def delivered(err, msg, value):
        if err is None:
            acked[value] = (msg.partition(), msg.offset())
            history.write("ok", "topic-send", {**tag, "value": value,
                                               "partition": msg.partition(),
                                               "offset": msg.offset()})
        else:
            history.write("info", "topic-send", {**tag, "value": value, "error": err.name()})

    for n in range(CYCLE_RECORDS):
        value = f"{name}#{incarnation}#{n}"
        producer.produce(name, value=value.encode(), partition=n % PARTITIONS,
                         on_delivery=lambda e, m, v=value: delivered(e, m, v))
    producer.flush(40)
    return acked


def read_back(args, name, acked, history, tag, logger, timeout=30.0):
    """Reads both partitions from the beginning to their end offsets, and at least past
    every acknowledged offset (a leader that has not yet learned it was replaced may still
    answer with an older end)."""
    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": "chaos-churn",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "logger": logger})
    deadline = time.monotonic() + timeout
    ends, records = None, []
    try:
        while ends is None and time.monotonic() < deadline:
            try:
                ends = {p: consumer.get_watermark_offsets(TopicPartition(name, p), 5,
                                                          cached=False)[1]
                        for p in range(PARTITIONS)}
                for p, o in acked.values():
                    ends[p] = max(ends[p], o + 1)
            except KafkaException:
                time.sleep(0.5)
        position = dict.fromkeys(range(PARTITIONS), 0)
        if ends is not None:
            consumer.assign([TopicPartition(name, p, 0) for p in range(PARTITIONS)])
            while time.monotonic() < deadline and any(position[p] < ends[p] for p in ends):
                for m in consumer.consume(100, 0.5):
                    if m.error() is None:
                        records.append([m.partition(), m.offset(), m.value().decode()])
                        position[m.partition()] = max(position[m.partition()], m.offset() + 1)
        complete = ends is not None and all(position[p] >= ends[p] for p in ends)
        history.write("ok", "topic-read", {**tag, "complete": complete, "records": records,
                                           "acked": len(acked)})
    finally:
        consumer.close()
