"""Runs in the catalog: creating and updating them during training, reading them back, comparing them.

Readers get plain dataclasses (:class:`RunInfo`) and dicts; nothing here holds an ORM object past its session.
Run files (checkpoint, final model, ``events.jsonl``) live in a folder per run, by default ``<catalog>.runs/<id>/``
beside an SQLite catalog (``$XDG_DATA_HOME/tailor/runs/<server and database>/`` for a catalog URL).

A run folder inside the catalog's own runs folder is recorded relative to it (``"7"``), so a catalog copied or moved
with its ``.runs`` folder finds its own files, and a copy without it never reaches the original's. Folders elsewhere
(``--runs-dir``) are recorded as absolute paths. :attr:`RunInfo.directory` is always the resolved folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update

from core.base.errors import StorageError, TailorError
from core.base.iteration import ROWS_PER_WRITE, chunks
from core.catalog import owned_folders, run_lock
from core.catalog.engine import is_url, server_folder_name
from core.catalog.records import Kind, RunStatus
from core.catalog.schema import Run, RunEpoch, RunImage, utcnow
from core.catalog.snapshot import Snapshot, SnapshotLabel
from core.catalog.store import Catalog
from core.config import OversampleConfig, TrainConfig

if TYPE_CHECKING:
    import numpy as np

SUMMARY_KEYS = ("top1", "acsa", "gm", "macro_ap", "micro_ap")


@dataclass(frozen=True)
class RunMetrics:
    """A finished run's results: the last epoch's :func:`core.analysis.metrics.evaluate` output (the final model's,
    whose test scores are stored) and the best epoch's summary (see core.training.recorder.BestEpoch)."""

    last: dict
    last_epoch: int
    best: dict | None

    @classmethod
    def from_json(cls, text: str | None) -> RunMetrics | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(data["last"], int(data.get("last_epoch", 0)), data.get("best"))

    def to_json(self) -> str:
        return json.dumps({"last": self.last, "last_epoch": self.last_epoch, "best": self.best})


@dataclass(frozen=True)
class RunLabel:
    """One output of a run's model: the catalog label it stands for and its training and test image counts."""

    id: int
    name: str
    train: int
    test: int

    @classmethod
    def from_json(cls, item: object) -> RunLabel:
        """A stored label of a run, checked (a shared catalog's values are not trusted)."""
        if not isinstance(item, dict):
            raise TailorError(
                "a run's stored labels are damaged: read them again with tailor runs, or train the run again"
            )
        try:
            label = cls(int(item["id"]), str(item["name"]), int(item.get("train", 0)), int(item.get("test", 0)))
        except (KeyError, TypeError, ValueError):
            raise TailorError(
                "a run's stored labels are damaged: read them again with tailor runs, or train the run again"
            ) from None
        return label


@dataclass(frozen=True)
class RunInfo:
    """A run as recorded: its configuration (typed), its labels, status, files and results."""

    id: int
    attribute: str
    kind: Kind
    loss: str
    backbone: str
    status: RunStatus
    message: str | None
    config: TrainConfig
    labels: list[RunLabel]  # in model output order
    directory: str
    device: str | None
    created_at: datetime
    finished_at: datetime | None
    epochs_done: int
    seconds: float | None
    images_per_second: float | None
    metrics: RunMetrics | None
    base_run_id: int | None
    oversampler: OversampleConfig | None = None  # a convex-GAN run's Phase 2 settings

    @property
    def epochs(self) -> int:
        return self.config.epochs

    @property
    def last(self) -> dict:
        """The last epoch's metrics ({} before the run finished)."""
        return self.metrics.last if self.metrics else {}


def default_runs_dir(catalog_location: str) -> Path:
    """``CATALOG.runs`` beside an SQLite catalog; for a URL, a folder per server and database under the user's
    data folder (two team catalogs never share run folders)."""
    if is_url(catalog_location):
        data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return data / "tailor" / "runs" / server_folder_name(catalog_location)
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
    """The run's folder, when this catalog may write into it: a real folder (no link) inside a runs folder this
    catalog owns (core.catalog.owned_folders), never another catalog's (a catalog copied before run folders were
    recorded relative to it still names the original's folder; a copied catalog's ``.runs`` may be a link to the
    original's), never outside its runs folder (a recorded ``../elsewhere``)."""
    folder = Path(run.directory)
    own = default_runs_dir(catalog_location)
    if folder.parent.name.endswith(".runs") and folder.parent != own and not is_url(catalog_location):
        raise TailorError(
            f"run {run.id}'s folder {folder} belongs to another catalog "
            f"({folder.parent.with_suffix('')}); copy it to {own / str(run.id)} to continue the "
            "run from this catalog"
        )
    if ".." in folder.parts:
        raise TailorError(
            f"run {run.id}'s recorded folder {folder} leaves its runs folder; Tailor does not write there"
        )
    if own in folder.parents:
        owned_folders.claim(own, catalog_location, "runs folder")
    elif not owned_folders.owned_by(folder.parent, catalog_location):  # --runs-dir: claimed when the run began
        raise TailorError(
            f"run {run.id}'s folder {folder} is not in a runs folder of this catalog ({folder.parent} does not name "
            f"it as owner); copy the run's folder to {own / str(run.id)} to continue it from this catalog"
        )
    if folder.is_symlink():
        raise TailorError(f"run {run.id}'s folder {folder} is a symbolic link; Tailor does not write through it")
    links = sorted(entry.name for entry in folder.iterdir() if entry.is_symlink()) if folder.is_dir() else []
    if links:  # Tailor never makes one there: planted to redirect a write
        raise TailorError(
            f"run {run.id}'s folder {folder} holds symbolic links ({', '.join(links[:4])}); Tailor does not write "
            "through them: remove them to resume"
        )
    owned_folders.inside(folder, own if own in folder.parents else folder.parent, "runs folder")
    return folder


def _info(run: Run, catalog_location: str) -> RunInfo:
    oversampler = json.loads(run.config).get("oversampler")
    return RunInfo(
        run.id,
        run.attribute_name,
        Kind(run.kind),
        run.loss,
        run.backbone,
        RunStatus(run.status),
        run.message,
        TrainConfig.from_json(run.config),
        [RunLabel.from_json(item) for item in json.loads(run.labels)],
        str(run_folder(catalog_location, run.directory)),
        run.device,
        run.created_at,
        run.finished_at,
        run.epochs_done,
        run.seconds,
        run.images_per_second,
        RunMetrics.from_json(run.metrics),
        run.base_run_id,
        OversampleConfig.from_dict(oversampler) if oversampler else None,
    )


# -- writing (training) -----------------------------------------------------------------------------------------


def _run_labels(snapshot: Snapshot) -> list[dict]:
    """The run's labels in model output order, with their training and test images."""
    train_counts, test_counts = snapshot.counts("train"), snapshot.counts("test")
    return [
        {"id": label.id, "name": label.name, "train": int(train_counts[i]), "test": int(test_counts[i])}
        for i, label in enumerate(snapshot.labels)
    ]


def _run_images(run_id: int, snapshot: Snapshot) -> list[dict]:
    return [
        {
            "run_id": run_id,
            "image_id": snapshot.image_ids[i],
            "path": snapshot.paths[i],
            "split": snapshot.splits[i],
            "targets": " ".join(map(str, snapshot.targets[i])),
        }
        for i in range(len(snapshot.image_ids))
    ]


def create_run(
    catalog: Catalog,
    config: TrainConfig,
    snapshot: Snapshot,
    base_dir: Path,
    device: str,
    *,
    base_run_id: int | None = None,
    oversampler: OversampleConfig | None = None,
) -> tuple[int, Path]:
    """A new run (status running) with its snapshot's images, its folder created and locked (see run_lock).

    ``base_dir`` must be this catalog's own (core.catalog.owned_folders). The run's folder is created there
    exclusively: ``<id>``, or ``<id>-2``, ``<id>-3``… when a folder of that name is left from a run whose record
    was lost (a failed start, a catalog restored from a backup), so a leftover never blocks the next run and is
    never written into."""
    owned_folders.claim(base_dir, catalog.location, "runs folder")
    with catalog.session(write=True) as s:
        run = Run(
            attribute_id=snapshot.attribute_id,
            attribute_name=snapshot.attribute,
            kind=snapshot.kind,
            loss=config.loss,
            backbone=config.backbone,
            status=RunStatus.RUNNING,
            config=config.to_json(oversampler),
            base_run_id=base_run_id,
            labels=json.dumps(_run_labels(snapshot)),
            directory="",
            device=device,
            created_at=utcnow(),
            epochs_done=0,
        )
        s.add(run)
        s.flush()
        directory = _new_run_folder(base_dir, run.id)
        run.directory = _recorded_folder(catalog.location, directory)
        table = cast(Table, RunImage.__table__)
        for chunk in chunks(_run_images(run.id, snapshot), ROWS_PER_WRITE):
            s.execute(insert(table), chunk)  # Core executemany, not the ORM's bulk insert
        run_id = run.id
    try:
        run_lock.hold(directory)  # until the run ends: a later reader can tell a live run from a killed one
    except OSError as exc:
        set_status(catalog, run_id, RunStatus.FAILED, f"cannot create run folder {directory}: {exc.strerror}")
        raise TailorError(f"cannot create run folder {directory}: {exc.strerror}") from None
    return run_id, directory


def _new_run_folder(base_dir: Path, run_id: int) -> Path:
    """A folder for run ``run_id`` that did not exist (created here, never through a link)."""
    for attempt in range(1, 1000):
        directory = base_dir / (str(run_id) if attempt == 1 else f"{run_id}-{attempt}")
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise TailorError(f"cannot create run folder {directory}: {exc.strerror or exc}") from None
        owned_folders.inside(directory, base_dir, "runs folder")
        return directory
    raise TailorError(f"the runs folder {base_dir} holds 999 folders of run {run_id}; move the old ones away")


def finished_runs(catalog: Catalog, attribute: str | None = None) -> list[RunInfo]:
    """The finished runs (of ``attribute``), oldest first."""
    return [run for run in list_runs(catalog, attribute) if run.status == RunStatus.FINISHED]


def recover_interrupted(catalog: Catalog) -> list[int]:
    """Runs recorded as running whose process has gone (killed, crashed, powered off) become ``interrupted``;
    they can be resumed from their last epoch checkpoint. Runs trained elsewhere are left alone. Opening a catalog
    never writes: the CLI and the window call this once after opening one. A read-only or busy catalog is left
    for the next writer (returns [])."""
    try:
        return _mark_interrupted(catalog)
    except StorageError:
        return []


def _mark_interrupted(catalog: Catalog) -> list[int]:
    with catalog.session() as s:
        running = s.execute(select(Run.id, Run.directory, Run.epochs_done).where(Run.status == RunStatus.RUNNING)).all()
    dead = [
        (run_id, done)
        for run_id, directory, done in running
        if run_lock.owner_alive(run_folder(catalog.location, directory)) is False
    ]
    for run_id, done in dead:
        with catalog.session(write=True) as s:
            s.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == RunStatus.RUNNING)
                .values(
                    status=RunStatus.INTERRUPTED,
                    finished_at=utcnow(),
                    message=f"interrupted after epoch {done}: the process training it stopped "
                    f"(resume it: Runs tab ▸ Resume, or tailor train CATALOG --resume {run_id})",
                )
            )
    return [run_id for run_id, _ in dead]


def set_status(catalog: Catalog, run_id: int, status: RunStatus, message: str | None) -> None:
    with catalog.session(write=True) as s:
        s.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(status=status, message=message, finished_at=utcnow() if status != RunStatus.RUNNING else None)
        )


def _epoch_per_label(metrics: dict) -> str:
    return json.dumps([{"ap": p["ap"], "accuracy": p["accuracy"]} for p in metrics["per_label"]])


def record_epoch(
    catalog: Catalog, run_id: int, epoch: int, train_loss: float, test_loss: float, metrics: dict, seconds: float
) -> None:
    with catalog.session(write=True) as s:
        s.execute(delete(RunEpoch).where(RunEpoch.run_id == run_id, RunEpoch.epoch == epoch))
        s.add(
            RunEpoch(
                run_id=run_id,
                epoch=epoch,
                train_loss=train_loss,
                test_loss=test_loss,
                top1=metrics["top1"],
                acsa=metrics["acsa"],
                gm=metrics["gm"],
                macro_ap=metrics["macro_ap"],
                seconds=seconds,
                per_label=_epoch_per_label(metrics),
            )
        )
        s.execute(update(Run).where(Run.id == run_id).values(epochs_done=epoch + 1))


def finish_run(
    catalog: Catalog,
    run_id: int,
    snapshot: Snapshot,
    test_idx: list[int],
    last: tuple[dict, np.ndarray] | None,
    best: dict | None,
    seconds: float,
    rate: float,
    epochs_done: int,
) -> dict:
    """Store the final metrics (last epoch, plus the best epoch's summary) and the test scores of every image."""
    if last is None:
        raise TailorError("the run ended without an evaluated epoch")
    metrics, scores = last
    with catalog.session(write=True) as s:
        best_metrics = None
        row = None
        if best is not None:
            row = s.scalar(select(RunEpoch).where(RunEpoch.run_id == run_id, RunEpoch.epoch == best["epoch"]))
        if best is not None and row is not None:
            best_metrics = {
                "epoch": best["epoch"],
                "selected_on": best["selected_on"],
                "by": best["key"],
                **{k: getattr(row, k) for k in ("top1", "acsa", "gm", "macro_ap")},
                "per_label": json.loads(row.per_label),
            }
        record = RunMetrics(metrics, epochs_done - 1, best_metrics)
        s.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                status=RunStatus.FINISHED,
                message=None,
                finished_at=utcnow(),
                seconds=seconds,
                images_per_second=rate,
                metrics=record.to_json(),
            )
        )
        ids = {snapshot.image_ids[i]: scores[row].tobytes() for row, i in enumerate(test_idx)}
        rows = s.execute(
            select(RunImage.id, RunImage.image_id).where(RunImage.run_id == run_id, RunImage.split == "test")
        ).all()
        updates = [{"row": rid, "blob": ids[image_id]} for rid, image_id in rows if image_id in ids]
        table = cast(Table, RunImage.__table__)
        by_row = update(table).where(table.c.id == bindparam("row")).values(scores=bindparam("blob"))
        for chunk in chunks(updates, ROWS_PER_WRITE):
            s.execute(by_row, chunk)  # Core executemany: a third of the ORM's bulk update by primary key
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
        return [
            {
                "epoch": r.epoch,
                "train_loss": r.train_loss,
                "test_loss": r.test_loss,
                "top1": r.top1,
                "acsa": r.acsa,
                "gm": r.gm,
                "macro_ap": r.macro_ap,
                "seconds": r.seconds,
                "per_label": json.loads(r.per_label),
            }
            for r in rows
        ]


def load_snapshot(catalog: Catalog, run_id: int) -> Snapshot:
    """The frozen snapshot a run was trained on, as stored when it started."""
    run = get_run(catalog, run_id)
    with catalog.session() as s:
        rows = s.execute(
            select(RunImage.image_id, RunImage.path, RunImage.targets, RunImage.split)
            .where(RunImage.run_id == run_id)
            .order_by(RunImage.id)
        ).all()
        attribute_id = s.scalar(select(Run.attribute_id).where(Run.id == run_id))
    return Snapshot(
        run.attribute,
        attribute_id or 0,
        run.kind,
        [SnapshotLabel(label.id, label.name) for label in run.labels],
        [r[0] for r in rows],
        [r[1] for r in rows],
        [tuple(int(t) for t in r[2].split()) for r in rows],
        [r[3] for r in rows],
        "stored",
    )


def final_scores(catalog: Catalog, run_id: int) -> tuple[list[int], list[str], list[tuple[int, ...]], np.ndarray]:
    """Image ids, paths, targets and the final model's scores (N x C) of a finished run's test images. Read back
    from a catalog others may have changed: a run without stored test scores, or with scores of the wrong length or
    not finite, is one line (it was an internal error, or a comparison silently without intervals)."""
    import numpy as np  # not with this module: opening a catalog (recover_interrupted) does not need numpy

    run = get_run(catalog, run_id)
    with catalog.session() as s:
        rows = s.execute(
            select(RunImage.image_id, RunImage.path, RunImage.targets, RunImage.scores)
            .where(RunImage.run_id == run_id, RunImage.split == "test", RunImage.scores.is_not(None))
            .order_by(RunImage.id)
        ).all()
    if not rows:
        raise TailorError(f"run {run_id} has no stored test scores (its test images are missing from the catalog)")
    width = len(run.labels)
    if any(not isinstance(r[3], bytes) or len(r[3]) != 4 * width for r in rows):
        raise TailorError(f"run {run_id}'s stored test scores are damaged (not {width} scores an image)")
    scores = np.stack([np.frombuffer(cast(bytes, r[3]), dtype=np.float32) for r in rows])
    if not np.isfinite(scores).all():
        raise TailorError(f"run {run_id}'s stored test scores are damaged (values that are not finite)")
    return [r[0] for r in rows], [r[1] for r in rows], [tuple(int(t) for t in r[2].split()) for r in rows], scores


SETTINGS = ("image_size", "batch_size", "normalization", "weights", "epochs", "lr", "optimizer")
SETTING_NAMES = {"image_size": "image size", "batch_size": "batch size", "lr": "learning rate"}


def settings(run: RunInfo) -> dict:
    """How a run was made, beyond its variant and backbone: what ``tailor runs --json`` and the Runs tab show."""
    config = run.config
    if config.features_of is not None:
        weights = f"features of run {config.features_of}"
    elif config.pretrained == "imagenet":
        weights = "imagenet"
    elif config.pretrained:
        weights = Path(config.pretrained).name
    else:
        weights = "random initialisation"
    return {"image_size": config.pixels, "batch_size": config.batch_size, "normalization": config.normalization,
            "weights": weights, "epochs": config.epochs, "lr": config.lr, "optimizer": config.optimizer}  # fmt: skip


def describe_settings(values: dict) -> str:
    """ "128 px · batch 64 · inception · imagenet · 30 ep · lr 0.001" for a table cell."""
    lr = f"lr {values['lr']:g}" if values["lr"] is not None else "lr default"
    return (f"{values['image_size']} px · batch {values['batch_size']} · {values['normalization']} · "
            f"{values['weights']} · {values['epochs']} ep · {lr} · {values['optimizer']}")  # fmt: skip


def differences(runs: list[RunInfo]) -> list[str]:
    """The settings in which these runs differ, each with its values in the runs' order ("batch size 64 / 32")."""
    found = []
    table = [settings(run) for run in runs]
    for key in SETTINGS:
        values = [row[key] for row in table]
        if len(set(map(str, values))) > 1:
            shown = " / ".join("default" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)
            found.append(f"{SETTING_NAMES.get(key, key)} {shown}")
    return found


def summary(run: RunInfo) -> dict:
    """The JSON of ``tailor train --json`` and ``tailor runs --json``."""
    last = run.last
    per_label = []
    for label, metrics in zip(run.labels, last.get("per_label", [{}] * len(run.labels))):
        per_label.append(
            {
                "name": label.name,
                "count": label.train,
                "test_count": label.test,
                "ap": metrics.get("ap"),
                "accuracy": metrics.get("accuracy"),
                "threshold": metrics.get("threshold"),
                "recall": metrics.get("recall"),
            }
        )
    result = {
        "run_id": run.id,
        "status": run.status,
        "message": run.message,
        "attribute": run.attribute,
        "kind": run.kind,
        "loss": run.loss,
        "backbone": run.backbone,
        "device": run.device,
        **settings(run),
        "epochs_done": run.epochs_done,
        "seed": run.config.seed,
        "split_seed": run.config.splitting_seed,
        "seconds": run.seconds,
        "images_per_second": run.images_per_second,
        "created_at": run.created_at.isoformat(timespec="seconds"),
        "directory": run.directory,
        "base_run_id": run.base_run_id,
        "batch": run.config.batch,  # the request that trained it with others (core.catalog.run_groups)
    }
    if run.metrics:
        result["metrics"] = {
            **{k: last.get(k) for k in SUMMARY_KEYS},
            "epoch": run.metrics.last_epoch,
            "groups": last.get("groups"),
            "per_label": per_label,
        }
        result["best"] = run.metrics.best
    else:
        result["metrics"] = None
    return result


def variant_name(run: RunInfo) -> str:
    """The variant as a user reads it: "nw", "nw + convex-GAN", "crt head", "nw head + LA τ=1"."""
    variant = f"{run.loss} + convex-GAN" if run.oversampler is not None else run.loss
    if run.config.head_only:
        variant += " head"
    if run.config.posthoc:
        variant += " " + posthoc_name(run.config.posthoc)
    return variant


def display_name(run: RunInfo) -> str:
    """A short name that tells runs apart: variant, backbone, epochs and when it was made ("nw + convex-gan ·
    resnet18 · 10 ep · 30 Nov 14:05"; a post-hoc adjusted run has no epochs of its own)."""
    epochs = "" if run.config.posthoc else f" · {run.epochs} ep"
    return f"{variant_name(run)} · {run.backbone}{epochs} · {run.created_at:%d %b %H:%M}"


def posthoc_name(posthoc: dict[str, float]) -> str:
    """ "+ LA τ=1" / "+ τ-norm p=1" for a derived run's post-hoc adjustment."""
    parts = []
    if posthoc.get("tau_norm"):
        parts.append(f"τ-norm p={posthoc['tau_norm']:.3g}")
    if posthoc.get("tau"):
        parts.append(f"LA τ={posthoc['tau']:.3g}")
    return "+ " + " + ".join(parts) if parts else "+ no adjustment"
