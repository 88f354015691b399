#!/usr/bin/python3
"""The chaos harness's checker: pure functions over the histories the clients recorded.

  /usr/bin/python3 tests/chaos/checker.py RUN_DIR [--json] [--require leader-elections=1]

Prints the summary (RELIABILITY.md §8.8: writes, reads, anomalies, faults, verdict) and, with
--json, the whole result as JSON. Exit code: 0 PASS, 1 FAIL, 2 UNKNOWN, 3 HANG.

History format (the contract with workload.py and nemesis.py)
-------------------------------------------------------------
A run directory holds `history/*.jsonl` (one file per client process) and `nemesis.jsonl`.
Each line is one JSON object:

  {"t": <int, time.monotonic_ns(), one clock for all processes>,
   "proc": "<process name: p1, c2, drain, observer, ...>",
   "type": "invoke" | "ok" | "fail" | "info", "f": "<op>", "value": {...}}

Ops (`f`) and their values:
- `send`: invoke `{"partition": int, "value": str, "idempotent": bool}`; ok adds
  `"offset": int`; fail/info add `"error": str`. `fail` = definitely not written, `info` =
  indeterminate (may or may not have been written; so is an invoke that never completed).
  Values are unique across the whole run (e.g. "p1:17"). `idempotent` says whether the
  producer had idempotence on (a missing flag counts as on: the harness default).
- `assign`: ok `{"partitions": [int, ...]}`: the consumer (re)assigned and seeked to arbitrary
  positions (e.g. after a simulated crash); resets that proc's poll continuity tracking.
- `poll`: ok `{"records": {"<partition>": [[offset, value], ...]}}`: one consume() call, the
  records of each partition in the order received.
- `commit`: ok `{"group": str, "offsets": {"<partition>": int}}`: an acknowledged offset
  commit (the next offset to read). Invoke/info events with the same value count as attempts.
- `fetch-committed`: ok `{"group": str, "offsets": {"<partition>": int}}`: what OffsetFetch
  returned (-1 = nothing committed). Its invoke event (if any) dates the request.
- `hw`: ok `{"partition": int, "hw": int, "leader": int}`: the observer's reading of the high
  watermark (ListOffsets latest) from the partition's leader.
- `leader-change`: ok `{"partition": int, "from": int, "to": int}`: a leader election the
  observer saw.
- `drain-done`: ok `{"complete": bool, "end_offsets": {"<partition>": int}}`, written by the
  final drain (proc `drain`), which after the faults healed assigned every partition, read it
  from the beginning with polls, and says whether it got up to the end offsets.
Other ops (poll-error, producer-fatal, ...) are ignored.

`nemesis.jsonl` lines are `{"t": ..., "type": "inject" | "injected" | "heal" | "healed" | ...,
"fault": "kill" | "pause" | "partition" | ..., ...}` without "proc" or "f"; they only feed the
report (faults by kind) and the coverage facts, never a safety check.

What is checked (names as in Jepsen's Kafka workload and Redpanda's chaos checker, §2)
----------------------------------------------------------------------------------------
The version order of a partition is the sorted set of every offset known for it: from
acknowledged sends and from every poll, the drain's included. FAIL anomalies:
inconsistent-offsets, unexpected, G1a, duplicate, misrouted, lost, unseen-at-end,
nonmonotonic-send, realtime-offset, poll-skip, nonmonotonic-poll, int-poll-skip,
int-nonmonotonic-poll, lost-commit, unexpected-commit, hw-regression. Reported only:
duplicate-non-idempotent, lost-write. Each check's docstring says what it means.

Verdict lattice FAIL > UNKNOWN > HANG > PASS: FAIL on any FAIL anomaly; UNKNOWN when the
drain is missing or incomplete (lost and unseen-at-end cannot be evaluated) or a coverage fact
the caller requires is below its minimum; HANG when the caller reports liveness failures.
"""
import argparse
import json
import pathlib
import re
import sys
from bisect import bisect_left
from itertools import pairwise

import topic_checks

FAIL_ANOMALIES = (
    "lost", "duplicate", "inconsistent-offsets", "unexpected", "misrouted", "G1a",
    "nonmonotonic-send", "realtime-offset", "poll-skip", "nonmonotonic-poll", "int-poll-skip",
    "int-nonmonotonic-poll", "lost-commit", "unexpected-commit", "hw-regression",
    "unseen-at-end", *topic_checks.ANOMALIES,
)
REPORTED_ANOMALIES = ("duplicate-non-idempotent", "lost-write")
ANOMALIES = FAIL_ANOMALIES + REPORTED_ANOMALIES
# Need a complete final drain; without one they are not evaluated (count None).
DRAIN_ANOMALIES = ("lost", "unseen-at-end")
SEVERITY = ("PASS", "HANG", "UNKNOWN", "FAIL")  # least to most severe
EXIT_CODES = {"PASS": 0, "FAIL": 1, "UNKNOWN": 2, "HANG": 3}
MAX_EXAMPLES = 5
DRAIN_PROC = "drain"


# ---------------------------------------------------------------------------------------------
# Loading


def load(run_dir):
    """Every event of a run directory (client histories and nemesis), sorted by time.

    Each file is already in time order (one writer), so the sort only merges runs."""
    run_dir = pathlib.Path(run_dir)
    paths = sorted((run_dir / "history").glob("*.jsonl"))
    if (run_dir / "nemesis.jsonl").exists():
        paths.append(run_dir / "nemesis.jsonl")
    names = {}  # one str object per distinct proc/type/f: 2M events would repeat them
    events = []
    for path in paths:
        events.extend(read_jsonl(path, names))
    events.sort(key=event_time)
    return events


def read_jsonl(path, names=None):
    """Yields the events of one file, line by line. A final line without its newline is a
    write cut short by a kill and is skipped; a bad line anywhere else is an error."""
    names = {} if names is None else names
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                if not line.endswith("\n"):
                    return
                raise ValueError(f"{path}:{number}: not a JSON line: {line[:80]!r}") from None
            for key in ("proc", "type", "f"):
                if key in event:
                    event[key] = names.setdefault(event[key], event[key])
            yield event


def event_time(event):
    return event["t"]


# ---------------------------------------------------------------------------------------------
# Indexing: one pass over the events into dicts and sets that the checks read


class Send:
    """What the history says about one value's send: where it was aimed, its outcome."""

    __slots__ = ("value", "partition", "proc", "idempotent", "invoke_t", "outcome", "offset",
                 "ack_t", "acked_partition")

    def __init__(self, value, partition, proc):
        self.value = value
        self.partition = partition   # as invoked
        self.proc = proc
        self.idempotent = True
        self.invoke_t = None
        self.outcome = None          # None (never completed), "ok", "fail" or "info"
        self.offset = None
        self.ack_t = None
        self.acked_partition = None  # as acknowledged (normally == partition)


class History:
    """The events, indexed. Built by index_history(); every check only reads it."""

    def __init__(self):
        self.start_t = None
        self.sends = {}               # value -> Send, in order of first appearance (invoke)
        # Version order material: partition -> offset -> (value, proc, t) of the first sighting.
        self.observed = {}
        self.conflicts = {}           # (partition, offset) -> {value: (proc, t)}, ≥2 values
        self.locations = {}           # value -> (partition, offset) of its first sighting
        self.extra_locations = {}     # value -> {(partition, offset), ...} when >1 location
        self.polled = set()           # values any poll returned, the drain's included
        self.polled_before_drain = set()  # values polls of procs other than the drain returned
        self.max_offset_before_drain = {}  # partition -> highest offset those polls returned
        self.drain_reads = {}         # partition -> offset -> value, as the drain read it
        self.drain_extra_reads = set()  # (partition, offset, value) beyond the first per offset
        self.records_read = 0
        self.drain_records = 0
        self.drain_first_t = None
        self.drain_done = None        # the last drain-done event
        self.consumer_ops = {}        # proc -> [assign and poll ok events] in time order
        self.hw_readings = {}         # partition -> [(t, hw, proc, leader)] in time order
        self.commits_acked = {}       # (group, partition) -> [(ack t, offset, proc)]
        self.commits_attempted = {}   # (group, partition) -> {offset}
        self.fetches = []             # (invoke t or None, ok event) of fetch-committed
        self.fetch_invoked = {}       # proc -> t of its fetch-committed invoke in flight
        self.previous_t = {}          # proc -> t of its latest event
        self.leader_elections = 0
        self.faults = {}              # fault kind -> injected count


def index_history(events):
    """One pass: every event goes to the indexer of its op; nemesis lines are counted."""
    history = History()
    for event in events:
        if history.start_t is None:
            history.start_t = event["t"]
        op = event.get("f")
        if op is None:
            index_nemesis(history, event)
            continue
        indexer = INDEXERS.get(op)
        if indexer is not None:
            indexer(history, event)
        history.previous_t[event.get("proc")] = event["t"]
    return history


def index_nemesis(history, event):
    if event.get("type") == "injected":
        kind = event.get("fault", "?")
        history.faults[kind] = history.faults.get(kind, 0) + 1


def index_send(history, event):
    v = event.get("value") or {}
    value = v.get("value")
    if value is None:
        return
    send = history.sends.get(value)
    if send is None:
        send = history.sends[value] = Send(value, v.get("partition"), event.get("proc"))
    kind = event["type"]
    if kind == "invoke":
        send.invoke_t = event["t"]
        send.idempotent = v.get("idempotent", True)
    elif kind == "ok":
        send.outcome = "ok"
        # librdkafka acknowledges some writes with no offset (null): those a later batch's
        # answer showed persisted, after their own request's answer was lost.
        offset = v.get("offset")
        send.offset = offset if offset is not None and offset >= 0 else None
        send.ack_t = event["t"]
        send.acked_partition = v.get("partition", send.partition)
        if send.offset is not None:
            observe(history, send.acked_partition, send.offset, value, event.get("proc"),
                    event["t"])
    elif kind in ("fail", "info") and send.outcome != "ok":
        send.outcome = kind


def observe(history, partition, offset, value, proc, t):
    """Records that (partition, offset) held value, for the version order, the conflicts at
    one offset and the places one value was seen."""
    at_offset = history.observed.get(partition)
    if at_offset is None:
        at_offset = history.observed[partition] = {}
    first = at_offset.get(offset)
    if first is None:
        at_offset[offset] = (value, proc, t)
    elif first[0] != value:
        values = history.conflicts.setdefault((partition, offset), {first[0]: first[1:]})
        values.setdefault(value, (proc, t))
    location = (partition, offset)
    first_location = history.locations.setdefault(value, location)
    if first_location != location:
        history.extra_locations.setdefault(value, {first_location}).add(location)


def index_poll(history, event):
    if event["type"] != "ok":
        return
    proc, t = event.get("proc"), event["t"]
    history.consumer_ops.setdefault(proc, []).append(event)
    in_drain = proc == DRAIN_PROC
    if in_drain and history.drain_first_t is None:
        history.drain_first_t = t
    for key, records in ((event.get("value") or {}).get("records") or {}).items():
        if not records:
            continue
        partition = int(key)
        for offset, value in records:
            observe(history, partition, offset, value, proc, t)
            history.polled.add(value)
        history.records_read += len(records)
        if in_drain:
            index_drain_records(history, partition, records)
        else:
            history.polled_before_drain.update(value for _, value in records)
            highest = max(offset for offset, _ in records)
            if highest > history.max_offset_before_drain.get(partition, -1):
                history.max_offset_before_drain[partition] = highest


def index_drain_records(history, partition, records):
    history.drain_records += len(records)
    reads = history.drain_reads.setdefault(partition, {})
    for offset, value in records:
        first = reads.setdefault(offset, value)
        if first != value:
            history.drain_extra_reads.add((partition, offset, value))


def index_assign(history, event):
    if event["type"] == "ok":
        history.consumer_ops.setdefault(event.get("proc"), []).append(event)
        if event.get("proc") == DRAIN_PROC and history.drain_first_t is None:
            history.drain_first_t = event["t"]


def index_drain_done(history, event):
    if event["type"] == "ok":
        history.drain_done = event


def index_commit(history, event):
    v = event.get("value") or {}
    if event["type"] == "fail" or "offsets" not in v:
        return
    group = v.get("group")
    for key, offset in v["offsets"].items():
        slot = (group, int(key))
        history.commits_attempted.setdefault(slot, set()).add(offset)
        if event["type"] == "ok":
            history.commits_acked.setdefault(slot, []).append(
                (event["t"], offset, event.get("proc")))


def index_fetch_committed(history, event):
    """Dates each fetch by its invoke; without one, by the proc's previous event (a client
    does one op at a time, so the fetch began after that)."""
    proc = event.get("proc")
    if event["type"] == "invoke":
        history.fetch_invoked[proc] = event["t"]
    elif event["type"] == "ok":
        invoked = history.fetch_invoked.pop(proc, None)
        if invoked is None:
            invoked = history.previous_t.get(proc)
        history.fetches.append((invoked, event))
    else:
        history.fetch_invoked.pop(proc, None)


def index_hw(history, event):
    v = event.get("value") or {}
    if event["type"] == "ok" and v.get("hw", -1) >= 0:
        history.hw_readings.setdefault(v["partition"], []).append(
            (event["t"], v["hw"], event.get("proc"), v.get("leader")))


def index_leader_change(history, event):
    if event["type"] == "ok":
        history.leader_elections += 1


INDEXERS = {
    "send": index_send,
    "poll": index_poll,
    "assign": index_assign,
    "drain-done": index_drain_done,
    "commit": index_commit,
    "fetch-committed": index_fetch_committed,
    "hw": index_hw,
    "leader-change": index_leader_change,
}


# ---------------------------------------------------------------------------------------------
# Anomalies


class Anomalies:
    """A count per anomaly name and the first few examples of each, for the report."""

    def __init__(self):
        self.counts = dict.fromkeys(ANOMALIES, 0)
        self.examples = {name: [] for name in ANOMALIES}

    def add(self, name, partition=None, offset=None, values=(), procs=(), t=None, why=""):
        self.counts[name] += 1
        if len(self.examples[name]) < MAX_EXAMPLES:
            self.examples[name].append({"partition": partition, "offset": offset,
                                        "values": list(values), "procs": list(procs),
                                        "t": t, "why": why})


def check_offsets(history, anomalies):
    """inconsistent-offsets: one (partition, offset) observed with ≥2 values. Values are
    unique, so this also covers two acknowledged sends at one offset."""
    for (partition, offset), values in history.conflicts.items():
        sightings = list(values.items())
        anomalies.add("inconsistent-offsets", partition, offset,
                      values=[value for value, _ in sightings],
                      procs=[proc for _, (proc, _) in sightings],
                      t=min(t for _, (_, t) in sightings),
                      why=f"{len(sightings)} values at one offset")


def check_read_values(history, anomalies):
    """unexpected: a polled value no send ever attempted. G1a (aborted read): a polled value
    whose send definitely failed."""
    for value in history.polled:
        send = history.sends.get(value)
        if send is not None and send.outcome != "fail":
            continue
        partition, offset = history.locations[value]
        proc, t = history.observed[partition][offset][1:]
        if send is None:
            anomalies.add("unexpected", partition, offset, [value], [proc], t,
                          "read, never sent")
        else:
            anomalies.add("G1a", partition, offset, [value], [send.proc, proc], t,
                          "read, but its send definitely failed")


def check_placement(history, anomalies):
    """duplicate: one value at >1 offset of a partition (FAIL when its producer was
    idempotent or is unknown, else only reported as duplicate-non-idempotent: retries without
    idempotence may duplicate). misrouted: a value seen in a partition it was not sent to, or
    in two partitions."""
    for value, first in history.locations.items():
        places = history.extra_locations.get(value) or (first,)
        send = history.sends.get(value)
        partitions = {partition for partition, _ in places}
        if send is not None and send.partition is not None:
            partitions.add(send.partition)
        if len(partitions) > 1:
            anomalies.add("misrouted", first[0], first[1], [value], procs_of(send),
                          send.invoke_t if send else None,
                          f"seen at {sorted(places)}, sent to partition "
                          f"{send.partition if send else '?'}")
        if len(places) > 1:
            report_duplicate(anomalies, value, send, places)


def report_duplicate(anomalies, value, send, places):
    """Counts a value once if some partition holds it at more than one offset."""
    offsets_by_partition = {}
    for partition, offset in places:
        offsets_by_partition.setdefault(partition, []).append(offset)
    repeated = {p: sorted(o) for p, o in offsets_by_partition.items() if len(o) > 1}
    if not repeated:
        return
    partition, offsets = min(repeated.items())
    name = "duplicate" if send is None or send.idempotent else "duplicate-non-idempotent"
    anomalies.add(name, partition, offsets[0], [value], procs_of(send),
                  send.invoke_t if send else None, f"at offsets {offsets}")


def procs_of(send):
    return [send.proc] if send is not None else []


def acked_sends(history):
    return (send for send in history.sends.values() if send.outcome == "ok")


def acked_at_offsets(history):
    """Acknowledged sends whose acknowledgement named their offset."""
    return (send for send in acked_sends(history) if send.offset is not None)


def check_drained(history, anomalies):
    """lost: an acknowledged send the complete final drain did not read at its acknowledged
    offset (one acknowledged without an offset: anywhere in its partition). unseen-at-end:
    an acknowledged send no poll at all returned. Both need a complete drain; the caller
    leaves them unevaluated otherwise."""
    drained_values = {(p, v) for p, at in history.drain_reads.items() for v in at.values()}
    drained_values |= {(p, v) for p, _, v in history.drain_extra_reads}
    for send in acked_sends(history):
        partition, offset, value = send.acked_partition, send.offset, send.value
        if offset is None:
            if (partition, value) not in drained_values:
                anomalies.add("lost", partition, None, [value], [send.proc], send.ack_t,
                              "acknowledged without an offset, not in the drain")
        else:
            drained = history.drain_reads.get(partition, {}).get(offset)
            if drained != value and (partition, offset, value) not in history.drain_extra_reads:
                why = ("drain read nothing there" if drained is None
                       else f"drain read {drained!r} there")
                anomalies.add("lost", partition, offset, [value], [send.proc], send.ack_t, why)
        if value not in history.polled:
            anomalies.add("unseen-at-end", partition, offset, [value], [send.proc],
                          send.ack_t, "acknowledged, never read")


def check_lost_writes(history, anomalies):
    """lost-write (Jepsen, reported only: it dates a loss): an acknowledged send at or below
    the highest offset pollers other than the drain read on its partition, which none of
    those polls returned."""
    for send in acked_at_offsets(history):
        partition, value = send.acked_partition, send.value
        if (send.offset <= history.max_offset_before_drain.get(partition, -1)
                and value not in history.polled_before_drain):
            anomalies.add("lost-write", partition, send.offset, [value], [send.proc],
                          send.ack_t, "below the highest offset read, never read by a poller")


def check_send_order(history, anomalies):
    """nonmonotonic-send: one producer's acknowledged offsets on a partition do not increase
    in the order it invoked the sends."""
    previous = {}  # (proc, partition) -> the send acknowledged before, in invoke order
    for send in acked_at_offsets(history):
        slot = (send.proc, send.acked_partition)
        before = previous.get(slot)
        if before is not None and send.offset <= before.offset:
            anomalies.add("nonmonotonic-send", send.acked_partition, send.offset,
                          [before.value, send.value], [send.proc], send.ack_t,
                          f"sent after {before.value!r} (offset {before.offset})")
        previous[slot] = send


def check_realtime_offsets(history, anomalies):
    """realtime-offset (Redpanda: "message got lesser offset than was known before it's
    written"): a send invoked after another send to its partition was acknowledged must get a
    larger offset. A sweep over acks by time keeps the highest offset acknowledged so far."""
    by_partition = {}
    for send in acked_at_offsets(history):
        by_partition.setdefault(send.acked_partition, []).append(send)
    for partition, sends in by_partition.items():
        acks = sorted(sends, key=lambda s: s.ack_t)
        invokes = sorted((s for s in sends if s.invoke_t is not None), key=lambda s: s.invoke_t)
        next_ack = 0
        highest = None
        for send in invokes:
            while next_ack < len(acks) and acks[next_ack].ack_t < send.invoke_t:
                if highest is None or acks[next_ack].offset > highest.offset:
                    highest = acks[next_ack]
                next_ack += 1
            if highest is not None and send.offset <= highest.offset:
                anomalies.add("realtime-offset", partition, send.offset,
                              [highest.value, send.value], [highest.proc, send.proc],
                              send.ack_t, f"invoked after offset {highest.offset} was acked")


def version_ranks(history):
    """partition -> offset -> index in the version order (all known offsets, sorted)."""
    return {partition: {offset: rank for rank, offset in enumerate(sorted(at_offset))}
            for partition, at_offset in history.observed.items()}


def check_polls(history, anomalies):
    """Per consumer proc (the drain too), between assigns, per partition: each record must be
    the next one in the version order after the record read before it. Across two polls:
    poll-skip (jumped over ≥1 known offset) or nonmonotonic-poll (at or before the previous);
    inside one poll: int-poll-skip or int-nonmonotonic-poll. A raw offset gap with no known
    offset in it (control batches) is fine."""
    ranks = version_ranks(history)
    orders = {}  # partition -> sorted offsets, built only when a skip needs naming
    for proc, ops in history.consumer_ops.items():
        last_read = {}  # partition -> [offset, value] of the last record read
        for event in ops:
            if event["f"] == "assign":
                last_read.clear()
                continue
            for key, records in event["value"]["records"].items():
                if not records:
                    continue
                partition = int(key)
                rank = ranks[partition]
                step = PollStep(anomalies, partition, rank, orders, proc, event["t"])
                previous = last_read.get(partition)
                if previous is not None:
                    step.check(previous, records[0], "poll-skip", "nonmonotonic-poll")
                for before, after in pairwise(records):
                    if rank[after[0]] != rank[before[0]] + 1:  # the common case inlined
                        step.check(before, after, "int-poll-skip", "int-nonmonotonic-poll")
                last_read[partition] = records[-1]


class PollStep:
    """Judges one step from a record to the next in one consumer's reads of a partition."""

    def __init__(self, anomalies, partition, rank, orders, proc, t):
        self.anomalies = anomalies
        self.partition = partition
        self.rank = rank  # offset -> index in the version order
        self.orders = orders
        self.proc = proc
        self.t = t

    def check(self, before, after, skip_name, backwards_name):
        gap = self.rank[after[0]] - self.rank[before[0]]
        if gap == 1:
            return
        values = [before[1], after[1]]
        if gap > 1:
            skipped = self.skipped_offsets(before[0], gap - 1)
            self.anomalies.add(skip_name, self.partition, after[0], values, [self.proc], self.t,
                               f"read {after[0]} after {before[0]}, skipping known offsets "
                               f"{skipped}")
        else:
            self.anomalies.add(backwards_name, self.partition, after[0], values, [self.proc],
                               self.t, f"read {after[0]} after {before[0]}")

    def skipped_offsets(self, offset, count):
        order = self.orders.get(self.partition)
        if order is None:
            order = self.orders[self.partition] = sorted(self.rank)
        first = bisect_left(order, offset) + 1
        skipped = order[first:first + min(count, 3)]
        return skipped + ["..."] if count > 3 else skipped


def check_commits(history, anomalies):
    """lost-commit: OffsetFetch returned less than an offset whose commit was acknowledged
    before the fetch began (commits of a group's partition are taken to move forward, as the
    workload's do). unexpected-commit: it returned an offset ≥0 no commit of that group and
    partition ever attempted."""
    floors = {slot: committed_floor(acks) for slot, acks in history.commits_acked.items()}
    for invoked, event in history.fetches:
        v = event.get("value") or {}
        group = v.get("group")
        for key, fetched in (v.get("offsets") or {}).items():
            slot = (group, int(key))
            if fetched >= 0 and fetched not in history.commits_attempted.get(slot, ()):
                anomalies.add("unexpected-commit", slot[1], fetched, [group],
                              [event.get("proc")], event["t"], f"group {group}: never committed")
            floor = highest_acked_before(floors.get(slot), invoked)
            if floor is not None and fetched < floor[1]:
                anomalies.add("lost-commit", slot[1], fetched, [group],
                              [floor[2], event.get("proc")], event["t"],
                              f"group {group}: commit of {floor[1]} was acked before")


def committed_floor(acks):
    """(ack times, running maximum of (t, offset, proc) by offset), sorted by ack time."""
    acks = sorted(acks)
    times, highest, best = [], [], None
    for ack in acks:
        if best is None or ack[1] > best[1]:
            best = ack
        times.append(ack[0])
        highest.append(best)
    return times, highest


def highest_acked_before(floor, t):
    """The highest committed offset acknowledged strictly before t, or None."""
    if floor is None or t is None:
        return None
    times, highest = floor
    i = bisect_left(times, t)
    return highest[i - 1] if i else None


def check_high_watermarks(history, anomalies):
    """hw-regression: an observer reading of a partition's high watermark below a reading
    taken before it (counted per reading below the highest so far). Negative readings mean
    "no answer" and were dropped when indexing."""
    for partition, readings in history.hw_readings.items():
        highest = None
        for t, hw, proc, leader in readings:
            if highest is not None and hw < highest[1]:
                anomalies.add("hw-regression", partition, hw, [], [proc], t,
                              f"hw {hw} from leader {leader} after {highest[1]} from leader "
                              f"{highest[3]}")
            elif highest is None or hw > highest[1]:
                highest = (t, hw, proc, leader)


# ---------------------------------------------------------------------------------------------
# Figures, facts and the verdict


def write_figures(history):
    """§8.8 writes: attempted = acked + indeterminate + failed; recovered = indeterminate
    sends some poll returned (total-queue's "recovered")."""
    counts = {"ok": 0, "fail": 0}
    recovered = 0
    for send in history.sends.values():
        if send.outcome in counts:
            counts[send.outcome] += 1
        elif send.value in history.polled:
            recovered += 1
    attempted = len(history.sends)
    return {"attempted": attempted, "acked": counts["ok"],
            "indeterminate": attempted - counts["ok"] - counts["fail"],
            "recovered": recovered, "failed": counts["fail"]}


def read_figures(history):
    done = history.drain_done
    drain_s = None
    if done is not None and history.drain_first_t is not None:
        drain_s = round((done["t"] - history.drain_first_t) / 1e9, 3)
    return {"records": history.records_read, "drain_records": history.drain_records,
            "drain_s": drain_s,
            "drain_complete": None if done is None else bool(done["value"].get("complete"))}


def coverage_facts(history, writes):
    """Facts that show the run exercised what it meant to (a required fact at 0 = UNKNOWN):
    leader-elections, indeterminate-sends, recovered-sends, faults (all injected) and
    faults:<kind> per kind."""
    facts = {"leader-elections": history.leader_elections,
             "indeterminate-sends": writes["indeterminate"],
             "recovered-sends": writes["recovered"],
             "faults": sum(history.faults.values())}
    facts.update({f"faults:{kind}": n for kind, n in history.faults.items()})
    return facts


def drain_problem(history):
    """Why the final drain cannot vouch for lost/unseen-at-end, or None if it can."""
    done = history.drain_done
    if done is None:
        return "no drain-done event: the final drain did not finish"
    if not done["value"].get("complete"):
        return "the final drain did not read up to the end offsets"
    return None


def decide(counts, drain_trouble, facts, required_facts, liveness_failures):
    """The most severe verdict that applies, and every reason for it and the milder ones."""
    reasons = []
    verdicts = ["PASS"]
    failing = [name for name in FAIL_ANOMALIES if counts[name]]
    if failing:
        verdicts.append("FAIL")
        reasons.append("anomalies: " + ", ".join(f"{n} {counts[n]}" for n in failing))
    if drain_trouble:
        verdicts.append("UNKNOWN")
        reasons.append(f"{drain_trouble} ({', '.join(DRAIN_ANOMALIES)} not evaluated)")
    for name, minimum in (required_facts or {}).items():
        if facts.get(name, 0) < minimum:
            verdicts.append("UNKNOWN")
            reasons.append(f"coverage: {name} {facts.get(name, 0)}, needed {minimum}")
    if liveness_failures:
        verdicts.append("HANG")
        reasons.extend(f"liveness: {failure}" for failure in liveness_failures)
    return max(verdicts, key=SEVERITY.index), reasons


SAFETY_CHECKS = (check_offsets, check_read_values, check_placement, check_lost_writes,
                 check_send_order, check_realtime_offsets, check_polls, check_commits,
                 check_high_watermarks)


def check(events, required_facts=None, liveness_failures=()):
    """Checks a run's events (as load() returns them) and returns the result dict:
    verdict, reasons, writes, reads, anomalies (count per name; None = not evaluated),
    failing (FAIL anomaly names with a count), examples (≤5 per anomaly: partition, offset,
    values, procs, t, why), facts (see coverage_facts), faults (injected, by kind),
    leader_elections, liveness_failures, start_t (the first event's t).

    required_facts: {fact name: minimum}, e.g. {"leader-elections": 1}; one below its
    minimum makes the verdict at least UNKNOWN. liveness_failures: the caller's liveness
    findings; any makes the verdict at least HANG."""
    if any(a["t"] > b["t"] for a, b in pairwise(events)):
        events = sorted(events, key=event_time)
    history = index_history(events)
    anomalies = Anomalies()
    for safety_check in SAFETY_CHECKS:
        safety_check(history, anomalies)
    churn = topic_checks.check(events, lambda name, why: anomalies.add(name, why=why))
    trouble = drain_problem(history)
    if trouble is None:
        check_drained(history, anomalies)
    counts = dict(anomalies.counts)
    if trouble is not None:
        counts.update(dict.fromkeys(DRAIN_ANOMALIES))
    writes = write_figures(history)
    facts = coverage_facts(history, writes)
    verdict, reasons = decide(counts, trouble, facts, required_facts, liveness_failures)
    return {"verdict": verdict, "reasons": reasons, "writes": writes,
            "reads": read_figures(history), "anomalies": counts,
            "failing": [name for name in FAIL_ANOMALIES if counts[name]],
            "examples": {name: examples for name, examples in anomalies.examples.items()
                         if examples and counts[name] is not None},
            "facts": facts, "faults": dict(sorted(history.faults.items())),
            "leader_elections": history.leader_elections,
            "liveness_failures": list(liveness_failures), "start_t": history.start_t,
            "topic_churn": churn}


# ---------------------------------------------------------------------------------------------
# Report


EPOCH_BUMP = re.compile(r"epoch bump for \d+ partition\(s\) with in-flight requests: (.*)$")


def epoch_bumps(lines):
    """The reasons librdkafka gave for each epoch bump of an idempotent producer, from its
    "eos" debug log. A bump renumbers the records still unacknowledged: should one of them
    have been written after all, it is written again (a duplicate), so a duplicate after a
    bump points at the broker answer that made the client believe it was not."""
    return [m.group(1).strip() for line in lines if (m := EPOCH_BUMP.search(line))]


def format_summary(result, width=100):
    """The §8.8 lines the checker knows: writes, reads, anomalies, faults, examples, verdict."""
    w, r = result["writes"], result["reads"]
    lines = [f"writes: attempted {w['attempted']:,}  acked {w['acked']:,}  indeterminate "
             f"{w['indeterminate']:,} (recovered {w['recovered']:,})  failed {w['failed']:,}"]
    drain = f"drain {r['drain_records']:,}"
    if r["drain_s"] is not None:
        drain += f" in {r['drain_s']:.1f} s"
    if not r["drain_complete"]:
        drain += ", incomplete" if r["drain_complete"] is False else ", missing"
    lines.append(f"reads: {r['records']:,} ({drain})")
    counts = result["anomalies"]
    lines += wrap("anomalies: ", [f"{n} {count_text(counts[n])}" for n in FAIL_ANOMALIES], width)
    lines += wrap("reported: ", [f"{n} {count_text(counts[n])}" for n in REPORTED_ANOMALIES],
                  width)
    faults = result["faults"]
    by_kind = ", ".join(f"{kind} {n}" for kind, n in faults.items())
    lines.append(f"faults: {sum(faults.values())} injected" + (f" ({by_kind})" if by_kind else "")
                 + f"; leader elections observed {result['leader_elections']}")
    for name, examples in result.get("examples", {}).items():
        for example in examples:
            lines.append(f"  {name}: {describe(example, result.get('start_t'))}")
    lines.append(f"verdict: {result['verdict']}")
    lines += [f"  why: {reason}" for reason in result.get("reasons", [])]
    return "\n".join(lines)


def count_text(count):
    return "n/a" if count is None else f"{count:,}"


def wrap(head, items, width):
    """Items joined by two spaces after head; continuation lines are indented under the
    first item and no line is longer than width unless one item is."""
    lines = []
    line = head + items[0]
    for item in items[1:]:
        if len(line) + 2 + len(item) > width:
            lines.append(line)
            line = " " * len(head) + item
        else:
            line += "  " + item
    lines.append(line)
    return lines


def describe(example, start_t):
    where = []
    if example["partition"] is not None:
        where.append(f"partition {example['partition']}")
    if example["offset"] is not None:
        where.append(f"offset {example['offset']}")
    if example["values"]:
        where.append("values " + ", ".join(map(repr, example["values"])))
    if example["procs"]:
        where.append("procs " + ", ".join(map(str, example["procs"])))
    if example["t"] is not None and start_t is not None:
        where.append(f"at +{(example['t'] - start_t) / 1e9:.3f} s")
    return " ".join(where) + (f": {example['why']}" if example["why"] else "")


def parse_requirement(text):
    name, _, minimum = text.partition("=")
    return name, int(minimum or 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--json", action="store_true", help="also print the result as JSON")
    parser.add_argument("--require", action="append", default=[], type=parse_requirement,
                        metavar="FACT=N", help="a coverage fact the run must show (UNKNOWN if not)")
    args = parser.parse_args(argv)
    result = check(load(args.run_dir), required_facts=dict(args.require))
    print(format_summary(result))
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    return EXIT_CODES[result["verdict"]]


if __name__ == "__main__":
    sys.exit(main())
