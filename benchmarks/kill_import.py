"""Crash check: kill -9 `tailor import` of the 60,000-image CIFAR-10 tree at several moments, then import again.

After every kill the catalog must pass SQLite's ``PRAGMA integrity_check`` and ``foreign_key_check`` and hold
either none or all of the images (the import is one transaction); the last, uninterrupted import must leave
exactly 60,000 images. Kills land while files are read (after fixed delays) and once while the single write
transaction fills the write-ahead log. Skips cleanly when the archive is absent.

    .venv/bin/python benchmarks/kill_import.py [--archive PATH | --tree FOLDER]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import DEFAULT_ARCHIVE, unpack

DELAYS_S = (1.0, 4.0, 7.0)


def check(catalog: Path) -> tuple[str, int]:
    con = sqlite3.connect(catalog)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        broken = con.execute("PRAGMA foreign_key_check").fetchall()
        images = con.execute("SELECT COUNT(*) FROM image").fetchone()[0]
    finally:
        con.close()
    return ("ok" if integrity == "ok" and not broken else f"{integrity}, {len(broken)} broken references"), images


def kill(tailor: Path, catalog: Path, tree: Path, delay: float | None) -> str:
    wal = Path(f"{catalog}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    process = subprocess.Popen(
        [str(tailor), "import", str(catalog), str(tree), "-a", "object"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    start = time.perf_counter()
    if delay is not None:
        time.sleep(delay)
    else:  # the moment the write transaction starts filling the WAL
        while process.poll() is None and not (wal.exists() and wal.stat().st_size > size):
            time.sleep(0.001)
    when = time.perf_counter() - start
    if process.poll() is not None:
        return f"finished before the kill ({when:.1f} s)"
    process.send_signal(signal.SIGKILL)
    process.wait()
    return f"killed after {when:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default=str(DEFAULT_ARCHIVE))
    parser.add_argument("--tree", help="an unpacked CIFAR-10 tree (skips unpacking)")
    args = parser.parse_args()
    tailor = Path(sys.executable).with_name("tailor")
    with tempfile.TemporaryDirectory(prefix="tailor-kill-") as tmp:
        if args.tree:
            tree = Path(args.tree)
        elif Path(args.archive).is_file():
            tree = unpack(Path(args.archive), Path(tmp))
        else:
            print(f"kill check skipped: {args.archive} not found")
            return 0
        files = sum(1 for _ in tree.rglob("*.jpg"))
        catalog = Path(tmp) / "catalog.sqlite"
        subprocess.run([str(tailor), "init", str(catalog)], check=True, capture_output=True)
        print(f"kill -9 during `tailor import` of {files:,} files")
        failures = 0
        for delay in (*DELAYS_S, None):
            what = kill(tailor, catalog, tree, delay)
            state, images = check(catalog)
            good = state == "ok" and images in (0, files)
            failures += not good
            print(
                f"  {'reading' if delay else 'writing'}: {what:<28} integrity {state}, {images:,} images "
                f"{'(none or all: ok)' if good else '(WRONG)'}"
            )
        start = time.perf_counter()
        out = subprocess.run(
            [str(tailor), "import", str(catalog), str(tree), "-a", "object", "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        report = json.loads(out)
        state, images = check(catalog)
        good = state == "ok" and images == files
        failures += not good
        print(
            f"  import again: {time.perf_counter() - start:.1f} s, new {report['new']:,}; integrity {state}, "
            f"{images:,} images {'(exactly all: ok)' if good else '(WRONG)'}"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
