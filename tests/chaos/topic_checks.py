"""Checks of the `topics` workload (topic_churn.py): pure functions over a run's events.

- topic-lost: a value acknowledged at (partition, offset) that a complete read-back of its
  incarnation did not find there.
- topic-resurrected: a read-back that returned a value of another incarnation (an earlier
  topic of that name, or data of a deleted topic served again).
- topic-duplicate: a value read at two places.
A read-back that did not reach its end offsets (faults) is not judged.
"""

ANOMALIES = ("topic-lost", "topic-resurrected", "topic-duplicate")
PREFIX = "churn-"


def check(events, add):
    """Calls add(anomaly, why) for each anomaly found; returns the workload's figures."""
    acked, reads, figures = {}, [], {"cycles": 0, "creates_failed": 0, "reads_incomplete": 0}
    for e in events:
        op = e.get("f") or ""
        if not op.startswith("topic-"):
            continue
        v = e["value"]
        key = (v["topic"], v["incarnation"])
        if op == "topic-send" and e["type"] == "ok":
            acked.setdefault(key, {})[v["value"]] = (v["partition"], v["offset"])
        elif op == "topic-read":
            reads.append((key, v))
            if not v["complete"]:
                figures["reads_incomplete"] += 1
        elif op == "topic-delete" and e["type"] == "ok":
            figures["cycles"] += 1
        elif op == "topic-create" and e["type"] in ("fail", "info"):
            figures["creates_failed"] += 1
    for key, v in reads:
        where = {}
        for p, o, value in v["records"]:
            where.setdefault(value, []).append((p, o))
            topic, _, rest = value.partition("#")
            if (topic, int(rest.split("#")[0])) != key:
                add("topic-resurrected",
                    f"{key[0]} incarnation {key[1]} served {value} at {p}/{o}")
        for value, places in where.items():
            if len(places) > 1:
                add("topic-duplicate", f"{value} read at {places}")
        if not v["complete"]:
            continue
        for value, (p, o) in acked.get(key, {}).items():
            if (p, o) not in where.get(value, []):
                add("topic-lost", f"{value} acknowledged at {p}/{o}, read at "
                                  f"{where.get(value, 'nowhere')}")
    return figures


def completed_after(events, t):
    """Whether a whole cycle (create answered, then delete answered) began after `t`."""
    created = set()
    for e in events:
        if e.get("f") == "topic-create" and e["type"] == "ok" and e["t"] > t:
            created.add((e["value"]["topic"], e["value"]["incarnation"]))
        if e.get("f") == "topic-delete" and e["type"] == "ok" and \
                (e["value"]["topic"], e["value"]["incarnation"]) in created:
            return True
    return False


def leftovers(deleted_last, listed, data_dirs):
    """Topics whose last operation was an acknowledged delete but that the cluster still
    lists, or partition directories of unlisted churn topics a node still holds (also one
    set aside for deletion and not removed): [text]."""
    out = [f"deleted topic {t} is still listed" for t in sorted(deleted_last & set(listed))]
    for node, dirs in sorted(data_dirs.items()):
        for d in sorted(dirs):
            if PREFIX not in d:
                continue
            if d.startswith(".") or d.rsplit("-", 1)[0] not in listed:
                out.append(f"node {node} still holds {d} of a deleted topic")
    return out


def deleted_last(events):
    """The churn topics whose last answered operation was a delete."""
    last = {}
    for e in events:
        if e.get("f") in ("topic-create", "topic-delete") and e["type"] == "ok":
            last[e["value"]["topic"]] = e["f"]
    return {t for t, op in last.items() if op == "topic-delete"}
