"""A tributary broker process for the integration tests: start, stop, restart, kill -9.

The broker is started as
  $TRIBUTARY_BIN --node-id 0 --data-dir DIR --listen 127.0.0.1:PORT --log-level info
                 --auto-create-topics false [extra args]
and is ready when it logs `kafka listener started`. Its stderr is drained by a thread (so the
pipe never fills), kept in memory and copied to DIR/../<name>.log. The port is chosen once, so a
restart comes back at the same address with the same data directory.
"""
import pathlib
import re
import signal
import subprocess
import threading
import time

from ports import free_port  # noqa: F401 (tests import it from here)
from raw_kafka import ConnectionClosed

READY_LINE = "kafka listener started"


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns something truthy; fails naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    closed = None
    while True:
        try:
            value = predicate()
        except ConnectionClosed as e:
            # A node cut off from the controller closes Metadata connections until it is
            # back in touch: not there yet, ask again.
            value, closed = None, e
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                                 + (f" (last: {closed})" if closed else ""))
        time.sleep(interval)


class Broker:
    """One tributary process (node 0 unless told) on 127.0.0.1:port with its own data
    directory."""

    def __init__(self, binary, data_dir, port=None, extra_args=(), log_level="info",
                 auto_create_topics=False, name="broker", node_id=0):
        self.binary = str(binary)
        self.node_id = node_id
        self.data_dir = pathlib.Path(data_dir)
        self.port = port or free_port()
        self.admin_port = None  # the node picks a free one; read from its log at start
        self.extra_args = [str(a) for a in extra_args]
        self.log_level = log_level
        self.auto_create_topics = auto_create_topics
        self.log_path = self.data_dir.parent / f"{name}.log"
        self.proc = None
        self._ended_by_us = False
        self.exit_codes = []  # one per process that has ended, in order
        self._lines = []      # stderr lines of the current process
        self._cond = threading.Condition()
        self._drain = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def address(self):
        return ("127.0.0.1", self.port)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        return [self.binary, "--node-id", str(self.node_id), "--data-dir", str(self.data_dir),
                "--listen", self.bootstrap, "--log-level", self.log_level,
                "--admin-listen", "127.0.0.1:0",
                "--auto-create-topics", "true" if self.auto_create_topics else "false",
                *self.extra_args]

    def start(self, timeout=30):
        """Starts the process and waits until it logs that the Kafka listener is up."""
        assert not self.alive, "broker already running"
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self._cond:
            self._lines = []
        self._ended_by_us = False
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, errors="replace")
        self._drain = threading.Thread(target=self._drain_stderr, args=(self.proc,),
                                       daemon=True)
        self._drain.start()
        deadline = time.monotonic() + timeout
        while not self._logged(READY_LINE):
            if self.proc.poll() is not None:
                self._drain.join(10)
                raise AssertionError(f"tributary exited with {self.proc.returncode} before "
                                     f"logging {READY_LINE!r}:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                self.kill()
                raise AssertionError(
                    f"{READY_LINE!r} not logged within {timeout} s:\n{self.log_tail()}")
            with self._cond:
                self._cond.wait(0.1)
        with self._cond:
            found = [m for line in self._lines
                     for m in re.findall(r"admin API started address=127\.0\.0\.1:(\d+)", line)]
        self.admin_port = int(found[-1]) if found else None
        return self

    def _drain_stderr(self, proc):
        log = open(self.log_path, "a", encoding="utf-8")
        log.write(f"--- start: {' '.join(self.command())}\n")
        for line in proc.stderr:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
            if log is None:
                continue
            try:
                log.write(line)
                log.flush()
            except OSError:  # its disk is full (test_disk_full): the lines are still kept
                log = None
        if log is not None:
            try:
                log.close()
            except OSError:
                pass
        with self._cond:
            self._cond.notify_all()

    def _reap(self, timeout):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._drain.join(10)
        self.exit_codes.append(code)
        return code

    def stop(self, timeout=30, check=True):
        """SIGTERM, then wait. A clean stop exits 0; with check, anything else fails."""
        if not self.alive:
            return self.proc.returncode if self.proc else None
        self._ended_by_us = True
        self.proc.send_signal(signal.SIGTERM)
        code = self._reap(timeout)
        if code is None:
            self.kill()
            raise AssertionError(f"tributary did not stop within {timeout} s of SIGTERM:\n"
                                 f"{self.log_tail()}")
        if check and code != 0:
            raise AssertionError(f"tributary exited with {code} after SIGTERM, not 0:\n"
                                 f"{self.log_tail()}")
        return code

    def kill(self):
        """SIGKILL (kill -9): no chance to flush or clean up."""
        if self.alive:
            self._ended_by_us = True
            self.proc.send_signal(signal.SIGKILL)
            self._reap(30)
        return self.proc.returncode if self.proc else None

    def pause(self):
        """SIGSTOP: the process stays, silent, as a node stalled by GC or a VM pause is."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def restart(self, kill=False, timeout=30):
        """Stops (cleanly, or with kill -9) and starts again on the same port and data dir."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start(timeout=timeout)

    def _logged(self, needle):
        with self._cond:
            return any(needle in line for line in self._lines)

    def logs(self):
        with self._cond:
            return "".join(self._lines)

    def log_tail(self, n=60):
        with self._cond:
            return "".join(self._lines[-n:])

    def close(self):
        """For fixtures' teardown: stops the broker if it runs. Returns None if all went well,
        else what went wrong (it died on its own, or did not stop cleanly)."""
        if self.proc is None:
            return None
        if not self.alive:
            if self._ended_by_us:
                return None
            self._drain.join(10)
            return (f"tributary died on its own with exit code {self.proc.returncode}:\n"
                    f"{self.log_tail()}")
        try:
            self.stop()
        except AssertionError as e:
            return str(e)
        return None

