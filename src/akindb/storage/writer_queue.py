"""A fair, prompt cross-process queue in front of SQLite's write lock.

Why: SQLite's busy handler polls. A writer that finds the lock taken sleeps (up to 100 ms
between tries) and tries again; with several processes committing back to back, the writer
that just committed is already awake and takes the lock again before the sleeper looks.
The 10-minute soak (``bench/reliability/soak.py``, 4 writers) saw writers wait 5-19 s to
begin with no transaction holding the lock over 1 s, and once a full 30 s:
``DatabaseLockedError`` from starvation, not from a long holder.

How: before ``BEGIN IMMEDIATE`` (and ``VACUUM``, a truncating checkpoint, a migration) a
writer takes an exclusive ``flock`` on a sidecar file beside the database
(``<db file>-writer.lock``). The kernel wakes a blocked waiter the moment the holder lets go
(no polling) and drops the lock of a process that dies (SIGKILL included). ``flock`` locks
belong to an open file description, so two connections, in one process or in two, queue on
each other; threads of one connection are serialized by ``_mutex``.

``flock`` wakes every waiter at release but does not serve them in order: the writer that just
committed is running and would take the lock again before a woken waiter gets a CPU (the
soak's starvation again, under load). So waiters sit in a waiting room (a shared ``flock`` on
``<db file>-writer.wait``) and a writer that lets go while someone waits leaves the lock free
for up to ``HANDOFF_S`` until a waiter has it, then queues behind (``_after_handoff``).

Waiting is bounded: an uncontended lock is taken with ``LOCK_NB`` (one system call, no
thread); otherwise a helper thread blocks in ``flock`` on a descriptor of its own while the
caller waits on an event for at most the connection's busy timeout. When the time runs out
the caller gives up with the usual ``DatabaseLockedError`` and the helper, once it gets the
lock, releases it at once.

The sidecar's name starts with the database file's name plus ``-`` like SQLite's ``-wal``
and ``-shm``, so backups skip it, and it is created only by a connection that writes: a
read-only open never has a queue. Where the file cannot be created or opened (a read-only
directory, permissions) the queue stands aside and SQLite's busy handler alone decides, as
before. The file holds no data; deleting it only costs fairness, never correctness (SQLite's
own lock still serializes writers).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

SUFFIX = "-writer.lock"
WAIT_SUFFIX = "-writer.wait"
"""The waiting room: writers waiting for a turn hold a shared lock on it, so the one letting
go can tell that others wait."""

HANDOFF_S = 0.1
"""How long a writer that let go while others waited leaves the lock to them before taking it
again. ``flock`` wakes every waiter at release but is not first-come-first-served: the writer
that just committed is running and would take the lock again before a woken waiter is
scheduled (under load, tens of ms), which starved waiters for seconds in the soak."""

HANDOFF_POLL_S = 0.001

_held = threading.local()
"""Per thread: the lock files whose queue this thread holds (to refuse a nested write that
would wait for itself)."""

_queues: weakref.WeakSet[WriterQueue] = weakref.WeakSet()


class QueueTimeout(Exception):
    """The turn did not come within the wait allowed (the caller raises its locked error)."""


class NestedWriteError(Exception):
    """This thread asked for a turn it already holds (a write inside a write)."""


def lock_path(db_file: Path) -> Path:
    """The sidecar lock file of ``db_file``."""
    return db_file.with_name(db_file.name + SUFFIX)


def _held_paths() -> set[str]:
    paths: set[str] | None = getattr(_held, "paths", None)
    if paths is None:
        paths = set()
        _held.paths = paths
    return paths


class WriterQueue:
    """The writer queue of one read-write connection (one descriptor, opened on first use)."""

    def __init__(self, db_file: Path) -> None:
        self.db_file = db_file
        self.path = lock_path(db_file)
        self._key = str(self.path)
        self._fd: int | None = None
        self._disabled = False
        self._holding: int | None = None  # the descriptor whose lock is held now
        self._wait_fd: int | None = None  # the waiting room (``WAIT_SUFFIX``)
        self._polite_until = 0.0
        self._mutex = threading.Lock()
        _queues.add(self)

    def acquire(self, patience: Callable[[], float]) -> None:
        """Take this connection's turn; wait at most ``patience()`` seconds (``QueueTimeout``;
        asked only when the lock is taken, so the uncontended path runs no query). A thread
        asking again for a turn it holds gets ``NestedWriteError`` (it would wait for itself).
        """
        held = _held_paths()
        if self._key in held:
            raise NestedWriteError(str(self.path))
        if not self._mutex.acquire(blocking=False) and not self._mutex.acquire(
            timeout=max(patience(), 0.0)  # another thread of this connection has the turn
        ):
            raise QueueTimeout(str(self.path))
        try:
            fd = self._open()  # None: no lock file here, SQLite's busy handler alone decides
            if fd is not None and time.monotonic() < self._polite_until:
                self._holding = self._after_handoff(fd, patience)
            elif fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._holding = fd
                except BlockingIOError:
                    self._holding = self._queue_up(patience())
        except BaseException:
            self._mutex.release()
            raise
        held.add(self._key)

    def release(self) -> None:
        _held_paths().discard(self._key)
        fd, self._holding = self._holding, None
        try:
            if fd is not None:
                if fd == self._fd:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                else:  # a helper's own descriptor: closing it releases its lock
                    os.close(fd)
                waiting = self._others_waiting()
                self._polite_until = time.monotonic() + HANDOFF_S if waiting else 0.0
        finally:
            self._mutex.release()

    def _queue_up(self, wait_s: float) -> int:
        """Wait in the waiting room (a shared lock on it tells releasers someone waits)."""
        room = self._open_wait()
        for _ in range(3):  # never block here: a releaser's check holds it for a moment only
            if room is None:
                break
            try:
                fcntl.flock(room, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(HANDOFF_POLL_S)
            except OSError:
                break
        try:
            return _wait_turn(self.path, wait_s)
        finally:
            if room is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(room, fcntl.LOCK_UN)

    def _after_handoff(self, fd: int, patience: Callable[[], float]) -> int:
        """This writer let go with others waiting: leave the lock free for them (they were
        woken, but may not run yet) until one takes it, then queue behind it; take it back
        only when nobody waits any more or after ``HANDOFF_S``."""
        deadline = min(self._polite_until, time.monotonic() + patience())
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a waiter has it now: queue behind
                return self._queue_up(patience())
            if time.monotonic() >= deadline or not self._others_waiting():
                return fd
            fcntl.flock(fd, fcntl.LOCK_UN)
            time.sleep(HANDOFF_POLL_S)

    def _others_waiting(self) -> bool:
        """Whether a writer (another process, or another connection) waits for a turn: it
        holds a shared lock on the waiting room, so an exclusive try fails."""
        room = self._open_wait()
        if room is None:
            return False
        try:
            fcntl.flock(room, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(room, fcntl.LOCK_UN)
        return False

    def _open_wait(self) -> int | None:
        if self._wait_fd is None:
            self._wait_fd = _open_lock_file(self.db_file.with_name(self.db_file.name + WAIT_SUFFIX))
        return self._wait_fd

    def close(self) -> None:
        fds, self._fd, self._wait_fd = (self._fd, self._wait_fd), None, None
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _open(self) -> int | None:
        if self._fd is None and not self._disabled:
            self._fd = _open_lock_file(self.path)
            self._disabled = self._fd is None
        return self._fd

    def _forget_after_fork(self) -> None:
        """In a forked child: the descriptors are copies of the parent's; closing them there
        leaves the parent's lock alone (a lock lives until its last descriptor closes), and
        keeping them would let the child hold the parent's turn."""
        for fd in {self._fd, self._holding, self._wait_fd} - {None}:
            with contextlib.suppress(OSError):
                os.close(fd)  # type: ignore[arg-type]
        self._fd = self._holding = self._wait_fd = None
        self._mutex = threading.Lock()


def _open_lock_file(path: Path) -> int | None:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags, 0o644)
    except OSError:
        pass
    try:  # another user's file in a shared directory: a read descriptor can lock too
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


def _wait_turn(path: Path, wait_s: float) -> int:
    """Block in ``flock`` on a new descriptor in a helper thread; return that descriptor
    (holding the lock) or raise ``QueueTimeout`` after ``wait_s``, leaving the helper to
    release the lock as soon as it gets it."""
    fd = _open_lock_file(path)
    if fd is None:
        raise QueueTimeout(str(path))
    got = threading.Event()
    guard = threading.Lock()
    abandoned = False
    failed: list[OSError] = []

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            failed.append(exc)
        with guard:
            if abandoned:
                os.close(fd)
            else:
                got.set()

    threading.Thread(target=wait, name="akindb-writer-queue", daemon=True).start()
    got.wait(max(wait_s, 0.0))
    with guard:
        if not got.is_set():
            abandoned = True  # the helper releases the lock when it gets it
            raise QueueTimeout(str(path))
    if failed:
        os.close(fd)
        raise QueueTimeout(f"{path}: {failed[0]}")
    return fd


def _after_fork_in_child() -> None:
    for q in list(_queues):
        q._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
