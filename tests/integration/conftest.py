"""Shared fixtures: the tributary binary under test and a helper to run it."""
import os
import subprocess

import pytest


def binary_from_env(variable, what):
    """The executable an environment variable names (ctest sets them all)."""
    path = os.environ.get(variable)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{variable} must point at the {what} binary (ctest sets it)")
    return path


@pytest.fixture(scope="session")
def tributary_bin():
    return binary_from_env("TRIBUTARY_BIN", "tributary")


@pytest.fixture(scope="session")
def trib_bin():
    return binary_from_env("TRIB_CLI_BIN", "trib")


@pytest.fixture
def run(tributary_bin):
    """Runs tributary to completion with the given arguments; returns the CompletedProcess."""

    def _run(*args, timeout=30, cwd=None):
        return subprocess.run([tributary_bin, *args], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)

    return _run


@pytest.fixture
def start_broker(tributary_bin, tmp_path):
    """Starts tributary brokers (node 0, a free port, a data dir in tmp_path) and always stops
    them at teardown; a broker that died on its own or did not stop cleanly (SIGTERM, exit 0)
    fails the test there. Its log is printed at teardown, which pytest shows on failure."""
    from broker import Broker

    brokers = []

    def _start(*extra_args, auto_create_topics=False):
        name = f"broker{len(brokers)}"
        b = Broker(tributary_bin, tmp_path / name / "data", extra_args=extra_args,
                   auto_create_topics=auto_create_topics, name=name)
        brokers.append(b)
        return b.start()

    yield _start
    problems = [p for p in (b.close() for b in brokers) if p]
    for b in brokers:
        print(f"--- {b.log_path}:\n{b.log_tail(200)}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def broker(start_broker):
    """A started broker, stopped cleanly at teardown."""
    return start_broker()
