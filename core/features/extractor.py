"""What computes a feature: a backbone with its weights, image size and input statistics, or a finished run's
backbone. Its key (stored in the feature store's ``meta.json``) names exactly that, and the precision the features
are computed in where it is not float32 (:mod:`core.training.precision`), so two runs with the same extractor share
one store and a different extractor never reads another's features.

Stores live beside an SQLite catalog (``CATALOG.features/``) or, for a URL catalog, in the user's cache folder
(``$XDG_CACHE_HOME/tailor/features/<server-database>/``); one sub-folder per extractor.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.base.cache import cache_folder
from core.base.errors import TailorError
from core.base.held_files import refuse_held
from core.catalog import owned_folders
from core.catalog import runs as store
from core.catalog.engine import is_url, server_folder_name
from core.catalog.records import RunStatus
from core.catalog.store import Catalog
from core.config import TrainConfig
from core.features.store import FeatureStore, key_tag

# bump when the way features are computed changes (decoding, resizing, pooling); 2: large JPEGs decoded at a reduced
# DCT scale before resizing
VERSION = 2

if TYPE_CHECKING:
    import torch


def features_root(catalog_location: str) -> Path:
    if is_url(catalog_location):
        return cache_folder("features", server_folder_name(catalog_location))
    path = Path(catalog_location).expanduser().resolve()
    return path.with_name(path.name + ".features")


def file_digest(path: Path) -> str:
    refuse_held(path, "weights file")
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()


@dataclass(frozen=True)
class Extractor:
    """A frozen backbone that maps an image to a feature vector."""

    backbone: str
    pretrained: str | None  # "imagenet" or a weights file; None only with run_id
    image_size: int
    normalization: str = "auto"
    run_id: int | None = None  # the backbone of this finished run (its own weights, size and statistics)
    mirrored: bool = False  # features of the horizontally mirrored images (a second view for augmentation)

    def mirror(self) -> Extractor:
        return replace(self, mirrored=True)

    @classmethod
    def for_config(cls, catalog: Catalog, config: TrainConfig) -> Extractor:
        """The extractor a head-only configuration asks for (``--features-of RUN`` or a pretrained backbone)."""
        if config.features_of is not None:
            base = store.get_run(catalog, config.features_of)
            if base.status != RunStatus.FINISHED:
                raise TailorError(f"--features-of {config.features_of}: run is {base.status}, not finished")
            c = base.config
            if c.head_only:  # its backbone is the frozen pretrained one: the same extractor, the same store
                return cls.for_config(catalog, c)
            return cls(c.backbone, None, c.pixels, c.normalization, run_id=base.id)
        if not config.pretrained:
            raise TailorError(
                "--head-only trains a head on a pretrained backbone's features: add --pretrained [FILE] "
                "(ImageNet weights, downloaded once) or --features-of RUN"
            )
        return cls(config.backbone, config.pretrained, config.pixels, config.normalization)

    def weights_identity(self, catalog: Catalog) -> str:
        if self.run_id is not None:
            run = store.get_run(catalog, self.run_id)
            model = Path(run.directory) / "model.pt"
            if not model.is_file():
                raise TailorError(f"run {self.run_id}: model file {model} is missing")
            return f"run {self.run_id} model sha256 {file_digest(model)}"
        if self.pretrained == "imagenet":
            from core.training.weights import source_for

            source = source_for(self.backbone)
            return f"imagenet {source.path.name if source else 'none'}"
        assert self.pretrained is not None
        path = Path(self.pretrained).expanduser()
        if not path.is_file():
            raise TailorError(f"--pretrained {path}: no such file")
        return f"file sha256 {file_digest(path)}"

    @property
    def own_normalization(self) -> str:
        """The normalization with "auto" made concrete where the weights decide it (bundled: inception)."""
        from core.training.pretrained import resolved_normalization

        return resolved_normalization(self.backbone, self.normalization, self.pretrained)

    def statistics(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        from core.training.pretrained import input_statistics

        return input_statistics(self.backbone, self.normalization, self.pretrained)

    def key(self, catalog: Catalog, precision: str = "fp32") -> dict:
        key = {
            "version": VERSION,
            "backbone": self.backbone,
            "weights": self.weights_identity(catalog),
            "image_size": self.image_size,
            "normalization": self.own_normalization,
        }
        if self.mirrored:
            key["view"] = "mirrored"
        return key if precision == "fp32" else {**key, "precision": precision}

    def open_store(self, catalog: Catalog, device: torch.device) -> FeatureStore:
        """The store of these features as computed on ``device`` (its precision: core.training.precision)."""
        from core.training.precision import choose

        key = self.key(catalog, choose(device).name)
        view = "-mirrored" if self.mirrored else ""
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{self.backbone}-{self.image_size}px{view}-{key_tag(key)}")
        root, location = features_root(catalog.location), catalog.location

        def claim() -> None:  # before the first write: this catalog's own, real folder (not a planted link)
            owned_folders.claim(root, location, "feature store")
            owned_folders.inside(root / name, root, "feature store")
            if (root / name).is_symlink():
                raise TailorError(f"feature store {root / name} is a symbolic link; Tailor does not write through it")

        return FeatureStore(root / name, key, claim)

    def describe(self) -> str:
        view = ", mirrored images" if self.mirrored else ""
        if self.run_id is not None:
            return f"the backbone of run {self.run_id} ({self.backbone}, {self.image_size} px{view})"
        weights = "ImageNet weights" if self.pretrained == "imagenet" else f"weights {Path(str(self.pretrained)).name}"
        normalization = self.own_normalization
        statistics = "" if normalization == "auto" else f", {normalization} statistics"
        return f"{self.backbone} with {weights} at {self.image_size} px{statistics}{view}"


def build_model(catalog: Catalog, extractor: Extractor, num_labels: int, cosine: bool) -> tuple[object, str | None]:
    """The classifier whose backbone computes ``extractor``'s features, with a fresh head for ``num_labels``
    (ImageNet weights must be downloaded: core.training.weights.ensure)."""
    from torch import nn

    from core.training.backbones import CosineLinear, PosthocHead, build_classifier
    from core.training.export import load_run_model

    if extractor.run_id is None:
        return build_classifier(extractor.backbone, num_labels, cosine=cosine, pretrained=extractor.pretrained)
    model, _, _ = load_run_model(catalog, extractor.run_id)
    head = model.head.inner if isinstance(model.head, PosthocHead) else model.head
    width = int(head.in_features)  # type: ignore[arg-type]  # nn.Linear or CosineLinear
    model.head = CosineLinear(width, num_labels) if cosine else nn.Linear(width, num_labels)
    return model, f"features of run {extractor.run_id}'s backbone"
