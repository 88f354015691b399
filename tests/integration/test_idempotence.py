"""Idempotent producers through a proxy that cuts connections after the broker appended a
batch but before the client saw the answer: with idempotence every record lands exactly
once and in order; without it the same faults duplicate records (so the faults are real)."""
import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from clients import create_topic
from cutting_proxy import CuttingProxy

RECORDS = 20_000


def produce_through(proxy_address, topic, idempotent, pause_every_100=0.0):
    errors = []
    producer = Producer({
        "bootstrap.servers": proxy_address,
        "enable.idempotence": idempotent,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 500,
        "max.in.flight.requests.per.connection": 5,
        "message.timeout.ms": 120_000,
        "retry.backoff.ms": 50,
        "error_cb": lambda e: errors.append(e),
    })
    failed = []

    def report(err, _msg):
        if err is not None:
            failed.append(err)

    for i in range(RECORDS):
        while True:
            try:
                producer.produce(topic, value=b"%08d" % i, partition=0, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 500 == 0:
            producer.poll(0)
        if pause_every_100 and i % 100 == 0:
            time.sleep(pause_every_100)  # keeps the stream going while the broker dies
    assert producer.flush(120) == 0, "records left undelivered"
    assert not failed, failed[:3]
    fatal = [e for e in errors if e.fatal()]
    assert not fatal, fatal
    return errors


def read_all(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    values = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        while True:
            msg = consumer.poll(10)
            assert msg is not None, "no end of partition within 10 s"
            if msg.error() is not None:
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                break
            values.append(int(msg.value()))
    finally:
        consumer.close()
    return values


def start_behind_proxy(start_broker):
    # The proxy binds first (port 0), so no other test can take its port in between.
    proxy = CuttingProxy(0, None, every=7, limit=12)
    proxy_port = proxy.server.getsockname()[1]
    broker = start_broker("--advertised", f"127.0.0.1:{proxy_port}")
    proxy.broker_address = broker.address  # read at each accept
    return broker, proxy, f"127.0.0.1:{proxy_port}"


def test_an_idempotent_producer_survives_lost_responses_exactly_once_in_order(start_broker):
    broker, proxy, address = start_behind_proxy(start_broker)
    try:
        create_topic(address, "exactly-once", 1)
        produce_through(address, "exactly-once", idempotent=True)
        assert proxy.cuts >= 5, f"the proxy cut only {proxy.cuts} connections"
        values = read_all(address, "exactly-once")
    finally:
        proxy.close()
    assert values == list(range(RECORDS)), (
        f"{len(values)} records, {len(values) - len(set(values))} duplicates")
    broker.restart()  # the sequences come back from the log: a retry now is still caught
    proxy = CuttingProxy(int(address.split(":")[1]), broker.address, every=7, limit=0)
    try:
        assert read_all(address, "exactly-once") == list(range(RECORDS))
    finally:
        proxy.close()


def test_without_idempotence_the_same_faults_duplicate_records(start_broker):
    _broker, proxy, address = start_behind_proxy(start_broker)
    try:
        create_topic(address, "at-least-once", 1)
        produce_through(address, "at-least-once", idempotent=False)
        values = read_all(address, "at-least-once")
    finally:
        proxy.close()
    assert proxy.cuts >= 5
    assert set(values) == set(range(RECORDS)), "acks=all with retries loses nothing"
    assert len(values) > RECORDS, "lost responses should have caused duplicates"


def test_an_idempotent_producer_across_a_broker_kill_9(start_broker):
    """The broker is killed mid-stream and restarted on the same port: the producer's
    sequences come back from the log, so its retries after the restart are recognised, and
    every acknowledged record is there exactly once, in order."""
    broker = start_broker()
    create_topic(broker.bootstrap, "idem-crash", 1)
    done = threading.Event()
    errors = []

    killed_at, finished_at = [], []

    def chaos():
        time.sleep(1.0)
        killed_at.append(time.monotonic())
        broker.restart(kill=True)
        done.set()

    killer = threading.Thread(target=chaos)
    killer.start()
    try:
        # ~4 s of producing; the broker dies 1 s in and is back after its restart.
        errors = produce_through(broker.bootstrap, "idem-crash", idempotent=True,
                                 pause_every_100=0.02)
        finished_at.append(time.monotonic())
    finally:
        killer.join(60)
    assert done.is_set(), "the broker was not killed and restarted"
    assert killed_at[0] < finished_at[0], "the kill came after the last record was sent"
    values = read_all(broker.bootstrap, "idem-crash")
    assert values == list(range(RECORDS)), (
        f"{len(values)} records, {len(values) - len(set(values))} duplicates, "
        f"first gap at {next((i for i, v in enumerate(values) if v != i), None)}; "
        f"client errors: {errors[:3]}")
