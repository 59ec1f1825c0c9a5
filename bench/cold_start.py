"""Cold start of `make run` (fresh state: new SQLite, migrations, demo users) to the first
200 page, and the resident memory of the running console, idle and after some traffic.

    .venv/bin/python bench/cold_start.py [--runs 3]
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_rss_kib(pid):
    """Resident memory of a process and all its descendants, in KiB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            continue
        pending.extend(int(child) for child in children)
    return total


def one_run():
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["CONSOLE_STATE_DIR"] = state
        started = time.perf_counter()
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/login/"
        while True:
            try:
                if urllib.request.urlopen(url, timeout=2).status == 200:
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("make run exited early") from None
                time.sleep(0.05)
        cold_start = time.perf_counter() - started
        time.sleep(2)
        idle_rss = tree_rss_kib(process.pid)
        for _ in range(300):
            urllib.request.urlopen(url, timeout=5).read()
        busy_rss = tree_rss_kib(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    return cold_start, idle_rss, busy_rss


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [one_run() for _ in range(args.runs)]
    starts = [r[0] for r in results]
    print(
        f"cold start of `make run` to first 200: median {statistics.median(starts):.2f} s "
        f"(min {min(starts):.2f}, max {max(starts):.2f}, {args.runs} runs)"
    )
    print(f"resident memory, idle: {statistics.median(r[1] for r in results) / 1024:.0f} MiB")
    print(f"resident memory after 300 page loads: {statistics.median(r[2] for r in results) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
