"""Waiting for a forked child in a test: it must exit 0 in time; one that hangs (the usual
fork bug: a lock or pool another thread of the parent held) is killed and the test fails."""

from __future__ import annotations

import os
import time


def expect_clean_exit(pid: int, hang: str, seconds: float = 20.0) -> None:
    """Wait for child ``pid``: pass when it exits 0; fail with ``hang`` if it outlives
    ``seconds`` (then kill it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(hang)
