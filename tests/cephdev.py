"""The throwaway Ceph of the test suite, started by scripts/ceph-dev.sh (one per machine,
shared by the test workers through leases; see the script), and an admin's CLI for tests
that set the cluster up in ways the console's client may not (quotas, other clients)."""

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "ceph-dev.sh"
PACKAGES = "ceph-mon ceph-osd ceph-mgr ceph-common python3-rbd python3-rados"
INSTALL_HINT = (
    f"Ceph is needed by these tests and is not installed: run `make prepare-tests` (as `make test` does), or "
    f"apt-get install -y --no-install-recommends {PACKAGES} and then `bash scripts/ceph-dev.sh bindings .venv`."
)


def missing() -> list[str]:
    """What is missing to run Ceph and drive it from this Python."""
    problems = [cmd for cmd in ("ceph-mon", "ceph-osd", "ceph-mgr", "ceph", "rbd", "rados") if not shutil.which(cmd)]
    try:
        import rados  # noqa: F401
        import rbd  # noqa: F401
    except ImportError:
        problems.append("the rados/rbd Python bindings in this venv")
    return problems


def script(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def settings_of(env: dict | None = None) -> dict[str, str]:
    """CEPH_CONF, CEPH_KEYRING, CEPH_CLIENT of a running instance (`ceph-dev.sh env`)."""
    out = script("env", env=env)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return dict(line.split("=", 1) for line in out.stdout.split())


def config_of(values: dict[str, str], timeout: int = 10):
    from console.ceph.config import CephConfig

    return CephConfig(
        conf=values["CEPH_CONF"], keyring=values["CEPH_KEYRING"], client=values["CEPH_CLIENT"], timeout=timeout
    )


@contextmanager
def session():
    """Start the shared instance (or join the running one) for this test process; at the
    end, drop the lease: the last test process out stops an instance that tests started."""
    problems = missing()
    if problems:
        pytest.fail(f"missing: {', '.join(problems)}. {INSTALL_HINT}", pytrace=False)
    lease = f"{os.getpid()}-session"  # a tag of its own: other fixtures of this process may hold a lease too
    started = script("start", env={"CEPH_DEV_LEASE": lease})
    if started.returncode:
        pytest.fail(f"scripts/ceph-dev.sh start failed:\n{started.stderr[-3000:]}", pytrace=False)
    try:
        yield config_of(settings_of())
    finally:
        script("release", lease)


def admin(*args: str, conf: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run `ceph`, `rbd` or `rados` as client.admin of the instance whose ceph.conf is `conf`
    (ceph-dev.sh names the admin keyring in it)."""
    command, *rest = args
    result = subprocess.run(
        [command, "-c", conf, "-n", "client.admin", *rest], capture_output=True, input=input, timeout=60
    )
    if check and result.returncode:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.decode(errors='replace')[-2000:]}")
    return result
