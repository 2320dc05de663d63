"""A check run in a forked child: it must pass and exit in time; one that hangs (the usual
fork bug: a lock or pool another thread of the parent held) is killed and the test fails."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable


def fork_check(check: Callable[[], bool]) -> int:
    """Fork; the child runs ``check`` and exits 0 when it returns true, 1 otherwise (or when
    it raises). Returns the child's pid to the parent (``expect_clean_exit``)."""
    with warnings.catch_warnings():  # Python 3.12+ warns about fork() with threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            code = 0 if check() else 1
        finally:
            os._exit(code)
    return pid


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
