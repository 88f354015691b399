"""Self-tests of the topic-churn checks (topic_checks.py): each anomaly in a small synthetic
history must be reported under its name, and its near miss must not be; the liveness and
leftover checks likewise.

  /usr/bin/python3 -m pytest -q tests/chaos/test_topic_checks.py
"""
import checker
import topic_checks

SECOND = 1_000_000_000


class Churn:
    """A synthetic topics-workload history; each event one second after the last."""

    def __init__(self):
        self.events, self.t = [], 0

    def event(self, type_, f, topic, incarnation, **value):
        self.t += SECOND
        self.events.append({"t": self.t, "proc": "t1", "type": type_, "f": f,
                            "value": {"topic": topic, "incarnation": incarnation, **value}})
        return self

    def create(self, topic, inc, outcome="ok"):
        return self.event("invoke", "topic-create", topic, inc).event(outcome, "topic-create",
                                                                      topic, inc)

    def ack(self, topic, inc, n, partition, offset):
        return self.event("ok", "topic-send", topic, inc, value=f"{topic}#{inc}#{n}",
                          partition=partition, offset=offset)

    def read(self, topic, inc, records, complete=True):
        return self.event("ok", "topic-read", topic, inc, complete=complete,
                          records=[[p, o, v] for p, o, v in records], acked=0)

    def delete(self, topic, inc):
        return self.event("invoke", "topic-delete", topic, inc).event("ok", "topic-delete",
                                                                      topic, inc)


def found(events):
    got = {}
    figures = topic_checks.check(events, lambda name, why: got.setdefault(name, []).append(why))
    return got, figures


def test_a_clean_cycle_reports_nothing_and_counts_one():
    h = Churn().create("churn-1-1", 1).ack("churn-1-1", 1, 0, 0, 0).ack("churn-1-1", 1, 1, 1, 0)
    h.read("churn-1-1", 1, [(0, 0, "churn-1-1#1#0"), (1, 0, "churn-1-1#1#1")])
    got, figures = found(h.delete("churn-1-1", 1).events)
    assert got == {}
    assert figures == {"cycles": 1, "creates_failed": 0, "reads_incomplete": 0}


def test_an_acknowledged_value_missing_from_a_complete_read_is_lost():
    h = Churn().create("churn-1-1", 1).ack("churn-1-1", 1, 0, 0, 0).ack("churn-1-1", 1, 1, 0, 1)
    h.read("churn-1-1", 1, [(0, 0, "churn-1-1#1#0")])
    got, _ = found(h.events)
    assert list(got) == ["topic-lost"] and "churn-1-1#1#1" in got["topic-lost"][0]


def test_a_value_at_another_offset_than_acknowledged_is_lost():
    h = Churn().create("churn-1-1", 1).ack("churn-1-1", 1, 0, 0, 5)
    got, _ = found(h.read("churn-1-1", 1, [(0, 4, "churn-1-1#1#0")]).events)
    assert list(got) == ["topic-lost"]


def test_an_incomplete_read_is_not_judged_but_counted():
    h = Churn().create("churn-1-1", 1).ack("churn-1-1", 1, 0, 0, 0)
    got, figures = found(h.read("churn-1-1", 1, [], complete=False).events)
    assert got == {} and figures["reads_incomplete"] == 1


def test_a_recreated_topic_serving_the_old_incarnation_is_resurrected():
    h = Churn().create("churn-1-1", 1).ack("churn-1-1", 1, 0, 0, 0)
    h.read("churn-1-1", 1, [(0, 0, "churn-1-1#1#0")]).delete("churn-1-1", 1)
    h.create("churn-1-1", 2).ack("churn-1-1", 2, 0, 0, 0)
    got, _ = found(h.read("churn-1-1", 2, [(0, 0, "churn-1-1#1#0"), (0, 1, "churn-1-1#2#0")])
                   .events)
    assert set(got) == {"topic-resurrected", "topic-lost"}


def test_a_value_read_twice_is_a_duplicate():
    h = Churn().create("churn-1-1", 1).ack("churn-1-1", 1, 0, 0, 0)
    got, _ = found(h.read("churn-1-1", 1, [(0, 0, "churn-1-1#1#0"), (0, 1, "churn-1-1#1#0")])
                   .events)
    assert list(got) == ["topic-duplicate"]


def test_refused_creates_are_counted():
    _, figures = found(Churn().create("churn-1-1", 1, "fail").create("churn-1-1", 1, "info")
                       .create("churn-1-1", 1).events)
    assert figures["creates_failed"] == 2


def test_a_cycle_must_begin_and_end_after_the_heal():
    h = Churn().create("churn-1-1", 1)
    healed = h.t
    h.delete("churn-1-1", 1)
    assert not topic_checks.completed_after(h.events, healed)
    h.create("churn-1-2", 2).delete("churn-1-2", 2)
    assert topic_checks.completed_after(h.events, healed)


def test_deleted_topics_must_be_gone_from_the_listing_and_every_disk():
    h = Churn().create("churn-1-1", 1).delete("churn-1-1", 1).create("churn-1-2", 2)
    deleted = topic_checks.deleted_last(h.events)
    assert deleted == {"churn-1-1"}
    assert topic_checks.leftovers(deleted, {"chaos", "churn-1-2"},
                                  {1: ["chaos-0", "churn-1-2-0", "churn-1-2-1"]}) == []
    found_left = topic_checks.leftovers(deleted, {"chaos", "churn-1-1", "churn-1-2"},
                                        {2: ["churn-1-2-0", ".deleted-churn-1-1-0"],
                                         3: ["churn-1-3-1"]})
    assert found_left == ["deleted topic churn-1-1 is still listed",
                          "node 2 still holds .deleted-churn-1-1-0 of a deleted topic",
                          "node 3 still holds churn-1-3-1 of a deleted topic"]


def test_a_topic_anomaly_fails_the_run():
    h = Churn().create("churn-1-1", 1).ack("churn-1-1", 1, 0, 0, 0)
    result = checker.check(h.read("churn-1-1", 1, []).events)
    assert result["verdict"] == "FAIL" and result["anomalies"]["topic-lost"] == 1
    assert result["topic_churn"]["reads_incomplete"] == 0
