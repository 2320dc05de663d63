"""The whole reliability campaign in one command; prints the goals table of issue 13.

    nice -n 10 python bench/reliability/campaign.py --scale full      # 1,000 kills, >= 100k
                                                                        # inputs, 10 min soak
    nice -n 10 python bench/reliability/campaign.py --scale reduced   # ~15 min on 2 cores
    python bench/reliability/campaign.py --scale smoke                # ~2 min

Each part is its own script (crash, disk_faults, eio, soak, fuzz, security, load) with the same
numbers at ``--scale full``; results go to ``bench/.cache/reliability/<scale>.json`` and the
table to stdout (paste it into docs/reliability.md with the command and the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crash
import disk_faults
import eio
import fuzz
import load
import security
import soak
from common import ROOT, table

SCALES: dict[str, dict[str, Any]] = {
    "full": {"kills": 1000, "eio": 200, "fuzz": 1.0, "soak": (4, 8, 600.0, 60.0),
             "load": (60.0, 200.0, 500.0, 150)},
    "reduced": {"kills": 200, "eio": 60, "fuzz": 0.22, "soak": (2, 4, 90.0, 30.0),
                "load": (60.0, 200.0, 500.0, 60)},
    "smoke": {"kills": 12, "eio": 6, "fuzz": 0.01, "soak": (1, 2, 8.0, 3.0),
              "load": (3.0, 20.0, 50.0, 10)},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=list(SCALES), default="reduced")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip")
    ap.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                    help="print the table of results run in pieces instead of running: "
                         "campaign JSON files and part JSON files given as PART=FILE (e.g. "
                         "crash=seed10.json crash=seed11.json load=load.json); crash pieces "
                         "are summed")
    a = ap.parse_args()
    if a.merge:
        print(table(goals(merge(a.merge))))
        return
    sc = SCALES[a.scale]
    skip = set(filter(None, a.skip.split(",")))
    out: dict[str, Any] = {"scale": a.scale, "seed": a.seed, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform()}}
    t0 = time.perf_counter()
    log = sys.stderr
    cache = ROOT / "bench" / ".cache" / "reliability"
    cache.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every part, so a long run's results survive an interruption
        (cache / f"{a.scale}.json").write_text(json.dumps(out, indent=1, default=str))
    with tempfile.TemporaryDirectory(prefix="akindb-campaign-") as tmp:
        work = Path(tmp)
        if "crash" not in skip:
            print(f"crash: {sc['kills']} kills ...", file=log, flush=True)
            (work / "crash").mkdir()
            out["crash"] = crash.campaign(sc["kills"], a.seed, work / "crash", log=log)
            save()
        if "disk" not in skip:
            print("disk faults ...", file=log, flush=True)
            (work / "disk").mkdir()
            out["disk"] = disk_faults.run(work / "disk")
            save()
        if "eio" not in skip:
            if eio.strace_available():
                print(f"eio: {sc['eio']} trials ...", file=log, flush=True)
                (work / "eio").mkdir()
                out["eio"] = eio.campaign(sc["eio"], a.seed, work / "eio", log=log)
            else:
                out["eio"] = {"skipped": "strace is missing or cannot trace here"}
            save()
        if "soak" not in skip:
            w, r, secs, every = sc["soak"]
            print(f"soak: {w} writers + {r} readers, {secs:.0f} s ...", file=log, flush=True)
            (work / "soak").mkdir()
            out["soak"] = soak.run(w, r, secs, work / "soak", every)
            save()
        if "fuzz" not in skip:
            print(f"fuzz: scale {sc['fuzz']} ...", file=log, flush=True)
            out["fuzz"] = fuzz.run(sc["fuzz"], a.seed, log=log)
            save()
        if "security" not in skip:
            print("security ...", file=log, flush=True)
            (work / "sec").mkdir()
            out["security"] = security.run(work / "sec")
            save()
        if "load" not in skip:
            secs, trate, vrate, files = sc["load"]
            print(f"load: {trate:.0f} req/s text for {secs:.0f} s ...", file=log, flush=True)
            (work / "load").mkdir()
            out["load"] = load.run(work / "load", secs, trate, vrate, files, 2, a.seed)
            save()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    rows = goals(out)
    out["table"] = table(rows)
    save()
    print(out["table"])
    print(f"\n{a.scale} scale, {out['seconds']:.0f} s; details in {cache / (a.scale + '.json')}")
    sys.exit(0 if all(r[3] for r in rows) else 1)


SUMMED = ("kills", "power_loss_copies", "index_damaged_copies", "acknowledged_ops",
          "lost_or_corrupt", "seconds")


def merge(files: list[Path]) -> dict[str, Any]:
    """One result from pieces: ``PART=FILE`` is one part's JSON (crash pieces are summed,
    e.g. several ``crash.py --kills 250 --seed N --json`` runs); a bare FILE is a campaign's
    JSON whose parts are taken as they are."""
    out: dict[str, Any] = {}
    for arg in files:
        part, _, name = str(arg).rpartition("=")
        data = json.loads(Path(name).read_text())
        if not part:
            out.update({k: v for k, v in data.items() if k in PARTS})
        elif part == "crash" and "crash" in out:
            c = out["crash"]
            for k in SUMMED:
                c[k] = round(c[k] + data[k], 1)
            for op, n in data["killed_during"].items():
                c["killed_during"][op] = c["killed_during"].get(op, 0) + n
            c["failures"] = c["failures"] + data["failures"]
        else:
            out[part] = data
    return out


PARTS = ("crash", "disk", "eio", "soak", "fuzz", "security", "load")


def goals(o: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    rows: list[tuple[str, str, str, bool]] = []
    if "crash" in o:
        c = o["crash"]
        rows.append(("SIGKILLs across all write paths and index kinds",
                     "1,000 / 0 lost acknowledged / 0 corrupt",
                     f"{c['kills']} kills + {c['power_loss_copies']} power-loss copies "
                     f"({c['index_damaged_copies']} with a damaged index file), "
                     f"{c['acknowledged_ops']} acknowledged ops / {c['lost_or_corrupt']} lost "
                     "or corrupt", c["lost_or_corrupt"] == 0))
    if "disk" in o:
        d = o["disk"]
        rows.append(("disk faults: full, read-only, files deleted under a server",
                     "clear errors, nothing corrupt, recovery",
                     f"{len(d['trials'])} trials / {len(d['problems'])} problems"
                     + (f", skipped {d['skipped']}" if d["skipped"] else ""),
                     not d["problems"]))
    if "eio" in o:
        e = o["eio"]
        rows.append(("EIO on write (strace-injected into pwrite64, fsync, write)",
                     "clear errors, nothing acknowledged lost, nothing corrupt",
                     f"skipped: {e['skipped']}" if "skipped" in e else
                     f"{e['trials']} trials, {e['failed_ops']} failed operations, "
                     f"{e['acknowledged_ops']} acknowledged / {len(e['failures'])} problems",
                     "skipped" not in e and not e["failures"]))
    if "soak" in o:
        s = o["soak"]
        rows.append((f"soak {s['writers']} writers + {s['readers']} readers, "
                     f"{s['seconds'] / 60:.1f} min",
                     "0 inconsistent reads, counts exact, RSS flat (±10 %)",
                     f"{s['reads']} reads, {s['write_ops']} writes / {s['inconsistent_reads']} "
                     f"inconsistent, counts exact: {s['counts_exact']}, locked errors: "
                     f"{s['locked_errors']}, RSS drift max {s['rss_drift_max']:+.1%} (without "
                     f"file-backed pages {s.get('anon_rss_drift_max', 0.0):+.1%})",
                     s["inconsistent_reads"] == 0 and s["counts_exact"]
                     and not s["locked_errors"] and abs(s["rss_drift_max"]) <= 0.10))
    if "fuzz" in o:
        f = o["fuzz"]
        rows.append(("fuzzed inputs (API, loaders, where, index files, HTTP)",
                     "≥ 100,000 / 0 crashes / 0 HTTP 500 / 0 hangs",
                     f"{f['total_inputs']:,} / {f['crashes']} crashes / {f['http_500']} HTTP 500 "
                     f"/ {f['hangs']} hangs / {f['n_findings']} findings",
                     f["n_findings"] == 0))
    if "load" in o:
        t = o["load"]["text"]
        rows.append((f"text search over HTTP, {t['requests'] / t['target_rate']:.0f} s at "
                     f"{t['target_rate']:.0f} req/s ({o['load']['workers']} workers)",
                     "p99 < 100 ms, 0 errors",
                     f"achieved {t['achieved_rate']} req/s, p50 {t['p50_ms']} ms, p99 "
                     f"{t['p99_ms']} ms, {t['errors']} errors",
                     t["p99_ms"] < 100 and t["errors"] == 0))
        v, tw = o["load"]["vector"], o["load"]["text_with_writer"]
        vw = o["load"].get("vector_with_writer", {"errors": 0})
        rows.append((f"vector search over HTTP at {v['target_rate']:.0f} req/s; text and vector "
                     "search with a concurrent writer", "0 errors",
                     f"vector: {v['achieved_rate']} req/s, p99 {v['p99_ms']} ms, {v['errors']} "
                     f"errors; text+writer: p99 {tw['p99_ms']} ms, {tw['errors']} errors, "
                     f"{tw.get('writes', 0)} writes ({tw.get('write_errors', 0)} failed)"
                     + (f"; vector+writer: {vw['achieved_rate']} req/s, p99 {vw['p99_ms']} ms, "
                        f"{vw['errors']} errors, {vw.get('writes', 0)} writes "
                        f"({vw.get('write_errors', 0)} failed)" if "p99_ms" in vw else ""),
                     v["errors"] == 0 and tw["errors"] == 0 and not tw.get("write_errors")
                     and vw["errors"] == 0 and not vw.get("write_errors")))
    if "security" in o:
        s = o["security"]
        rows.append(("security checks", "every route denies without a key; no XSS; no path "
                     "escape", f"{s['checks']} checks over {s['routes']} routes / "
                     f"{s['n_findings']} findings; browser: {s['browser']}",
                     s["n_findings"] == 0))
    return rows


if __name__ == "__main__":
    main()
