"""Where ``Cluster.ingest`` reads from: local paths, URIs, and any ``pyarrow.fs`` filesystem.

An input is one of

* a local path (file or folder): walked here with ``text.loaders.iter_files`` (hidden entries
  skipped, sorted); the document id is the resolved path, as in ``Collection.add_files``;
* a URI that ``pyarrow.fs.FileSystem.from_uri`` understands (``file:///data/docs``,
  ``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``): a ``file://`` URI is the local path
  (same ids, so re-ingesting by path or by URI adds nothing twice); any other is listed
  through its filesystem and the id is ``SCHEME://PATH``;
* with ``filesystem=`` (a ``pyarrow.fs.FileSystem``: ``SubTreeFileSystem``, ``S3FileSystem``
  with credentials, ...), a path inside it; the id is ``TYPE://PATH`` (``subtree://docs/a.txt``),
  unless it is a ``LocalFileSystem``, which is the local case.

Listing happens in the driver; reading happens in the Ray Data read tasks, through the same
filesystem object (pickled to them), so the nodes need the filesystem's access, not the
driver's disk. ``read_documents`` turns one input into its documents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from akindb.errors import InvalidArgumentError


def _local(fs: Any) -> bool:
    import pyarrow.fs as pafs

    return isinstance(fs, pafs.LocalFileSystem)


def _listed(fs: Any, path: str) -> list[str]:
    """The files at ``path`` in ``fs`` (itself, or everything under a folder but hidden
    entries), sorted."""
    import pyarrow.fs as pafs

    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InvalidArgumentError(
            f"{path!r} does not exist in {fs.type_name} filesystem; give existing files or "
            "folders"
        )
    if info.type == pafs.FileType.File:
        return [info.path]
    root = PurePosixPath(info.path)
    out = []
    for entry in fs.get_file_info(pafs.FileSelector(path, recursive=True)):
        rel = PurePosixPath(entry.path).relative_to(root) if entry.path != str(root) else None
        if entry.type != pafs.FileType.File or rel is None:
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        out.append(entry.path)
    return sorted(out)


def resolve_inputs(paths: Sequence[str | Path], filesystem: Any = None
                   ) -> tuple[list[Any], list[dict[str, Any]]]:
    """``(filesystems, items)``: one item per input file, ``{"fs": index into filesystems or
    -1 for local, "path": its path there, "id": its document id}``."""
    from akindb.text.loaders import iter_files

    if isinstance(paths, str | Path):
        raise InvalidArgumentError("ingest takes a list of paths; wrap one path in a list")
    filesystems: list[Any] = []
    items: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(fs_index: int, path: str, doc_id: str) -> None:
        if doc_id not in seen:
            seen.add(doc_id)
            items.append({"fs": fs_index, "path": path, "id": doc_id})

    def local(ps: Sequence[str | Path]) -> None:
        for f in iter_files(ps):
            p = str(f.resolve())
            add(-1, p, p)

    for p in paths:
        if filesystem is not None:
            fs, path, scheme = filesystem, str(p), str(filesystem.type_name)
        elif isinstance(p, str) and "://" in p:
            import pyarrow as pa
            import pyarrow.fs as pafs

            try:
                fs, path = pafs.FileSystem.from_uri(p)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
                raise InvalidArgumentError(
                    f"cannot open {p!r} as a pyarrow filesystem URI ({exc}); give a local "
                    "path, a URI such as file:///data or s3://bucket/prefix, or filesystem="
                ) from None
            scheme = p.split("://", 1)[0]
        else:
            local([p])
            continue
        if _local(fs):
            local([path])
            continue
        if fs not in filesystems:
            filesystems.append(fs)
        idx = filesystems.index(fs)
        for f in _listed(fs, path):
            add(idx, f, f"{scheme}://{f}")
    return filesystems, items


def read_documents(item: dict[str, Any], filesystems: Sequence[Any] = ()
                   ) -> list[dict[str, Any]]:
    """One input file -> its documents (a file is one; a ``.jsonl`` file is one per line)."""
    from akindb.collection import text_hash
    from akindb.ingest import file_metadata
    from akindb.text.loaders import load_bytes

    idx, path, src = int(item["fs"]), str(item["path"]), str(item["id"])
    try:
        if idx < 0:
            raw = Path(path).read_bytes()
        else:
            with filesystems[idx].open_input_stream(path) as f:
                raw = f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return []  # vanished since it was listed
    if path.lower().endswith(".jsonl"):
        out = []
        for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            text = str(obj.get("text", ""))
            if not text.strip():
                continue
            meta = {"source": src, "line": n, **(obj.get("metadata") or {})}
            body = json.dumps([text, meta], sort_keys=True)
            out.append({"id": str(obj.get("id") or f"{src}:{n}"), "text": text,
                        "kind": "text", "source": src, "metadata": json.dumps(meta),
                        "hash": text_hash(body)})
        return out
    loaded = load_bytes(path, raw)
    if loaded.text is None:
        return []
    meta = {**file_metadata(Path(path), loaded), "source": src}
    return [{"id": src, "text": loaded.text, "kind": loaded.kind, "source": src,
             "metadata": json.dumps(meta), "hash": loaded.content_hash}]
