"""Watch event → browser DOM latency, and what a burst costs the browser.

Starts the embedded console (`manage.py up`, with its sandbox cluster) in a fresh state
directory, opens the ConfigMap list of a namespace in Debian's chromium, creates objects
through the Kubernetes API (official client, via the sandbox's kubeconfig) and times
until each row is in the page. Then has the sandbox create a burst of pods at once and
counts the table refreshes the page made while they arrived.

    .venv/bin/python bench/live_latency.py [--samples 50] [--burst 10000]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_console(state, port):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(CONSOLE_STATE_DIR=state, PYTHONUNBUFFERED="1")
    log = open(Path(state) / "up.log", "w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(600):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2).status == 200:
                return process, Path(log.name)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(Path(log.name).read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument(
        "--burst", type=int, default=10_000, help="pods in the burst (at most 10,000: the page counts up to that)"
    )
    args = parser.parse_args()

    from kubernetes import client, config
    from playwright.sync_api import sync_playwright

    port = 8765
    with tempfile.TemporaryDirectory() as state:
        process, log = start_console(state, port)
        try:
            password = re.search(r"'operator' \(operator\) with password: (\S+)", log.read_text()).group(1)
            core = client.CoreV1Api(config.new_client_from_config(str(Path(state) / "sandbox.kubeconfig")))
            core.create_namespace({"metadata": {"name": "bench"}})
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    headless=True,
                    args=["--no-sandbox", "--disable-background-networking"],
                )
                page = browser.new_page(base_url=f"http://127.0.0.1:{port}")
                page.goto("/login/")
                page.fill("#id_username", "operator")
                page.fill("#id_password", password)
                page.click("button[type=submit]")
                time.sleep(6)  # the watcher lists the new namespace's kind
                page.goto("/clusters/sandbox/resources/ConfigMap/?namespace=bench")
                page.wait_for_selector('body[data-live="open"]')
                latencies = []
                for i in range(args.samples):
                    started = time.perf_counter()
                    core.create_namespaced_config_map("bench", {"metadata": {"name": f"cm-{i:05d}"}})
                    page.wait_for_selector(f'tr[data-object="bench/cm-{i:05d}"]', state="attached", timeout=10_000)
                    latencies.append((time.perf_counter() - started) * 1000)
                    time.sleep(0.2)
                latencies.sort()
                print(
                    f"watch event to DOM ({args.samples} objects): p50 {statistics.median(latencies):.0f} ms, "
                    f"p95 {latencies[int(len(latencies) * 0.95) - 1]:.0f} ms, max {latencies[-1]:.0f} ms"
                )

                # a burst: the sandbox's bulk knob creates a namespace of Running pods at store speed
                page.goto("/clusters/sandbox/resources/Pod/?namespace=burst-0")
                page.wait_for_selector('body[data-live="open"]')
                refreshes = []
                page.on(
                    "request", lambda request: refreshes.append(request) if "/resources/Pod/" in request.url else None
                )
                started = time.perf_counter()
                method, url, headers, body, _ = core.api_client.param_serialize(
                    "POST",
                    "/sandbox/v1/faults",
                    body={"action": "bulk_load", "namespaces": 1, "pods_per_namespace": args.burst, "prefix": "burst"},
                    header_params={"Content-Type": "application/json"},
                    auth_settings=["BearerToken"],
                )
                created = json.loads(core.api_client.call_api(method, url, header_params=headers, body=body).read())[
                    "seconds"
                ]
                page.wait_for_function(f"document.body.textContent.includes('{args.burst} objects')", timeout=300_000)
                settled = time.perf_counter() - started
                print(
                    f"burst of {args.burst} new pods (created in {created:.1f} s): "
                    f"all in the page after {settled:.1f} s, "
                    f"which re-read its table {len(refreshes)} times"
                )
                browser.close()
        except Exception:
            print(log.read_text()[-1500:])
            raise
        finally:
            process.send_signal(2)
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
