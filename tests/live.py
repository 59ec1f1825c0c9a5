"""Start the console's real processes (daphne, a Celery worker) for integration and
browser tests, pointed at this test worker's PostgreSQL database and Redis keys."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_env(database_settings, key_prefix, **extra):
    db = database_settings
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CONSOLE_KEY_PREFIX=key_prefix,
        DJANGO_SETTINGS_MODULE="console.settings",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def wait_for_http(url, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}: {read_log(process)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {read_log(process)}")


def read_log(process):
    process.log.flush()
    return Path(process.log.name).read_text()[-3000:]


def spawn(args, env, log_name):
    log = open(ROOT / "test-artifacts" / log_name, "w")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    return process


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.close()


@contextmanager
def daphne_server(env, name):
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    port = free_port()
    process = spawn(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "console.asgi:application"], env, f"daphne-{name}.log"
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/login/", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@contextmanager
def celery_worker(env, name):
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    args = [
        str(BIN / "celery"),
        "-A",
        "console",
        "worker",
        "-P",
        "solo",
        "-c",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "INFO",
        "-n",
        f"{name}@%h",
    ]
    process = spawn(args, env, f"celery-{name}.log")
    deadline = time.monotonic() + 30
    while "ready." not in Path(process.log.name).read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError("celery worker did not start: " + read_log(process))
        time.sleep(0.2)
    try:
        yield process
    finally:
        stop(process)


@contextmanager
def own_queue(name):
    """Jobs queued meanwhile go to a queue of their own, `name` (and storage jobs to its `.ceph`
    twin): only workers started with CONSOLE_KEY_PREFIX=name take them, not the session's live
    console worker. Afterwards what is left there, and the unacknowledged messages of killed
    workers, are forgotten, so Redis does not hand them to anybody later (and the keys of the
    processes that used the prefix go too)."""
    import json

    import redis
    from django.conf import settings

    from console.celery import app

    before = app.conf.task_default_queue
    app.conf.task_default_queue = name
    try:
        yield name
    finally:
        app.conf.task_default_queue = before
        queues = {name, f"{name}.ceph"}
        client = redis.Redis.from_url(settings.REDIS_URL)
        for tag, payload in client.hscan_iter("unacked"):
            if json.loads(payload)[2] in queues:  # [message, exchange, routing key]
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
        client.delete(*queues)
        for key in client.scan_iter(f"{name}:*", count=1000):  # the processes' cache and channel keys
            client.delete(key)
        client.close()


def run_async(coroutine):
    """asyncio.run on a thread of its own: a browser test earlier in this process may have
    left Playwright's event loop running on this one."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
