"""One tributary process of a chaos run, inside its network namespace (or on its own loopback
address, loopnet.py).

The process is the harness's child (`ip netns exec` replaces itself with tributary, so the
pid is the broker's): kill -9, SIGSTOP/SIGCONT and SIGTERM reach it directly. Its stderr goes
to `<run>/n<i>/node.log` (appended across restarts, one marker line per start), which the
checker reads for assertion failures and sanitizer reports. Every exit is recorded with
whether the harness caused it, so an exit nobody caused is reported as a crash.
"""
import json
import os
import re
import signal
import struct
import subprocess
import time

READY_LINE = "kafka listener started"
# What a node log must never contain: our assertion macro, sanitizers, an uncaught exception.
CRASH_MARKERS = ("assertion failed", "ERROR: AddressSanitizer", "runtime error:",
                 "ERROR: LeakSanitizer", "terminate called", "Segmentation fault")


class Node:
    def __init__(self, binary, node_id, run_dir, network, voters, extra_args=(),
                 clock_file=None, disk_faults=False, slow_sync_lib=None):
        self.binary = str(binary)
        self.id = node_id
        self.dir = run_dir / f"n{node_id}"
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "node.log"
        self.network = network
        self.voters = voters
        self.extra_args = [str(a) for a in extra_args]
        self.clock_file = clock_file  # libfaketime timestamp file: clock faults write to it
        # Under libfiu's POSIX preload, so fail_syncs can make its fsyncs fail while it runs.
        self.fiu_fifo = str(self.dir / "fiu-ctrl") if disk_faults else None
        # Under slow_sync.cc's preload, so delay_syncs can slow its fsyncs while it runs.
        self.slow_sync_lib = slow_sync_lib
        self.slow_sync_file = self.dir / "slow-sync" if slow_sync_lib else None
        self.env = {}
        self.proc = None
        self.paused = False
        self.exits = []  # (monotonic s, return code, caused by the harness)
        self._expect_exit = False
        self._log = None
        self.starts = 0

    @property
    def host(self):
        return self.network.host(self.id)

    @property
    def bootstrap(self):
        """Where clients reach it (loopback network: through its client proxy)."""
        return f"{self.network.client_address(self.id)}:{self.network.kafka_port}"

    @property
    def alive(self):
        self.reap()
        return self.proc is not None

    def command(self):
        cmd = [*self.network.exec_prefix(self.id)]
        env, preload = [], []
        if self.clock_file is not None:
            # The file's content ("+0", "+300s", "-120s") is read at every clock call. Only
            # the wall clock jumps (as NTP steps it); a monotonic clock never does.
            env += [f"FAKETIME_TIMESTAMP_FILE={self.clock_file}", "FAKETIME_NO_CACHE=1",
                    "DONT_FAKE_MONOTONIC=1"]
            preload.append(faketime_library())
        if self.fiu_fifo is not None:
            # What fiu-run -x sets up, done here so it combines with libfaketime.
            env += [f"FIU_CTRL_FIFO={self.fiu_fifo}", "FIU_ENABLE="]
            preload += [f"{FIU_LIBS}/fiu_run_preload.so", f"{FIU_LIBS}/fiu_posix_preload.so"]
        if self.slow_sync_file is not None:
            env.append(f"TRIB_SLOW_SYNC_FILE={self.slow_sync_file}")
            preload.append(str(self.slow_sync_lib))
        if env:
            cmd += ["env", *env, "LD_PRELOAD=" + " ".join(preload)]
        return cmd + [
            self.binary, "--node-id", str(self.id), "--data-dir", str(self.data_dir),
            "--listen", f"{self.host}:{self.network.kafka_port}", "--advertised", self.bootstrap,
            "--rpc-listen", f"{self.host}:{self.network.rpc_port}",
            "--admin-listen", "127.0.0.1:0",
            "--controller-voters", self.voters, "--log-level",
            os.environ.get("TRIB_CHAOS_NODE_LOG_LEVEL", "info"),
            "--broker-session-timeout-ms", "3000", "--broker-heartbeat-interval-ms", "300",
            "--replica-lag-time-max-ms", "5000", *self.extra_args]

    def start(self, env=None):
        """Starts the process; `env` (extra environment variables) is kept for restarts."""
        if env is not None:
            self.env = env
        assert not self.alive, f"node {self.id} already running"
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.slow_sync_file is not None and not self.slow_sync_file.exists():
            self.slow_sync_file.write_bytes(struct.pack("<I", 0))
        self._log = open(self.log_path, "ab")
        self._log.write(f"=== chaos: start {self.starts + 1} of node {self.id} at "
                        f"{time.monotonic():.3f}\n".encode())
        self._log.flush()
        self._ready_from = self._log.tell()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     env={**os.environ, **self.env})
        self.starts += 1
        self.paused = False
        self._expect_exit = False

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"node {self.id} exited while starting: see {self.log_path}")
            with open(self.log_path, "rb") as f:
                f.seek(self._ready_from)
                if READY_LINE.encode() in f.read():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"node {self.id} not ready after {timeout} s: see {self.log_path}")

    def reap(self):
        """Notes the exit of a process that has ended."""
        if self.proc is not None and self.proc.poll() is not None:
            self.exits.append((time.monotonic(), self.proc.returncode, self._expect_exit))
            self.proc = None
            self.paused = False
            self._log.close()

    def signal(self, sig):
        if self.proc is not None:
            os.kill(self.proc.pid, sig)

    def kill(self):
        """kill -9, and waits until the process is gone."""
        if not self.alive:
            return
        self._expect_exit = True
        self.signal(signal.SIGKILL)
        self.proc.wait()
        self.reap()

    def admin_post(self, path):
        """POSTs to the node's admin API (loopback inside its namespace); the HTTP status, or
        None when the node is not running or does not answer."""
        return self.admin_call("POST", path)[0]

    def admin_get(self, path):
        """GETs JSON from the node's admin API; None when it does not answer with 200."""
        status, body = self.admin_call("GET", path)
        return json.loads(body) if status == 200 else None

    def admin_call(self, method, path):
        """(HTTP status, body) from the node's admin API; (None, "") when it is not running
        or does not answer."""
        if not self.alive:
            return None, ""
        with open(self.log_path, "rb") as f:
            f.seek(self._ready_from)
            found = re.findall(rb"admin API started address=127\.0\.0\.1:(\d+)", f.read())
        if not found:
            return None, ""
        try:
            done = subprocess.run([*self.network.exec_prefix(self.id), "curl", "-s", "-m", "10",
                                   "-w", "\n%{http_code}", "-X", method,
                                   *(["-d", ""] if method == "POST" else []),
                                   f"http://127.0.0.1:{int(found[-1])}{path}"],
                                  capture_output=True, text=True, timeout=15, check=False)
        except subprocess.TimeoutExpired:
            return None, ""
        body, _, status = done.stdout.rpartition("\n")
        return (int(status) if status.isdigit() else None), body

    def fail_syncs(self, failing):
        """Makes every fsync and fdatasync of the running process fail with an I/O error (or
        work again), through libfiu's remote control."""
        if self.fiu_fifo is None:
            raise RuntimeError("the disk fault needs nodes started under libfiu")
        if not self.alive:
            return
        command = ("enable name=posix/io/sync/*" if failing else "disable name=posix/io/sync/*")
        subprocess.run(["fiu-ctrl", "-f", self.fiu_fifo, "-c", command, str(self.proc.pid)],
                       check=True, timeout=10, capture_output=True)

    def delay_syncs(self, ms):
        """Makes every fsync and fdatasync of the process (also after a restart) sleep `ms`
        milliseconds first (0: no more), through slow_sync.cc's mapped control file."""
        if self.slow_sync_file is None:
            raise RuntimeError("the slow-fsync fault needs nodes started under slow_sync.cc")
        # Rewritten in place: the process has the file mapped and must never see it shrink.
        fd = os.open(self.slow_sync_file, os.O_WRONLY)
        try:
            os.pwrite(fd, struct.pack("<I", ms), 0)
        finally:
            os.close(fd)

    def pause(self):
        if self.alive and not self.paused:
            self.signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.alive and self.paused:
            self.signal(signal.SIGCONT)
            self.paused = False

    def stop(self, timeout=30):
        """SIGTERM (a clean stop); kill -9 if it does not end within timeout."""
        if not self.alive:
            return
        self.resume()
        self._expect_exit = True
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait()
        self.reap()

    def rss_bytes(self):
        if self.proc is None:
            return 0
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def unexpected_exits(self):
        self.reap()
        return [(t, code) for t, code, expected in self.exits if not expected]

    def crash_lines(self, limit=5):
        """Lines of the node's log that show an assertion, a sanitizer report or a crash."""
        found = []
        if not self.log_path.exists():
            return found
        with open(self.log_path, "rb") as f:
            for raw in f:
                line = raw.decode(errors="replace").rstrip()
                if any(m in line for m in CRASH_MARKERS):
                    found.append(line)
                    if len(found) >= limit:
                        break
        return found


FIU_LIBS = "/usr/lib/fiu"


def faketime_library():
    for path in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/faketime/libfaketime.so.1"):
        if os.path.exists(path):
            return path
    raise RuntimeError("libfaketime is not installed (apt-get install faketime)")
