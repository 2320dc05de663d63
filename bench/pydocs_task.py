"""A documentation-search task from the Python 3.11 docs: "see also" descriptions -> the page.

The library reference ends many sections with ``.. seealso::`` blocks whose entries name another
module and describe it in a sentence written by the docs' authors::

    .. seealso::

       Module :mod:`pickle`
          Discussion of the special methods used to support object state retrieval and
          restoration.

Each such entry, and each module's one-line ``:synopsis:``, becomes a question (the
description, roles reduced to their text, the module
name left out) whose right answer is the named module's page (``library/<module>.rst.txt``).
The corpus is the ``library/`` folder with every ``seealso`` block and ``:synopsis:`` line
removed (so no page answers a question with its very words), indexed as a user
would (``akindb index``: chunked, a page is a document), each page cut to its first 5,000
characters (``PAGE_CHARS``). Questions are split by their target
page's name hash into dev (tuning) and test (reporting), so no page answers questions in both.

The FAQ is deliberately not used: the quickstart indexes it and its demo questions must stay
out of every tuning set.

    python bench/pydocs_task.py            # writes bench/.cache/pydocs/{library,task}
    akindb index bench/.cache/pydocs/library --db bench/.cache/pydocs/db -c pydocs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO.parent / "shared" / "data" / "pydocs" / "python-3.11.2-docs-rst-sources.tar.gz"
OUT = REPO / "bench" / ".cache" / "pydocs"

_SEEALSO = re.compile(r"^(\s*)\.\. seealso::(.*)$")
_SYNOPSIS = re.compile(r"^\s*:synopsis:\s*(.+)$")
_MODULE = re.compile(r"^\s*Module:?\s+:mod:`~?([\w.]+)`\s*$")
_ROLE = re.compile(r":[\w:]+:`(~?)([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_+")


def clean(text: str) -> str:
    """Roles and links reduced to their visible text, whitespace collapsed.

    >>> clean("Provides the :class:`~datetime.time` and `SAX <http://x>`_ types.")
    'Provides the time and SAX types.'
    """
    text = _LINK.sub(r"\1", text)
    text = _ROLE.sub(lambda m: m.group(2).split(".")[-1] if m.group(1) else m.group(2), text)
    text = text.replace("``", "").replace("*", "")
    return " ".join(text.split())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_page(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The page without its seealso blocks and synopsis lines, and its (module, description)
    entries (module "" for the page's own synopsis)."""
    lines = text.split("\n")
    kept: list[str] = []
    entries: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        syn = _SYNOPSIS.match(lines[i])
        if syn is not None:
            entries.append(("", clean(syn.group(1))))
            i += 1
            continue
        m = _SEEALSO.match(lines[i])
        if not m:
            kept.append(lines[i])
            i += 1
            continue
        base = len(m.group(1))
        block: list[str] = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            block.append(lines[i])
            i += 1
        j = 0
        while j < len(block):
            mm = _MODULE.match(block[j])
            if mm is None:
                j += 1
                continue
            head = _indent(block[j])
            desc: list[str] = []
            j += 1
            while j < len(block) and (not block[j].strip() or _indent(block[j]) > head):
                desc.append(block[j])
                j += 1
            entries.append((mm.group(1), clean(" ".join(desc))))
    return "\n".join(kept), entries


PAGE_CHARS = 5000
"""Each page is cut after its first paragraphs up to this many characters (its title, what the
module is for, its first sections), so the task embeds in minutes on 2 shared cores rather than
in an hour (the full folder is 6.3 MB)."""


def head(text: str, limit: int = PAGE_CHARS) -> str:
    """``text`` up to the last paragraph break before ``limit`` characters.

    >>> head("one\\n\\ntwo\\n\\nthree", 10)
    'one\\n\\ntwo'
    """
    if len(text) <= limit:
        return text
    cut = text.rfind("\n\n", 0, limit)
    return text[: cut if cut > 0 else limit]


def build(out: Path) -> dict[str, int]:
    lib = out / "library"
    lib.mkdir(parents=True, exist_ok=True)
    pages: dict[str, str] = {}
    with tarfile.open(ARCHIVE) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[1] == "library":
                f = tar.extractfile(member)
                assert f is not None
                pages[parts[2]] = f.read().decode("utf-8")
    queries: dict[str, str] = {}
    qrels: dict[str, list[tuple[str, str]]] = {"dev": [], "test": []}
    n = 0
    seen: set[str] = set()
    for name in sorted(pages):
        body, entries = split_page(pages[name])
        (lib / name).write_text(head(body), encoding="utf-8")
        for module, desc in entries:
            target = f"{module}.rst.txt" if module else name
            if target not in pages or (module and target == name) or len(desc.split()) < 4:
                continue
            if desc in seen:
                continue
            seen.add(desc)
            n += 1
            qid = f"sa{n}"
            queries[qid] = desc
            split = "dev" if hashlib.sha256(target.encode()).digest()[0] % 2 == 0 else "test"
            qrels[split].append((qid, target))
    task = out / "task"
    (task / "qrels").mkdir(parents=True, exist_ok=True)
    with open(task / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid, text in queries.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    for split, rows in qrels.items():
        with open(task / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for qid, target in rows:
                f.write(f"{qid}\t{target}\t1\n")
    return {"pages": len(pages), "queries": len(queries), "dev": len(qrels["dev"]),
            "test": len(qrels["test"])}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    print(json.dumps(build(ap.parse_args().out)))
