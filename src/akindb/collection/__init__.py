"""The collection layer: ``Database`` and ``Collection`` (the public objects) and the parts
they hand to retrieval, ingest and maintenance.

Map: ``config`` (what a collection fixes at creation), ``parts`` (the internal interface:
store, live index, embedder, lock, config), ``write`` (the one write pipeline), ``ingest``
(files and folders), ``vector_search`` and ``results`` (hits and columns from the index's
answer), ``live_index`` (the derived index kept in step with SQLite), ``maintenance`` (tune,
stats, compaction), ``collection`` (the facade) and ``database`` (a directory of collections).
"""

from akindb.collection.collection import Collection
from akindb.collection.config import CollectionConfig, Where, text_hash

__all__ = ["Collection", "CollectionConfig", "Where", "text_hash"]
