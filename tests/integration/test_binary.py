"""The tributary binary: flags, configuration errors, logging and clean shutdown."""
import json
import signal
import subprocess
import time

import pytest

from broker import free_port

BAD_CONFIG_EXIT = 2


def single_error_line(proc):
    """A configuration error is exactly one line on stderr, and nothing starts."""
    assert proc.returncode == BAD_CONFIG_EXIT, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tributary: error: "), lines[0]
    return lines[0]


def test_version(run):
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip().startswith("tributary 0.")


def test_help_lists_every_setting(run):
    proc = run("--help")
    assert proc.returncode == 0
    for flag in ["--config", "--check-config", "--node-id", "--data-dir", "--listen",
                 "--advertised", "--log-level", "--log-format"]:
        assert flag in proc.stdout, flag
    assert "kafka.listen: 127.0.0.1:9092" in proc.stdout


def test_check_config_merges_file_and_flags(run, tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("node:\n  id: 4\nkafka:\n  listen: 127.0.0.1:19092\n")
    proc = run("--config", str(cfg), "--listen", "127.0.0.1:29092", "--check-config")
    assert proc.returncode == 0, proc.stderr
    assert "node.id: 4\n" in proc.stdout
    assert "kafka.listen: 127.0.0.1:29092\n" in proc.stdout  # the flag wins over the file
    assert "kafka.advertised: 127.0.0.1:29092\n" in proc.stdout


@pytest.mark.parametrize("yaml_text,expected", [
    ("kafka:\n  lisen: 127.0.0.1:9092\n", "unknown setting 'kafka.lisen'"),
    ("kafka:\n  listen: 127.0.0.1:70000\n", 'invalid value "127.0.0.1:70000" for kafka.listen'),
    ("kafka:\n  listen: 0.0.0.0:9092\n", "set kafka.advertised"),
    ("log:\n  level: loud\n", 'invalid value "loud" for log.level'),
    ("node:\n  id: x\n", 'invalid value "x" for node.id'),
    ("node: [\n", "invalid YAML"),
])
def test_bad_config_file_is_one_line_error(run, tmp_path, yaml_text, expected):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    line = single_error_line(run("--config", str(cfg), "--data-dir", str(tmp_path / "d")))
    assert expected in line
    assert not (tmp_path / "d").exists(), "nothing may start on a bad configuration"


def test_missing_config_file(run, tmp_path):
    line = single_error_line(run("--config", str(tmp_path / "absent.yaml")))
    assert "cannot read configuration file" in line


@pytest.mark.parametrize("args,expected", [
    (["--listen", "localhost:0"], 'invalid value "localhost:0" for kafka.listen (flag --listen)'),
    (["--node-id", "-3"], 'invalid value "-3" for node.id'),
    (["--log-format", "xml"], 'invalid value "xml" for log.format'),
    (["--no-such-flag"], "--no-such-flag"),
])
def test_bad_flag_is_one_line_error(run, args, expected):
    assert expected in single_error_line(run(*args))


def test_unwritable_data_dir(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = single_error_line(run("--data-dir", str(blocker / "data")))
    assert f'invalid value "{blocker / "data"}" for node.data_dir' in line


class Node:
    """A tributary process running in the background, with its stderr collected."""

    def __init__(self, binary, *args):
        # A free admin port unless the test names one (parallel tests would share 9644).
        if "--admin-listen" not in args:
            args = (*args, "--admin-listen", "127.0.0.1:0")
        self.proc = subprocess.Popen([binary, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []

    def wait_for_log(self, needle, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{needle!r} not logged; got {self.lines!r}")

    def stop(self, sig, timeout=10):
        self.proc.send_signal(sig)
        _, rest = self.proc.communicate(timeout=timeout)
        self.lines.extend(rest.splitlines(keepends=True))
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def start_node(tributary_bin):
    nodes = []

    def _start(*args):
        # Each node listens on a port of its own, so nothing else on 9092 can disturb it.
        if "--listen" not in args:
            args = (*args, "--listen", f"127.0.0.1:{free_port()}")
        node = Node(tributary_bin, *args)
        node.listen = args[args.index("--listen") + 1]
        nodes.append(node)
        return node

    yield _start
    for node in nodes:
        node.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_starts_logs_settings_and_stops_cleanly(start_node, tmp_path, sig):
    node = start_node("--data-dir", str(tmp_path / "data"), "--node-id", "3")
    node.wait_for_log("node started")
    text = "".join(node.lines)
    for setting in ["node.id=3", f"node.data_dir={tmp_path / 'data'}",
                    f"kafka.listen={node.listen}", "log.level=info"]:
        assert f"setting {setting}" in text, text
    assert node.stop(sig) == 0
    tail = "".join(node.lines)
    assert "shutting down" in tail and "node stopped" in tail, tail
    assert (tmp_path / "data" / "node_id").read_text() == "3\n"


def test_second_node_on_same_data_dir_is_refused(start_node, run, tmp_path):
    first = start_node("--data-dir", str(tmp_path / "data"))
    first.wait_for_log("node started")
    line = single_error_line(run("--data-dir", str(tmp_path / "data")))
    assert "in use by another tributary process" in line
    assert first.stop(signal.SIGTERM) == 0


def test_admin_port_in_use_is_refused(start_node, run, tmp_path):
    """A second node on a used admin port stops and says so (httplib's default SO_REUSEPORT
    would have let both bind and share the port's requests)."""
    port = free_port()
    first = start_node("--data-dir", str(tmp_path / "a"), "--admin-listen", f"127.0.0.1:{port}")
    first.wait_for_log("node started")
    done = run("--data-dir", str(tmp_path / "b"), "--listen", f"127.0.0.1:{free_port()}",
               "--admin-listen", f"127.0.0.1:{port}")
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port} for the admin API (admin.listen)" in done.stderr
    assert first.stop(signal.SIGTERM) == 0


def test_data_dir_of_another_node_is_refused(start_node, run, tmp_path):
    first = start_node("--data-dir", str(tmp_path / "data"), "--node-id", "1")
    first.wait_for_log("node started")
    assert first.stop(signal.SIGTERM) == 0
    line = single_error_line(run("--data-dir", str(tmp_path / "data"), "--node-id", "2"))
    assert "belongs to node 1, not node 2" in line


def test_json_logs_are_one_object_per_line(start_node, tmp_path):
    node = start_node("--data-dir", str(tmp_path / "data"), "--log-format", "json")
    node.wait_for_log("node started")
    assert node.stop(signal.SIGTERM) == 0
    records = [json.loads(line) for line in node.lines if line.strip()]
    assert records, node.lines
    for record in records:
        assert set(record) == {"ts", "level", "logger", "msg"}, record
    assert any(r["msg"] == "setting log.format=json" for r in records)


def test_log_level_filters(start_node, tmp_path):
    node = start_node("--data-dir", str(tmp_path / "data"), "--log-level", "warn")
    # Nothing is logged at warn on a clean start; the node_id file shows it has started.
    deadline = time.monotonic() + 10
    while not (tmp_path / "data" / "node_id").exists():
        assert time.monotonic() < deadline and node.proc.poll() is None, "node did not start"
        time.sleep(0.05)
    assert node.stop(signal.SIGTERM) == 0
    assert node.lines == [], node.lines


def test_an_unknown_canary_is_refused(tmp_path):
    """TRIBUTARY_UNSAFE_CANARY (the chaos harness's broken test mode) takes one name; any
    other value stops the node with an error naming it, rather than running normally."""
    import os
    env = {**os.environ, "TRIBUTARY_UNSAFE_CANARY": "ack-early"}
    done = subprocess.run([os.environ["TRIBUTARY_BIN"], "--data-dir", str(tmp_path / "d"),
                           "--listen", f"127.0.0.1:{free_port()}"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0, done.stderr
    assert "TRIBUTARY_UNSAFE_CANARY=ack-early names no canary" in done.stderr, done.stderr
