"""Shared fixtures: the tributary binary under test and a helper to run it."""
import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def tributary_bin():
    path = os.environ.get("TRIBUTARY_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("TRIBUTARY_BIN must point at the tributary binary (ctest sets it)")
    return path


@pytest.fixture
def run(tributary_bin):
    """Runs tributary to completion with the given arguments; returns the CompletedProcess."""

    def _run(*args, timeout=30, cwd=None):
        return subprocess.run([tributary_bin, *args], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd)

    return _run
