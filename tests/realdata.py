"""Small real corpora cut at test time from ../shared/data (sources named in each helper)."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from tests.conftest import shared_data

PYDOCS_TAR = "pydocs/python-3.11.2-docs-rst-sources.tar.gz"
# A handful of pages from the Python 3.11 docs sources (Debian python3.11-doc 3.11.2).
PYDOCS_PAGES = [
    "library/atexit.rst.txt",
    "library/copy.rst.txt",
    "library/random.rst.txt",
    "library/glob.rst.txt",
    "library/secrets.rst.txt",
    "library/getpass.rst.txt",
]

# Questions phrased in other words than the pages, and the page that answers each.
PYDOCS_QUESTIONS = [
    ("run a function automatically when the program is about to quit", "atexit.rst.txt"),
    ("duplicate an object so changing the duplicate leaves the original alone", "copy.rst.txt"),
    ("choose an element at random from a list", "random.rst.txt"),
    ("list every file whose name looks like *.txt in a folder", "glob.rst.txt"),
    ("make an unguessable token for a password reset link", "secrets.rst.txt"),
    ("ask the user for a password without showing it on screen", "getpass.rst.txt"),
]


def extract_pydocs(dest: Path, pages: list[str] = PYDOCS_PAGES) -> Path:
    """Extract ``pages`` from the Python docs tarball into ``dest``; returns the folder."""
    tar_path = shared_data() / PYDOCS_TAR
    with tarfile.open(tar_path) as tar:
        for page in pages:
            member = tar.getmember(f"python-3.11-docs/{page}")
            fobj = tar.extractfile(member)
            assert fobj is not None
            out = dest / page
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(fobj.read())
    return dest


def pydocs_collection(root: Path, pages: list[str], name: str = "docs") -> tuple[Any, Any]:
    """``(database, collection)``: ``pages`` of the Python docs extracted under ``root`` and
    indexed with the default model (the real-data hybrid tests' collection)."""
    import akindb

    folder = extract_pydocs(root / "docs", pages)
    db = akindb.open(root / "db")
    col = db.create_collection(name)
    assert col.add_files([folder]).added == len(pages)
    return db, col
