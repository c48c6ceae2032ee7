"""A real PostgreSQL for the tests: ``MMS_TEST_DATABASE_URL`` when set, else a throwaway cluster.

The throwaway cluster is Debian's (or any) PostgreSQL found on the machine, ``initdb`` into a temp
directory (as the ``postgres`` user when run as root: initdb refuses root), listening on a free
loopback port and a socket in that directory, stopped and deleted at the end of the session. Each
test gets a database of its own (``fresh_database``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from urllib.parse import urlsplit, urlunsplit

BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin")


def _bin_dir() -> str | None:
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    candidates = sorted(
        (d for pattern in BIN_GLOBS for d in glob.glob(pattern) if os.path.exists(os.path.join(d, "initdb"))),
        reverse=True,
    )
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        self.url: str | None = None
        self.skipped: str | None = None
        self._dir: str | None = None
        self._bin: str | None = None
        self._as: list[str] = []

    def start(self) -> Cluster:
        if os.environ.get("MMS_TEST_DATABASE_URL"):
            self.url = os.environ["MMS_TEST_DATABASE_URL"]
            return self
        self._bin = _bin_dir()
        if self._bin is None:
            self.skipped = (
                "no PostgreSQL found (no initdb on PATH or under /usr/lib/postgresql); set MMS_TEST_DATABASE_URL"
            )
            return self
        self._dir = tempfile.mkdtemp(prefix="mms-bot-pg-")
        if os.geteuid() == 0:
            shutil.chown(self._dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        data, port = os.path.join(self._dir, "data"), _free_port()
        try:
            self._run("initdb", "-D", data, "-U", "mms", "--auth=trust", "-E", "UTF8", "--no-instructions")
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {self._dir} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=300"
            )
            self._run("pg_ctl", "-D", data, "-l", os.path.join(self._dir, "log"), "-o", options, "-w", "start")
        except subprocess.CalledProcessError as exc:
            self.skipped = (
                f"could not start a throwaway PostgreSQL: {exc.stderr.decode(errors='replace').strip()[:300]}"
            )
            return self
        self.url = f"postgresql://mms@127.0.0.1:{port}/postgres"
        return self

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, os.path.join(self._bin, tool), *args], check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        if self._dir is None:
            return
        data = os.path.join(self._dir, "data")
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            with contextlib.suppress(subprocess.CalledProcessError):  # stopped already; the directory goes either way
                self._run("pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(self._dir, ignore_errors=True)

    def fresh_database(self) -> str:
        """A new, empty database on the cluster; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))

    def drop_database(self, url: str) -> None:
        import psycopg

        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
