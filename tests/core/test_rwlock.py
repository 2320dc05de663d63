"""The index readers-writer lock: searches share it, an update has it alone, and a waiting
update is not starved by a stream of new searches."""

from __future__ import annotations

import doctest
import threading
import time

from akindb.core import rwlock
from akindb.core.rwlock import RWLock


def test_docstring_examples() -> None:
    assert doctest.testmod(rwlock).failed == 0


def test_readers_share_and_writer_excludes() -> None:
    lock = RWLock()
    inside, peak, wrote_alone = [0], [0], []
    guard = threading.Lock()

    def reader() -> None:
        with lock.read():
            with guard:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            time.sleep(0.05)
            with guard:
                inside[0] -= 1

    def writer() -> None:
        with lock.write():
            with guard:
                wrote_alone.append(inside[0] == 0)
            time.sleep(0.02)
            with guard:
                wrote_alone.append(inside[0] == 0)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    threads += [threading.Thread(target=writer) for _ in range(2)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert peak[0] >= 2  # searches ran together
    assert wrote_alone == [True] * 4  # no search inside an update


def test_waiting_writer_is_not_starved() -> None:
    lock = RWLock()
    order: list[str] = []
    first_in = threading.Event()

    def long_reader() -> None:
        with lock.read():
            first_in.set()
            time.sleep(0.1)
        order.append("reader1 out")

    def writer() -> None:
        with lock.write():
            order.append("writer")

    def late_reader() -> None:
        with lock.read():
            order.append("reader2")

    r1 = threading.Thread(target=long_reader)
    r1.start()
    first_in.wait()
    w = threading.Thread(target=writer)
    w.start()
    time.sleep(0.02)  # the writer is waiting now
    r2 = threading.Thread(target=late_reader)
    r2.start()
    for t in (r1, w, r2):
        t.join(timeout=10)
    assert order.index("writer") < order.index("reader2")


def test_try_read_never_waits_and_a_release_wakes_the_writer() -> None:
    """``try_read`` (the lean search path) takes a shared hold only when no writer holds or
    waits, never for the writer itself; ``release_read`` of the last reader lets a waiting
    writer in."""
    lock = RWLock()
    assert lock.try_read()
    wrote = threading.Event()

    def writer() -> None:
        with lock.write():
            wrote.set()

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.monotonic() + 10
    while not lock._waiting_writers and time.monotonic() < deadline:
        time.sleep(0.001)
    assert lock._waiting_writers == 1
    assert not lock.try_read()  # a waiting writer is not starved
    assert not wrote.is_set()
    lock.release_read()
    t.join(timeout=10)
    assert wrote.is_set()
    with lock.write():
        assert not lock.try_read()  # the writer itself: the ordinary read() handles it
    assert lock.try_read()
    lock.release_read()
    assert lock._readers == 0
