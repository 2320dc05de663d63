"""Data that can leave and come back: export a collection to JSONL or Parquet, import such a
file (or a Chroma persist directory) into a collection. The file format is documented in
docs/format.md ("Export files"); pyarrow and chromadb are imported only when used."""

from akindb.transfer.export import ExportReport, export_collection
from akindb.transfer.format import FORMAT_VERSION, ExportHeader, TransferFormatError
from akindb.transfer.importer import ImportReport, import_file

__all__ = [
    "FORMAT_VERSION",
    "ExportHeader",
    "ExportReport",
    "ImportReport",
    "TransferFormatError",
    "export_collection",
    "import_file",
]
