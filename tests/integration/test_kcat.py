"""kcat (librdkafka 2.0.2's command-line client) against a real tributary broker.

What a kcat user can rely on, proven here:
- `kcat -P` with keys (-K), headers (-H, including a duplicate name, an empty value and a
  null value) and each compression codec (-z none/gzip/snappy/lz4/zstd), with and without -Z
  (empty key or value sent as null), delivers every line; `kcat -C -e` prints every record
  back exactly (key, value, headers, partition, offset, key/value null or empty), with
  offsets 0, 1, 2, ... per partition in the order the lines were produced; a read from a
  given offset with a count returns exactly that slice.
- `kcat -L -J` describes the single node 0 at its listen address as controller, and each
  partition of a topic with node 0 as leader, replica and in-sync replica; asking for an
  unknown topic reports it unknown and does not create it.
The topic is created beforehand with confluent-kafka's AdminClient.
"""
import json
import subprocess

from clients import create_topic, now_ms

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PARTITIONS = 2
LINES = 300
HEADERS = ["codec={codec}", "dup=one", "dup=two", "empty=", "nullhdr"]
# partition, offset, key length (-1: null), value length, key, value, headers, timestamp
FORMAT = r"%p\t%o\t%K\t%S\t%k\t%s\t%h\t%T\n"


def kcat(broker, *args, stdin=None, timeout=60):
    proc = subprocess.run(["kcat", "-b", broker.bootstrap, *args], input=stdin,
                          capture_output=True, timeout=timeout)
    assert proc.returncode == 0, (args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


def lines_for(batch):
    """LINES deterministic input lines `key:value` (repetitive values, so every codec really
    compresses them; some bytes >= 0x80; no tab, newline or ':' in keys). Returns the lines
    and the (key, value) each is parsed into by kcat -K: without -Z."""
    out = []
    for i in range(LINES):
        n = batch * LINES + i
        if i % 7 == 0:
            key, value = None, b"no-delimiter-so-no-key-%d" % n  # whole line is the value
        elif i % 7 == 1:
            key, value = b"", b"empty-key-%d" % n
        elif i % 7 == 2:
            key, value = b"k%d" % n, b""
        else:
            key = b"k%d-\xc3\xa9\xff" % n
            value = (b"value %d: %s" % (n, b"tributary " * (i % 40 + 1))) + b"\xfe:colon"
        out.append((key, value))
    text = b"".join((v if k is None else k + b":" + v) + b"\n" for k, v in out)
    return text, out


def parse(stdout):
    """kcat -f FORMAT output -> {partition: [(offset, key, value, headers, timestamp)]}."""
    got = {}
    for line in stdout.split(b"\n")[:-1]:
        p, off, klen, vlen, key, value, headers, ts = line.split(b"\t")
        key = None if int(klen) == -1 else key
        value = None if int(vlen) == -1 else value
        assert (key is None or len(key) == int(klen)) and (value is None or
                                                           len(value) == int(vlen)), line
        got.setdefault(int(p), []).append((int(off), key, value, headers.decode(), int(ts)))
    return got


def test_produce_and_consume_with_every_codec(broker):
    topic = "kcat-roundtrip"
    create_topic(broker.bootstrap, topic, PARTITIONS)
    expected = {p: [] for p in range(PARTITIONS)}
    before = now_ms()
    batch = 0
    for c, codec in enumerate(CODECS):
        for z, null_flag in enumerate(([], ["-Z"])):
            partition = (c + z) % PARTITIONS  # each partition gets every codec, -Z or not
            text, records = lines_for(batch)
            headers = [h.format(codec=codec) for h in HEADERS]
            kcat(broker, "-P", "-t", topic, "-p", str(partition), "-K:", "-z", codec,
                 *null_flag, *[a for h in headers for a in ("-H", h)],
                 "-X", "linger.ms=50", "-X", "acks=all", stdin=text)
            shown = ",".join(h if "=" in h else h + "=NULL" for h in headers)
            rows = expected[partition]
            for key, value in records:
                if null_flag:  # -Z: an empty key or value is sent as null
                    key = None if key == b"" else key
                    value = None if value == b"" else value
                rows.append((len(rows), key, value, shown))
            batch += 1
    after = now_ms()

    got = parse(kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", FORMAT))
    assert sorted(got) == list(range(PARTITIONS))
    for p in range(PARTITIONS):
        rows = got[p]
        assert [r[:4] for r in rows] == expected[p], f"partition {p} differs"
        assert all(before <= r[4] <= after for r in rows), "CreateTime set by kcat when sent"

    # A slice: partition 1 from offset 5, ten records.
    part = parse(kcat(broker, "-C", "-t", topic, "-p", "1", "-o", "5", "-c", "10", "-e", "-q",
                      "-f", FORMAT))
    assert [r[:4] for r in part[1]] == expected[1][5:15]


def test_metadata_listing(broker):
    create_topic(broker.bootstrap, "kcat-meta", 3)
    md = json.loads(kcat(broker, "-L", "-J"))
    assert md["controllerid"] == 0
    assert md["brokers"] == [{"id": 0, "name": f"127.0.0.1:{broker.port}"}]
    topics = {t["topic"]: t for t in md["topics"]}
    assert "kcat-meta" in topics, topics
    t = topics["kcat-meta"]
    assert "error" not in t, t
    assert [p["partition"] for p in sorted(t["partitions"], key=lambda p: p["partition"])] == [
        0, 1, 2]
    for p in t["partitions"]:
        assert "error" not in p, p
        assert (p["leader"], p["replicas"], p["isrs"]) == (0, [{"id": 0}], [{"id": 0}]), p

    one = json.loads(kcat(broker, "-L", "-J", "-t", "kcat-meta"))
    assert [t["topic"] for t in one["topics"]] == ["kcat-meta"]

    unknown = json.loads(kcat(broker, "-L", "-J", "-t", "kcat-absent"))
    (t,) = unknown["topics"]
    assert t["topic"] == "kcat-absent" and "Unknown topic" in t.get("error", ""), t
    again = json.loads(kcat(broker, "-L", "-J"))
    assert "kcat-absent" not in {t["topic"] for t in again["topics"]}, "auto-created"
