"""Re-export of :mod:`akindb.atomic` (atomic file writes moved to the floor, so ``index`` and
``models`` can use them without importing ``storage``). New code imports ``akindb.atomic``."""

from akindb.atomic import atomic_write_bytes, atomic_writer, fsync_dir, replace_dir

__all__ = ["atomic_write_bytes", "atomic_writer", "fsync_dir", "replace_dir"]
