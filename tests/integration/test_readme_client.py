"""The README's "Connecting a client" commands, run as written against a real node (only
its address is this test's port, and `python3` is Debian's, as on a fresh Debian 12 machine).

The topic-creating one-liner used to fail as written: the AdminClient, a temporary, was
destroyed before its future resolved (`_DESTROY`)."""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def readme_block(heading):
    """The first ```sh block after `heading` in the README."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(heading):]
    start = after.index("```sh\n") + len("```sh\n")
    return after[start:after.index("```", start)]


def test_the_readme_client_commands_work_as_written(start_broker):
    b = start_broker()
    script = readme_block("## Connecting a client")
    assert "127.0.0.1:9092" in script and "create_topics" in script
    script = script.replace("127.0.0.1:9092", b.bootstrap)
    env = {**os.environ, "PATH": "/usr/bin:" + os.environ["PATH"]}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    # -L lists the broker; the consumer prints "partition offset key value".
    assert "1 brokers:" in done.stdout, done.stdout
    consumed = [line.split() for line in done.stdout.splitlines() if line.endswith(" hello")]
    assert len(consumed) == 1 and consumed[0][2:] == ["k1", "hello"], done.stdout


def test_the_readme_trib_commands_work_as_written(start_broker):
    """The `trib` block, run from the repository root as a user would after scripts/start
    (TRIB_BROKERS, which trib documents, names this test's node)."""
    assert (ROOT / "build/release/src/app/trib").exists(), "the release build makes trib"
    b = start_broker()
    script = readme_block("## The `trib` tool")
    assert "trib produce" in script and "trib consume" in script
    env = {**os.environ, "TRIB_BROKERS": b.bootstrap}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=120, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "produced 2 records to events" in done.stdout, done.stdout
    consumed = sorted(line.split()[2:] for line in done.stdout.splitlines()
                      if line.endswith((" hello", " world")) and line[0].isdigit())
    assert consumed == [["k1", "hello"], ["k2", "world"]], done.stdout
    assert "HIGH-WATERMARK" in done.stdout and "GROUP  STATE" in done.stdout


def test_the_readme_admin_api_commands_work_as_written(start_broker):
    """The admin API block, after the trib block made its topic (only the port is this
    test's node's)."""
    b = start_broker()
    env = {**os.environ, "TRIB_BROKERS": b.bootstrap}
    subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block("## The `trib` tool")],
                   check=True, capture_output=True, env=env, cwd=ROOT, timeout=120)
    script = readme_block("## Admin API and metrics")
    assert "127.0.0.1:9644" in script
    script = script.replace("127.0.0.1:9644", f"127.0.0.1:{b.admin_port}")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"ready": true' in done.stdout and '"name": "events"' in done.stdout
    assert '"level": "debug"' in done.stdout
    assert 'tributary_kafka_requests_total{api="Produce"}' in done.stdout
