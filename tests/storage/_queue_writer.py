"""Child process for the writer-queue tests: back-to-back small write transactions on one
database with a short busy timeout, then one JSON line: how many writes hit
``DatabaseLockedError`` and the longest wait to begin one.

    python _queue_writer.py DB WRITES TIMEOUT_S GO_FILE HOLD_S

It prints ``READY`` once connected, then waits for ``GO_FILE`` to exist, so that every
writer starts at once. Each transaction keeps the lock ``HOLD_S`` (sleeping, as a real add
spends milliseconds updating its index and keyword rows), so that the lock is almost never
free when a polling waiter looks, as in the soak. The busy timeout is
the storage module's ``BUSY_TIMEOUT_S``, set here before the connection opens (what a caller
would see after 30 s, in a fraction of a second)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from akindb.errors import DatabaseLockedError
from akindb.storage import sqlite as sq


def main() -> None:
    db, writes, timeout_s, go = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    hold_s = float(sys.argv[5])
    sq.BUSY_TIMEOUT_S = timeout_s
    conn = sq.connect(db)
    print("READY", flush=True)
    while not Path(go).exists():
        time.sleep(0.001)
    locked = 0
    worst = 0.0
    for i in range(writes):
        began = time.monotonic()
        try:
            with sq.write_txn(conn, db):
                worst = max(worst, time.monotonic() - began)
                conn.execute(
                    "INSERT INTO oplog(collection_id, op, chunk_id) VALUES (0, 'add', ?)", (i,)
                )
                time.sleep(hold_s)
        except DatabaseLockedError:
            locked += 1
    conn.close()
    print(json.dumps({"locked": locked, "max_wait_s": round(worst, 4)}))


if __name__ == "__main__":
    main()
