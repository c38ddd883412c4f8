"""A throw-away PostgreSQL server for the tests: ``initdb`` in a temporary folder, listening on 127.0.0.1 only.

``.ci/run`` starts one with ``python tests/postgres.py start DIR`` (which prints the server's URL) and stops it with
``python tests/postgres.py stop DIR``; ``tests/conftest.py`` uses the URL in ``TAILOR_TEST_POSTGRES`` or, on a
developer's machine with PostgreSQL's binaries but no such variable, starts a server of its own. Each test gets a
database of its own (:func:`create_database`). The server runs as the ``postgres`` user when started by root
(PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

USER = "tailor"


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's versioned folders), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def start(data: Path) -> str:
    """Initialise and start a server whose files live in ``data``; return its SQLAlchemy URL."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's initdb and pg_ctl were not found")
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        data.chmod(0o700)
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True, "check": True}
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data / "db"),
                "-U",
                USER,
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale",
                "C",
            ]
        ),
        **quiet,
    )
    options = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data / "db"),
                "-o",
                options,
                "-l",
                str(data / "server.log"),
                "-w",
                "start",
            ]
        ),
        **quiet,
    )
    (data / "url").write_text(url := f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres")
    return url


def stop(data: Path) -> None:
    bin_dir = binaries()
    if bin_dir is not None and (data / "db").exists():
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _admin(server_url: str):
    import psycopg

    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(plain, autocommit=True)


def create_database(server_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    name = f"tailor_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reachable(server_url: str) -> bool:
    try:
        with _admin(server_url) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


if __name__ == "__main__":  # python tests/postgres.py start|stop DIR
    action, folder = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(folder))
    else:
        stop(folder)
