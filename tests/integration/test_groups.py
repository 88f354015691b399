"""Consumer groups with real clients against a real broker: partitions shared without
overlap, taken over when a member leaves or is killed, committed offsets that survive a
restart, and the admin view of groups. librdkafka consumers run as their own processes
(group_member.py) so one can be SIGKILLed."""
import json
import os
import pathlib
import subprocess
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KTopicPartition
from kafka.admin import KafkaAdminClient

from broker import wait_until
from clients import admin, confluent_produce, create_topic, make_records

HERE = pathlib.Path(__file__).parent
MEMBER = HERE / "group_member.py"
JS_MEMBER = HERE / "js" / "group_member.js"
PARTITIONS = 6
FAST_GROUPS = ("--group-initial-rebalance-delay-ms", "300")


class Member:
    """A group_member.py process and what it reported."""

    def __init__(self, broker, topic, group, name, kafkajs=False, extra=()):
        self.name = name
        self.events = []
        command = (["node", str(JS_MEMBER)] if kafkajs
                   else ["/usr/bin/python3", str(MEMBER)])
        self.proc = subprocess.Popen(
            command + [broker.bootstrap, topic, group, name, *extra], cwd=JS_MEMBER.parent,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "KAFKAJS_NO_PARTITIONER_WARNING": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def assignment(self):
        """The partitions it holds now (eager rebalancing: revoke all, then assign)."""
        held = set()
        for e in list(self.events):
            if e["event"] == "assigned":
                held = set(e["partitions"])
            elif e["event"] == "revoked":
                held = set()
        return held

    def rows(self):
        return [tuple(r) for e in list(self.events) if e["event"] == "records" for r in e["rows"]]

    def errors(self):
        return [e for e in list(self.events) if e["event"] == "error"]

    def terminate(self):
        self.proc.terminate()
        assert self.proc.wait(30) == 0, self.proc.stderr.read()
        self._reader.join(10)
        assert self.events[-1]["event"] == "closed"

    def kill(self):
        self.proc.kill()
        self.proc.wait(30)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def produce_values(broker, topic, first, count):
    """Records with values r-<n>, spread over the partitions by n."""
    records = make_records(count, first_seq=first)
    values = [f"r-{first + i}".encode() for i in range(count)]
    records = [r._replace(value=v) for r, v in zip(records, values)]
    for p in range(PARTITIONS):
        part = [r for i, r in enumerate(records) if (first + i) % PARTITIONS == p]
        if part:
            confluent_produce(broker.bootstrap, topic, part, partition=p)


def shared_cleanly(members, partitions=PARTITIONS):
    held = [m.assignment() for m in members]
    union = set().union(*held)
    return (union == set(range(partitions)) and sum(len(h) for h in held) == partitions
            and all(held))


def committed(broker, topic, group):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def test_three_librdkafka_consumers_share_take_over_and_resume_after_a_restart(start_broker):
    broker = start_broker(*FAST_GROUPS)
    topic, group = "shared", "three"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    members = [Member(broker, topic, group, f"m{i}") for i in range(3)]
    try:
        a, b, c = members
        wait_until(lambda: shared_cleanly(members), 30, "three members sharing six partitions")
        assert all(len(m.assignment()) == 2 for m in members)

        produce_values(broker, topic, 0, 600)
        wait_until(lambda: sum(len(m.rows()) for m in members) >= 600, 60, "600 records consumed")
        rows = [r for m in members for r in m.rows()]
        assert sorted(v for _, _, v in rows) == sorted(f"r-{n}" for n in range(600)), \
            "every record exactly once across the group"
        for m in members:  # each read only its own partitions
            assert {p for p, _, _ in m.rows()} <= m.assignment(), m.name

        # A member that leaves politely: the other two take its partitions.
        a.terminate()
        wait_until(lambda: shared_cleanly([b, c]), 20, "b and c sharing all six partitions")

        # A member that is killed: its session times out and b takes everything.
        c.kill()
        killed_at = time.monotonic()
        wait_until(lambda: b.assignment() == set(range(PARTITIONS)), 30,
                   "b holding all six partitions after c was killed")
        took = time.monotonic() - killed_at
        assert took < 6 + 8, f"takeover took {took:.1f} s with a 6 s session timeout"

        produce_values(broker, topic, 600, 60)
        wait_until(lambda: {f"r-{n}" for n in range(600, 660)} <= {v for _, _, v in b.rows()},
                   60, "b consuming the records produced after the takeover")
        b.terminate()
        assert not any(m.errors() for m in members), [m.errors() for m in members]
    finally:
        for m in members:
            m.close()

    # 660 records, 110 per partition, all committed; the commits survive a restart.
    assert committed(broker, topic, group) == {p: 110 for p in range(PARTITIONS)}
    broker.restart()
    assert committed(broker, topic, group) == {p: 110 for p in range(PARTITIONS)}

    produce_values(broker, topic, 660, 60)
    d = Member(broker, topic, group, "d")
    try:
        wait_until(lambda: len(d.rows()) >= 60, 60, "d consuming the new records")
        time.sleep(1)  # anything older would have arrived with them
        rows = d.rows()
        assert sorted(v for _, _, v in rows) == sorted(f"r-{n}" for n in range(660, 720))
        assert min(o for _, o, _ in rows) == 110, "consumption resumes exactly after the commit"
        d.terminate()
    finally:
        d.close()


def test_kafkajs_consumers_share_and_take_over(start_broker):
    broker = start_broker(*FAST_GROUPS)
    topic, group = "js-shared", "js-group"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    members = [Member(broker, topic, group, f"js{i}", kafkajs=True) for i in range(2)]
    try:
        a, b = members
        wait_until(lambda: shared_cleanly(members), 60, "two KafkaJS members sharing")
        produce_values(broker, topic, 0, 300)
        wait_until(lambda: len(a.rows()) + len(b.rows()) >= 300, 60, "300 records consumed")
        values = sorted(v for m in members for _, _, v in m.rows())
        assert values == sorted(f"r-{n}" for n in range(300)), "each record once"
        a.kill()
        wait_until(lambda: b.assignment() == set(range(PARTITIONS)), 40,
                   "the surviving KafkaJS member holding every partition")
        produce_values(broker, topic, 300, 60)
        wait_until(lambda: {f"r-{n}" for n in range(300, 360)} <= {v for _, _, v in b.rows()},
                   60, "the survivor consuming the new records")
        b.terminate()
        assert not any(m.errors() for m in members), [m.errors() for m in members]
    finally:
        for m in members:
            m.close()
    assert committed(broker, topic, group) == {p: 60 for p in range(PARTITIONS)}


def test_kafka_python_consumers_share_a_group(start_broker):
    broker = start_broker(*FAST_GROUPS)
    topic, group = "kp-shared", "kp-group"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    consumers = [KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                               client_id=f"kp{i}", auto_offset_reset="earliest",
                               enable_auto_commit=False, session_timeout_ms=6000,
                               heartbeat_interval_ms=500, consumer_timeout_ms=200)
                 for i in range(2)]
    got = {0: [], 1: []}
    stops = [threading.Event(), threading.Event()]

    def run(i):
        c = consumers[i]
        while not stops[i].is_set():
            batch = c.poll(timeout_ms=200)
            for records in batch.values():
                got[i].extend((r.partition, r.offset, r.value) for r in records)
            if batch:
                c.commit()
        if i == 0:
            c.close()  # leaves the group (LeaveGroup)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()

    def assignments():
        return [{tp.partition for tp in c.assignment()} for c in consumers]

    try:
        wait_until(lambda: (lambda a: a[0] and a[1] and not a[0] & a[1]
                            and a[0] | a[1] == set(range(PARTITIONS)))(assignments()),
                   30, "two kafka-python consumers sharing six partitions")
        produce_values(broker, topic, 0, 300)
        wait_until(lambda: len(got[0]) + len(got[1]) >= 300, 60, "300 records consumed")
        values = sorted(v.decode() for i in got for _, _, v in got[i])
        assert values == sorted(f"r-{n}" for n in range(300))
        held = assignments()
        for i in got:
            assert {p for p, _, _ in got[i]} <= held[i]
        # The first leaves; the second takes over its partitions and what arrives on them.
        stops[0].set()
        threads[0].join(10)
        wait_until(lambda: {tp.partition for tp in consumers[1].assignment()} ==
                   set(range(PARTITIONS)), 30, "the remaining consumer holding all six")
        produce_values(broker, topic, 300, 60)
        wait_until(lambda: {f"r-{n}" for n in range(300, 360)} <=
                   {v.decode() for _, _, v in got[1]}, 60, "the survivor reading new records")
    finally:
        for ev in stops:
            ev.set()
        for t in threads:
            t.join(10)
        consumers[1].close()
    check = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group,
                          enable_auto_commit=False)
    try:
        assert {p: check.committed(KTopicPartition(topic, p)) for p in range(PARTITIONS)} == \
            {p: 60 for p in range(PARTITIONS)}
    finally:
        check.close()


def test_groups_through_the_admin_clients(start_broker):
    broker = start_broker(*FAST_GROUPS)
    topic, group = "admin-groups", "watched"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    produce_values(broker, topic, 0, 60)
    member = Member(broker, topic, group, "watched-member")
    kadmin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        wait_until(lambda: member.assignment() == set(range(PARTITIONS)), 30, "member assigned")
        wait_until(lambda: len(member.rows()) >= 60, 30, "member consumed")

        listed = {g.id: g for g in admin(broker.bootstrap).list_groups(timeout=10)}
        assert group in listed and listed[group].state == "Stable"
        assert [m.client_id for m in listed[group].members] == ["watched-member"]

        (desc,) = kadmin.describe_consumer_groups([group])
        assert desc.state == "Stable" and desc.protocol_type == "consumer"
        assert len(desc.members) == 1
        assigned = desc.members[0].member_assignment.assignment
        assert assigned == [(topic, list(range(PARTITIONS)))]

        offsets = kadmin.list_consumer_group_offsets(group)
        assert {tp.partition: o.offset for tp, o in offsets.items()} == \
            {p: 10 for p in range(PARTITIONS)}
        (result,) = kadmin.delete_consumer_groups([group])
        assert result[1].__name__ == "NonEmptyGroupError", result
        member.terminate()
        wait_until(lambda: any(g.state == "Empty" for g in
                               admin(broker.bootstrap).list_groups(group, timeout=10)),
                   15, "the group empty after its member left")
        (result,) = kadmin.delete_consumer_groups([group])
        assert result[1].__name__ == "NoError", result
        # The group log is the broker's: it can be read, not deleted.
        adm = admin(broker.bootstrap)  # kept alive while its future is pending
        fut = adm.delete_topics(["__consumer_offsets"])["__consumer_offsets"]
        try:
            fut.result(10)
            raise AssertionError("__consumer_offsets was deleted")
        except KafkaException as e:
            assert e.args[0].code() == KafkaError.TOPIC_EXCEPTION, e
        # Nor written by clients: forged offsets would be replayed at the next start.
        reports = []
        forger = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": False,
                           "retries": 0})
        forger.produce("__consumer_offsets", key=b"k", value=b"v", partition=0,
                       on_delivery=lambda err, msg: reports.append(err))
        forger.flush(10)
        assert len(reports) == 1 and reports[0] is not None
        assert reports[0].code() == KafkaError.TOPIC_EXCEPTION, reports
        assert kadmin.list_consumer_group_offsets(group) == {}
        assert group not in {g.id for g in admin(broker.bootstrap).list_groups(timeout=10)}
    finally:
        member.close()
        kadmin.close()


def test_acknowledged_commits_survive_kill_9(start_broker):
    """An OffsetCommit is answered only once the group log is fsynced: kill -9 right after
    the answers and every acknowledged commit is still there."""
    broker = start_broker(*FAST_GROUPS)
    topic, group = "commit-crash", "crashing"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        for round_ in range(1, 21):
            offsets = [TopicPartition(topic, p, round_ * 10 + p) for p in range(PARTITIONS)]
            consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()
    broker.restart(kill=True)
    assert committed(broker, topic, group) == {p: 200 + p for p in range(PARTITIONS)}
