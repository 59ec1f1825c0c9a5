"""Scale figures for the sandbox: `python -m console.sandbox.bench [namespaces] [pods_per_namespace] [updates]`.

Bulk-loads namespaces×pods, lists every pod page by page over HTTPS (limit=500, as a console
mirror would), and times a burst of pod status updates as a raw watch client receives them."""

import json
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from .server import SandboxCluster

WATCH_CLIENT = """
import json, ssl, sys, time, urllib.request
url, token, ca, wanted = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
context = ssl.create_default_context(cafile=ca)
count, first = 0, None
request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
with urllib.request.urlopen(request, context=context) as response:
    for line in response:
        json.loads(line)
        first = first or time.perf_counter()
        count += 1
        if count >= wanted:
            break
print(count, time.perf_counter() - first)
"""


def main(namespaces=5000, pods_per_namespace=30, updates=50_000):
    cluster = SandboxCluster(nodes=3, clock_speed=1.0).start()
    try:
        loaded = cluster.bulk_load(namespaces=namespaces, pods_per_namespace=pods_per_namespace)
        print(
            f"bulk load: {loaded['pods']} pods in {loaded['namespaces']} namespaces in {loaded['seconds']} s; "
            f"{loaded['objects_total']} objects; RSS {loaded['rss_bytes'] / 2**20:.0f} MiB",
            flush=True,
        )
        context = ssl.create_default_context(cadata=cluster.ca_pem.decode())
        headers = {"Authorization": f"Bearer {cluster.token}"}
        began, token, count, pages, slowest = time.perf_counter(), "", 0, 0, 0.0
        while True:
            page_began = time.perf_counter()
            url = f"{cluster.url}/api/v1/pods?limit=500" + (f"&continue={token}" if token else "")
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=context) as response:
                data = response.read()
            slowest = max(slowest, time.perf_counter() - page_began)
            # the client here only finds the continue token: parsing 330 MB of JSON in this process would
            # compete with the server for the GIL and measure the client instead
            match = re.search(rb'"continue":"([^"]+)"', data[:1000])
            count += data.count(b'"kind":"Pod"')
            pages += 1
            token = match.group(1).decode() if match else ""
            if not token:
                break
        listed = time.perf_counter() - began
        print(
            f"paginated list: {count} pods in {pages} pages of 500 in {listed:.2f} s "
            f"({listed / pages * 1000:.1f} ms/page avg, slowest {slowest * 1000:.1f} ms)",
            flush=True,
        )

        start_rv = cluster.store.rv
        ca = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
        ca.write(cluster.ca_pem)
        ca.close()
        url = f"{cluster.url}/api/v1/pods?watch=1&resourceVersion={start_rv}&timeoutSeconds=600"
        # the watch client runs in its own process, as a console's watcher would
        reader = subprocess.Popen(
            [sys.executable, "-c", WATCH_CLIENT, url, cluster.token, ca.name, str(updates)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        burst = cluster.generate_pod_updates(updates)
        out, _ = reader.communicate(timeout=600)
        received, first_to_last = out.split()
        print(
            f"event burst: {burst['updates']} updates generated at {burst['per_second']}/s; "
            f"a watch client in another process parsed {received} events in {float(first_to_last):.2f} s = "
            f"{int(received) / float(first_to_last):.0f} events/s",
            flush=True,
        )
        final = {k: v for k, v in cluster.stats().items() if k in ("objects", "rss_bytes", "resourceVersion")}
        print(f"final: {json.dumps(final)}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
