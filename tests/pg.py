"""A real PostgreSQL server for the tests: Debian's binaries, a temporary data directory, a free
port, the unix socket in that directory, stopped when the session ends.

The server runs as an unprivileged user (PostgreSQL refuses to run as root): ``nobody`` when the
tests run as root, else the test user itself. Local (socket) and TCP connections are trusted,
except for the role ``secretive``, which must give its password over TCP (for the tests of
PG* variables, ~/.pgpass and password masking).
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

def _newest_bin() -> str:
    """Debian's newest PostgreSQL binaries (/usr/lib/postgresql/<major>/bin), whatever the release."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found.sort(key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else "/usr/lib/postgresql/15/bin"


BIN = os.environ.get("WATTPRINT_TEST_PG_BIN") or _newest_bin()
SECRET = "s3cret-pw"  # the role 'secretive''s password; tests assert it is never shown

HBA = """\
local all all trust
host all secretive 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.user = "nobody" if os.geteuid() == 0 else None
        self.dir = tempfile.mkdtemp(prefix="wattprint-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self._names = itertools.count()
        if self.user:
            shutil.chown(self.dir, self.user)
        self._as_owner([f"{BIN}/initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--no-sync"])
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write(HBA)
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200 -c full_page_writes=off")
        self._as_owner([f"{BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"),
                        "-o", opts, "-w", "-t", "120", "start"])
        self.sql(f"CREATE ROLE secretive LOGIN PASSWORD '{SECRET}'")

    def _as_owner(self, cmd):
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=self.dir)
        if r.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}")

    def url(self, db: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def sql(self, statement: str, db: str = "postgres"):
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as c:
            cur = c.execute(statement)
            return cur.fetchall() if cur.description else None

    def new_database(self) -> str:
        name = f"t{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        try:
            self._as_owner([f"{BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    missing = None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing = "psycopg is not installed (the test extra has it)"
    if missing is None and not os.path.exists(os.path.join(BIN, "initdb")):
        missing = f"no PostgreSQL binaries in {BIN} (.ci/run installs Debian's postgresql)"
    if missing and os.environ.get("WATTPRINT_REQUIRE_PG"):  # .ci/run: a skip would hide it
        pytest.fail(missing)
    if missing:
        pytest.skip(missing)
    server = Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server):
    """The URL of a new, empty database of its own for one test."""
    name = pg_server.new_database()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)
