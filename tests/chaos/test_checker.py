"""Self-tests of the chaos checker (RELIABILITY.md §8.7): for every anomaly a minimal synthetic
history that must be reported under exactly that name, and a near miss that must not; then
the verdict lattice, the figures, the summary, load() and the command line.

  /usr/bin/python3 -m pytest -q tests/chaos/test_checker.py
"""
import json
import pathlib
import subprocess

import pytest

import checker
import topic_checks

HERE = pathlib.Path(__file__).resolve().parent
SECOND = 1_000_000_000


class Builder:
    """A synthetic history in the checker's format; each event is one second after the last,
    so the order of the calls is the real-time order."""

    def __init__(self):
        self.events = []
        self.t = 0

    def event(self, proc, type_, f, value):
        self.t += SECOND
        self.events.append({"t": self.t, "proc": proc, "type": type_, "f": f, "value": value})
        return self

    def invoke(self, proc, partition, value, idempotent=True):
        return self.event(proc, "invoke", "send",
                          {"partition": partition, "value": value, "idempotent": idempotent})

    def ack(self, proc, partition, value, offset):
        return self.event(proc, "ok", "send",
                          {"partition": partition, "value": value, "offset": offset})

    def send(self, proc, partition, value, offset, idempotent=True):
        """An acknowledged send, invoke then ok."""
        return self.invoke(proc, partition, value, idempotent).ack(proc, partition, value,
                                                                   offset)

    def unsure(self, proc, partition, value, outcome="info"):
        """A send that ended indeterminate (info) or definitely failed (fail)."""
        self.invoke(proc, partition, value)
        return self.event(proc, outcome, "send",
                          {"partition": partition, "value": value, "error": "timed out"})

    def assign(self, proc, partitions=(0, 1)):
        return self.event(proc, "ok", "assign", {"partitions": list(partitions)})

    def poll(self, proc, records):
        """records: {partition: [(offset, value), ...]}"""
        return self.event(proc, "ok", "poll", {"records": {
            str(p): [[o, v] for o, v in recs] for p, recs in records.items()}})

    def acked(self):
        """{partition: [(offset, value)]} of every acknowledged send so far, by offset."""
        records = {}
        for e in self.events:
            if e.get("f") == "send" and e["type"] == "ok":
                v = e["value"]
                records.setdefault(v["partition"], []).append((v["offset"], v["value"]))
        return {p: sorted(recs) for p, recs in records.items()}

    def drain(self, records=None, complete=True):
        """The final drain: assign, one poll (by default every acknowledged send at its
        offset), drain-done."""
        records = self.acked() if records is None else records
        self.assign("drain", sorted(set(records) | {0, 1}))
        if records:
            self.poll("drain", records)
        ends = {str(p): (recs[-1][0] + 1 if recs else 0) for p, recs in records.items()}
        return self.event("drain", "ok", "drain-done", {"complete": complete,
                                                        "end_offsets": ends})

    def commit(self, proc, group, offsets, outcome="ok"):
        offsets = {str(p): o for p, o in offsets.items()}
        self.event(proc, "invoke", "commit", {"group": group, "offsets": offsets})
        return self.event(proc, outcome, "commit", {"group": group, "offsets": offsets})

    def fetch_invoke(self, proc, group):
        return self.event(proc, "invoke", "fetch-committed", {"group": group})

    def fetch_ok(self, proc, group, offsets):
        return self.event(proc, "ok", "fetch-committed",
                          {"group": group, "offsets": {str(p): o for p, o in offsets.items()}})

    def fetch(self, proc, group, offsets):
        return self.fetch_invoke(proc, group).fetch_ok(proc, group, offsets)

    def hw(self, partition, hw, leader=1):
        return self.event("observer", "ok", "hw",
                          {"partition": partition, "hw": hw, "leader": leader})

    def leader_change(self, partition, old, new):
        return self.event("observer", "ok", "leader-change",
                          {"partition": partition, "from": old, "to": new})

    def fault(self, kind, node=1):
        self.t += SECOND
        for type_ in ("inject", "injected", "heal", "healed"):
            self.events.append({"t": self.t, "type": type_, "fault": kind, "node": node})
        return self

    def check(self, **kwargs):
        return checker.check(self.events, **kwargs)


def reported(result):
    """The anomaly names with a count above zero."""
    return {name for name, count in result["anomalies"].items() if count}


def three_records(b):
    """p1 acknowledged at offsets 0, 1, 2 of partition 0."""
    return b.send("p1", 0, "a0", 0).send("p1", 0, "a1", 1).send("p1", 0, "a2", 2)


def read_all_by_c2(b):
    """Another poller that reads partition 0 whole, so no send counts as a lost-write."""
    return b.assign("c2").poll("c2", b.acked())


# ---------------------------------------------------------------------------------------------
# One history per anomaly that must be reported, and its near miss that must not


def inconsistent_offsets():
    b = Builder().send("p1", 0, "a0", 0).unsure("p2", 0, "b0")
    b.assign("c1").poll("c1", {0: [(0, "a0")]})
    b.assign("c2").poll("c2", {0: [(0, "b0")]})  # b0 at a0's offset
    return b.drain()


def inconsistent_offsets_near_miss():
    b = Builder().send("p1", 0, "a0", 0)
    b.assign("c1").poll("c1", {0: [(0, "a0")]})
    b.assign("c2").poll("c2", {0: [(0, "a0")]})  # the same value at that offset again
    return b.drain()


def unexpected():
    b = Builder().send("p1", 0, "a0", 0)
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "ghost")]})
    return b.drain({0: [(0, "a0"), (1, "ghost")]})


def unexpected_near_miss():
    b = Builder().send("p1", 0, "a0", 0).unsure("p1", 0, "a1")  # indeterminate, then landed
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "a1")]})
    return b.drain({0: [(0, "a0"), (1, "a1")]})


def aborted_read():
    b = Builder().send("p1", 0, "a0", 0).unsure("p1", 0, "a1", outcome="fail")
    return b.drain({0: [(0, "a0"), (1, "a1")]})


def aborted_read_near_miss():
    b = Builder().send("p1", 0, "a0", 0).unsure("p1", 0, "a1", outcome="fail")
    return b.drain()


def duplicate(idempotent=True):
    b = Builder().send("p1", 0, "a0", 0, idempotent=idempotent)
    return b.drain({0: [(0, "a0"), (1, "a0")]})


def duplicate_near_miss():
    return duplicate(idempotent=False)  # reported as duplicate-non-idempotent, not a FAIL


def duplicate_non_idempotent():
    return duplicate(idempotent=False)


def duplicate_non_idempotent_near_miss():
    b = Builder().send("p1", 0, "a0", 0, idempotent=False)
    b.assign("c1").poll("c1", {0: [(0, "a0")]})  # read twice, at one offset
    return b.drain()


def misrouted():
    b = Builder().send("p1", 0, "a0", 0)
    return b.drain({0: [(0, "a0")], 1: [(0, "a0")]})


def misrouted_near_miss():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 1, "b0", 0)  # one offset, two partitions
    return b.drain()


def lost(drained=((0, "a0"),)):
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "a1")]})
    return b.drain({0: list(drained)})


def lost_near_miss():
    return lost(drained=((0, "a0"), (1, "a1")))


def unseen_at_end():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    return b.drain({0: [(0, "a0")]})  # nobody ever read a1


def unseen_at_end_near_miss():
    b = Builder().send("p1", 0, "a0", 0).unsure("p1", 0, "a1")  # not acked: may be absent
    return b.drain()


def lost_write():
    b = three_records(Builder())
    b.assign("c1").poll("c1", {0: [(0, "a0")]})
    b.assign("c1").poll("c1", {0: [(2, "a2")]})  # re-seeked past a1: no poller read it
    return b.drain()


def lost_write_near_miss():
    b = three_records(Builder())
    b.assign("c1").poll("c1", {0: [(0, "a0")]})  # a1, a2 above what pollers read
    return b.drain()


def nonmonotonic_send():
    b = Builder().invoke("p1", 0, "a0").invoke("p1", 0, "a1")
    b.ack("p1", 0, "a1", 0).ack("p1", 0, "a0", 1)  # a1 sent after a0, landed before it
    return b.drain()


def nonmonotonic_send_near_miss():
    b = Builder().invoke("p1", 0, "a0").invoke("p2", 0, "b0")
    b.ack("p2", 0, "b0", 0).ack("p1", 0, "a0", 1)  # two producers: any order
    return b.drain()


def realtime_offset():
    b = Builder().send("p1", 0, "a0", 1)
    b.send("p2", 0, "b0", 0)  # invoked after a0's ack, got a lower offset
    return b.drain()


def realtime_offset_near_miss():
    b = Builder().invoke("p1", 0, "a0").invoke("p2", 0, "b0")
    b.ack("p1", 0, "a0", 1).ack("p2", 0, "b0", 0)  # concurrent sends
    return b.drain()


def poll_skip():
    b = read_all_by_c2(three_records(Builder()))
    b.assign("c1").poll("c1", {0: [(0, "a0")]}).poll("c1", {0: [(2, "a2")]})
    return b.drain()


def poll_skip_near_miss():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1).send("p1", 0, "a2", 3)
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "a1")]})
    b.poll("c1", {0: [(3, "a2")]})  # offset 2 holds nothing known (a control batch)
    return b.drain()


def nonmonotonic_poll():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "a1")]}).poll("c1", {0: [(1, "a1")]})
    return b.drain()


def nonmonotonic_poll_near_miss():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "a1")]})
    b.assign("c1").poll("c1", {0: [(1, "a1")]})  # re-seeked after a crash: any position
    return b.drain()


def int_poll_skip():
    b = read_all_by_c2(three_records(Builder()))
    b.assign("c1").poll("c1", {0: [(0, "a0"), (2, "a2")]})
    return b.drain()


def int_poll_skip_near_miss():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a2", 2)  # nothing known at 1
    b.assign("c1").poll("c1", {0: [(0, "a0"), (2, "a2")]})
    return b.drain()


def int_nonmonotonic_poll():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    b.assign("c1").poll("c1", {0: [(1, "a1"), (0, "a0")]})
    return b.drain()


def int_nonmonotonic_poll_near_miss():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "a1")], 1: []})
    return b.drain()


def lost_commit():
    b = Builder().commit("c1", "g", {0: 3}).commit("c1", "g", {0: 5})
    b.fetch("c2", "g", {0: 3})  # 5 was acknowledged before this fetch began
    return b.drain()


def lost_commit_near_miss():
    b = Builder().commit("c1", "g", {0: 3}).fetch_invoke("c2", "g")
    b.commit("c1", "g", {0: 5})
    b.fetch_ok("c2", "g", {0: 3})  # the commit of 5 was concurrent with the fetch
    return b.drain()


def unexpected_commit():
    b = Builder().commit("c1", "g", {0: 3}).fetch("c2", "g", {0: 7})
    return b.drain()


def unexpected_commit_near_miss():
    b = Builder().fetch("c2", "g", {0: -1})  # nothing committed yet
    b.commit("c1", "g", {0: 7}, outcome="info")  # indeterminate: may have happened
    b.fetch("c2", "g", {0: 7})
    return b.drain()


def hw_regression():
    return Builder().hw(0, 5).hw(0, 3).drain()


def hw_regression_near_miss():
    return Builder().hw(0, 3).hw(0, 5).hw(0, 5).hw(1, 1).drain()


# name -> (history that must report it, near miss that must not, names reported alongside)
CASES = {
    "inconsistent-offsets": (inconsistent_offsets, inconsistent_offsets_near_miss, set()),
    "unexpected": (unexpected, unexpected_near_miss, set()),
    "G1a": (aborted_read, aborted_read_near_miss, set()),
    "duplicate": (duplicate, duplicate_near_miss, set()),
    "duplicate-non-idempotent": (duplicate_non_idempotent, duplicate_non_idempotent_near_miss,
                                 set()),
    "misrouted": (misrouted, misrouted_near_miss, set()),
    "lost": (lost, lost_near_miss, set()),
    # never read by anyone means not in the drain either
    "unseen-at-end": (unseen_at_end, unseen_at_end_near_miss, {"lost"}),
    "lost-write": (lost_write, lost_write_near_miss, set()),
    "nonmonotonic-send": (nonmonotonic_send, nonmonotonic_send_near_miss, set()),
    "realtime-offset": (realtime_offset, realtime_offset_near_miss, set()),
    "poll-skip": (poll_skip, poll_skip_near_miss, set()),
    "nonmonotonic-poll": (nonmonotonic_poll, nonmonotonic_poll_near_miss, set()),
    "int-poll-skip": (int_poll_skip, int_poll_skip_near_miss, set()),
    "int-nonmonotonic-poll": (int_nonmonotonic_poll, int_nonmonotonic_poll_near_miss, set()),
    "lost-commit": (lost_commit, lost_commit_near_miss, set()),
    "unexpected-commit": (unexpected_commit, unexpected_commit_near_miss, set()),
    "hw-regression": (hw_regression, hw_regression_near_miss, set()),
}


def test_every_anomaly_has_a_case():
    # The topic-churn anomalies have theirs in test_topic_checks.py.
    assert set(CASES) | set(topic_checks.ANOMALIES) == set(checker.ANOMALIES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_anomaly_is_reported(name):
    history, _, alongside = CASES[name]
    result = history().check()
    assert reported(result) == {name} | alongside, result["examples"]
    expected = "FAIL" if name in checker.FAIL_ANOMALIES else "PASS"
    assert result["verdict"] == expected, result["reasons"]
    example = result["examples"][name][0]
    assert set(example) == {"partition", "offset", "values", "procs", "t", "why"}
    assert example["partition"] is not None and example["procs"], example


@pytest.mark.parametrize("name", sorted(CASES))
def test_near_miss_is_not_reported(name):
    _, near_miss, _ = CASES[name]
    result = near_miss().check()
    assert result["anomalies"][name] == 0, result["examples"].get(name)
    assert result["verdict"] == "PASS", result["reasons"]


def test_two_acks_at_one_offset_are_inconsistent_offsets():
    b = Builder().send("p1", 0, "a0", 0).send("p2", 0, "b0", 0)
    result = b.drain({0: [(0, "a0")]}).check()
    assert result["anomalies"]["inconsistent-offsets"] == 1
    assert set(result["examples"]["inconsistent-offsets"][0]["values"]) == {"a0", "b0"}


def test_lost_counts_a_different_value_at_the_acked_offset():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    b.assign("c1").poll("c1", {0: [(0, "a0"), (1, "a1")]})
    result = b.drain({0: [(0, "a0"), (1, "a0")]}).check()
    assert {"lost", "duplicate", "inconsistent-offsets"} <= reported(result)


def test_commit_lost_to_nothing_is_lost_commit():
    result = Builder().commit("c1", "g", {0: 3}).fetch("c2", "g", {0: -1}).drain().check()
    assert reported(result) == {"lost-commit"}


def test_fetch_without_invoke_is_dated_by_the_procs_previous_event():
    b = Builder().commit("c1", "g", {0: 3}).commit("c1", "g", {0: 5})
    b.assign("c2", [0]).fetch_ok("c2", "g", {0: 3})
    assert reported(b.drain().check()) == {"lost-commit"}


def test_the_drain_is_checked_for_poll_continuity_too():
    b = three_records(Builder())
    b.assign("c1").poll("c1", b.acked())
    b.assign("drain", [0]).poll("drain", {0: [(0, "a0"), (1, "a1")]})
    b.poll("drain", {0: [(0, "a0"), (1, "a1"), (2, "a2")]})
    b.event("drain", "ok", "drain-done", {"complete": True, "end_offsets": {"0": 3}})
    assert reported(b.check()) == {"nonmonotonic-poll"}


# ---------------------------------------------------------------------------------------------
# A clean run, the figures and the verdict lattice


def clean(drain=True):
    """Two producers, a poller, a group, an observer and one kill: everything as it should
    be."""
    b = Builder().fault("kill").leader_change(0, 1, 2)
    b.send("p1", 0, "a0", 0).send("p1", 0, "a1", 1).send("p2", 1, "b0", 0)
    b.unsure("p1", 0, "a2").unsure("p2", 1, "b1", outcome="fail")
    b.assign("c1").poll("c1", {0: [(0, "a0")], 1: [(0, "b0")]}).poll("c1", {0: [(1, "a1")]})
    b.commit("c1", "g", {0: 2, 1: 1}).fetch("c1", "g", {0: 2, 1: 1})
    b.hw(0, 1).hw(0, 2).hw(1, 1)
    return b.drain() if drain else b


def test_clean_history_passes():
    result = clean().check()
    assert result["verdict"] == "PASS", result["reasons"]
    assert result["reasons"] == [] and result["failing"] == []
    assert set(result["anomalies"]) == set(checker.ANOMALIES)
    assert reported(result) == set()
    assert result["writes"] == {"attempted": 5, "acked": 3, "indeterminate": 1,
                                "recovered": 0, "failed": 1}
    assert result["reads"]["records"] == 6 and result["reads"]["drain_records"] == 3
    assert result["reads"]["drain_complete"] is True
    assert result["faults"] == {"kill": 1} and result["leader_elections"] == 1
    assert result["facts"]["faults:kill"] == 1 and result["facts"]["indeterminate-sends"] == 1


def test_recovered_counts_indeterminate_sends_that_were_read():
    result = unexpected_near_miss().check()
    assert result["writes"]["indeterminate"] == 1 and result["writes"]["recovered"] == 1


def test_no_drain_is_unknown_and_leaves_lost_unevaluated():
    result = clean(drain=False).check()
    assert result["verdict"] == "UNKNOWN"
    assert result["anomalies"]["lost"] is None and result["anomalies"]["unseen-at-end"] is None
    assert "drain" in result["reasons"][0]


def test_incomplete_drain_is_unknown_not_lost():
    b = Builder().send("p1", 0, "a0", 0).send("p1", 0, "a1", 1)
    result = b.drain({0: [(0, "a0")]}, complete=False).check()
    assert result["verdict"] == "UNKNOWN"
    assert result["anomalies"]["lost"] is None
    assert "examples" in result and "lost" not in result["examples"]


def test_fail_beats_unknown():
    b = Builder().send("p1", 0, "a0", 0)
    result = b.drain({0: [(0, "a0"), (1, "a0")]}, complete=False).check()
    assert result["verdict"] == "FAIL"
    assert len(result["reasons"]) == 2


def test_required_fact_below_minimum_is_unknown():
    assert clean().check(required_facts={"leader-elections": 1})["verdict"] == "PASS"
    result = clean().check(required_facts={"leader-elections": 2, "faults:pause": 1})
    assert result["verdict"] == "UNKNOWN"
    assert len(result["reasons"]) == 2 and "leader-elections 1, needed 2" in result["reasons"][0]


def test_liveness_failure_is_hang_below_unknown_and_fail():
    assert clean().check(liveness_failures=["partition 3 stuck"])["verdict"] == "HANG"
    assert clean(drain=False).check(liveness_failures=["x"])["verdict"] == "UNKNOWN"
    assert duplicate().check(liveness_failures=["x"])["verdict"] == "FAIL"


def test_events_out_of_time_order_are_sorted_first():
    b = nonmonotonic_send()
    b.events.reverse()
    assert reported(b.check()) == {"nonmonotonic-send"}


def test_summary_has_the_report_lines():
    result = poll_skip().check()
    text = checker.format_summary(result)
    lines = text.splitlines()
    assert lines[0].startswith("writes: attempted 3  acked 3  indeterminate 0 (recovered 0)")
    assert lines[1].startswith("reads: 8 (drain 3 in ")
    assert lines[2].startswith("anomalies: lost 0  duplicate 0  inconsistent-offsets 0")
    assert "poll-skip 1" in text and "reported: duplicate-non-idempotent 0  lost-write 0" in text
    assert "  poll-skip: partition 0 offset 2 values 'a0', 'a2' procs c1" in text
    assert "skipping known offsets [1]" in text
    assert lines[-2:] == ["verdict: FAIL", "  why: anomalies: poll-skip 1"]
    assert max(len(line) for line in lines if not line.startswith("  ")) <= 100
    assert "lost n/a" in checker.format_summary(clean(drain=False).check())


def write_run_dir(root, builder, torn_tail=False):
    """Writes builder's events the way a run does: one JSONL file per proc, plus nemesis."""
    (root / "history").mkdir()
    files = {}
    for e in builder.events:
        name = "nemesis.jsonl" if "f" not in e else f"history/{e['proc']}.jsonl"
        files.setdefault(name, []).append(json.dumps(e) + "\n")
    for name, lines in files.items():
        (root / name).write_text("".join(lines) + ('{"t": 1, "pr' if torn_tail else ""))


def test_load_merges_the_files_in_time_order(tmp_path):
    builder = clean()
    write_run_dir(tmp_path, builder, torn_tail=True)
    events = checker.load(tmp_path)
    assert [e["t"] for e in events] == sorted(e["t"] for e in builder.events)
    assert len(events) == len(builder.events)
    assert checker.check(events)["verdict"] == "PASS"


def test_load_rejects_a_bad_line_in_the_middle(tmp_path):
    (tmp_path / "history").mkdir()
    (tmp_path / "history" / "p1.jsonl").write_text('{"t": 1\n{"t": 2}\n')
    with pytest.raises(ValueError, match="p1.jsonl:1"):
        checker.load(tmp_path)


def test_command_line_prints_the_summary_and_json(tmp_path):
    write_run_dir(tmp_path, lost())
    done = subprocess.run(["/usr/bin/python3", str(HERE / "checker.py"), str(tmp_path),
                           "--json", "--require", "leader-elections=1"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == checker.EXIT_CODES["FAIL"], done.stderr
    summary, _, body = done.stdout.partition("\n{")
    assert "verdict: FAIL" in summary and "coverage: leader-elections 0, needed 1" in summary
    result = json.loads("{" + body)
    assert result["anomalies"]["lost"] == 1 and result["examples"]["lost"][0]["offset"] == 1


def test_an_ack_without_an_offset_counts_wherever_the_drain_finds_it():
    """librdkafka acknowledges a write whose own answer was lost, once a later batch's answer
    shows it persisted, with no offset: it is lost only if the drain has it nowhere."""
    found = (Builder().send("p1", 0, "a", 0).invoke("p1", 0, "b").ack("p1", 0, "b", None)
             .send("p1", 0, "c", 2))
    found.drain({0: [(0, "a"), (1, "b"), (2, "c")]})
    result = found.check()
    assert result["verdict"] == "PASS", result["reasons"]
    missing = (Builder().send("p1", 0, "a", 0).invoke("p1", 0, "b").ack("p1", 0, "b", None)
               .send("p1", 0, "c", 2))
    missing.drain({0: [(0, "a"), (2, "c")]})
    result = missing.check()
    assert result["anomalies"]["lost"] == 1 and result["verdict"] == "FAIL"


def test_epoch_bumps_are_read_from_librdkafkas_log():
    lines = [
        "2026-12-08 03:32:58,803 DRAIN [rdkafka#producer-1] [thrd:main]: chaos [0] beginning "
        "partition drain: wait for outstanding requests to finish before producing to new leader",
        "2026-12-08 03:33:24,201 DRAIN [rdkafka#producer-1] [thrd:main]: Beginning partition "
        "drain in state Assigned for PID{Id:1000,Epoch:23} epoch bump for 3 partition(s) with "
        "in-flight requests: skipped sequence numbers"]
    assert checker.epoch_bumps(lines) == ["skipped sequence numbers"]
    assert checker.epoch_bumps(lines[:1]) == []
