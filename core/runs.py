"""Runs in the catalog: creating and updating them during training, reading them back, comparing them.

Readers get plain dataclasses (:class:`RunInfo`) and dicts; nothing here holds an ORM object past its session.
Run files (checkpoint, final model, ``events.jsonl``) live in a folder per run, by default ``<catalog>.runs/<id>/``
beside an SQLite catalog (``$XDG_DATA_HOME/tailor/runs/<server and database>/`` for a catalog URL).

A run folder inside the catalog's own runs folder is recorded relative to it (``"7"``), so a catalog copied or moved
with its ``.runs`` folder finds its own files, and a copy without it never reaches the original's. Folders elsewhere
(``--runs-dir``) are recorded as absolute paths. :attr:`RunInfo.directory` is always the resolved folder.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select, update

from core import run_lock
from core.catalog import Catalog
from core.db import catalog_url, is_url
from core.errors import TailorError
from core.models import Run, RunEpoch, RunImage, utcnow

SUMMARY_KEYS = ("top1", "acsa", "gm", "macro_ap", "micro_ap")


@dataclass(frozen=True)
class RunInfo:
    id: int
    attribute: str
    kind: str
    loss: str
    backbone: str
    status: str
    message: str | None
    config: str
    labels: list[dict]
    directory: str
    device: str | None
    created_at: datetime
    finished_at: datetime | None
    epochs_done: int
    seconds: float | None
    images_per_second: float | None
    metrics: dict | None
    base_run_id: int | None

    @property
    def epochs(self) -> int:
        return int(json.loads(self.config).get("epochs", 0))


def default_runs_dir(catalog_location: str) -> Path:
    """``CATALOG.runs`` beside an SQLite catalog; for a URL, a folder per server and database under the user's
    data folder (two team catalogs never share run folders)."""
    if is_url(catalog_location):
        url = catalog_url(catalog_location)
        data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        name = "-".join(str(part) for part in (url.get_backend_name(), url.host or "local", url.port or "",
                                               url.database or "") if part != "")
        return data / "tailor" / "runs" / re.sub(r"[^A-Za-z0-9._-]", "_", name)
    path = Path(catalog_location).expanduser().resolve()
    return path.with_name(path.name + ".runs")


def run_folder(catalog_location: str, stored: str) -> Path:
    """The folder of a run as recorded (see the module docstring): relative to the catalog's runs folder, or
    absolute."""
    path = Path(stored)
    return path if path.is_absolute() else default_runs_dir(catalog_location) / path


def _recorded_folder(catalog_location: str, directory: Path) -> str:
    directory = directory.resolve()
    try:
        return str(directory.relative_to(default_runs_dir(catalog_location)))
    except ValueError:
        return str(directory)


def check_writable_folder(catalog_location: str, run: RunInfo) -> Path:
    """The run's folder, when this catalog may write into it: never another catalog's (a catalog copied before
    run folders were recorded relative to it still names the original's folder)."""
    folder = Path(run.directory)
    own = default_runs_dir(catalog_location)
    if folder.parent.name.endswith(".runs") and folder.parent != own and not is_url(catalog_location):
        raise TailorError(f"run {run.id}'s folder {folder} belongs to another catalog "
                          f"({folder.parent.with_suffix('')}); copy it to {own / str(run.id)} to continue the "
                          "run from this catalog")
    return folder


def _info(run: Run, catalog_location: str) -> RunInfo:
    return RunInfo(run.id, run.attribute_name, run.kind, run.loss, run.backbone, run.status, run.message, run.config,
                   json.loads(run.labels), str(run_folder(catalog_location, run.directory)), run.device,
                   run.created_at, run.finished_at,
                   run.epochs_done, run.seconds, run.images_per_second,
                   json.loads(run.metrics) if run.metrics else None, run.base_run_id)


# -- writing (training) -----------------------------------------------------------------------------------------

def create_run(catalog: Catalog, config, snapshot, base_dir: Path, device: str, *, base_run_id: int | None = None,
               extra: dict | None = None) -> tuple[int, Path]:
    """A new run (status running) with its snapshot's images; ``extra`` joins the recorded configuration."""
    from dataclasses import asdict

    train_counts, test_counts = snapshot.counts("train"), snapshot.counts("test")
    labels = [{"id": label.id, "name": label.name, "train": int(train_counts[i]), "test": int(test_counts[i])}
              for i, label in enumerate(snapshot.labels)]
    with catalog.session(write=True) as s:
        run = Run(attribute_id=snapshot.attribute_id, attribute_name=snapshot.attribute, kind=snapshot.kind,
                  loss=config.loss, backbone=config.backbone, status="running",
                  config=json.dumps({**asdict(config), **(extra or {})}), base_run_id=base_run_id,
                  labels=json.dumps(labels), directory="", device=device, created_at=utcnow(), epochs_done=0)
        s.add(run)
        s.flush()
        directory = base_dir / str(run.id)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise TailorError(f"run folder {directory} already exists with files in it (left by an earlier catalog "
                              "of this name?); move it away, or choose another --runs-dir")
        run.directory = _recorded_folder(catalog.location, directory)
        rows = [{"run_id": run.id, "image_id": snapshot.image_ids[i], "path": snapshot.paths[i],
                 "split": snapshot.splits[i], "targets": " ".join(map(str, snapshot.targets[i]))}
                for i in range(len(snapshot.image_ids))]
        for start in range(0, len(rows), 5000):
            s.execute(insert(RunImage), rows[start:start + 5000])
        run_id = run.id
    try:
        directory.mkdir(parents=True, exist_ok=True)
        run_lock.hold(directory)  # until the run ends: a later reader can tell a live run from a killed one
    except OSError as exc:
        set_status(catalog, run_id, "failed", f"cannot create run folder {directory}: {exc.strerror}")
        raise TailorError(f"cannot create run folder {directory}: {exc.strerror}") from None
    return run_id, directory


def mark_interrupted(catalog: Catalog) -> list[int]:
    """Runs recorded as running whose process has gone (killed, crashed, powered off) become ``interrupted``;
    they can be resumed from their last epoch checkpoint. Runs trained elsewhere are left alone."""
    with catalog.session() as s:
        running = s.execute(select(Run.id, Run.directory, Run.epochs_done).where(Run.status == "running")).all()
    dead = [(run_id, done) for run_id, directory, done in running
            if run_lock.owner_alive(run_folder(catalog.location, directory)) is False]
    for run_id, done in dead:
        with catalog.session(write=True) as s:
            s.execute(update(Run).where(Run.id == run_id, Run.status == "running").values(
                status="interrupted", finished_at=utcnow(),
                message=f"interrupted after epoch {done}: the process training it stopped "
                        f"(resume with: tailor train CATALOG --resume {run_id})"))
    return [run_id for run_id, _ in dead]


def set_status(catalog: Catalog, run_id: int, status: str, message: str | None) -> None:
    with catalog.session(write=True) as s:
        s.execute(update(Run).where(Run.id == run_id).values(status=status, message=message,
                                                               finished_at=utcnow() if status != "running" else None))


def _epoch_per_label(metrics: dict) -> str:
    return json.dumps([{"ap": p["ap"], "accuracy": p["accuracy"]} for p in metrics["per_label"]])


def record_epoch(catalog: Catalog, run_id: int, epoch: int, train_loss: float, test_loss: float, metrics: dict,
                 seconds: float) -> None:
    with catalog.session(write=True) as s:
        s.execute(delete(RunEpoch).where(RunEpoch.run_id == run_id, RunEpoch.epoch == epoch))
        s.add(RunEpoch(run_id=run_id, epoch=epoch, train_loss=train_loss, test_loss=test_loss, top1=metrics["top1"],
                       acsa=metrics["acsa"], gm=metrics["gm"], macro_ap=metrics["macro_ap"], seconds=seconds,
                       per_label=_epoch_per_label(metrics)))
        s.execute(update(Run).where(Run.id == run_id).values(epochs_done=epoch + 1))


def finish_run(catalog: Catalog, run_id: int, snapshot, test_idx: list[int], last: tuple[dict, np.ndarray] | None,
               best: dict | None, seconds: float, rate: float, epochs_done: int) -> dict:
    """Store the final metrics (last epoch, plus the best epoch's summary) and the test scores of every image."""
    if last is None:
        raise TailorError("the run ended without an evaluated epoch")
    metrics, scores = last
    with catalog.session(write=True) as s:
        best_metrics = None
        if best is not None:
            row = s.scalar(select(RunEpoch).where(RunEpoch.run_id == run_id, RunEpoch.epoch == best["epoch"]))
            best_metrics = {"epoch": best["epoch"], "selected_on": best["selected_on"], "by": best["key"],
                            **{k: getattr(row, k) for k in ("top1", "acsa", "gm", "macro_ap")},
                            "per_label": json.loads(row.per_label)}
        record = {"last": metrics, "last_epoch": epochs_done - 1, "best": best_metrics}
        s.execute(update(Run).where(Run.id == run_id).values(
            status="finished", message=None, finished_at=utcnow(), seconds=seconds, images_per_second=rate,
            metrics=json.dumps(record)))
        ids = {snapshot.image_ids[i]: scores[row].tobytes() for row, i in enumerate(test_idx)}
        rows = s.execute(select(RunImage.id, RunImage.image_id).where(RunImage.run_id == run_id,
                                                                        RunImage.split == "test")).all()
        updates = [{"id": rid, "scores": ids[image_id]} for rid, image_id in rows if image_id in ids]
        for start in range(0, len(updates), 5000):
            s.execute(update(RunImage), updates[start:start + 5000])
    return summary(get_run(catalog, run_id))


# -- reading ----------------------------------------------------------------------------------------------------

def get_run(catalog: Catalog, run_id: int) -> RunInfo:
    with catalog.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            known = ", ".join(str(i) for i in s.scalars(select(Run.id).order_by(Run.id.desc()).limit(10)))
            raise TailorError(f"no run {run_id} in this catalog (recent runs: {known or 'none'})")
        return _info(run, catalog.location)


def list_runs(catalog: Catalog, attribute: str | None = None) -> list[RunInfo]:
    with catalog.session() as s:
        query = select(Run).order_by(Run.id)
        if attribute is not None:
            query = query.where(Run.attribute_name == attribute)
        return [_info(run, catalog.location) for run in s.scalars(query)]


def epochs(catalog: Catalog, run_id: int) -> list[dict]:
    with catalog.session() as s:
        rows = s.scalars(select(RunEpoch).where(RunEpoch.run_id == run_id).order_by(RunEpoch.epoch)).all()
        return [{"epoch": r.epoch, "train_loss": r.train_loss, "test_loss": r.test_loss, "top1": r.top1,
                 "acsa": r.acsa, "gm": r.gm, "macro_ap": r.macro_ap, "seconds": r.seconds,
                 "per_label": json.loads(r.per_label)} for r in rows]


def load_snapshot(catalog: Catalog, run_id: int):
    """The frozen snapshot a run was trained on, as stored when it started."""
    from core.data import Snapshot, SnapshotLabel

    run = get_run(catalog, run_id)
    with catalog.session() as s:
        rows = s.execute(select(RunImage.image_id, RunImage.path, RunImage.targets, RunImage.split)
                         .where(RunImage.run_id == run_id).order_by(RunImage.id)).all()
        attribute_id = s.scalar(select(Run.attribute_id).where(Run.id == run_id))
    return Snapshot(run.attribute, attribute_id or 0, run.kind, [SnapshotLabel(l["id"], l["name"]) for l in run.labels],
                    [r[0] for r in rows], [r[1] for r in rows], [tuple(int(t) for t in r[2].split()) for r in rows],
                    [r[3] for r in rows], "stored")


def final_scores(catalog: Catalog, run_id: int) -> tuple[list[int], list[str], list[tuple[int, ...]], np.ndarray]:
    """Image ids, paths, targets and the final model's scores (N x C) of a finished run's test images."""
    run = get_run(catalog, run_id)
    with catalog.session() as s:
        rows = s.execute(select(RunImage.image_id, RunImage.path, RunImage.targets, RunImage.scores)
                         .where(RunImage.run_id == run_id, RunImage.split == "test",
                                RunImage.scores.is_not(None)).order_by(RunImage.id)).all()
    scores = np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows]) if rows else \
        np.zeros((0, len(run.labels)), dtype=np.float32)
    return [r[0] for r in rows], [r[1] for r in rows], [tuple(int(t) for t in r[2].split()) for r in rows], scores


def summary(run: RunInfo) -> dict:
    """The JSON of ``tailor train --json`` and ``tailor runs --json``."""
    last = (run.metrics or {}).get("last") or {}
    per_label = []
    for label, metrics in zip(run.labels, last.get("per_label", [{}] * len(run.labels))):
        per_label.append({"name": label["name"], "count": label["train"], "test_count": label["test"],
                          "ap": metrics.get("ap"), "accuracy": metrics.get("accuracy"),
                          "threshold": metrics.get("threshold"), "recall": metrics.get("recall")})
    result = {"run_id": run.id, "status": run.status, "message": run.message, "attribute": run.attribute,
              "kind": run.kind, "loss": run.loss, "backbone": run.backbone, "device": run.device,
              "epochs": run.epochs, "epochs_done": run.epochs_done, "seconds": run.seconds,
              "images_per_second": run.images_per_second, "created_at": run.created_at.isoformat(timespec="seconds"),
              "directory": run.directory, "base_run_id": run.base_run_id}
    if run.metrics:
        result["metrics"] = {**{k: last.get(k) for k in SUMMARY_KEYS}, "epoch": run.metrics.get("last_epoch"),
                             "groups": last.get("groups"), "per_label": per_label}
        result["best"] = run.metrics.get("best")
    else:
        result["metrics"] = None
    return result


# -- comparing --------------------------------------------------------------------------------------------------

def compare(catalog: Catalog, run_ids: list[int]) -> dict:
    """Runs x labels per-label AP (the source paper's Table I layout), summary metrics, deltas to the first run and
    head/medium/tail group means. All runs must be finished runs of the same attribute."""
    if len(run_ids) < 1:
        raise TailorError("name at least one run to compare")
    runs = [get_run(catalog, run_id) for run_id in run_ids]
    for run in runs:
        if run.status != "finished" or not run.metrics:
            raise TailorError(f"run {run.id} is {run.status}; only finished runs can be compared")
    if len({run.attribute for run in runs}) > 1:
        raise TailorError("runs of different attributes cannot be compared: " +
                          ", ".join(f"{run.id} ({run.attribute})" for run in runs))
    labels = [label["name"] for label in runs[0].labels]
    rows = []
    for run in runs:
        last = run.metrics["last"]
        by_name = {label["name"]: m["ap"] for label, m in zip(run.labels, last["per_label"])}
        groups = {g: (v or {}).get("ap") for g, v in (last.get("groups") or {}).items()}
        rows.append({"run_id": run.id, "loss": run.loss, "backbone": run.backbone,
                     "ap": [by_name.get(name) for name in labels],
                     **{k: last.get(k) for k in ("top1", "acsa", "gm", "macro_ap")}, "groups": groups})
    base = rows[0]
    for row in rows:
        row["delta"] = {k: (row[k] - base[k]) if row[k] is not None and base[k] is not None else None
                        for k in ("top1", "acsa", "gm", "macro_ap")}
        row["ap_delta"] = [(a - b) if a is not None and b is not None else None for a, b in zip(row["ap"], base["ap"])]
    best = []
    for j in range(len(labels)):
        values = [row["ap"][j] for row in rows if row["ap"][j] is not None]
        best.append(max(values) if values else None)
    counts = {label["name"]: label["train"] for label in runs[0].labels}
    return {"attribute": runs[0].attribute, "labels": labels, "train_counts": [counts[n] for n in labels],
            "baseline": base["run_id"], "rows": rows, "best_ap": best}


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _delta(value) -> str:
    return "" if value is None else f" ({100 * value:+.1f})"


def markdown_cell(text: object) -> str:
    """A catalog's text as one Markdown table cell: shown as typed, never as markup (escaped ``|``, ``\\``,
    Markdown punctuation and HTML; line breaks as spaces)."""
    value = " ".join(str(text).split())
    value = html.escape(value, quote=False)
    return re.sub(r"([\\|`*_\[\]#])", r"\\\1", value)


def compare_markdown(table: dict) -> str:
    head = ["run", "loss"] + [f"{markdown_cell(name)} ({n})" for name, n in zip(table["labels"], table["train_counts"])] + \
           ["top-1", "ACSA", "GM", "macro AP", "head AP", "medium AP", "tail AP"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table["rows"]:
        cells = [str(row["run_id"]), row["loss"]]
        for j, ap in enumerate(row["ap"]):
            text = _pct(ap)
            cells.append(f"**{text}**" if ap is not None and ap == table["best_ap"][j] and len(table["rows"]) > 1
                         else text)
        for key in ("top1", "acsa", "gm", "macro_ap"):
            cells.append(_pct(row[key]) + (_delta(row["delta"][key]) if row["run_id"] != table["baseline"] else ""))
        cells += [_pct(row["groups"].get(g)) for g in ("head", "medium", "tail")]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"\nPer-label AP and metrics in %, last epoch of each run; bold: best AP per label; "
                 f"(+x): difference to run {table['baseline']}. Label columns show training images.")
    return "\n".join(lines)


def compare_csv(table: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["run_id", "loss", "backbone", *[f"ap:{n}" for n in table["labels"]], "top1", "acsa", "gm",
                     "macro_ap", "delta_top1", "delta_acsa", "delta_gm", "delta_macro_ap", "head_ap", "medium_ap",
                     "tail_ap"])
    for row in table["rows"]:
        writer.writerow([row["run_id"], row["loss"], row["backbone"], *row["ap"], row["top1"], row["acsa"], row["gm"],
                         row["macro_ap"], *(row["delta"][k] for k in ("top1", "acsa", "gm", "macro_ap")),
                         *(row["groups"].get(g) for g in ("head", "medium", "tail"))])
    return out.getvalue()


def history(catalog: Catalog, run_id: int) -> dict:
    """What the window plots of a run: its summary, label names and training counts, epochs and last metrics."""
    run = get_run(catalog, run_id)
    return {"run_id": run.id, "name": f"{run.loss} · {run.backbone}", "status": run.status,
            "labels": [label["name"] for label in run.labels], "counts": [label["train"] for label in run.labels],
            "epochs": epochs(catalog, run_id), "last": (run.metrics or {}).get("last")}
