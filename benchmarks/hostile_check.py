"""Re-runs the hostile attempts of issues 14 and 26 that a terminal can make against a Tailor tree, and prints one
row per attempt: what happened (exit status, the first line said, what changed on disk). Run it against two trees
to compare them, e.g. the current one and an older commit checked out elsewhere:

    .venv/bin/python benchmarks/hostile_check.py                 # this tree
    .venv/bin/python benchmarks/hostile_check.py --tree /tmp/old  # another checkout, same virtual environment

The window's own attempts (file dialogs, Quit, the accept preview) are pytest-qt tests: tests/workbench/.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


class Payload:
    def __reduce__(self):  # what a hostile model file would run if it were unpickled
        return (os.system, ("touch /tmp/tailor-hostile-ran",))


def tailor(tree: Path, *args: str, timeout: int = 120) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), QT_QPA_PLATFORM="offscreen")
    try:
        result = subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, env=env,
                                cwd=tree, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return -9, f"still running after {timeout} s (stopped here)"
    said = (result.stderr.strip() or result.stdout.strip()).splitlines() or [""]
    first = said[-1] if result.returncode else said[0]
    return result.returncode, first[:150] + ("…" if len(first) > 150 else "")


def shop(tree: Path, folder: Path, train: bool = True) -> str:
    sys.path.insert(0, str(HERE))
    from tests.conftest import make_garments

    make_garments(folder / "photos", {"dress": 12, "coat": 8, "bag": 3})
    location = str(folder / "shop.sqlite")
    assert tailor(tree, "init", location)[0] == 0
    assert tailor(tree, "import", location, str(folder / "photos"), "-a", "style")[0] == 0
    if train:
        code, said = tailor(tree, "train", location, "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "2",
                            "--image-size", "16", timeout=600)  # fmt: skip
        assert code == 0, said
    return location


def sql(location: str, statement: str) -> None:
    with sqlite3.connect(location) as db:
        db.execute(statement)


def attempts(tree: Path, work: Path) -> list[tuple[str, str]]:
    location = shop(tree, work / "a")
    runs = Path(location + ".runs")
    rows: list[tuple[str, str]] = []

    def row(name: str, *args: str, extra: str = "") -> None:
        code, said = tailor(tree, *args)
        rows.append((name, f"exit {code}: {said}{extra}"))

    row("run id past 2^63", "compare", location, str(2**64))
    row("label-issues --seed -1", "label-issues", location, "-a", "style", "--seed", "-1")
    row("compare --bootstrap-seed -1", "compare", location, "1", "--bootstrap-seed", "-1")
    row("predict --device bogus", "predict", location, "1", "--device", "bogus", "--all")
    row("a 5,000-character path", "runs", location + "/" + "x" * 5000)
    bad = os.fsdecode(os.fsencode(str(work)) + b"/\xff.sqlite")
    code, said = tailor(tree, "init", bad)
    rows.append(("init at a non-UTF-8 path", f"exit {code}: {said}; left behind: {os.path.exists(bad)}"))
    row("thresholds --set bag", "thresholds", location, "1", "--set", "bag")
    row("label-issues --limit -3", "label-issues", location, "-a", "style", "--limit", "-3")
    row("compare RUN RUN", "compare", location, "1", "1")
    row("thresholds --resamples 30000000", "thresholds", location, "1", "--resamples", "30000000")
    row("duplicates without splits", "duplicates", location, "--exact-only")
    sql(
        location,
        "INSERT INTO run_threshold (run_id, label_id, threshold, chosen, created_at) "
        "VALUES (1, 1, 9e999, 'by hand', '2026-01-01')",
    )
    out = work / "m.onnx"
    code, said = tailor(tree, "export-model", location, "1", "--out", str(out), "--format", "torchscript")
    text = (work / "m.onnx.thresholds.json").read_text() if (work / "m.onnx.thresholds.json").exists() else ""
    rows.append(
        ("threshold Inf by hand, export-model", f"exit {code}: {said}; 'Infinity' in JSON: {'Infinity' in text}")
    )
    sql(location, "DELETE FROM run_threshold")
    sql(location, "UPDATE label SET name = '=HYPERLINK(\"http://x\",\"y\")' WHERE name = 'coat'")
    code, _ = tailor(tree, "train", location, "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "1",
                     "--image-size", "16")  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(tree))
    csv_text = subprocess.run([sys.executable, "-m", "core.cli", "compare", location, "1", "2", "--csv"],
                              capture_output=True, text=True, env=env, cwd=tree).stdout  # fmt: skip
    formula = any(cell.startswith("=") for row in csv.reader(io.StringIO(csv_text)) for cell in row)
    rows.append(("compare --csv of a label '=HYPERLINK(...)'", f"a cell starting with '=': {formula}"))
    evil = work / "evil.pt"
    evil.write_bytes(pickle.dumps({"w": Payload()}))
    code, said = tailor(tree, "train", location, "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "1",
                        "--image-size", "16", "--pretrained", str(evil))  # fmt: skip
    ran = os.path.exists("/tmp/tailor-hostile-ran")
    rows.append(("a pickled weights file", f"exit {code}: {said}; payload ran: {ran}; 'weights_only' said: "
                 f"{'weights_only' in said}"))  # fmt: skip
    tiny = shop(tree, work / "tiny", train=False)
    sql(tiny, "DELETE FROM annotation WHERE id NOT IN (SELECT min(id) FROM annotation GROUP BY label_id)")
    code, said = tailor(tree, "train", tiny, "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "1")
    recorded = sqlite3.connect(tiny).execute("select count(*) from run").fetchone()[0]
    rows.append(("train on 3 images, one a label", f"exit {code}: {said}; runs recorded: {recorded}"))
    sql(location, "DELETE FROM run_image WHERE run_id = 2 AND split = 'test'")
    row("adjust a run without test rows", "adjust", location, "2")
    rows.extend(folder_attempts(tree, work, location, runs))
    return rows


def folder_attempts(tree: Path, work: Path, location: str, runs: Path) -> list[tuple[str, str]]:
    rows = []
    train = ["train", location, "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "2", "--image-size", "16"]
    sql(location, "UPDATE run SET status = 'cancelled' WHERE id = 1")
    victim = work / "victim.txt"
    victim.write_text("precious")
    (runs / "1" / "events.jsonl").unlink(missing_ok=True)
    os.symlink(victim, runs / "1" / "events.jsonl")
    code, said = tailor(tree, *train, "--resume", "1")
    rows.append(("resume with events.jsonl linked elsewhere",
                 f"exit {code}: {said}; victim unchanged: {victim.read_text() == 'precious'}"))  # fmt: skip
    (runs / "1" / "events.jsonl").unlink()
    shutil.copytree(runs / "1", work / "outside" / "run2copy")
    sql(location, "UPDATE run SET directory = '../outside/run2copy', status = 'cancelled' WHERE id = 1")
    outside = work / "outside" / "run2copy"
    before = {p.name: p.stat().st_mtime_ns for p in outside.iterdir()}
    code, said = tailor(tree, *train, "--resume", "1")
    written = {p.name: p.stat().st_mtime_ns for p in outside.iterdir()} != before
    rows.append(("resume of a run recorded at ../outside/run2copy", f"exit {code}: {said}; written there: {written}"))
    sql(location, "UPDATE run SET directory = '1' WHERE id = 1")
    leftover = runs / str(sqlite3.connect(location).execute("select max(id) from run").fetchone()[0] + 1)
    leftover.mkdir(parents=True, exist_ok=True)
    (leftover / "model.pt").write_text("left by a lost run")
    code, said = tailor(tree, *train[:-4], "--epochs", "1", "--image-size", "16")
    rows.append(("next run over a leftover run folder", f"exit {code}: {said}; leftover kept: "
                 f"{(leftover / 'model.pt').read_text() == 'left by a lost run'}"))  # fmt: skip
    copy = work / "copy" / "shop.sqlite"
    copy.parent.mkdir()
    shutil.copy(location, copy)
    os.symlink(runs, str(copy) + ".runs")
    checkpoint = (runs / "1" / "checkpoint.pt").read_bytes()
    sql(str(copy), "UPDATE run SET status = 'cancelled' WHERE id = 1")
    code, said = tailor(tree, "train", str(copy), "-a", "style", "--backbone", "resnet32-cifar", "--epochs", "3",
                        "--image-size", "16", "--resume", "1")  # fmt: skip
    rows.append(("copied catalog, .runs linked to the original's, resume",
                 f"exit {code}: {said}; original checkpoint unchanged: "
                 f"{(runs / '1' / 'checkpoint.pt').read_bytes() == checkpoint}"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=HERE, help="the Tailor checkout to attack (default: this one)")
    args = parser.parse_args()
    Path("/tmp/tailor-hostile-ran").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for name, outcome in attempts(args.tree.resolve(), Path(folder)):
            print(f"{name}\t{outcome}", flush=True)


if __name__ == "__main__":
    main()
