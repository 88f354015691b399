"""One confluent-kafka consumer in a group, as its own process so a test can SIGKILL it.
Prints one JSON object per line: {"event": "assigned"|"revoked", "partitions": [...]},
{"event": "records", "rows": [[partition, offset, value], ...]} (after committing them, or a
"commit_failed" event first), {"event": "closed"} after SIGTERM (it leaves the group).

Usage: group_member.py BOOTSTRAP TOPIC GROUP NAME [SESSION_TIMEOUT_MS [GROUP_INSTANCE_ID]]
(with an instance id it is a static member, KIP-345: it does not leave the group on close)"""
import json
import signal
import sys

from confluent_kafka import Consumer, KafkaError


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    bootstrap, topic, group, name = sys.argv[1:5]
    session_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 6000
    instance = {"group.instance.id": sys.argv[6]} if len(sys.argv) > 6 else {}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": name,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": 300,
        "topic.metadata.refresh.interval.ms": 1000,
        **instance,
    })
    consumer.subscribe(
        [topic],
        on_assign=lambda c, ps: emit({"event": "assigned",
                                      "partitions": sorted(p.partition for p in ps)}),
        on_revoke=lambda c, ps: emit({"event": "revoked",
                                      "partitions": sorted(p.partition for p in ps)}))
    while not stopping:
        msgs = consumer.consume(num_messages=500, timeout=0.2)
        rows = []
        for m in msgs:
            if m.error() is not None:
                if m.error().code() != KafkaError._PARTITION_EOF:
                    emit({"event": "error", "error": str(m.error())})
                continue
            rows.append([m.partition(), m.offset(), m.value().decode()])
        if rows:
            try:
                consumer.commit(asynchronous=False)
            except Exception as e:  # a rebalance under way: these may be delivered again
                emit({"event": "commit_failed", "error": str(e)})
            emit({"event": "records", "rows": rows})
    consumer.close()
    emit({"event": "closed"})


if __name__ == "__main__":
    main()
