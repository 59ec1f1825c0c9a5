"""A private PostgreSQL and Redis for tests and benchmarks that stop, restart or overload
them: the machine's shared servers serve other test workers and must never be touched.

PostgreSQL comes from Debian's packages (/usr/lib/postgresql/*/bin); initdb refuses to
run as root, so as root the cluster belongs to the `postgres` system user."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .live import free_port


def _postgres_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL's server programs are missing (apt-get install postgresql)")
    return found[-1]


def _as_postgres_user():
    """preexec_fn dropping root to the postgres user; None when not root."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")

    def drop():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop


class Postgres:
    """initdb into a temporary folder, then start/stop/restart on a free port (trust auth on loopback)."""

    def __init__(self, max_connections=100, log_name="postgres.log"):
        self.dir = Path(tempfile.mkdtemp(prefix="caas-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / log_name
        self.port = free_port()
        self.max_connections = max_connections
        self.process = None
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            [
                _postgres_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale",
                "C",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            preexec_fn=_as_postgres_user(),
        )

    @property
    def url_base(self):
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def url(self, database):
        return f"{self.url_base}/{database}"

    def start(self, timeout=30):
        # fsync off: a test database needs no durability across a machine crash, only across restarts.
        args = [
            _postgres_bin("postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.dir}",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            f"max_connections={self.max_connections}",
        ]
        log = open(self.log, "a")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_as_postgres_user())
        log.close()
        deadline = time.monotonic() + timeout
        while (
            subprocess.run([_postgres_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode != 0
        ):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start: " + self.log.read_text()[-2000:])
            time.sleep(0.1)
        return self

    def stop(self):
        """A fast shutdown (SIGINT): sessions are cut, as when the server is restarted."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(2)
            self.process.wait(timeout=30)
        self.process = None

    def restart(self):
        self.stop()
        self.start()

    def create_database(self, name):
        subprocess.run(
            [_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name], check=True
        )

    def psql(self, database, sql):
        out = subprocess.run(
            [
                _postgres_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-Atc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """redis-server on a free port, with the append-only file on (as docker-compose runs it):
    queued tasks survive a restart."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="caas-redis-"))
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=15):
        args = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def restart(self):
        self.stop()
        self.start()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
