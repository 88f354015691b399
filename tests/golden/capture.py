#!/usr/bin/python3
"""Captures the request frames real Kafka clients send, as golden test data.

Starts tests/golden's capture broker, runs kcat, confluent-kafka (librdkafka), kafka-python and
KafkaJS through produce, consume, group, commit and topic-creation scenarios against it, and
leaves one hex file per (client id, API, version) in the output folder. The golden tests
(tests/unit/kafka/protocol/golden_test.cc) decode those files; recapture by hand when a
client changes:

  tests/golden/capture.py build/release/tests/golden/golden_capture_broker \
      tests/unit/kafka/protocol/golden
"""
import os
import pathlib
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "integration" / "js"
TOPIC = "golden"
CODECS = ["gzip", "snappy", "lz4", "zstd"]
# Values long and repetitive enough that every client really compresses them (librdkafka and
# kafka-python send a batch uncompressed when compression would not make it smaller).
PAD = "a" * 500
THREE_RECORDS = "".join(f"key-{i}:value-{i}-{PAD}\n" for i in (1, 2, 3)).encode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    print("+", " ".join(c if "\n" not in c else "<script>" for c in cmd), flush=True)
    subprocess.run(cmd, timeout=60, check=False, **kw)


def kcat(bootstrap):
    base = ["kcat", "-b", bootstrap, "-X", "client.id=golden-kcat"]
    run(base + ["-L"])
    run(base + ["-P", "-t", TOPIC, "-p", "0", "-K:", "-H", "trace=abc", "-X", "acks=all"],
        input=b"key-1:value-1\n")
    run(base + ["-C", "-t", TOPIC, "-p", "0", "-o", "beginning", "-e"])
    for codec in CODECS:  # one batch of three records per codec
        run(["kcat", "-b", bootstrap, "-X", f"client.id=golden-kcat-{codec}", "-P", "-t", TOPIC,
             "-p", "0", "-K:", "-z", codec, "-X", "linger.ms=200"], input=THREE_RECORDS)


CONFLUENT = r"""
import sys
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
b = sys.argv[1]
c = Consumer({"bootstrap.servers": b, "client.id": "golden-confluent",
              "group.id": "golden-group", "session.timeout.ms": 10000,
              "enable.auto.commit": False})
c.subscribe(["golden"])
for _ in range(6):
    c.poll(0.5)
c.commit(offsets=[TopicPartition("golden", 0, 42)], asynchronous=False)
c.close()
a = AdminClient({"bootstrap.servers": b, "client.id": "golden-confluent"})
for f in a.create_topics([NewTopic("golden-created", 3, 1)], operation_timeout=5).values():
    f.result()
"""

KAFKA_PYTHON = r"""
import sys
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata
b = sys.argv[1]
p = KafkaProducer(bootstrap_servers=b, client_id="golden-kafka-python", acks=1)
p.send("golden", key=b"key-1", value=b"value-1", headers=[("trace", b"abc")]).get(10)
p.close()
c = KafkaConsumer("golden", bootstrap_servers=b, client_id="golden-kafka-python",
                  group_id="golden-group", enable_auto_commit=False)
c.poll(3000)
c.commit({TopicPartition("golden", 0): OffsetAndMetadata(42, None)})
c.close()
a = KafkaAdminClient(bootstrap_servers=b, client_id="golden-kafka-python")
a.create_topics([NewTopic("golden-created", 3, 1)])
a.close()
for codec in ["gzip", "snappy", "lz4", "zstd"]:  # one batch of three records per codec
    p = KafkaProducer(bootstrap_servers=b, client_id="golden-kafka-python-" + codec,
                      compression_type=codec, linger_ms=200)
    for i in (1, 2, 3):
        p.send("golden", key=b"key-%d" % i, value=b"value-%d-" % i + b"a" * 500, partition=0)
    p.flush()
    p.close()
"""

KAFKAJS = r"""
const { Kafka, logLevel, CompressionTypes } = require('kafkajs')
const kafka = new Kafka({ clientId: 'golden-kafkajs', brokers: [process.argv[1]],
                          logLevel: logLevel.NOTHING })
async function main() {
  const p = kafka.producer()
  await p.connect()
  await p.send({ topic: 'golden', acks: -1,
                 messages: [{ key: 'key-1', value: 'value-1', headers: { trace: 'abc' } }] })
  await p.disconnect()
  const c = kafka.consumer({ groupId: 'golden-group' })
  await c.connect()
  await c.subscribe({ topic: 'golden', fromBeginning: true })
  await c.run({ autoCommit: false, eachMessage: async () => {} })
  await new Promise(r => setTimeout(r, 3000))
  await c.commitOffsets([{ topic: 'golden', partition: 0, offset: '42' }])
  await c.disconnect()
  const a = kafka.admin()
  await a.connect()
  await a.createTopics({ topics: [{ topic: 'golden-created', numPartitions: 3 }] })
  await a.disconnect()
  const gz = new Kafka({ clientId: 'golden-kafkajs-gzip', brokers: [process.argv[1]],
                         logLevel: logLevel.NOTHING }).producer()
  await gz.connect()
  await gz.send({ topic: 'golden', compression: CompressionTypes.GZIP, messages: [1, 2, 3].map(
    i => ({ key: `key-${i}`, value: `value-${i}-` + 'a'.repeat(500), partition: 0 })) })
  await gz.disconnect()
}
main().then(() => process.exit(0), e => { console.error(e); process.exit(1) })
"""


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    broker, out = sys.argv[1], pathlib.Path(sys.argv[2])
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    proc = subprocess.Popen([broker, str(port), str(out)])
    try:
        time.sleep(0.5)
        kcat(bootstrap)
        run(["/usr/bin/python3", "-c", CONFLUENT, bootstrap])
        run(["/usr/bin/python3", "-c", KAFKA_PYTHON, bootstrap])
        run(["node", "-e", KAFKAJS, bootstrap], cwd=JS_DIR,
            env=dict(os.environ, NODE_PATH=str(JS_DIR / "node_modules")))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
