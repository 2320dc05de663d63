"""Make a collection match its folders: documents whose file is gone are removed.

Re-indexing a folder (``akindb index DIR``, ``Collection.add_files``) used to leave the
documents of deleted files in place, still answering queries. After the files are indexed,
every stored document whose source lies under one of the indexed *folders* and that was not
among the files just walked is deleted, in one transaction, and named in
``IngestReport.removed``. Files given by name (not a folder) never prune anything; documents
added with ``add()`` have no file source and are never touched. Pruning runs only after every
file was written, so an interrupted run removes nothing. ``prune=False`` (CLI ``--no-prune``)
keeps them.
"""

from __future__ import annotations

import os
from collections.abc import Collection as Coll
from collections.abc import Sequence
from pathlib import Path

from akindb.collection.parts import CollectionParts


def folders_of(paths: Sequence[str | Path]) -> list[str]:
    """The resolved folders among ``paths`` (what pruning is confined to), as strings."""
    return [str(Path(p).resolve()) for p in paths if Path(p).is_dir()]


def prune_missing(parts: CollectionParts, folders: Sequence[str], present: Coll[str]
                  ) -> list[str]:
    """Delete the documents under ``folders`` whose id is not in ``present``; returns their
    ids, sorted."""
    if not folders:
        return []
    with parts.lock, parts.translated():
        under: set[str] = set()
        for folder in folders:
            prefix = folder if folder.endswith(os.sep) else folder + os.sep
            under.update(parts.store.doc_ids_under(prefix))
    gone = sorted(under - set(present))
    if gone:
        with parts.write_txn():
            parts.store.delete_documents(gone)
    return gone
