"""``RWLock.inside`` / ``busy``: the lean readers' shared hold without a call (session 8). A
writer never runs while a lean reader is inside, a lean reader steps aside while a writer
holds or waits, and nothing is left behind."""

from __future__ import annotations

import threading
import time

from akindb.core.rwlock import RWLock


def _lean_enter(lock: RWLock) -> bool:
    """The protocol ``LiveIndex.search_ready`` runs inline."""
    lock.inside.append(None)
    if lock.busy:
        lock.inside.pop()
        return False
    return True


def test_a_writer_waits_for_a_lean_reader_inside() -> None:
    lock = RWLock()
    assert _lean_enter(lock)
    entered = threading.Event()
    events: list[str] = []

    def writer() -> None:
        with lock.write():
            events.append("writer in")
            entered.set()

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.05)
    assert not entered.is_set() and lock.busy  # waiting: the reader is inside
    assert not _lean_enter(lock)  # a new lean reader steps aside while a writer waits
    events.append("reader out")
    lock.inside.pop()
    assert entered.wait(5)
    t.join(5)
    assert events == ["reader out", "writer in"]
    assert not lock.busy and not lock.inside
    assert _lean_enter(lock)  # free again
    lock.inside.pop()


def test_lean_readers_and_writers_never_overlap() -> None:
    lock = RWLock()
    reading = [False, False, False]  # one flag per reader thread: no shared counter to race on
    writing = [False]
    errors: list[str] = []
    stop = threading.Event()

    def reader(me: int) -> None:
        while not stop.is_set():
            if not _lean_enter(lock):
                with lock.read():  # the general path waits behind the writer
                    if writing[0]:
                        errors.append("read() inside a write")
                continue
            try:
                reading[me] = True
                if writing[0]:
                    errors.append("lean reader inside a write")
                time.sleep(0.0001)
                reading[me] = False
            finally:
                lock.inside.pop()

    def writer() -> None:
        for _ in range(200):
            with lock.write():
                writing[0] = True
                if any(reading):
                    errors.append("writer with a lean reader inside")
                time.sleep(0.0002)
                writing[0] = False

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    writers = [threading.Thread(target=writer) for _ in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(60)
    stop.set()
    for t in readers:
        t.join(60)
    assert not errors, errors[:3]
    assert not lock.inside and not lock.busy


def test_the_writer_itself_steps_aside_and_reads() -> None:
    lock = RWLock()
    with lock.write():
        assert not _lean_enter(lock)  # busy: its own lean search takes read(), which lets it
        with lock.read():
            pass
    assert not lock.busy
