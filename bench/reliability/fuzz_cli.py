"""Fuzz the CLI's arguments (issue 13, fuzzing): random command lines for every command that
reads or writes a database, run in-process through Typer's runner against a real database.

Each input is a command with a random subset of its own options and random positional
arguments, the values drawn from a pool of hostile ones: empty, huge and negative numbers,
NaN, ``1e999``, broken JSON filters, Rich markup, path-like names, non-UTF-8 bytes (as argv
carries them: surrogate escapes), very long strings. A finding is any exception other than a
clean exit (the CLI's own error path), a traceback in the output, or no answer within the
deadline. Commands that start servers or clusters, train, evaluate, or write to a path given
on the command line (export, backup, restore, map, models add) are left out: their arguments
are the same options, and a fuzzer must not write files where its input points.

    python bench/reliability/fuzz.py --parts cli --scale 0.1
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from fuzz import HANG_S, Hang, Tally, deadline

SKIP = {"serve", "cluster", "train", "eval", "compare", "migrate", "map", "restore", "backup",
        "export", "models add", "import", "index"}

VALUES = ["", "0", "1", "-1", "3", "10", "1000000000", "99999999999999999999", "nan", "inf",
          "1e999", "-0.5", "0.5", "2.5", "a", "default", "vecs", "nope", "x" * 5000,
          "[/x]", "[bold]y[/bold]", "report[v1].md", '{"lang": "en"}', '{"n": {"$gt": 1}}',
          '{"$or": []}', '{"a": ', "[]", "null", '{"n": 1e999}', "../../etc/passwd",
          "/dev/null", ".", "nonexistent-dir/sub", "A\n", "ñ日本語", "\udcff\udcfe",
          "--json", "-", "mmr", "hybrid", "keyword", "vector", "rrf", "convex", "english",
          "read", "write", "admin", "d0", "d1,d2", "river meadow", "0x10"]


def _commands() -> list[tuple[list[str], Any]]:
    import typer

    from akindb.cli.main import app

    root = typer.main.get_command(app)
    out: list[tuple[list[str], Any]] = []
    for name, cmd in sorted(root.commands.items()):  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        for sub, c in (sorted(subs.items()) if subs else [(None, cmd)]):
            path = [name] + ([sub] if sub else [])
            if name in SKIP or " ".join(path) in SKIP:
                continue
            out.append((path, c))
    return out


NUMBERS = ["0", "1", "-1", "2", "5", "10", "1000000000", "99999999999999999999", "0.5",
           "0.95", "1.5", "-0.5", "nan", "inf", "1e999", "1e-300"]


NUMERIC = {"-k", "--k", "--limit", "--threshold", "--target-recall", "--rate", "--target",
           "--max-tokens", "--n-queries", "--min-score", "--max-distance", "--rrf-k",
           "--keyword-weight", "--keyword-gate", "--expires-days", "--candidates", "--dedup"}


def _value(p: Any, rng: random.Random) -> str:
    """Mostly a value of the option's type (so the command runs), else anything."""
    if rng.random() < 0.3:
        return rng.choice(VALUES)
    ptype = getattr(p, "type", None)
    kind = getattr(ptype, "name", "")
    choices = getattr(ptype, "choices", None)
    if choices:
        return str(rng.choice(list(choices)))
    if kind in ("integer", "float") or p.opts[0] in NUMERIC:
        return rng.choice(NUMBERS)
    if "collection" in p.opts[0]:
        return rng.choice(["default", "default", "vecs", "nope"])
    return rng.choice(VALUES)


def _argv(path: list[str], cmd: Any, db: Path, rng: random.Random) -> list[str]:
    argv = list(path)
    for p in cmd.params:
        if getattr(p, "param_type_name", "") == "argument":
            n = 1 if not p.multiple and p.nargs == 1 else rng.randint(0, 3)
            argv += [rng.choice(VALUES) for _ in range(n if rng.random() < 0.95 else 0)]
            continue
        opt = p.opts[0]
        if opt == "--db":
            argv += [opt, str(db) if rng.random() < 0.9 else rng.choice(VALUES)]
        elif rng.random() < 0.25:
            if p.is_flag:
                argv.append(opt)
            else:
                argv += [opt, _value(p, rng)]
    if rng.random() < 0.1:  # an option that does not exist, or a value out of place
        argv.insert(rng.randrange(len(argv) + 1), rng.choice(["--nope", "-z", "--k", "5"]))
    return argv


def _setup(db: Path) -> None:
    import akindb

    with akindb.open(db) as d:
        col = d.create_collection("default")
        texts = [f"document {i} about the river meadow and a lantern" for i in range(20)]
        col.add(texts, ids=[f"d{i}" for i in range(20)],
                metadatas=[{"lang": "en" if i % 2 else "de", "n": i} for i in range(20)])
        d.create_collection("vecs", model=None, dim=3).add(
            vectors=[[1, 0, 0], [0, 1, 0]], ids=["x", "y"])


def _ensure(db: Path) -> None:
    """Put the fixtures back when fuzzed commands dropped or emptied them."""
    import akindb

    with akindb.open(db) as d:
        names = set(d.list_collections())
        if "default" in names and d.get_collection("default").count() >= 5 and "vecs" in names:
            return
        for name in names & {"default", "vecs"}:
            d.drop_collection(name)
    _setup(db)


def fuzz_cli(n: int, seed: int, work: Path, t: Tally) -> None:
    from typer.testing import CliRunner

    from akindb.cli.main import app

    db = work / "cli-db"
    _setup(db)
    cmds = _commands()
    rng = random.Random(seed)
    runner = CliRunner()
    here = Path.cwd()
    os.chdir(work)  # relative paths in the values stay inside the fuzzer's folder
    try:
        for i in range(n):
            path, cmd = cmds[i % len(cmds)] if i < len(cmds) else rng.choice(cmds)
            argv = _argv(path, cmd, db, rng)
            t.inputs["cli"] += 1
            try:
                with deadline(HANG_S):
                    res = runner.invoke(app, argv, catch_exceptions=True,
                                        env={"COLUMNS": "120"})
            except Hang:
                t.findings.append(f"cli: hang on {argv!r:.300}")
                continue
            exc = res.exception
            if exc is not None and not isinstance(exc, SystemExit):
                t.crash("cli", argv, exc)
            elif "Traceback" in res.output:
                t.findings.append(f"cli: traceback for {argv!r:.300}: {res.output[-600:]}")
            if not (db / "akindb.sqlite").exists():  # a fuzzed command may not remove it
                t.findings.append(f"cli: database gone after {argv!r:.300}")
            if i % 50 == 49:
                _ensure(db)
    finally:
        os.chdir(here)
